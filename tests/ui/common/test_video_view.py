"""A view handed over to another path of the same source keeps its picture until the new
path's first one is drawn (no "Waiting for…" in between), then follows the new path from
its own first picture on."""

from __future__ import annotations

import time

import av
import numpy as np

from surgery_teach.capture.base import CapturedFrame, FrameSlot
from tests.timing import seconds
from tests.ui.conftest import until
from tests.ui.session.test_window import rendered_video
from ui.common.video_view import VideoView


def picture(rgb: tuple[int, int, int], seq: int) -> CapturedFrame:
    pixels = np.zeros((180, 320, 3), np.uint8)
    pixels[:] = rgb
    return CapturedFrame(image=av.VideoFrame.from_ndarray(pixels, format="rgb24"), seq=seq,
                         captured_at=time.time())


def shows(view: VideoView, rgb: tuple[int, int, int]) -> bool:
    middle = rendered_video(view)[60:120, 100:220].reshape(-1, 3).astype(int)
    return bool(middle.size) and bool((np.abs(middle - rgb).max(axis=1) < 40).mean() > 0.9)


def test_a_view_handed_over_keeps_its_picture_until_the_new_paths_first(qtbot, run) -> None:  # type: ignore[no-untyped-def]
    red, blue = (200, 30, 30), (30, 30, 200)

    async def scenario() -> None:
        view = VideoView()
        qtbot.addWidget(view)
        view.resize(320, 180)
        view.show()
        old, new = FrameSlot(), FrameSlot()
        old.put(picture(red, seq=40))
        view.follow(old, "Laparoscope")
        await until(lambda: shows(view, red), seconds(5), "the old path's picture")

        view.hand_over(new)  # nothing on the new path yet
        assert view.slot is new and shows(view, red)
        old.put(picture((30, 200, 30), seq=41))  # the old path's later pictures: not shown
        new.put(picture(blue, seq=1))  # the new path numbers its pictures from 1
        await until(lambda: shows(view, blue), seconds(5), "the new path's first picture")
        new.put(picture(red, seq=2))
        await until(lambda: shows(view, red), seconds(5), "the new path's next picture")

        view.follow(FrameSlot(), "Room camera")  # another source: its own picture or none
        assert not shows(view, red)
        view.stop()

    run(scenario())
