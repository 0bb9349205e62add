"""Fuzzing a real server on 127.0.0.1:0: one client sends whatever hypothesis makes up.

The server stays up; the fuzzing client gets an ``error`` for each frame it cannot take
(the same code the parser gives), in order, and stays connected; the only frames that end
its connection are the documented ones (invalid UTF-8: 1007, over 1 MiB: 1009). An
honest surgeon and mentor in the same room still chat and signal as usual.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from signaling_server import RunningServer, ServerConfig, start_server
from signaling_server.config import TRANSPORT_MAX_BYTES
from surgery_teach.errors import ProtocolError
from surgery_teach.protocol import (
    Answer,
    Chat,
    ChatMessage,
    ErrorCode,
    ErrorReply,
    Join,
    Joined,
    Leave,
    Offer,
    Ping,
    Pong,
    Publishes,
    Relayed,
    RemoveParticipant,
    Role,
    ServerMessage,
    Signal,
    TrackInfo,
    parse_client,
)
from surgery_teach.protocol.limits import Limits
from tests.protocol.frames import PEER, frames
from tests.signaling_server.conftest import Client
from tests.timing import seconds

ROOM = "theatre"
CODES = {code.value for code in ErrorCode}
OFFER = Offer("v=0\r\n", (TrackInfo("t1", "Laparoscope"),))


@dataclass
class Room:
    server: RunningServer
    surgeon: Client
    mentor: Client
    fuzzer: Client


@asynccontextmanager
async def _room(fuzzer_role: Role) -> AsyncIterator[Room]:
    # The rate limit is not under test here (test_limits): let every frame through to it.
    limits = Limits(messages_per_second=100_000, message_burst=100_000)
    server = await start_server(ServerConfig(port=0, limits=limits))
    try:
        async with AsyncExitStack() as stack:

            async def client() -> Client:
                link = connect(server.url, open_timeout=seconds(5), max_size=2**24)
                return Client(await stack.enter_async_context(link))

            surgeon, mentor, fuzzer = await client(), await client(), await client()
            await surgeon.join(ROOM, "Dr Wang", Role.SURGEON, Publishes(video=1, audio=True))
            await mentor.join(ROOM, "Dr Li", Role.MENTOR)
            await surgeon.expect(Joined)
            await fuzzer.join(ROOM, "Fuzzer", fuzzer_role)
            await surgeon.expect(Joined)
            await mentor.expect(Joined)
            yield Room(server, surgeon, mentor, fuzzer)
    finally:
        await server.close()


def _prepare(frame: str | bytes, peer: str) -> tuple[str | bytes | None, str | None]:
    """The frame to send (aimed at ``peer``) and the error code the parser gives it.

    A valid join, leave or remove is not sent (None): the fuzzer is to stay in the room
    and leave the honest participants in it.
    """
    if isinstance(frame, str):
        frame = frame.replace(PEER, peer)
    try:
        message = parse_client(frame)
    except ProtocolError as exc:
        return frame, exc.code
    if isinstance(message, Join | Leave | RemoveParticipant):
        return None, None
    return frame, None


async def _replies_until(client: Client, marker: str) -> list[ServerMessage]:
    """What ``client`` receives before the error answering the frame with id ``marker``."""
    replies = []
    while True:
        message = await client.recv()
        if isinstance(message, ErrorReply) and message.ref == marker:
            return replies
        replies.append(message)


async def _next_from(client: Client, sender: str, kind: type[ServerMessage]) -> ServerMessage:
    """The next ``kind`` message ``sender`` caused, past what the fuzzer caused meanwhile."""
    while True:
        message = await client.recv()
        if isinstance(message, kind) and getattr(message, "sender", None) == sender:
            return message


async def _fuzz(fuzzer_role: Role, frames: list[str | bytes]) -> None:
    async with _room(fuzzer_role) as room:
        for frame in frames:
            prepared, code = _prepare(frame, room.mentor.id)
            if prepared is None:
                continue
            await room.fuzzer.send(prepared)
            # The error answering a frame that nobody else could send closes its replies.
            marker = f"end-{secrets.token_hex(8)}"
            await room.fuzzer.send(f'{{"v":1,"type":"ping","id":"{marker}","end":true}}')
            replies = await _replies_until(room.fuzzer, marker)
            errors = [reply for reply in replies if isinstance(reply, ErrorReply)]
            assert all(error.code in CODES and error.message for error in errors), errors
            if code is not None:
                assert [error.code for error in errors] == [code], (prepared, replies)

        surgeon, mentor = room.surgeon, room.mentor  # honest, and unaffected
        await surgeon.send(Chat("Please look at the screen"))
        chat = await _next_from(mentor, surgeon.id, ChatMessage)
        assert isinstance(chat, ChatMessage) and chat.text == "Please look at the screen"
        await surgeon.send(Signal(mentor.id, OFFER))
        assert await _next_from(mentor, surgeon.id, Relayed) == Relayed(surgeon.id, OFFER)
        await mentor.send(Signal(surgeon.id, Answer("v=0")))
        assert await _next_from(surgeon, mentor.id, Relayed) == Relayed(mentor.id, Answer("v=0"))

        async with connect(room.server.url, open_timeout=seconds(5)) as link:  # still up
            newcomer = Client(link)
            await newcomer.send(Ping())
            assert isinstance(await newcomer.recv(), Pong)


# Each example starts a server: a tenth of the profile's examples (more when thorough).
@settings(
    max_examples=max(40, settings.default.max_examples // 10),
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.sampled_from(list(Role)), st.lists(frames(), min_size=1, max_size=25))
def test_a_fuzzing_client_gets_errors_and_the_honest_ones_carry_on(
    fuzzer_role: Role, frames: list[str | bytes]
) -> None:
    asyncio.run(asyncio.wait_for(_fuzz(fuzzer_role, frames), seconds(60)))


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        pytest.param(b"\xff\xfe not UTF-8", 1007, id="invalid-utf8-text"),
        pytest.param("x" * (TRANSPORT_MAX_BYTES + 1), 1009, id="over-1-MiB"),
    ],
)
async def test_the_documented_closes_end_only_the_sender(frame: str | bytes, code: int) -> None:
    async with _room(Role.STUDENT) as room:
        await room.fuzzer.connection.send(frame, text=True)
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await room.fuzzer.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == code
        await room.surgeon.send(Signal(room.mentor.id, OFFER))
        assert await _next_from(room.mentor, room.surgeon.id, Relayed) == Relayed(
            room.surgeon.id, OFFER
        )
