"""The media loop thread: hand-offs in, results and errors out, a clean stop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import threading
import warnings

import av
import numpy as np
import pytest

from surgery_teach.capture.base import CapturedFrame, FrameSlot
from surgery_teach.errors import LoopStoppedError
from surgery_teach.rtc.loop_thread import LoopThread
from tests.timing import seconds


@pytest.fixture
def media() -> LoopThread:
    thread = LoopThread("test-media")
    thread.start()
    yield thread
    assert thread.stop(seconds(10))


def frame(seq: int) -> CapturedFrame:
    image = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8), format="rgb24")
    return CapturedFrame(image=image, seq=seq, captured_at=float(seq))


def test_a_coroutine_runs_on_the_loop_thread_and_its_result_comes_back(media: LoopThread) -> None:
    async def where() -> tuple[int, bool]:
        return threading.get_ident(), asyncio.get_running_loop() is media.loop

    ident, on_its_loop = media.submit(where()).result(seconds(5))
    assert ident != threading.get_ident() and on_its_loop
    assert media.running


def test_an_exception_on_the_loop_reaches_the_caller_as_itself(media: LoopThread) -> None:
    async def fail() -> None:
        raise LoopStoppedError("boom")

    with pytest.raises(LoopStoppedError, match="boom"):
        media.submit(fail()).result(seconds(5))


def test_calls_from_another_thread_run_in_the_order_they_were_handed_over(
        media: LoopThread) -> None:
    seen: list[int] = []
    done = threading.Event()
    for i in range(500):
        media.call(seen.append, i)
    media.call(done.set)
    assert done.wait(seconds(5))
    assert seen == list(range(500))


def test_awaiting_from_another_loop_and_cancelling_cancels_the_work_there(
        media: LoopThread) -> None:
    started, cancelled = threading.Event(), threading.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def caller() -> None:
        task = asyncio.ensure_future(media.run(forever()))
        await asyncio.get_running_loop().run_in_executor(None, started.wait, seconds(5))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    async def answer() -> int:
        return 42

    async def both() -> int:
        await caller()
        return await media.run(answer())

    assert asyncio.run(both()) == 42
    assert cancelled.wait(seconds(5))


def test_stop_cancels_what_still_runs_lets_it_clean_up_and_joins_the_thread() -> None:
    media = LoopThread("test-stop")
    media.start()
    started, cleaned = threading.Event(), threading.Event()

    async def long_running() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        finally:
            cleaned.set()

    media.submit(long_running())
    assert started.wait(seconds(5))
    thread = media._thread
    assert thread is not None and thread.is_alive()
    assert media.stop(seconds(10))
    assert cleaned.is_set()
    assert not thread.is_alive() and not media.running
    assert media.stop()  # twice is harmless


def test_after_stop_hand_offs_are_refused_without_unawaited_coroutines() -> None:
    media = LoopThread("test-refuse")
    media.start()
    media.stop(seconds(10))

    async def never() -> None:
        raise AssertionError("must not run")

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine ... was never awaited" would be one
        with pytest.raises(LoopStoppedError, match="not running"):
            media.submit(never())
        with pytest.raises(LoopStoppedError):
            media.call(print)
        gc.collect()


def test_a_frame_slot_wakes_a_waiter_on_the_media_loop_and_ignores_it_once_stopped() -> None:
    """Capture threads keep putting frames after a session's loop is gone: no error."""
    media = LoopThread("test-slot")
    media.start()
    slot = FrameSlot()
    future = media.submit(slot.next_after(0))
    slot.put(frame(1))
    assert future.result(seconds(5)).seq == 1
    waiting = media.submit(slot.next_after(1))
    media.stop(seconds(10))
    assert waiting.cancelled()
    slot.put(frame(2))  # the waiter's loop is closed: must not raise in this thread
    assert slot.latest().seq == 2  # type: ignore[union-attr]


def test_stop_from_the_loop_itself_is_refused(media: LoopThread) -> None:
    async def stop_self() -> None:
        media.stop()

    with pytest.raises(RuntimeError, match="deadlock"):
        media.submit(stop_self()).result(seconds(5))


def test_work_handed_over_while_it_stops_is_cancelled_never_left_hanging() -> None:
    media = LoopThread("test-race")
    media.start()
    futures: list[concurrent.futures.Future[None]] = []

    def hand_over() -> None:
        for _ in range(300):
            try:
                futures.append(media.submit(asyncio.sleep(3600)))
            except LoopStoppedError:
                return

    thread = threading.Thread(target=hand_over)
    thread.start()
    assert media.stop(seconds(10))
    thread.join()
    for future in futures:
        with pytest.raises(concurrent.futures.CancelledError):
            future.result(seconds(5))
