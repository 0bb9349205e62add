"""docs/security.md's TURN deployment, as written: coturn with the documented configuration,
a signaling server given ``--turn-secret-file`` and ``--ice-server turn:...``, and two
live sessions given nothing else, forced through the relay."""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from surgery_teach.capture import SyntheticSource
from surgery_teach.media.encoder import EncoderSettings, SharedEncoder
from surgery_teach.protocol.messages import Role
from surgery_teach.rtc.ice_config import candidate_types
from surgery_teach.rtc.session import LiveSession, SessionConfig
from tests.rtc.coturn import TURNSERVER, Coturn, documented_config, running_coturn
from tests.rtc.live import ServerProcess, free_port, until
from tests.timing import seconds

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(TURNSERVER is None, reason="coturn is not installed (apt-get install "
                       "coturn): these tests run a real TURN relay"),
]


@pytest.fixture
def coturn_secret() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture
def coturn(tmp_path: Path, coturn_secret: str) -> Iterator[Coturn]:
    folder = tmp_path / "coturn"
    folder.mkdir()
    with running_coturn(documented_config(coturn_secret), folder) as relay:
        yield relay


async def signaling(tmp_path: Path, coturn: Coturn, secret: str) -> ServerProcess:
    """``python -m signaling_server`` with the two options security.md gives it."""
    secret_file = tmp_path / "turn-secret"
    secret_file.write_text(secret + "\n", encoding="utf-8")
    server = ServerProcess(free_port(), "--turn-secret-file", str(secret_file),
                           "--ice-server", f"turn:127.0.0.1:{coturn.port}")
    await server.start(seconds(20))
    return server


class Room:
    """A surgeon with a synthetic laparoscope and a trainee, both relay only."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.source = SyntheticSource(320, 180, 30, label="Laparoscope")
        self.encoder = SharedEncoder(self.source, EncoderSettings(bitrate=300_000))
        self.sessions: list[LiveSession] = []
        self.problems: list[tuple[str, str, float]] = []  # (who was told, text, when)

    def config(self, name: str, role: Role) -> SessionConfig:
        return SessionConfig(server=self.url, room="relay-case", name=name, role=role,
                             relay_only=True)  # nothing else: the servers come from welcome

    async def join(self, name: str, role: Role, *, publish: bool = False) -> LiveSession:
        session = await LiveSession.start(self.config(name, role),
                                          [self.encoder] if publish else None)
        session.on("peer-problem", lambda info, text: self.problems.append(
            (name, text, time.monotonic())))
        self.sessions.append(session)
        return session

    async def close(self) -> None:
        for session in reversed(self.sessions):
            await session.close()
        self.encoder.stop()
        self.source.stop()


@contextlib.asynccontextmanager
async def relay_case(tmp_path: Path, coturn: Coturn, secret: str) -> AsyncIterator[Room]:
    """The signaling server (with ``secret``) and a room on it, closed in that order."""
    server = await signaling(tmp_path, coturn, secret)
    room = Room(server.url)
    room.source.start()
    try:
        yield room
    finally:
        await room.close()
        await server.stop()


async def test_frames_cross_the_documented_relay_with_credentials_from_the_server(
        tmp_path: Path, coturn: Coturn, coturn_secret: str) -> None:
    async with relay_case(tmp_path, coturn, coturn_secret) as room:
        surgeon = await room.join("Dr Wang", Role.SURGEON, publish=True)
        trainee = await room.join("Trainee Osh", Role.TRAINEE)
        for session in (surgeon, trainee):  # what the server gave each of them
            (relay,) = session.ice_servers
            assert relay.urls == (f"turn:127.0.0.1:{coturn.port}",)
            assert relay.username.endswith(f":{session.me.id}")
        try:
            await until(lambda: trainee.receivers and trainee.receivers[0].stats.frames >= 30,
                        seconds(30), "30 frames through the relay")
        except AssertionError:
            pytest.fail(f"no video through the relay; coturn's log:\n{coturn.log_tail()}")
        assert trainee.receivers[0].stats.width == 320
        for session, other in ((surgeon, trainee), (trainee, surgeon)):
            pc = session.peers[other.me.id].pc
            assert pc.connectionState == "connected"
            assert candidate_types(pc.localDescription.sdp) == {"relay"}
        assert room.problems == []


async def test_a_server_whose_secret_is_not_coturns_is_explained_within_20_s(
        tmp_path: Path, coturn: Coturn) -> None:
    async with relay_case(tmp_path, coturn, secrets.token_urlsafe(32)) as room:
        await room.join("Dr Wang", Role.SURGEON, publish=True)
        joined = time.monotonic()
        trainee = await room.join("Trainee Osh", Role.TRAINEE)
        await until(lambda: len(room.problems) >= 2, seconds(20),
                    "both to be told why there is no connection")
        refused = (f"the TURN relay at 127.0.0.1:{coturn.port} refused the credentials "
                   "(wrong, or expired). Ask the administrator to check that the signaling "
                   "server's TURN secret is coturn's static-auth-secret")
        told = {who: text for who, text, _ in room.problems}
        assert told == {
            "Dr Wang": f"no connection to Trainee Osh's computer: {refused} and that the "
                       "computers' clocks are right.",
            "Trainee Osh": f"no connection to Dr Wang's computer: {refused} and that the "
                           "computers' clocks are right.",
        }
        assert max(when for _, _, when in room.problems) - joined < seconds(20)
        assert trainee.receivers == [] or trainee.receivers[0].stats.frames == 0
