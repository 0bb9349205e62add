"""In class mode no peer-to-peer channel carries the frozen picture: a viewer makes the
still of a frozen source from the video it received, the picture captured at the freeze's
frame time (read from the stamp in the pixels), and drops it when the source plays again."""

from __future__ import annotations

import asyncio

from surgery_teach.annotations import Board, Freeze, Unfreeze
from surgery_teach.capture import SyntheticSource, luma_of, read_stamp
from surgery_teach.rtc.freeze import FreezeFrames
from surgery_teach.rtc.stills import decode_jpeg
from tests.timing import seconds


class Arrived:
    """What a received video gives the freeze bookkeeping: its label and its slot (here a
    real synthetic source's, whose pictures carry their capture stamp)."""

    def __init__(self, source: SyntheticSource) -> None:
        self.label = source.label
        self.slot = source.slot


async def test_a_viewer_makes_the_frozen_still_from_what_it_received() -> None:
    source = SyntheticSource(640, 360, 30, label="Laparoscope")
    source.start()
    changed: list[str] = []
    freeze = FreezeFrames([], changed.append)
    arrived = Arrived(source)
    freeze.watch_received(arrived)  # type: ignore[arg-type]
    try:
        wanted = None
        for _ in range(int(seconds(10) / 0.05)):  # about ten pictures in the history
            frame = source.slot.latest()
            if frame is not None and frame.seq >= 10:
                wanted = frame
                break
            await asyncio.sleep(0.05)
        assert wanted is not None
        await asyncio.sleep(0.1)  # a few newer pictures arrive after the one frozen
        board = Board()
        board.apply(Freeze("Laparoscope", wanted.captured_at, author="p-mentor", seq=1))
        await freeze.board_changed(board, [])
        still = freeze.stills.get("Laparoscope")
        assert still is not None and changed == ["Laparoscope"]
        assert still.frame_time == wanted.captured_at
        stamp = read_stamp(luma_of(decode_jpeg(still.jpeg)))
        assert stamp is not None and stamp.seq == wanted.seq  # that very picture

        board.apply(Unfreeze("Laparoscope", author="p-mentor", seq=2))
        await freeze.board_changed(board, [])
        assert "Laparoscope" not in freeze.stills
        freeze.forget_received(arrived)  # type: ignore[arg-type]
        assert freeze.received == {}
    finally:
        freeze.stop()
        source.stop()
