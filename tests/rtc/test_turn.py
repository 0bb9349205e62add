"""Through a real coturn (Debian's ``turnserver``) on 127.0.0.1, with the TURN REST
credentials the signaling server hands out: data crosses the relay; wrong or expired
credentials give no relay candidate and are explained as refused credentials."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiortc import RTCDataChannel, RTCPeerConnection

from surgery_teach.protocol.ice import IceServer, ice_servers_for, turn_rest_credentials
from surgery_teach.rtc.ice_config import (
    TurnOutcome,
    candidate_types,
    explain_ice_failure,
    plan_ice,
    probe_turn,
)
from tests.rtc.coturn import answers_stun as _answers_stun
from tests.rtc.coturn import free_port as _free_port
from tests.timing import seconds

TURNSERVER = shutil.which("turnserver")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        TURNSERVER is None,
        reason="coturn is not installed (apt-get install coturn): these tests run a real TURN "
        "relay",
    ),
]

PARTICIPANT = "p-0a1b2c3d"


@dataclass
class Coturn:
    port: int
    secret: bytes
    log: Path

    def url(self, transport: str = "udp") -> str:
        return f"turn:127.0.0.1:{self.port}?transport={transport}"

    def servers(self, transport: str = "udp", *, secret: bytes | None = None,
                now: float | None = None) -> tuple[IceServer, ...]:
        """What the signaling server would give PARTICIPANT for this relay."""
        return ice_servers_for(PARTICIPANT, [IceServer((self.url(transport),))],
                               turn_secret=secret or self.secret,
                               now=time.time() if now is None else now, ttl=600)

    def log_tail(self) -> str:
        lines = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return "\n".join(lines[-30:])


@pytest.fixture(scope="module")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coturn]:
    folder = tmp_path_factory.mktemp("coturn")
    secret = secrets.token_urlsafe(32)
    port = _free_port()
    server = Coturn(port, secret.encode(), folder / "turnserver.log")
    assert TURNSERVER is not None
    proc = subprocess.Popen(
        [
            TURNSERVER, "-n",  # no configuration file: only these options
            "--listening-ip=127.0.0.1", f"--listening-port={port}", "--relay-ip=127.0.0.1",
            "--use-auth-secret", f"--static-auth-secret={secret}", "--realm=test.surgery-teach",
            "--no-cli", "--no-tls", "--no-dtls", "--allow-loopback-peers",
            f"--log-file={server.log}", "--simple-log", "--no-stdout-log",
            f"--pidfile={folder / 'turnserver.pid'}", f"--db={folder / 'turndb'}",
        ],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + seconds(10)
        while not _answers_stun(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"coturn did not start (exit {proc.poll()}):\n{server.log_tail()}")
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=seconds(5))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Pair:
    offerer: RTCPeerConnection
    answerer: RTCPeerConnection
    received: asyncio.Future[str]


@contextlib.asynccontextmanager
async def relayed_pair(servers: tuple[IceServer, ...]) -> AsyncIterator[Pair]:
    """Two peers that may talk only through the relay; the offerer sends one message on a
    data channel as soon as it opens."""
    config = plan_ice(servers)
    a = RTCPeerConnection(config.configuration(relay_only=True))
    b = RTCPeerConnection(config.configuration(relay_only=True))
    received: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    channel = a.createDataChannel("stills")
    channel.on("open", lambda: channel.send("frame 1 through the relay"))

    @b.on("datachannel")
    def _on_channel(incoming: RTCDataChannel) -> None:
        incoming.on("message", lambda m: received.done() or received.set_result(m))

    try:
        await a.setLocalDescription(await a.createOffer())
        await b.setRemoteDescription(a.localDescription)
        await b.setLocalDescription(await b.createAnswer())
        await a.setRemoteDescription(b.localDescription)
        yield Pair(a, b, received)
    finally:
        await a.close()
        await b.close()


def _local_candidate_types(pc: RTCPeerConnection) -> set[str]:
    assert pc.sctp is not None
    gatherer = pc.sctp.transport.transport.iceGatherer
    return {candidate.type for candidate in gatherer.getLocalCandidates()}


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_data_crosses_the_relay_with_rest_credentials(coturn: Coturn, transport: str) -> None:
    servers = coturn.servers(transport)
    assert (await probe_turn(servers[0], timeout=seconds(5))).outcome is TurnOutcome.RELAYED
    async with relayed_pair(servers) as pair:
        try:
            message = await asyncio.wait_for(pair.received, seconds(15))
        except TimeoutError:
            pytest.fail(f"nothing crossed the relay in 15 s; coturn's log:\n{coturn.log_tail()}")
        assert message == "frame 1 through the relay"
        for pc in (pair.offerer, pair.answerer):
            assert candidate_types(pc.localDescription.sdp) == {"relay"}
            assert _local_candidate_types(pc) == {"relay"}
            assert pc.connectionState == "connected"


async def test_wrong_secret_gives_no_relay_and_is_explained_as_refused(coturn: Coturn) -> None:
    servers = coturn.servers(secret=b"not-the-coturn-secret-at-all")
    probe = await probe_turn(servers[0], timeout=seconds(5))
    assert (probe.outcome, probe.error_code) == (TurnOutcome.REFUSED, 401)
    async with relayed_pair(servers) as pair:
        local = candidate_types(pair.offerer.localDescription.sdp)
        assert local == set()
        with pytest.raises(TimeoutError):  # nothing can cross; aiortc does not even fail
            await asyncio.wait_for(asyncio.shield(pair.received), seconds(2))
    why = explain_ice_failure("Dr Li", servers=servers, local_types=local, probe=probe)
    assert why.startswith(
        f"no connection to Dr Li's computer: the TURN relay at 127.0.0.1:{coturn.port} "
        "refused the credentials")
    assert "got no connection through the TURN relay" in explain_ice_failure(
        "Dr Li", servers=servers, local_types=local)


async def test_expired_credentials_are_refused(coturn: Coturn) -> None:
    username, password = turn_rest_credentials(coturn.secret, PARTICIPANT,
                                               now=time.time() - 3600, ttl=600)
    probe = await probe_turn(IceServer((coturn.url(),), username, password), timeout=seconds(5))
    assert (probe.outcome, probe.error_code) == (TurnOutcome.REFUSED, 401)


async def test_a_relay_that_does_not_listen_is_unreachable(coturn: Coturn) -> None:
    port = _free_port()
    for transport in ("udp", "tcp"):
        server = IceServer((f"turn:127.0.0.1:{port}?transport={transport}",),
                           *turn_rest_credentials(coturn.secret, PARTICIPANT, now=time.time()))
        probe = await probe_turn(server, timeout=seconds(1))
        assert probe.outcome is TurnOutcome.UNREACHABLE, probe
        why = explain_ice_failure("Dr Li", servers=[server], local_types=set(), probe=probe)
        assert f"the TURN relay at 127.0.0.1:{port} could not be reached" in why
