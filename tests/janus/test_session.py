"""A Janus session that cannot reach Janus says where it looked and what to start."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
import websockets

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


async def test_keepalives_go_on_while_janus_answers_them_with_an_ack() -> None:
    """Janus answers ``keepalive`` with a bare ``ack``: that is its reply, not the
    acknowledgement before one, or the session stops keeping alive and Janus times it
    out after 60 s (a class longer than a minute lost its surgeon)."""
    kinds: list[str] = []
    enough = asyncio.Event()

    async def janus(connection: websockets.ServerConnection) -> None:
        async for raw in connection:
            request = json.loads(raw)
            kinds.append(request["janus"])
            reply = {"janus": "success", "transaction": request["transaction"],
                     "data": {"id": 5}} if request["janus"] == "create" else {
                "janus": "ack", "session_id": 5, "transaction": request["transaction"]}
            await connection.send(json.dumps(reply))
            if kinds.count("keepalive") >= 3:
                enough.set()

    async with websockets.serve(janus, "127.0.0.1", 0,
                                subprotocols=[websockets.Subprotocol("janus-protocol")]
                                ) as server:
        port = server.sockets[0].getsockname()[1]
        session = await JanusSession.connect(f"ws://127.0.0.1:{port}", Credentials(token="t"),
                                             keepalive_every=0.05)
        try:
            await asyncio.wait_for(enough.wait(), seconds(5))
        finally:
            await session.close()
    assert kinds[:4] == ["create", "keepalive", "keepalive", "keepalive"]
