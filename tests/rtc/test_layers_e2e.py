"""Per-viewer layers between real peers: one viewer's bad link never degrades another's.

The link is made in the transport (this kernel has no netem): only the surgeon's
connection to the trainee goes through a 1 Mbit/s bottleneck with a 100 ms queue, as a
weak hospital line would. The trainee must move to a smaller layer, be told why, and
keep decoding in order; the mentor keeps the full picture, and the trainee's trouble
must not make keyframes for the mentor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtp import is_rtcp

from surgery_teach.capture import SyntheticSource
from surgery_teach.media.encoder import EncoderSettings, SharedEncoder
from surgery_teach.protocol.messages import Role
from surgery_teach.rtc.session import LiveSession, SessionConfig
from tests.rtc.live import FrameLog, until
from tests.timing import seconds

pytestmark = pytest.mark.slow


class NarrowLink:
    """``RTCDtlsTransport._send_rtp`` through a bottleneck on the chosen transports: RTP
    leaves at ``rate`` bit/s from a queue of at most ``queue`` seconds, the rest is
    dropped (what ``tc tbf`` does, in the process; RTCP passes untouched)."""

    def __init__(self, send: Callable[[RTCDtlsTransport, bytes], Awaitable[None]],
                 rate: float, queue: float = 0.1) -> None:
        self._send = send
        self.rate, self.queue = rate, queue
        self.transports: set[int] = set()
        self._free_at = 0.0
        self.dropped = 0

    async def __call__(self, transport: RTCDtlsTransport, data: bytes) -> None:
        if id(transport) not in self.transports or is_rtcp(data):
            await self._send(transport, data)
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        start = max(now, self._free_at)
        if start - now > self.queue:
            self.dropped += 1
            return
        self._free_at = start + len(data) * 8 / self.rate
        loop.call_at(start, lambda: asyncio.ensure_future(self._send(transport, data)))


async def test_a_trainee_on_a_narrow_link_stays_a_layer_down_and_the_mentor_keeps_the_top(
        server_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    lossy = NarrowLink(RTCDtlsTransport._send_rtp, rate=1_000_000)
    monkeypatch.setattr(RTCDtlsTransport, "_send_rtp", lambda self, data: lossy(self, data))
    source = SyntheticSource(1280, 720, 30, label="Laparoscope")
    source.start()
    encoder = SharedEncoder(source, EncoderSettings(bitrate=2_500_000))

    def join(name: str, role: Role, encoders=None):  # type: ignore[no-untyped-def]
        return LiveSession.start(SessionConfig(server=server_url, room="layers", name=name,
                                               role=role), encoders)

    surgeon = await join("Dr Wang", Role.SURGEON, [encoder])
    mentor = await join("Prof Li", Role.MENTOR)
    trainee = await join("Trainee Osh", Role.TRAINEE)
    logs: list[FrameLog] = []
    try:
        for viewer in (mentor, trainee):
            await until(lambda v=viewer: v.receivers and v.receivers[0].stats.frames > 10,
                        seconds(20), "video at each viewer")
        peer = surgeon.peers[trainee.me.id]
        lossy.transports.update(id(t.sender.transport) for t in peer.pc.getTransceivers()
                                if t.sender.transport is not None)
        mentor_log, trainee_log = (FrameLog(v.receivers[0]).start() for v in (mentor, trainee))
        logs += [mentor_log, trainee_log]
        top_keyframes = encoder.stats.keyframes
        note_key = (surgeon.me.id, "Laparoscope")
        # (it starts a layer down, tries the top with padding after seconds of clean
        # link, and is told this link does not carry it)
        await until(lambda: note_key in trainee.layer_notes
                    and trainee.layer_notes[note_key].limited, seconds(30),
                    "the trainee told it gets a smaller layer")
        note = trainee.layer_notes[note_key]
        assert note.limited and note.top == "720p" and note.layer != "720p"
        receiver = trainee.receivers[0]
        await until(lambda: receiver.stats.height < 720, seconds(10), "smaller pictures")
        before = receiver.stats.frames
        await until(lambda: receiver.stats.frames >= before + 60, seconds(15),
                    "pictures keep decoding on the lower layer")
        assert receiver.stats.out_of_order == 0
        # the link was tried with padding, not with pictures it cannot carry: the trainee
        # was never moved to 720p (and back, frozen meanwhile)
        assert surgeon.adaptation is not None
        trainee_feed = next(f for f in surgeon.adaptation.feeds.values()
                            if f.participant.id == trainee.me.id)
        assert trainee_feed.track.switches == 0
        assert lossy.dropped > 0
        mentor_stats = mentor.receivers[0].stats
        assert (mentor_stats.width, mentor_stats.height) == (1280, 720)
        assert mentor_stats.out_of_order == 0
        assert lossy.dropped > 0
        # the trainee's picture loss stayed its own: the top layer made no keyframe
        # storm (at most one a second forced, plus the periodic ones)
        span = max(1.0, trainee_log.last_at - mentor_log.frames[0][0]) if mentor_log.frames \
            else 1.0
        assert encoder.stats.keyframes - top_keyframes <= span + 2
        viewers = {v.participant: v for v in surgeon.adaptation.viewers()}  # type: ignore[union-attr]
        assert viewers[trainee.me.id].layer != "720p"  # (it may have gone lower since)
        assert viewers[mentor.me.id].layer == "720p"
    finally:
        for log in logs:
            log.stop()
        monkeypatch.undo()
        for session in (trainee, mentor, surgeon):
            await session.close()
        encoder.stop()
        source.stop()
