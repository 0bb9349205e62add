"""Received video as a recorder's source, and the voices' mix, without a network.

The received frames here are real x264 output (the shared encoder's keyframes and
P-frames), handed over the way the receive path's tap does; the mix is fed real tones.
"""

from __future__ import annotations

import asyncio
import itertools
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
    packets = ReceivedPackets(settle_s=0)
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


def test_the_first_pictures_are_placed_by_the_earliest_arrival_not_the_first(
    encoded_frames: list[EncodedFrame],
) -> None:
    """A new connection's first pictures come late and in a burst (measured: the first
    0.13 s late, the next 99, 73, 48, 29 ms, then on time): placed by the first, the whole
    file would run 0.13 s late. Nothing is written until half a second of pictures came;
    a recording stopped sooner still writes what came."""
    tap = FakeTap()
    packets = ReceivedPackets()
    got: list[EncodedFrame] = []
    packets.subscribe(got.append)
    packets.attach(tap)
    captured = 500.0  # the surgeon's capture of the first picture, on our clock
    late = [0.131, 0.099, 0.073, 0.048, 0.029, 0.010] + [0.012, 0.010, 0.011] * 6
    for index, encoded in enumerate(encoded_frames[:len(late)]):
        if index == 16:
            assert got == []  # 0.5 s of pictures not yet arrived: all held
        tap.send(Frame(bytes(encoded.packet), 3000 * index, encoded.keyframe,
                       captured + index / 30 + late[index]))
    assert len(got) == len(late) and got[0].keyframe
    times = np.array([frame.captured_at for frame in got])
    assert abs(times[0] - (captured + 0.010)) < 1e-6  # one best network hop after capture
    assert np.allclose(np.diff(times), 1 / 30)  # the RTP clock, not the burst
    pts = [frame.packet.pts for frame in got]
    assert pts == sorted(pts) and len(set(pts)) == len(pts)

    short = ReceivedPackets()
    kept: list[EncodedFrame] = []
    short.subscribe(kept.append)
    other = FakeTap()
    short.attach(other)
    for index, encoded in enumerate(encoded_frames[:3]):
        other.send(Frame(bytes(encoded.packet), 3000 * index, encoded.keyframe,
                         captured + index / 30 + late[index]))
    assert kept == []
    short.stop()  # stopped within the half second: nothing that came is lost
    assert len(kept) == 3 and abs(kept[0].captured_at - (captured + 0.073)) < 1e-6


def test_a_burst_over_a_second_late_and_a_new_track_are_placed_by_their_best_arrival(
    encoded_frames: list[EncodedFrame],
) -> None:
    """Under heavy load the first pictures came 1.3 s late (past the one second that
    otherwise starts a new mapping); after a reconnect a new track's first ones come
    late again."""
    tap = FakeTap()
    packets = ReceivedPackets()
    got: list[EncodedFrame] = []
    packets.subscribe(got.append)
    packets.attach(tap)
    frames = [encoded_frames[i % 15] for i in range(70)]  # a keyframe every 15
    captured = 800.0
    for index, encoded in enumerate(frames):
        on_time = captured + index / 30 + 0.010
        tap.send(Frame(bytes(encoded.packet), 3000 * index, encoded.keyframe,
                       max(on_time, captured + 1.3 + index * 0.001)))
    times = np.array([frame.captured_at for frame in got])
    assert len(got) == 70 and abs(times[0] - (captured + 0.010)) < 1e-6
    assert np.allclose(np.diff(times), 1 / 30)

    packets.detach()  # the connection dropped; the new one has its own RTP clock
    newer = FakeTap()
    packets.attach(newer)
    again = 900.0
    late = [0.2, 0.17, 0.14, 0.11, 0.08, 0.05, 0.02] + [0.015] * 20
    for index, lag in enumerate(late):
        encoded = encoded_frames[index % 15]
        newer.send(Frame(bytes(encoded.packet), 5555 + 3000 * index, encoded.keyframe,
                         again + index / 30 + lag))
    placed = [frame.captured_at for frame in got[70:]]
    assert len(placed) == len(late) and abs(placed[0] - (again + 0.015)) < 1e-6
    assert np.allclose(np.diff(placed), 1 / 30)


def test_after_a_loss_the_recording_waits_for_a_keyframe_and_asks_for_one(
    encoded_frames: list[EncodedFrame],
) -> None:
    tap = FakeTap()
    packets = ReceivedPackets(settle_s=0)
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
    packets = ReceivedPackets(settle_s=0)
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


def test_a_handover_records_the_old_track_until_the_new_one_has_a_keyframe(
    encoded_frames: list[EncodedFrame],
) -> None:
    """Peer to peer -> media server (or back): both tracks run for a moment; the file
    takes the old one's pictures until the new one can be decoded, then only the new."""
    p = [bytes(f.packet) for f in encoded_frames]  # keyframes: p[0], p[15], p[30]
    old, new = FakeTap(), FakeTap()
    packets = ReceivedPackets(settle_s=0)
    got: list[EncodedFrame] = []
    packets.subscribe(got.append)
    packets.attach(old)
    old.send(Frame(p[0], 0, True, 100.0))
    packets.attach(new)
    assert new.keyframe_requests == 1  # the new path is asked for a picture to start on
    new.send(Frame(p[14], 777, False, 100.02))  # cannot be decoded on its own: not taken
    old.send(Frame(p[1], 3000, False, 100.033))  # the old path still carries
    assert packets.holds(old) and packets.holds(new)
    new.send(Frame(p[15], 3777, True, 100.05))
    old.send(Frame(p[2], 6000, False, 100.066))  # no longer taken
    new.send(Frame(p[16], 6777, False, 100.083))
    assert [(f.keyframe, round(f.captured_at, 3)) for f in got] == [
        (True, 100.0), (False, 100.033), (True, 100.05), (False, 100.083)]
    assert [bytes(f.packet) for f in got] == [p[0], p[1], p[15], p[16]]
    packets.release(old)  # the old track's end changes nothing now
    assert packets.holds(new) and not packets.holds(old)

    # Both paths carry the same encoder's pictures, the new one a few behind: what the
    # old path gave already is not written again when the new one repeats it.
    newer = FakeTap()
    packets.attach(newer)
    new.send(Frame(p[17], 9777, False, 100.1))
    new.send(Frame(p[18], 12777, False, 100.133))
    newer.send(Frame(p[15], 55, True, 100.14))  # lags: a keyframe written already,
    for n in (16, 17, 18):  # and what followed it
        newer.send(Frame(p[n], 55 + 3000 * (n - 15), False, 100.15 + 0.01 * n))
    newer.send(Frame(p[19], 12055, False, 100.35))
    assert [bytes(f.packet) for f in got[4:]] == [p[17], p[18], p[19]]
    assert [round(f.captured_at, 3) for f in got[4:]] == [100.117, 100.15, 100.273]
    assert all(b.packet.pts > a.packet.pts for a, b in itertools.pairwise(got))
    assert packets.holds(newer) and not packets.holds(new)


def test_a_new_track_that_ends_before_its_first_keyframe_leaves_the_old_one(
    encoded_frames: list[EncodedFrame],
) -> None:
    p = [bytes(f.packet) for f in encoded_frames]
    old, new = FakeTap(), FakeTap()
    packets = ReceivedPackets(settle_s=0)
    got: list[EncodedFrame] = []
    packets.subscribe(got.append)
    packets.attach(old)
    old.send(Frame(p[0], 0, True, 100.0))
    packets.attach(new)
    packets.release(new)  # e.g. the media server went away at once
    assert new.sinks == []
    old.send(Frame(p[1], 3000, False, 100.033))
    assert len(got) == 2
    packets.attach(new)
    packets.release(old)  # the old path ends first: the new one is waited for
    new.send(Frame(p[16], 9000, False, 100.1))
    new.send(Frame(p[30], 12000, True, 100.2))
    assert len(got) == 3 and got[-1].keyframe and got[-1].captured_at == 100.2


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


class LateTrack(ToneTrack):
    """A voice's new path: no sound until :attr:`open` is set (its connection comes up)."""

    def __init__(self, frequency: float) -> None:
        super().__init__(frequency, amplitude=0.2)
        self.open = asyncio.Event()

    async def recv(self):  # type: ignore[no-untyped-def]
        await self.open.wait()
        return await super().recv()


async def test_a_voice_on_a_new_path_replaces_the_old_one_only_once_it_sounds() -> None:
    """The room moves onto the media server: the surgeon's voice comes on a new track
    that takes a moment to start; the recording keeps the old one until then."""
    mix = AudioMix()
    old = ToneTrack(440.0, amplitude=0.2)
    mix.add("surgeon", old)

    async def tone(frames: int) -> np.ndarray:
        got = [(await mix.recv()).to_ndarray().reshape(-1) for _ in range(frames)]
        return np.concatenate(got[5:]).astype(np.float64) / 32768

    try:
        async with asyncio.timeout(seconds(10)):
            await tone(10)
            new = LateTrack(880.0)  # the same voice, as the new path will carry it
            mix.add("surgeon", new)
            meanwhile = await tone(25)
            assert tone_power(meanwhile, RATE, 440.0) > 0.8  # no gap while it starts
            assert old.readyState == "live"
            new.open.set()
            after = await tone(25)
            assert tone_power(after, RATE, 880.0) > 0.8
            assert tone_power(after, RATE, 440.0) < 0.05
            assert old.readyState == "ended" and mix.voices == ["surgeon"]
    finally:
        mix.stop()
    assert new.readyState == "ended"
