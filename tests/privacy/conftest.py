from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from signaling_server.server import ServerConfig, start_server


@pytest.fixture
async def server_url() -> AsyncIterator[str]:
    """The real signaling server on 127.0.0.1, a free port."""
    server = await start_server(ServerConfig(host="127.0.0.1", port=0))
    try:
        yield server.url
    finally:
        await server.close()
