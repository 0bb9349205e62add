"""FrameSlot edge cases the capture threads rely on."""

from __future__ import annotations

import asyncio
import contextlib

import av

from surgery_teach.capture import CapturedFrame, FrameSlot


def _frame(seq: int) -> CapturedFrame:
    return CapturedFrame(image=av.VideoFrame(16, 16, "yuv420p"), seq=seq, captured_at=0.0)


def test_a_consumer_that_gave_up_does_not_disturb_put():
    slot = FrameSlot()
    loop = asyncio.new_event_loop()

    async def give_up() -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(slot.next_after(0), 0.01)

    loop.run_until_complete(give_up())
    loop.close()
    slot.put(_frame(1))
    assert slot.latest().seq == 1  # type: ignore[union-attr]


def test_a_consumer_whose_event_loop_closed_does_not_break_the_capture_thread():
    slot = FrameSlot()
    dead = asyncio.new_event_loop()
    stranded = dead.create_task(slot.next_after(0))
    dead.run_until_complete(asyncio.sleep(0))  # the task now waits on the slot
    dead.close()
    assert not stranded.done()

    alive = asyncio.new_event_loop()
    try:
        waiting = alive.create_task(slot.next_after(0))
        alive.run_until_complete(asyncio.sleep(0))
        slot.put(_frame(1))  # must neither raise nor skip the live consumer
        got = alive.run_until_complete(asyncio.wait_for(waiting, 2))
        assert got is not None and got.seq == 1
        slot.close()
    finally:
        alive.close()
