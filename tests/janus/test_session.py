"""A Janus session that cannot reach Janus says where it looked and what to start."""

from __future__ import annotations

import socket

import pytest

from surgery_teach.errors import MediaServerUnavailableError
from surgery_teach.janus.messages import Credentials
from surgery_teach.janus.session import JanusSession
from tests.timing import seconds


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_janus_down_is_a_clear_unavailable_error() -> None:
    url = f"ws://127.0.0.1:{_closed_port()}"
    with pytest.raises(MediaServerUnavailableError, match="is Janus running") as caught:
        await JanusSession.connect(url, Credentials(token="t"), timeout=seconds(5))
    assert caught.value.url == url
