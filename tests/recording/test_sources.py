"""Received video as a recorder's source, and the voices' mix, without a network.

The received frames here are real x264 output (the shared encoder's keyframes and
P-frames), handed over the way the receive path's tap does; the mix is fed real tones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from surgery_teach.audio import ToneTrack
from surgery_teach.audio.analysis import tone_power
from surgery_teach.media.encoder import EncodedFrame
from surgery_teach.media.frame_tap import ReceivedFrameTap, is_keyframe
from surgery_teach.recording.mixer import RATE, AudioMix
from surgery_teach.recording.sources import ReceivedPackets, picture_size
from tests.timing import seconds


@dataclass(frozen=True)
class Frame:
    data: bytes
    timestamp: int
    keyframe: bool
    arrived: float
    after_loss: bool = False


class FakeTap:
    """Stands in for a :class:`ReceivedFrameTap`; records keyframe requests."""

    def __init__(self) -> None:
        self.sinks: list[Callable[[Frame], None]] = []
        self.keyframe_requests = 0

    def subscribe(self, sink: Callable[[Frame], None]) -> Callable[[], None]:
        self.sinks.append(sink)
        return lambda: self.sinks.remove(sink)

    def request_keyframe(self) -> None:
        self.keyframe_requests += 1

    def send(self, frame: Frame) -> None:
        for sink in list(self.sinks):
            sink(frame)


def test_keyframes_are_recognised_and_their_size_read(
    encoded_frames: list[EncodedFrame],
) -> None:
    first = bytes(encoded_frames[0].packet)
    assert is_keyframe(first) and encoded_frames[0].keyframe
    assert not is_keyframe(bytes(encoded_frames[1].packet))
    assert picture_size(first) == (640, 360)
    assert picture_size(b"\x00\x00\x00\x01\x09\xf0") is None  # no picture in it


def test_received_pictures_start_at_a_keyframe_on_the_local_clock_across_rtp_wrap(
    encoded_frames: list[EncodedFrame],
) -> None:
    tap = FakeTap()
    packets = ReceivedPackets()
    packets.attach(tap)
    got: list[EncodedFrame] = []
    packets.subscribe(got.append)
    assert tap.keyframe_requests == 1  # the recording asks for a keyframe at once

    arrived = 1764099000.0
    start_ts = 2**32 - 3000 * 5  # wraps after five frames
    for index, encoded in enumerate(encoded_frames[1:4]):  # P-frames: not a start
        tap.send(Frame(bytes(encoded.packet), index, False, arrived))
    assert got == []
    for index, encoded in enumerate(encoded_frames[:12]):
        ts = (start_ts + 3000 * index) % 2**32
        jitter = 0.004 * (index % 3)  # arrival jitter does not shake the timeline
        tap.send(Frame(bytes(encoded.packet), ts, encoded.keyframe, arrived + index / 30 + jitter))
    assert len(got) == 12 and got[0].keyframe
    times = [frame.captured_at for frame in got]
    assert np.allclose(np.diff(times), 1 / 30)
    assert times[0] == arrived
    pts = [frame.packet.pts for frame in got]
    assert pts == sorted(pts) and len(set(pts)) == len(pts)
    assert bytes(got[5].packet) == bytes(encoded_frames[5].packet)


def test_after_a_loss_the_recording_waits_for_a_keyframe_and_asks_for_one(
    encoded_frames: list[EncodedFrame],
) -> None:
    tap = FakeTap()
    packets = ReceivedPackets()
    got: list[EncodedFrame] = []
    packets.subscribe(got.append)
    packets.attach(tap)
    keyframe, p1, p2 = (bytes(encoded_frames[i].packet) for i in range(3))
    tap.send(Frame(keyframe, 0, True, 10.0))
    tap.send(Frame(p1, 3000, False, 10.033))
    requests = tap.keyframe_requests
    tap.send(Frame(p2, 9000, False, 10.1, after_loss=True))
    assert len(got) == 2 and tap.keyframe_requests == requests + 1
    tap.send(Frame(p1, 12000, False, 10.133))  # still waiting
    tap.send(Frame(keyframe, 15000, True, 10.166))
    assert len(got) == 3 and got[-1].keyframe


def test_a_new_track_of_the_same_video_goes_on_in_time(
    encoded_frames: list[EncodedFrame],
) -> None:
    first, second = FakeTap(), FakeTap()
    packets = ReceivedPackets()
    got: list[EncodedFrame] = []
    packets.subscribe(got.append)
    packets.attach(first)
    keyframe = bytes(encoded_frames[0].packet)
    first.send(Frame(keyframe, 123456, True, 100.0))
    packets.detach()
    first.send(Frame(keyframe, 126456, True, 100.033))  # no longer listened to
    packets.attach(second)  # a reconnect: a new random RTP clock
    second.send(Frame(keyframe, 999, True, 105.0))
    assert [frame.captured_at for frame in got] == [100.0, 105.0]
    assert got[1].packet.pts > got[0].packet.pts


def test_the_tap_marks_frames_after_a_loss_and_survives_a_failing_sink() -> None:
    tap = ReceivedFrameTap()
    seen: list[bool] = []

    def broken(_frame: object) -> None:
        raise RuntimeError("a recorder bug")

    tap.subscribe(broken)
    unsubscribe = tap.subscribe(lambda f: seen.append(f.after_loss))
    tap.publish(b"\x00\x00\x00\x01\x65", 1)
    tap.lost()
    tap.publish(b"\x00\x00\x00\x01\x41", 2)
    tap.publish(b"\x00\x00\x00\x01\x41", 3)
    unsubscribe()
    tap.publish(b"\x00\x00\x00\x01\x41", 4)
    assert seen == [False, True, False]
    assert tap.frames == 4


async def test_the_mix_carries_every_voice_and_goes_on_when_one_leaves() -> None:
    mix = AudioMix()
    mix.add("surgeon", ToneTrack(440.0, amplitude=0.2))
    mix.add("mentor", ToneTrack(1500.0, amplitude=0.2))
    samples: list[np.ndarray] = []
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        async with asyncio.timeout(seconds(10)):
            for _ in range(50):  # one second
                frame = await mix.recv()
                assert frame.sample_rate == RATE and frame.samples == 960
                samples.append(frame.to_ndarray().reshape(-1))
            took = loop.time() - started
            audio = np.concatenate(samples[10:]).astype(np.float64) / 32768
            assert tone_power(audio, RATE, 440.0) > 0.3
            assert tone_power(audio, RATE, 1500.0) > 0.3
            mix.remove("mentor")
            later = [(await mix.recv()).to_ndarray().reshape(-1) for _ in range(25)]
            tail = np.concatenate(later[5:]).astype(np.float64) / 32768
            assert tone_power(tail, RATE, 440.0) > 0.8
            assert tone_power(tail, RATE, 1500.0) < 0.05
    finally:
        mix.stop()
    assert 0.8 < took < seconds(3)  # paced by the clock, not as fast as possible
