"""Joining a room: clear errors for a wrong address, an unreachable server, a refusal."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from signaling_server.server import RunningServer, ServerConfig, start_server
from surgery_teach.errors import SignalingError
from surgery_teach.protocol.messages import Ping, Pong, Role
from surgery_teach.rtc.signaling_client import SignalingClient
from tests.rtc.certs import PrivateCa, make_private_ca
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


async def test_401_and_403_are_not_admitted_errors_that_say_why() -> None:
    """A client stops retrying on these: the same token will be refused again."""
    import time

    from surgery_teach.errors import NotAdmittedError
    from surgery_teach.protocol.tokens import issue_token
    from tests.signaling_server.conftest import SECRET

    server = await start_server(ServerConfig(port=0, secret=SECRET))
    try:
        wrong_room = issue_token(SECRET, room="case-8", role=Role.MENTOR, name="Dr Li",
                                 ttl=600, now=time.time())
        with pytest.raises(NotAdmittedError, match="needs a valid room token") as missing:
            await SignalingClient.join(server.url, room="case-7", name="Dr Li",
                                       role=Role.MENTOR)
        assert missing.value.status == 401
        with pytest.raises(NotAdmittedError, match="refused this token") as forbidden:
            await SignalingClient.join(server.url, room="case-7", name="Dr Li",
                                       role=Role.MENTOR, token=wrong_room)
        assert forbidden.value.status == 403
    finally:
        await server.close()


async def test_a_removed_participant_learns_who_removed_them_and_cannot_come_back() -> None:
    import time

    from surgery_teach.errors import NotAdmittedError
    from surgery_teach.protocol.tokens import issue_token
    from surgery_teach.rtc.session import LiveSession, SessionConfig
    from tests.signaling_server.conftest import SECRET

    server = await start_server(ServerConfig(port=0, secret=SECRET))

    def config(name: str, role: Role) -> SessionConfig:
        token = issue_token(SECRET, room="case", role=role, name=name, ttl=600, now=time.time())
        return SessionConfig(server=server.url, room="case", name=name, role=role, token=token)

    mentor_config, trainee_config = config("Dr Li", Role.MENTOR), config("Osh", Role.TRAINEE)
    mentor = await LiveSession.start(mentor_config)
    trainee = await LiveSession.start(trainee_config)
    try:
        ended: list[str] = []
        trainee.on("ended", ended.append)
        await mentor.remove(trainee.me.id)
        await asyncio.wait_for(trainee.ended.wait(), seconds(5))
        assert "'Dr Li' removed you from room 'case'" in trainee.removed
        assert ended  # listeners hear that the link ended, and can read why
        with pytest.raises(NotAdmittedError) as barred:
            await SignalingClient.join(server.url, room="case", name="Osh", role=Role.TRAINEE,
                                       token=trainee_config.token)
        assert barred.value.status == 403
        assert not mentor.removed
    finally:
        await trainee.close()
        await mentor.close()
        await server.close()


async def _tls_server(ca: PrivateCa) -> RunningServer:
    return await start_server(ServerConfig(port=0, cert_file=ca.cert, key_file=ca.key))


async def test_a_private_ca_file_lets_the_client_trust_a_wss_server(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ca = make_private_ca(tmp_path / "hospital")
    server = await _tls_server(ca)
    try:
        url = server.url
        assert url.startswith("wss://127.0.0.1:")
        client = await SignalingClient.join(url, room="case", name="Dr Li", role=Role.MENTOR,
                                            ca_file=str(ca.ca), timeout=seconds(5))
        assert client.welcome.room == "case"
        await client.close()
        with pytest.raises(SignalingError) as untrusted:
            await SignalingClient.join(url, room="case", name="Dr Li", role=Role.MENTOR,
                                       timeout=seconds(5))
        message = str(untrusted.value)
        assert "does not trust the signaling server's certificate" in message
        assert "--ca-file" in message
        other = make_private_ca(tmp_path / "elsewhere")
        with pytest.raises(SignalingError, match="does not vouch for"):
            await SignalingClient.join(url, room="case", name="Dr Li", role=Role.MENTOR,
                                       ca_file=str(other.ca), timeout=seconds(5))
    finally:
        await server.close()


async def test_a_certificate_for_another_name_is_explained(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ca = make_private_ca(tmp_path, names=("teach.example-hospital.cn",))
    server = await _tls_server(ca)
    try:
        with pytest.raises(SignalingError, match=r"not made out to '127\.0\.0\.1'"):
            await SignalingClient.join(server.url, room="case", name="Dr Li",
                                       role=Role.MENTOR, ca_file=str(ca.ca), timeout=seconds(5))
    finally:
        await server.close()


async def test_unusable_ca_files_and_a_missing_s_in_wss_are_explained(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ca = make_private_ca(tmp_path)
    server = await _tls_server(ca)
    url = server.url
    try:
        join: dict[str, Any] = dict(room="case", name="Dr Li", role=Role.MENTOR,
                                    timeout=seconds(5))
        with pytest.raises(SignalingError, match="does not exist"):
            await SignalingClient.join(url, ca_file=str(tmp_path / "nowhere.pem"), **join)
        with pytest.raises(SignalingError, match="not a PEM certificate"):
            await SignalingClient.join(url, ca_file=str(ca.key), **join)
        with pytest.raises(SignalingError, match="write wss:// instead of ws://"):
            await SignalingClient.join(url.replace("wss://", "ws://"), **join)
        plain = await start_server(ServerConfig(port=0))
        try:
            with pytest.raises(SignalingError, match="write ws:// instead of wss://"):
                await SignalingClient.join(plain.url.replace("ws://", "wss://"), **join)
        finally:
            await plain.close()
    finally:
        await server.close()


@pytest.mark.slow
async def test_the_watch_command_trusts_a_wss_server_with_ca_file_and_says_why_without(
        tmp_path, cli) -> None:  # type: ignore[no-untyped-def]
    ca = make_private_ca(tmp_path)
    server = await _tls_server(ca)
    try:
        watch = ["watch", "--server", server.url, "--room", "case", "--name", "Osh",
                 "--duration", "0.5", "--stats-every", "0"]
        trusted = cli.start(*watch, "--ca-file", str(ca.ca))
        untrusted = cli.start(*watch)
        for proc in (trusted, untrusted):
            await asyncio.wait_for(asyncio.to_thread(proc.wait), seconds(30))
        assert trusted.returncode == 0, trusted.stderr.read()  # type: ignore[union-attr]
        assert "joined room 'case'" in trusted.stdout.read()  # type: ignore[union-attr]
        assert untrusted.returncode == 2
        error = untrusted.stderr.read()  # type: ignore[union-attr]
        assert "does not trust the signaling server's certificate" in error
        assert "--ca-file" in error and "Traceback" not in error
    finally:
        await server.close()


@pytest.mark.slow
async def test_the_watch_command_says_who_removed_it_and_exits(cli) -> None:  # type: ignore[no-untyped-def]
    import time

    from surgery_teach.protocol.tokens import issue_token
    from surgery_teach.rtc.session import LiveSession, SessionConfig
    from tests.signaling_server.conftest import SECRET

    server = await start_server(ServerConfig(port=0, secret=SECRET))

    def token(name: str, role: Role) -> str:
        return issue_token(SECRET, room="case", role=role, name=name, ttl=600, now=time.time())

    mentor = await LiveSession.start(SessionConfig(
        server=server.url, room="case", name="Dr Li", role=Role.MENTOR,
        token=token("Dr Li", Role.MENTOR)))
    try:
        proc = cli.start("watch", "--server", server.url, "--room", "case", "--name", "Osh",
                         "--token", token("Osh", Role.TRAINEE), "--stats-every", "0")
        deadline = asyncio.get_running_loop().time() + seconds(30)
        while not mentor.participants:
            assert asyncio.get_running_loop().time() < deadline, "the watcher never joined"
            await asyncio.sleep(0.05)
        await mentor.remove(next(iter(mentor.participants)))
        await asyncio.wait_for(asyncio.to_thread(proc.wait), seconds(15))
        assert proc.returncode == 2
        assert "'Dr Li' removed you from room 'case'" in proc.stderr.read()  # type: ignore[union-attr]
    finally:
        await mentor.close()
        await server.close()
