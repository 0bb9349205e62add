"""A connection that does not come up is explained, and an offer nobody answers is given up
and made once more: real aiortc peers, a real server, a participant that never answers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from aiortc import RTCPeerConnection

from surgery_teach.capture import SyntheticSource
from surgery_teach.media.encoder import EncoderSettings, SharedEncoder
from surgery_teach.protocol.messages import Offer, ParticipantInfo, Relayed, Role
from surgery_teach.rtc.peer import new_peer_connection
from surgery_teach.rtc.peer_watch import PeerWatch
from surgery_teach.rtc.session import LiveSession, SessionConfig
from surgery_teach.rtc.signaling_client import SignalingClient
from tests.rtc.live import until
from tests.timing import seconds

LI = ParticipantInfo("p-0a1b2c3d", "Dr Li", Role.MENTOR)


class Heard:
    """What a PeerWatch told and asked for, in order."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []
        self.given_up: list[str] = []
        self.retried: list[str] = []

    def watch(self, **timers: float) -> PeerWatch:
        async def give_up(info: ParticipantInfo) -> None:
            self.given_up.append(info.id)

        async def retry(participant_id: str) -> None:
            self.retried.append(participant_id)

        return PeerWatch(servers=lambda: (), give_up=give_up, retry=retry,
                         on_problem=lambda info, text: self.problems.append((info.name, text)),
                         **timers)


@contextlib.asynccontextmanager
async def offering() -> AsyncIterator[RTCPeerConnection]:
    pc = new_peer_connection()
    pc.createDataChannel("stills")
    await pc.setLocalDescription(await pc.createOffer())
    try:
        yield pc
    finally:
        await pc.close()


async def test_an_unanswered_offer_is_given_up_and_made_once_more() -> None:
    heard = Heard()
    watch = heard.watch(timeout=0.2, retry_after=0.2)
    async with offering() as pc:
        watch.started(LI, pc, offered=True)
        await until(lambda: heard.retried, seconds(5), "the retry")
        assert heard.given_up == [LI.id]
        assert heard.problems == [("Dr Li", "Dr Li's computer did not answer (no reply to the "
                                   "offer to connect in 0.2 s); trying once more in 0.2 s.")]
    async with offering() as pc:  # what the session does on the retry
        watch.started(LI, pc, offered=True)
        await until(lambda: len(heard.given_up) == 2, seconds(5), "the second give-up")
    assert heard.problems[-1] == ("Dr Li", "Dr Li's computer did not answer again; it is "
                                  "tried again when they rejoin or change what they send.")
    assert heard.retried == [LI.id]  # once only
    assert not watch.retrying
    watch.news(LI)  # they joined again: a failure would be retried again
    assert heard.problems[-1] == ("Dr Li", "")  # and what was said is withdrawn
    async with offering() as pc:
        watch.started(LI, pc, offered=True)
        await until(lambda: LI.id in watch.retrying, seconds(5), "a retry after the news")
    watch.stop()
    assert not watch.retrying


async def test_a_late_connection_is_explained_then_cleared() -> None:
    heard = Heard()
    watch = heard.watch(timeout=0.05)
    offerer, answerer = new_peer_connection(), new_peer_connection()
    try:
        offerer.createDataChannel("stills")
        await offerer.setLocalDescription(await offerer.createOffer())
        await answerer.setRemoteDescription(offerer.localDescription)
        await answerer.setLocalDescription(await answerer.createAnswer())
        watch.started(LI, answerer, offered=False)
        await until(lambda: heard.problems, seconds(5), "the explanation")
        assert heard.problems == [("Dr Li", "no connection to Dr Li's computer: no STUN or TURN "
                                   "server is set up, so only computers on the same network "
                                   "can connect. Ask the administrator to set up a TURN relay.")]
        await offerer.setRemoteDescription(answerer.localDescription)  # the answer arrives
        await until(lambda: len(heard.problems) == 2, seconds(10), "the all-clear")
        assert heard.problems[1] == ("Dr Li", "")
        assert answerer.connectionState == "connected"
    finally:
        watch.stop()
        await offerer.close()
        await answerer.close()


async def test_a_connection_that_comes_up_in_time_says_nothing() -> None:
    heard = Heard()
    watch = heard.watch(timeout=seconds(10))
    offerer, answerer = new_peer_connection(), new_peer_connection()
    try:
        offerer.createDataChannel("stills")
        await offerer.setLocalDescription(await offerer.createOffer())
        watch.started(LI, offerer, offered=True)
        await answerer.setRemoteDescription(offerer.localDescription)
        await answerer.setLocalDescription(await answerer.createAnswer())
        await offerer.setRemoteDescription(answerer.localDescription)
        await until(lambda: offerer.connectionState == "connected", seconds(10), "connected")
        await until(lambda: not watch.watching, seconds(5), "the timer to stop")
        assert heard.problems == [] and heard.given_up == []
    finally:
        watch.stop()
        await offerer.close()
        await answerer.close()


@pytest.mark.slow
async def test_a_participant_that_never_answers_costs_nothing_and_is_offered_once_more(
        server_url: str) -> None:
    source = SyntheticSource(320, 180, 30, label="Laparoscope")
    source.start()
    encoder = SharedEncoder(source, EncoderSettings(bitrate=300_000))
    surgeon = await LiveSession.start(SessionConfig(server=server_url, room="silent",
                                                    name="Dr Wang", role=Role.SURGEON), [encoder])
    surgeon.watch.timeout, surgeon.watch.retry_after = 1.0, 1.0
    problems: list[str] = []
    surgeon.on("peer-problem", lambda info, text: problems.append(text))
    silent = await SignalingClient.join(server_url, room="silent", name="Dr Silent",
                                        role=Role.TRAINEE)
    offers = 0

    async def read() -> None:  # a broken client: it reads every offer and answers none
        nonlocal offers
        async for message in silent.messages():
            if isinstance(message, Relayed) and isinstance(message.data, Offer):
                offers += 1

    reader = asyncio.ensure_future(read())
    try:
        await until(lambda: silent.me in surgeon.peers, seconds(10), "the offer")
        first = surgeon.peers[silent.me]
        await until(lambda: problems, seconds(10), "the surgeon to be told")
        assert problems == ["Dr Silent's computer did not answer (no reply to the offer to "
                            "connect in 1 s); trying once more in 1 s."]
        assert first.pc.signalingState == "closed"
        assert first.tracks and all(t.readyState == "ended" for t in first.tracks)
        await until(lambda: len(problems) == 2, seconds(15), "the second try to fail")
        assert problems[1].startswith("Dr Silent's computer did not answer again")
        assert offers == 2
        assert silent.me not in surgeon.peers and not surgeon.watch.retrying
        if surgeon.adaptation is not None:  # no layer is kept encoded for them
            assert surgeon.adaptation.viewers() == []
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await silent.close()
        await surgeon.close()
        encoder.stop()
        source.stop()
