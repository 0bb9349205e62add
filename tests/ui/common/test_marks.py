"""Marks drawn by Qt in the window and by OpenCV in recordings land on the same pixels."""

from __future__ import annotations

import numpy as np
import pytest
from PyQt6.QtCore import QRectF
from PyQt6.QtGui import QColor, QImage, QPainter

from surgery_teach.annotations import Arrow, Ellipse, Pen, Rect, VisibleShape
from surgery_teach.annotations.render import render_marks
from ui.common.marks import paint_marks

W, H = 640, 360
COMMON = dict(author="p-1", source="Laparoscope", colour="#ff0000", width=0.006)


def qt_render(marks: list[VisibleShape]) -> np.ndarray:
    image = QImage(W, H, QImage.Format.Format_RGB888)
    image.fill(QColor("#000000"))
    painter = QPainter(image)
    paint_marks(painter, QRectF(0, 0, W, H), marks)
    painter.end()
    ptr = image.constBits()
    ptr.setsize(image.sizeInBytes())
    rows = np.frombuffer(ptr, np.uint8).reshape(H, image.bytesPerLine())
    return rows[:, : W * 3].reshape(H, W, 3).copy()


def cv_render(marks: list[VisibleShape]) -> np.ndarray:
    bgr = np.zeros((H, W, 3), np.uint8)
    render_marks(bgr, marks)
    return bgr[..., ::-1]  # as RGB


def red(rgb: np.ndarray) -> np.ndarray:
    return (rgb[..., 0] > 128) & (rgb[..., 1] < 80) & (rgb[..., 2] < 80)


def distance_to(mask: np.ndarray, other: np.ndarray) -> float:
    """The largest distance from a pixel of ``mask`` to the nearest pixel of ``other``."""
    import cv2

    dist = cv2.distanceTransform((~other).astype(np.uint8), cv2.DIST_L2, 3)
    return float(dist[mask].max()) if mask.any() else 0.0


@pytest.mark.parametrize("shape", [
    Arrow(id="a", start=(0.25, 0.5), end=(0.75, 0.5), **COMMON),
    Ellipse(id="e", box=(0.3, 0.2, 0.7, 0.8), **COMMON),
    Rect(id="r", box=(0.1, 0.1, 0.4, 0.3), **COMMON),
    Pen(id="p", points=((0.1, 0.9), (0.2, 0.7), (0.35, 0.75), (0.5, 0.6)), **COMMON),
], ids=["arrow", "ellipse", "rect", "pen"])
def test_qt_and_opencv_agree_within_two_pixels(qapp, shape) -> None:  # type: ignore[no-untyped-def]
    marks = [VisibleShape(shape, 1.0)]
    qt, cv = red(qt_render(marks)), red(cv_render(marks))
    assert qt.sum() > 100 and cv.sum() > 100
    assert distance_to(qt, cv) <= 2.5
    assert distance_to(cv, qt) <= 2.5


def test_arrow_lands_at_the_right_pixels_and_fades(qapp) -> None:  # type: ignore[no-untyped-def]
    arrow = Arrow(id="a", start=(0.25, 0.5), end=(0.75, 0.5), **COMMON)
    full = qt_render([VisibleShape(arrow, 1.0)])
    mask = red(full)
    ys, xs = np.nonzero(mask)
    assert abs(ys.mean() - 180) < 2
    assert 155 <= xs.min() <= 165 and 475 <= xs.max() <= 485
    half = qt_render([VisibleShape(arrow, 0.5)])
    assert 100 < half[180, 320, 0] < 160  # about half of 255 over black
