"""The player on a recorded case with shared pictures (real recorder, codecs and files):
during a picture's stretch the picture shows in the video's place with its marks on
the picture's own pixels, seeking into and out of a stretch works, an encrypted case
plays the same, and a picture missing from a copy of the case is said while the video
plays in its place."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PyQt6.QtGui import QImage
from PyQt6.QtWidgets import QWidget

from surgery_teach.casefile.keys import KeyRing, random_key
from surgery_teach.casefile.layout import new_case_folder
from tests.recording.shared_case import DICOM_BOX, PNG_BOX, SharedCase, record_shared_case
from tests.timing import seconds
from tests.ui.conftest import until
from ui.common.shared_picture_view import SharedPictureView
from ui.library.player import PlayerWindow, open_player

Run = Callable[[Any], Any]



def recorded(tmp_path: Path, *, encrypted: bool, ring: KeyRing) -> SharedCase:
    """The shared case, recorded on a thread of its own (``asyncio.run`` would unset the
    Qt event loop of the ``run`` fixture)."""
    folder = (new_case_folder(tmp_path, "Shared pictures", key=ring.add(random_key()))
              if encrypted else tmp_path / "case")
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, record_shared_case(folder, tmp_path)).result()


def open_window(run: Run, folder: Path) -> PlayerWindow:
    async def make() -> PlayerWindow:
        player = await open_player(folder, audio=False)
        player.resize(960, 640)
        player.show()
        return player

    return run(make())


def screen(widget: QWidget) -> np.ndarray:
    """``widget`` as painted, RGB, one array pixel per widget pixel."""
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    image = image.scaled(widget.width(), widget.height())
    bits = image.constBits()
    bits.setsize(image.sizeInBytes())
    rgb = np.frombuffer(bits, np.uint8).reshape(image.height(), image.bytesPerLine())
    return rgb[:, : image.width() * 3].reshape(image.height(), image.width(), 3).copy()


def blue(rgb: np.ndarray) -> np.ndarray:
    r, g, b = (rgb[..., i].astype(int) for i in range(3))
    return (b > 180) & (r < 90) & (g < 90)


def marked_box(view: SharedPictureView) -> tuple[float, float, float, float] | None:
    """The blue mark's extent on ``view`` in pixels of the shared picture (None: none)."""
    ys, xs = np.nonzero(blue(screen(view)))
    if len(xs) < 30 or view.viewport is None:
        return None
    (x0, y0), (x1, y1) = (view.normalised(float(x), float(y))
                          for x, y in ((xs.min(), ys.min()), (xs.max(), ys.max())))
    w, h = view.viewport.image_w, view.viewport.image_h
    return x0 * w, y0 * h, x1 * w, y1 * h


def shows_picture(player: PlayerWindow, share_id: str) -> bool:
    shown = player.pictures.shown
    return (player.stage.currentWidget() is player.pictures.view and shown is not None
            and shown.share_id == share_id and player.pictures.view.viewport is not None)


def check_stretch(run: Run, player: PlayerWindow, share: Any, marked_at: float,
                  box: tuple[float, float, float, float]) -> None:
    """In the stretch of ``share``: before its mark the bare picture, after it the mark
    round ``box`` of the picture, on the picture's own pixels."""
    timeline = player.timeline
    view = player.pictures.view
    player.seek(timeline.case_time(marked_at) - 0.15)
    run(until(lambda: shows_picture(player, share.share_id), seconds(10),
              "the shared picture in the video's place"))
    expected = share.preview()  # BGR, exactly as the viewers had it
    assert (view.viewport.image_w, view.viewport.image_h) == (  # type: ignore[union-attr]
        expected.shape[1], expected.shape[0])
    assert marked_box(view) is None  # not drawn yet
    rgb = screen(view)
    rect = view.video_rect()
    for fx, fy in ((0.1, 0.1), (0.5, 0.5), (0.8, 0.3), (0.46, 0.62)):
        px, py = int(fx * expected.shape[1]), int(fy * expected.shape[0])
        x = int(rect.left() + (px + 0.5) / expected.shape[1] * rect.width())
        y = int(rect.top() + (py + 0.5) / expected.shape[0] * rect.height())
        near = expected[max(0, py - 2):py + 3, max(0, px - 2):px + 3, ::-1].reshape(-1, 3)
        assert np.abs(near.astype(int) - rgb[y, x].astype(int)).max(axis=1).min() <= 12, (
            fx, fy)
    player.seek(timeline.case_time(marked_at) + 0.2)
    width, height = expected.shape[1], expected.shape[0]
    want = (box[0] * width, box[1] * height, box[2] * width, box[3] * height)

    def box_shown() -> bool:
        found = marked_box(view)
        return found is not None and all(
            abs(a - b) < 0.01 * height + 3 for a, b in zip(found, want, strict=True))

    run(until(box_shown, seconds(5), "the mark on the picture's pixels"))
    player.set_marks_visible(False)  # the Marks toggle hides it as on the video
    assert marked_box(view) is None
    player.set_marks_visible(True)


@pytest.mark.slow
@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
def test_the_player_shows_each_shared_picture_with_its_marks_in_its_stretch(
        run: Run, tmp_path: Path, ring: KeyRing, encrypted: bool) -> None:
    case = recorded(tmp_path, encrypted=encrypted, ring=ring)
    player = open_window(run, case.folder)
    try:
        timeline = player.timeline
        assert [s.share_id for s in timeline.shares] == [case.png.share_id,
                                                         case.dicom.share_id]
        assert player.bar.shared == tuple((s.start, s.end) for s in timeline.shares)
        check_stretch(run, player, case.png, case.png_marked, PNG_BOX)
        check_stretch(run, player, case.dicom, case.dicom_marked, DICOM_BOX)
        # after the sharing stopped: the live video again
        player.seek(timeline.case_time(case.dicom_shown[1]) + 0.3)
        run(until(lambda: player.stage.currentWidget() is player.view, seconds(5),
                  "the video after the sharing"))
        # and before it began
        player.seek(timeline.case_time(case.png_shown[0]) - 0.3)
        run(until(lambda: player.stage.currentWidget() is player.view, seconds(5),
                  "the video before the sharing"))
        # playing through a stretch shows its picture
        player.seek(timeline.case_time(case.png_shown[0]) - 0.1)
        player.play()
        run(until(lambda: shows_picture(player, case.png.share_id), seconds(5),
                  "the picture as the playhead enters its stretch"))
        player.pause()
        assert not player.notice.isVisible()
    finally:
        player.close()


@pytest.mark.slow
def test_a_picture_missing_from_the_case_is_said_and_the_video_plays(
        run: Run, tmp_path: Path, ring: KeyRing) -> None:
    case = recorded(tmp_path, encrypted=False, ring=ring)
    (case.folder / f"shared-{case.png.share_id}.png").unlink()  # a copy made without it
    player = open_window(run, case.folder)
    try:
        player.seek(player.timeline.case_time(case.png_marked))
        run(until(lambda: player.notice.isVisible(), seconds(10), "the problem said"))
        assert f"shared-{case.png.share_id}.png" in player.notice.text()
        assert "the video plays in its place" in player.notice.text()
        assert player.stage.currentWidget() is player.view
        # the other picture still shows
        player.seek(player.timeline.case_time(case.dicom_marked))
        run(until(lambda: shows_picture(player, case.dicom.share_id), seconds(10),
                  "the other picture"))
    finally:
        player.close()
