"""5% of the video's RTP packets lost between the peers: the picture still flows smoothly.

This kernel has no netem, so loss is made in the transport: the DTLS transport's
``_send_rtp`` drops one RTP packet in twenty at random (fixed seed). RTCP (NACKs, picture
loss reports, receiver reports) and the DTLS handshake pass untouched; retransmissions are
RTP and are dropped like the rest.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

import pytest
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtp import is_rtcp

from surgery_teach.capture import SyntheticSource
from surgery_teach.media.encoder import EncoderSettings, SharedEncoder
from surgery_teach.protocol.messages import Role
from surgery_teach.rtc.session import LiveSession, SessionConfig
from tests.rtc.live import FrameLog, largest_gap, until
from tests.timing import seconds

pytestmark = pytest.mark.slow

LOSS = 0.05
MEASURE = 10.0


class LossyRtp:
    """Replaces ``RTCDtlsTransport._send_rtp``: drops RTP packets with probability ``loss``."""

    def __init__(self, send: Callable[[RTCDtlsTransport, bytes], Awaitable[None]],
                 loss: float, seed: int = 7) -> None:
        self._send = send
        self.loss = loss
        self._random = random.Random(seed)
        self.sent = self.dropped = 0

    async def __call__(self, transport: RTCDtlsTransport, data: bytes) -> None:
        if not is_rtcp(data):
            if self._random.random() < self.loss:
                self.dropped += 1
                return
            self.sent += 1
        await self._send(transport, data)


async def test_five_percent_packet_loss_keeps_25_fps_without_a_gap_over_a_second(
        server_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    lossy = LossyRtp(RTCDtlsTransport._send_rtp, LOSS)
    source = SyntheticSource(1280, 720, 30, label="Laparoscope")
    source.start()
    encoder = SharedEncoder(source, EncoderSettings(bitrate=2_000_000))
    surgeon = await LiveSession.start(
        SessionConfig(server=server_url, room="loss", name="Dr Wang", role=Role.SURGEON),
        [encoder])
    viewer = await LiveSession.start(
        SessionConfig(server=server_url, room="loss", name="Trainee", role=Role.TRAINEE))
    log = None
    try:
        await until(lambda: viewer.receivers and viewer.receivers[0].stats.frames > 30,
                    seconds(20), "video at the viewer")
        monkeypatch.setattr(RTCDtlsTransport, "_send_rtp",
                            lambda self, data: lossy(self, data))
        receiver = viewer.receivers[0]
        log = FrameLog(receiver).start()
        loop = asyncio.get_running_loop()
        start = loop.time()
        await until(lambda: log.last_at - start >= MEASURE, seconds(MEASURE + 10),
                    f"{MEASURE:g} s of video")
        frames = log.between(start, start + MEASURE)
        gap = largest_gap(log.frames, start, start + MEASURE)
        keyframes = encoder.stats.keyframes
        print(f"{len(frames) / MEASURE:.1f} fps, largest gap {gap * 1000:.0f} ms, "
              f"{lossy.dropped} of {lossy.sent + lossy.dropped} RTP packets dropped, "
              f"{keyframes} keyframes")
        assert lossy.dropped >= 0.03 * (lossy.sent + lossy.dropped)  # the loss was real
        assert len(frames) >= 25 * MEASURE
        assert gap <= 1.0
        assert receiver.stats.out_of_order == 0
    finally:
        if log is not None:
            log.stop()
        monkeypatch.undo()
        for session in (viewer, surgeon):
            await session.close()
        encoder.stop()
        source.stop()
