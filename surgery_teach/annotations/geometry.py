"""How a mark's normalised geometry becomes pixels, shared by every renderer.

The OpenCV renderer and a Qt view both use these, so a mark lands within a pixel or two
of the same place and size in the recording and on screen: ``x`` maps to ``x * W``,
``y`` to ``y * H``, and every size is a fraction of the picture height.
"""

from __future__ import annotations

import math
from typing import Final, TypeAlias

from surgery_teach.annotations.values import Point

PixelPoint: TypeAlias = tuple[float, float]

TEXT_HEIGHT_PER_WIDTH: Final = 8.0
"""A label's capital letters are this many stroke widths tall..."""
MIN_TEXT_HEIGHT: Final = 0.03
"""...but at least this fraction of the picture height, so thin-pen labels stay legible."""
ARROW_HEAD_PER_STROKE: Final = 4.0
MIN_ARROW_HEAD_PX: Final = 8.0
POINTER_RADIUS_PER_WIDTH: Final = 2.0
MIN_POINTER_RADIUS_PX: Final = 4.0


def to_px(point: Point, frame_width: int, frame_height: int) -> PixelPoint:
    """A normalised point in pixels of a ``frame_width`` x ``frame_height`` picture."""
    return (point[0] * frame_width, point[1] * frame_height)


def stroke_px(width: float, frame_height: int) -> int:
    """A stroke ``width`` (fraction of the picture height) in whole pixels, at least 1."""
    return max(1, round(width * frame_height))


def text_height_px(width: float, frame_height: int) -> float:
    """Height of a label's capital letters, in pixels."""
    return max(MIN_TEXT_HEIGHT, TEXT_HEIGHT_PER_WIDTH * width) * frame_height


def pointer_radius_px(width: float, frame_height: int) -> float:
    """Radius of a laser-pointer dot, in pixels."""
    return max(MIN_POINTER_RADIUS_PX, POINTER_RADIUS_PER_WIDTH * width * frame_height)


def arrow_head(
    start: PixelPoint, end: PixelPoint, stroke: int
) -> tuple[PixelPoint, PixelPoint, PixelPoint, PixelPoint]:
    """The head of an arrow in pixels: ``(base, tip, left, right)``.

    The shaft is drawn from ``start`` to ``base`` and the head is the filled triangle
    ``tip, left, right``. The head is four strokes long (at least 8 px) and never longer
    than half the arrow; it is as wide as it is long.
    """
    dx, dy = end[0] - start[0], end[1] - start[1]
    length = math.hypot(dx, dy)
    if length == 0.0:
        return end, end, end, end
    head = min(max(ARROW_HEAD_PER_STROKE * stroke, MIN_ARROW_HEAD_PX), length / 2)
    ux, uy = dx / length, dy / length
    base = (end[0] - ux * head, end[1] - uy * head)
    half = head / 2
    left = (base[0] - uy * half, base[1] + ux * half)
    right = (base[0] + uy * half, base[1] - ux * half)
    return base, end, left, right
