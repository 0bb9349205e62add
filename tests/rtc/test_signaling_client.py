"""Joining a room: clear errors for a wrong address, an unreachable server, a refusal."""

from __future__ import annotations

import socket

import pytest

from signaling_server.server import ServerConfig, start_server
from surgery_teach.errors import SignalingError
from surgery_teach.protocol.messages import Ping, Pong, Role
from surgery_teach.rtc.signaling_client import SignalingClient
from tests.timing import seconds


async def test_wrong_address_form_names_the_expected_form() -> None:
    with pytest.raises(SignalingError, match=r"ws://127\.0\.0\.1:8765"):
        await SignalingClient.join("http://127.0.0.1:8765", room="r", name="n", role=Role.MENTOR)


async def test_unreachable_server_says_so() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(SignalingError, match="cannot reach the signaling server"):
        await SignalingClient.join(f"ws://127.0.0.1:{port}", room="r", name="n",
                                   role=Role.MENTOR, timeout=seconds(5))


async def test_full_room_is_refused_with_the_server_reason() -> None:
    server = await start_server(ServerConfig(port=0, max_room_size=1))
    try:
        first = await SignalingClient.join(server.url, room="case", name="Dr Li", role=Role.SURGEON)
        with pytest.raises(SignalingError, match="refused to join room 'case'"):
            await SignalingClient.join(server.url, room="case", name="Dr Ma", role=Role.MENTOR)
        await first.close()
    finally:
        await server.close()


async def test_joined_client_exchanges_messages() -> None:
    server = await start_server(ServerConfig(port=0))
    try:
        client = await SignalingClient.join(server.url, room="case", name="Иван Петров",
                                            role=Role.TRAINEE)
        assert client.welcome.you.name == "Иван Петров"
        await client.send(Ping())
        async for message in client.messages():
            assert isinstance(message, Pong)
            assert message.participants == 1
            break
        await client.close()
        await client.close()  # twice is harmless
    finally:
        await server.close()


async def test_a_secured_server_admits_the_right_token_and_explains_refusals(
        tmp_path) -> None:  # type: ignore[no-untyped-def]
    import time

    from surgery_teach.protocol.tokens import issue_token
    from tests.signaling_server.conftest import SECRET

    server = await start_server(ServerConfig(port=0, secret=SECRET))
    try:
        def token(room: str, ttl: float = 600) -> str:
            return issue_token(SECRET, room=room, role=Role.MENTOR, name="Dr Li", ttl=ttl,
                               now=time.time())

        client = await SignalingClient.join(server.url, room="case-7", name="Dr Li",
                                            role=Role.MENTOR, token=token("case-7"))
        assert client.welcome.room == "case-7"
        await client.close()
        with pytest.raises(SignalingError, match="needs a valid room token"):
            await SignalingClient.join(server.url, room="case-7", name="Dr Li",
                                       role=Role.MENTOR)
        with pytest.raises(SignalingError, match="refused this token for room 'case-7'"):
            await SignalingClient.join(server.url, room="case-7", name="Dr Li",
                                       role=Role.MENTOR, token=token("case-8"))
    finally:
        await server.close()
