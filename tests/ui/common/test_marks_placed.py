"""Anchored marks in the window: Qt draws them on their tissue where recordings do, dashed
and faded when lost; the drawing toolbar anchors new marks when asked."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PyQt6.QtCore import QRectF
from PyQt6.QtGui import QColor, QImage, QPainter

from surgery_teach.annotations import Arrow, Ellipse, MarkPlace, Rect, ToolSession, VisibleShape
from surgery_teach.annotations.render import render_marks
from tests.ui.common.test_marks import COMMON, H, W, distance_to, red
from ui.common.marks import paint_marks

c, s = math.cos(math.radians(20)), math.sin(math.radians(20))
TURNED = MarkPlace("m", (0.9 * c, -0.9 * s * H / W, 0.12, 0.9 * s * W / H, 0.9 * c, -0.05))


def qt_render(marks: list[VisibleShape], places: dict[str, MarkPlace]) -> np.ndarray:
    image = QImage(W, H, QImage.Format.Format_RGB888)
    image.fill(QColor("#000000"))
    painter = QPainter(image)
    paint_marks(painter, QRectF(0, 0, W, H), marks, places=places)
    painter.end()
    ptr = image.constBits()
    ptr.setsize(image.sizeInBytes())
    rows = np.frombuffer(ptr, np.uint8).reshape(H, image.bytesPerLine())
    return rows[:, : W * 3].reshape(H, W, 3).copy()


def cv_render(marks: list[VisibleShape], places: dict[str, MarkPlace]) -> np.ndarray:
    bgr = np.zeros((H, W, 3), np.uint8)
    render_marks(bgr, marks, places)
    return bgr[..., ::-1]


@pytest.mark.parametrize("shape", [
    Arrow(id="m", start=(0.25, 0.5), end=(0.6, 0.5), anchored=True, **COMMON),
    Ellipse(id="m", box=(0.3, 0.3, 0.6, 0.7), anchored=True, **COMMON),
    Rect(id="m", box=(0.2, 0.2, 0.5, 0.4), anchored=True, **COMMON),
], ids=["arrow", "ellipse", "rect"])
def test_a_turned_anchored_mark_lands_on_the_same_pixels_in_qt_and_opencv(
        qapp, shape) -> None:  # type: ignore[no-untyped-def]
    marks = [VisibleShape(shape, 1.0)]
    qt, cv = red(qt_render(marks, {"m": TURNED})), red(cv_render(marks, {"m": TURNED}))
    fixed = red(qt_render(marks, {}))
    assert qt.sum() > 100 and cv.sum() > 100
    assert distance_to(qt, cv) <= 2.5 and distance_to(cv, qt) <= 2.5
    assert distance_to(qt, fixed) > 10  # it really moved


def test_a_lost_mark_is_fainter_and_broken_in_the_window(qapp) -> None:  # type: ignore[no-untyped-def]
    shape = Rect(id="m", box=(0.2, 0.2, 0.5, 0.4), anchored=True, **COMMON)
    sure = qt_render([VisibleShape(shape, 1.0)], {"m": TURNED})
    lost = qt_render([VisibleShape(shape, 1.0)],
                     {"m": MarkPlace("m", TURNED.transform, lost=True)})
    assert lost[..., 0].max() < 0.6 * sure[..., 0].max()
    assert (lost[..., 0] > 20).sum() < 0.9 * (sure[..., 0] > 20).sum()  # gaps in the line


def test_the_anchor_toggle_makes_anchored_marks_but_never_an_anchored_pointer() -> None:
    def first(tool: str) -> object:
        session = ToolSession(tool, author="p-1", colour="#ff0000", width=0.004,
                              source="Laparoscope", anchored=True,
                              id_factory=iter(["p-1:1", "p-1:2"]).__next__)
        ops = session.press(0.2, 0.2, 5.0, 10.0) + session.move(0.4, 0.4, 10.1)
        return ops[0].shape  # type: ignore[attr-defined]

    assert first("arrow").anchored  # type: ignore[attr-defined]
    assert not first("pointer").anchored  # type: ignore[attr-defined]
