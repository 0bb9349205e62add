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


async def _janus_that(answer_keepalive: dict[str, object] | None, *, then: str = ""):  # type: ignore[no-untyped-def]
    """A stand-in for Janus's WebSocket API: creates session 5 and handle 7, answers each
    keepalive with ``answer_keepalive`` (None: an ack) and, after the attach, sends
    ``then`` (a raw Janus message) on its own."""

    async def janus(connection: websockets.ServerConnection) -> None:
        async for raw in connection:
            request = json.loads(raw)
            kind, transaction = request["janus"], request["transaction"]
            if kind in ("create", "attach"):
                await connection.send(json.dumps({"janus": "success", "transaction": transaction,
                                                  "data": {"id": 5 if kind == "create" else 7}}))
                if kind == "attach" and then:
                    await connection.send(then)
            elif kind == "keepalive":
                await connection.send(json.dumps({**(answer_keepalive or {"janus": "ack"}),
                                                  "transaction": transaction}))

    return websockets.serve(janus, "127.0.0.1", 0,
                            subprotocols=[websockets.Subprotocol("janus-protocol")])


@pytest.mark.parametrize(("keepalive", "then", "why"), [
    ({"janus": "error", "error": {"code": 458, "reason": "No such session 5"}}, "",
     "ended the session"),
    (None, json.dumps({"janus": "timeout", "session_id": 5}), "timed the session out"),
])
async def test_a_session_janus_forgot_or_timed_out_ends_and_every_handle_is_told(
        keepalive: dict[str, object] | None, then: str, why: str) -> None:
    """Janus forgetting a session (an admin's ``destroy_session``, a restart behind a
    proxy) shows only as a refused keepalive; a timeout as an event. Either way the
    session ends and its handles hear ``closed``, so a class participant joins again."""
    async with await _janus_that(keepalive, then=then) as server:
        port = server.sockets[0].getsockname()[1]
        session = await JanusSession.connect(f"ws://127.0.0.1:{port}", Credentials(token="t"),
                                             keepalive_every=0.05)
        try:
            handle = await session.attach("janus.plugin.videoroom")
            reason = await asyncio.wait_for(session.wait_ended(), seconds(5))
            event = await handle.next_event(seconds(5))
        finally:
            await session.close()
    assert why in reason and session.ended_reason == reason
    assert event == {"janus": "closed", "reason": reason}
