"""A room moves onto a real Janus (from Debian) when it outgrows peer to peer, and back.

The signaling server commands Janus over its API and admin API on loopback (Janus ignores
loopback only for media, which these tests do not send): each participant gets a
``media-route`` with a token of its own that Janus accepts for that room; the token of
someone who leaves stops working; only the surgeon and mentors choose class mode; a media
server that is down leaves rooms peer to peer and says why.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from signaling_server import RunningServer, ServerConfig, classes, start_server
from signaling_server.media_server.config import JanusSettings, MediaServerSecrets
from signaling_server.media_server.config_dir import MediaServerAccess, write_config_dir
from signaling_server.media_server.process import start_janus, wait_until_ready
from surgery_teach.errors import MediaServerRefusedError
from surgery_teach.janus.participant import ClassParticipant
from surgery_teach.protocol import ErrorCode, ServerMessage
from surgery_teach.protocol.messages import ClassMode, Join, MediaRoute, Role, Welcome
from tests.signaling_server.conftest import Client
from tests.timing import seconds

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def janus(tmp_path: Path) -> Iterator[tuple[Path, MediaServerAccess]]:
    if shutil.which("janus") is None:
        pytest.skip("Janus is not installed: apt-get install janus (make setup installs it)")
    folder = tmp_path / "janus"
    low = 20000 + _free_port() % 20000
    access = write_config_dir(folder, JanusSettings(
        api_port=_free_port(), admin_port=_free_port(), rtp_ports=(low, low + 200),
        session_timeout=60), MediaServerSecrets.generate())
    process = start_janus(folder)
    try:
        asyncio.run(wait_until_ready(access, process, timeout=seconds(20)))
        yield folder, access
    finally:
        process.terminate()
        try:
            process.wait(timeout=seconds(10))
        except Exception:
            process.kill()


@pytest.fixture
async def class_server(janus: tuple[Path, MediaServerAccess]) -> AsyncIterator[RunningServer]:
    running = await start_server(ServerConfig(port=0, media_server_dir=janus[0],
                                              class_threshold=2))
    try:
        yield running
    finally:
        await running.close()


async def next_route(client: Client, limit: int = 20) -> MediaRoute:
    """The next ``media-route`` this client gets (other news skipped)."""
    for _ in range(limit):
        message: ServerMessage = await client.recv()
        if isinstance(message, MediaRoute):
            return message
    raise AssertionError("no media-route")


async def test_a_room_moves_to_janus_above_the_threshold_with_a_token_each(
        class_server: RunningServer) -> None:
    async with AsyncExitStack() as stack:

        async def client(name: str, role: Role) -> Client:
            joined = Client(await stack.enter_async_context(connect(class_server.url)))
            await joined.join("lecture", name, role)
            return joined

        surgeon = await client("Dr Wang", Role.SURGEON)
        mentor = await client("Dr Li", Role.MENTOR)
        first = await client("Osh", Role.TRAINEE)  # 2 viewers: still peer to peer
        second = await client("Almaty", Role.TRAINEE)  # 3 > 2: the room moves
        routes = {who: await next_route(c) for who, c in
                  (("surgeon", surgeon), ("mentor", mentor), ("first", first),
                   ("second", second))}
        assert {r.mode for r in routes.values()} == {"class"}
        assert len({r.room for r in routes.values()}) == 1
        assert len({r.token for r in routes.values()}) == 4  # one each
        url = routes["surgeon"].url

        # Janus lets each in with its own token, into that room only.
        inside = await ClassParticipant.join(url, routes["first"].token,
                                             routes["first"].room, "Osh")
        await inside.leave()
        with pytest.raises(MediaServerRefusedError):
            await ClassParticipant.join(url, routes["first"].token,
                                        routes["first"].room + 1, "Osh")

        # A trainee may not choose the mode; someone who leaves loses their token.
        await first.send(ClassMode(False, id="c1"))
        assert (await first.expect_error(ErrorCode.FORBIDDEN)).ref == "c1"
        await first.connection.close()
        for _ in range(200):
            try:
                gone = await ClassParticipant.join(url, routes["first"].token,
                                                   routes["first"].room, "Osh")
            except MediaServerRefusedError:
                break
            await gone.leave()
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the token of a trainee who left still opens Janus")


async def test_class_mode_asked_for_moves_a_small_room_and_giving_it_up_moves_it_back(
        class_server: RunningServer) -> None:
    async with AsyncExitStack() as stack:
        surgeon = Client(await stack.enter_async_context(connect(class_server.url)))
        await surgeon.join("consult", "Dr Wang", Role.SURGEON)
        mentor = Client(await stack.enter_async_context(connect(class_server.url)))
        await mentor.join("consult", "Dr Li", Role.MENTOR)
        await mentor.send(ClassMode(True))
        assert (await next_route(mentor)).mode == "class"
        assert (await next_route(surgeon)).mode == "class"
        await mentor.send(ClassMode(False))
        back = await next_route(mentor)
        assert back.mode == "peer" and back.reason and not back.token
        assert (await next_route(surgeon)).mode == "peer"


async def test_a_room_given_up_stays_on_janus_a_moment_for_the_handover(
        class_server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Back to peer to peer: the pictures go on through Janus while the peer-to-peer
    connections come up, so the Janus room (and the tokens) go only a little later."""
    monkeypatch.setattr(classes, "CLOSE_AFTER", seconds(1))
    async with AsyncExitStack() as stack:
        surgeon = Client(await stack.enter_async_context(connect(class_server.url)))
        await surgeon.join("handover", "Dr Wang", Role.SURGEON)
        await surgeon.send(ClassMode(True))
        grant = await next_route(surgeon)
        assert grant.mode == "class"
        await surgeon.send(ClassMode(False))
        told = asyncio.get_running_loop().time()
        assert (await next_route(surgeon)).mode == "peer"
        still = await ClassParticipant.join(grant.url, grant.token, grant.room, "Dr Wang")
        await still.leave()  # the grant still opens the room just after
        deadline = told + seconds(10)
        while asyncio.get_running_loop().time() < deadline:
            try:
                late = await ClassParticipant.join(grant.url, grant.token, grant.room,
                                                   "Dr Wang")
            except MediaServerRefusedError:
                break
            await late.leave()
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the Janus room of a room given up was never closed")
        assert asyncio.get_running_loop().time() - told >= 1.0


async def test_without_a_running_media_server_rooms_stay_peer_to_peer_and_say_why(
        tmp_path: Path) -> None:
    if shutil.which("janus") is None:
        pytest.skip("Janus is not installed: apt-get install janus (make setup installs it)")
    folder = tmp_path / "janus"
    write_config_dir(folder, JanusSettings(api_port=_free_port(), admin_port=_free_port()),
                     MediaServerSecrets.generate())  # written, never started
    server = await start_server(ServerConfig(port=0, media_server_dir=folder,
                                             class_threshold=1))
    try:
        async with connect(server.url) as link:
            mentor = Client(link)
            await mentor.join("alone", "Dr Li", Role.MENTOR)
            await mentor.send(ClassMode(True, id=7))
            refusal = await mentor.expect_error(ErrorCode.NOT_ALLOWED)
            assert refusal.ref == 7 and "media server" in refusal.message
    finally:
        await server.close()


async def test_a_participant_who_rejoins_gets_its_route_again(
        janus: tuple[Path, MediaServerAccess]) -> None:
    class_server = await start_server(ServerConfig(port=0, media_server_dir=janus[0],
                                                   class_threshold=1))
    async with AsyncExitStack() as stack:
        stack.push_async_callback(class_server.close)

        async def client(name: str, role: Role, key: str = "") -> Client:
            joined = Client(await stack.enter_async_context(connect(class_server.url)))
            await joined.send(Join("rejoin", name, role, client_key=key or None))
            joined.id = (await joined.expect(Welcome)).you.id
            return joined

        await client("Dr Wang", Role.SURGEON)
        await client("Osh", Role.TRAINEE)
        key = "k" * 32
        away = await client("Almaty", Role.TRAINEE, key)  # 2 viewers > 1: the room moves
        first = await next_route(away)
        assert first.mode == "class"
        await away.connection.close()  # the link drops; its seat waits for the rejoin
        back = await client("Almaty", Role.TRAINEE, key)
        assert back.id == away.id
        again = await next_route(back)
        assert (again.mode, again.room, again.token) == ("class", first.room, first.token)
