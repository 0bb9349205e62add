"""The synthetic laparoscope: paced, stamped, newest-frame, cheap to generate."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from surgery_teach.capture import CapturedFrame, SyntheticSource, luma_of, read_stamp
from surgery_teach.capture.synthetic import LaparoscopyScene
from surgery_teach.errors import CaptureError
from tests.timing import seconds


@pytest.fixture
def source():
    started = SyntheticSource(320, 180, fps=30)
    started.start()
    yield started
    started.stop()


def _next(source: SyntheticSource, after: int) -> CapturedFrame:
    frame = source.slot.wait_after(after, seconds(2))
    assert frame is not None, f"no frame after seq {after}"
    return frame


def test_frames_are_yuv420p_of_the_configured_size_stamped_with_seq_and_time(source):
    before = time.time()
    frame = _next(source, 0)
    for _ in range(5):
        image = frame.image
        assert (image.format.name, image.width, image.height) == ("yuv420p", 320, 180)
        assert not frame.lost
        stamp = read_stamp(luma_of(image))
        assert stamp is not None
        assert stamp.seq == frame.seq
        assert stamp.captured_at == pytest.approx(frame.captured_at, abs=1e-6)
        assert before - 1 <= frame.captured_at <= time.time()
        frame = _next(source, frame.seq)
    assert source.size == (320, 180)
    assert source.fps == 30.0
    assert source.label == "Synthetic laparoscope"


def test_frames_arrive_at_roughly_the_configured_rate(source):
    first = _next(source, 0)
    start = time.monotonic()
    last = first
    while time.monotonic() - start < seconds(1.0):
        last = _next(source, last.seq)
    elapsed = time.monotonic() - start
    rate = (last.seq - first.seq) / elapsed
    assert 20 <= rate <= 36, f"{rate:.1f} fps"
    # Pacing follows the schedule, so capture times track the frame count.
    span = last.captured_at - first.captured_at
    assert span == pytest.approx((last.seq - first.seq) / 30, abs=0.2)


def test_a_slow_consumer_gets_the_newest_frame_not_the_next_old_one(source):
    seen = _next(source, 0)
    newer = _next(source, seen.seq + 10)  # the world moves on while we are busy
    assert newer.seq > seen.seq + 10
    caught_up = source.slot.wait_after(seen.seq, timeout=0)
    assert caught_up is not None
    assert caught_up.seq >= newer.seq


def test_scene_moves_between_frames(source):
    first = _next(source, 0)
    later = _next(source, first.seq + 5)
    below_band = slice(40, None)
    a = luma_of(first.image)[below_band].astype(int)
    b = luma_of(later.image)[below_band].astype(int)
    assert np.abs(a - b).mean() > 0.5


async def test_asyncio_consumers_await_frames(source):
    frame = await asyncio.wait_for(source.slot.next_after(0), seconds(2))
    assert frame is not None
    newer = await asyncio.wait_for(source.slot.next_after(frame.seq), seconds(2))
    assert newer is not None and newer.seq > frame.seq


def test_stop_ends_the_thread_and_closes_the_slot():
    source = SyntheticSource(320, 180, fps=30)
    source.start()
    assert _next(source, 0) is not None
    source.stop()
    assert not source.running
    assert source.slot.closed
    assert source.slot.wait_after(10**9, seconds(1)) is None
    source.stop()  # twice is fine
    with pytest.raises(CaptureError, match="stopped"):
        source.start()


def test_starting_twice_is_an_error(source):
    with pytest.raises(CaptureError, match="already started"):
        source.start()


def test_scene_rejects_odd_or_tiny_sizes():
    with pytest.raises(ValueError):
        LaparoscopyScene(641, 360)
    with pytest.raises(ValueError):
        LaparoscopyScene(32, 32)
