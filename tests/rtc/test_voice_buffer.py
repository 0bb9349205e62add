"""The voice jitter buffer: no prefetch, a hole waits only for its resend.

Unit tests drive :class:`AudioJitterBuffer` with literal packets and a virtual clock; the
end-to-end test sends tone bursts between two real aiortc peers with 3% of RTP packets
dropped in the transport and counts the 10 ms windows that arrive damaged.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import time
from collections.abc import Iterator

import av
import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtp import RtpPacket

from bench.voice_signals import burst, burst_train, damaged_windows, find_burst, to_int16
from surgery_teach.rtc import aiortc_tuning
from surgery_teach.rtc.aiortc_tuning import AudioJitterBuffer, use_loopback_ice
from tests.rtc.test_loss import LossyRtp
from tests.timing import seconds

RATE = 48000


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def packet(seq: int) -> RtpPacket:
    p = RtpPacket(payload_type=111, sequence_number=seq % 65536, timestamp=seq * 960)
    p._data = bytes([seq % 256])  # type: ignore[attr-defined]
    return p


class Buffer:
    def __init__(self) -> None:
        self.clock = Clock()
        self.handed: list[int] = []
        self.forgotten: list[int] = []
        self.asked: list[int] = []
        self.buffer = AudioJitterBuffer(lambda p: self.handed.append(p.sequence_number),
                                        self.forgotten.append,
                                        lambda ssrc, seq: self.asked.append(seq),
                                        clock=self.clock)

    def add(self, seq: int, at: float) -> list[int]:
        """What leaves the buffer (in order) when ``seq`` arrives at ``at``."""
        self.clock.now = at
        self.handed.clear()
        _, frame = self.buffer.add(packet(seq))
        out = list(self.handed)
        if frame is not None:
            out.append(frame.timestamp // 960 % 65536)
        return out


def test_in_order_packets_leave_the_moment_they_arrive() -> None:
    b = Buffer()
    assert [b.add(s, s * 0.02) for s in range(100, 105)] == [[100], [101], [102], [103], [104]]
    assert b.buffer.released == 5 and b.buffer.lost == 0


def test_a_hole_holds_what_follows_until_its_resend_then_all_leave_in_order() -> None:
    b = Buffer()
    assert b.add(10, 0.20) == [10]
    assert b.add(12, 0.24) == []  # 11 missing: wait for its resend
    assert b.add(11, 0.243) == [11, 12]
    assert b.add(13, 0.26) == [13]
    assert b.buffer.recovered == 1 and b.buffer.lost == 0
    assert b.buffer.resend_time < 0.020  # learned: resends here take 3 ms


def test_a_hole_is_asked_for_again_then_given_up() -> None:
    b = Buffer()
    b.buffer.resend_time = 0.004
    assert b.add(10, 0.20) == [10]
    assert b.add(12, 0.24) == []
    assert b.add(13, 0.25) == []  # 6 ms (1.5 resend times) passed: asked again
    assert b.asked == [11]
    assert b.add(14, 0.26) == []  # and once more
    assert b.asked == [11, 11]
    assert b.add(15, 0.27) == [12, 13, 14, 15]  # then given up
    assert b.buffer.lost == 1 and b.forgotten == [11]  # and no longer asked for
    assert b.add(11, 0.28) == []  # its resend came too late
    assert b.buffer.late == 1


def test_a_resend_that_comes_after_asking_again_fills_the_hole() -> None:
    b = Buffer()
    b.buffer.resend_time = 0.004
    assert b.add(10, 0.20) == [10]
    assert b.add(12, 0.24) == []
    assert b.add(13, 0.25) == []
    assert b.add(11, 0.252) == [11, 12, 13]
    assert b.buffer.lost == 0 and b.buffer.recovered == 1


def test_sequence_numbers_wrap() -> None:
    b = Buffer()
    assert b.add(65534, 0.0) == [65534]
    assert b.add(65535, 0.02) == [65535]
    assert b.add(65536, 0.04) == [0]


def test_a_sender_that_starts_over_is_followed() -> None:
    b = Buffer()
    assert b.add(100, 0.0) == [100]
    assert b.add(40000, 0.02) == [40000]
    assert b.add(100, 0.04) == [100]


# -- end to end, with loss ---------------------------------------------------------------

class BurstTrack(MediaStreamTrack):
    """Plays ``signal`` (int16 mono) in real time in 20 ms frames, then silence."""

    kind = "audio"

    def __init__(self, signal: np.ndarray) -> None:
        super().__init__()
        self.signal = signal
        self._pts = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        wait = self._start + self._pts / RATE - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        chunk = np.zeros(960, dtype=np.int16)
        piece = self.signal[self._pts : self._pts + 960]
        chunk[: piece.size] = piece
        frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts = RATE, self._pts
        frame.time_base = fractions.Fraction(1, RATE)
        self._pts += 960
        return frame


@pytest.fixture
def loopback_ice() -> Iterator[None]:
    use_loopback_ice(True)
    try:
        yield
    finally:
        use_loopback_ice(False)


async def received_bursts(loss: float, tuned: bool, duration: float) -> tuple[np.ndarray,
                                                                                np.ndarray]:
    """Send tone bursts for ``duration`` s with ``loss`` of RTP dropped; the signal sent
    and what the receiver decoded, laid out on the sender's timeline (lost audio: zeros)."""
    shape = burst(0.3, 400.0, 2400.0)
    signal, _ = burst_train(math.floor(duration / 0.5), 0.5, shape, start=0.5)
    sent = to_int16(signal)
    sender = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    receiver = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    arrived: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()

    @receiver.on("track")
    def _on_track(track: MediaStreamTrack) -> None:
        if tuned:
            assert aiortc_tuning.tune_audio_receiver(receiver, track) is not None
        arrived.set_result(track)

    source = BurstTrack(sent)
    sender.addTrack(source)
    try:
        await sender.setLocalDescription(await sender.createOffer())
        await receiver.setRemoteDescription(sender.localDescription)
        await receiver.setLocalDescription(await receiver.createAnswer())
        await sender.setRemoteDescription(receiver.localDescription)
        track = await asyncio.wait_for(arrived, seconds(10))
        heard = np.zeros(sent.size + RATE, dtype=np.int16)
        first: int | None = None
        while True:
            frame = await asyncio.wait_for(track.recv(), seconds(5))
            samples = frame.to_ndarray().reshape(-1, 2)[:, 0]
            first = frame.pts if first is None else first
            at = frame.pts - first
            if at + samples.size > heard.size:
                break
            heard[at : at + samples.size] = samples
    finally:
        source.stop()
        await sender.close()
        await receiver.close()
    return sent, heard


def damage(sent: np.ndarray, heard: np.ndarray) -> tuple[int, int]:
    shape = burst(0.3, 400.0, 2400.0)
    _, onsets = burst_train(math.floor(sent.size / RATE / 0.5), 0.5, shape, start=0.5)
    first = find_burst(heard, shape, 0, RATE)
    assert first is not None, "the first burst never arrived"
    offset = first[0] - onsets[0]
    damaged = total = 0
    for onset in onsets[:-1]:
        d, t = damaged_windows(heard, shape, onset + offset)
        damaged += d
        total += t
    return damaged, total


@pytest.mark.slow
async def test_with_3_percent_loss_at_most_1_percent_of_the_voice_is_damaged(
        loopback_ice: None, monkeypatch: pytest.MonkeyPatch) -> None:
    lossy = LossyRtp(RTCDtlsTransport._send_rtp, 0.03, seed=11)
    monkeypatch.setattr(RTCDtlsTransport, "_send_rtp", lambda self, data: lossy(self, data))
    sent, heard = await received_bursts(0.03, tuned=True, duration=12.0)
    damaged, total = damage(sent, heard)
    assert lossy.dropped >= 10  # loss really happened
    assert damaged / total <= 0.01, f"{damaged} of {total} windows damaged"
