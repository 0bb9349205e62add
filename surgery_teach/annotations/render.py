"""Draw annotation marks onto a BGR video frame with OpenCV (recordings, previews, tests).

Geometry comes from :mod:`.geometry`, which a Qt view shares, so both put a mark in the
same place to within a pixel or two. Lines are anti-aliased and positioned to 1/16 pixel.
A mark with opacity below 1 is drawn on a copy of the frame and blended in.

Labels: ASCII text is drawn with the Hershey simplex font over a dark outline. Other text
uses the Unicode font built into OpenCV 5 (``cv2.FontFace``), which covers Latin, Greek,
Cyrillic and CJK; characters it lacks (emoji) come out as ``?``. With an OpenCV that has
no ``FontFace``, every non-ASCII character is drawn as ``?``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

import cv2
import numpy as np

from surgery_teach.annotations.geometry import (
    PixelPoint,
    arrow_head,
    pointer_radius_px,
    stroke_px,
    text_height_px,
    to_px,
)
from surgery_teach.annotations.placing import LOST_OPACITY, dashed, outline
from surgery_teach.annotations.poses import MarkPlace
from surgery_teach.annotations.shapes import (
    Arrow,
    Ellipse,
    Line,
    Pen,
    Pointer,
    Rect,
    Shape,
    Text,
)

_SHIFT: Final = 4
_ONE: Final = 1 << _SHIFT
_OUTLINE: Final = (16, 16, 16)
"""Dark edge under labels and pointer dots, so they read on bright tissue and on dark."""
_HERSHEY: Final = cv2.FONT_HERSHEY_SIMPLEX
_UNICODE_FONT: Final = cv2.FontFace() if hasattr(cv2, "FontFace") else None
_FONT_PX_PER_CAP: Final = 4 / 3
"""Both fonts draw a capital H 3/4 of the pixel height they are asked for."""

Bgr = tuple[int, int, int]


def bgr_colour(colour: str) -> Bgr:
    """``#rrggbb`` as an OpenCV BGR triple."""
    return (int(colour[5:7], 16), int(colour[3:5], 16), int(colour[1:3], 16))


def render_marks(bgr: np.ndarray, shapes_with_opacity: Iterable[tuple[Shape, float]],
                 places: Mapping[str, MarkPlace] | None = None) -> None:
    """Draw each ``(shape, opacity)`` onto ``bgr`` (H x W x 3, uint8) in place, in order.

    Marks with opacity 0 or less are skipped; above 1 counts as 1. The frame must be a
    contiguous uint8 array (what a decoder or ``VideoFrame.to_ndarray`` gives).
    ``places``: where anchored marks are in this frame (``board.places(source, frame)``);
    an anchored mark found there is drawn on its tissue, dashed and faded when lost.
    """
    if bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.dtype != np.uint8:
        raise ValueError(
            f"render_marks needs an H x W x 3 uint8 frame (got {bgr.shape} {bgr.dtype})"
        )
    if not bgr.flags.c_contiguous:  # OpenCV would draw on a copy and lose the marks
        raise ValueError("render_marks needs a contiguous frame; pass np.ascontiguousarray(...)")
    for shape, opacity in shapes_with_opacity:
        place = places.get(shape.id) if places and shape.anchored else None
        if place is not None and place.lost:
            opacity *= LOST_OPACITY
        if opacity <= 0.0:
            continue
        if opacity >= 1.0:
            _draw_at(bgr, shape, place)
            continue
        layer = bgr.copy()
        _draw_at(layer, shape, place)
        cv2.addWeighted(layer, float(opacity), bgr, 1.0 - float(opacity), 0.0, dst=bgr)


def _draw_at(img: np.ndarray, shape: Shape, place: MarkPlace | None) -> None:
    if place is None:
        _draw(img, shape)
    else:
        _draw_placed(img, shape, place)


def _draw_placed(img: np.ndarray, shape: Shape, place: MarkPlace) -> None:
    """An anchored mark on its tissue: its outline moved by ``place``; dashed if lost."""
    height, width = img.shape[:2]
    colour = bgr_colour(shape.colour)
    stroke = stroke_px(shape.width, height)
    drawn = outline(shape, place)
    size = np.array([width, height], np.float64)

    def polyline(points: object, closed: bool) -> None:
        px = np.asarray(points, np.float64).reshape(-1, 2) * size
        pieces = dashed(px.tolist(), closed, 3.0 * stroke + 4, 2.0 * stroke + 3) \
            if place.lost else [px.tolist() + ([px[0].tolist()] if closed else [])]
        for piece in pieces:
            fixed = np.rint(np.asarray(piece) * _ONE).astype(np.int32).reshape(-1, 1, 2)
            if len(fixed) == 1:
                _dot(img, (int(fixed[0, 0, 0]), int(fixed[0, 0, 1])), max(stroke / 2, 1.0),
                     colour)
            else:
                cv2.polylines(img, [fixed], False, colour, stroke, cv2.LINE_AA, _SHIFT)

    for points, closed in drawn.lines:
        polyline(points, closed)
    if drawn.arrow is not None:
        start, end = (to_px(p, width, height) for p in drawn.arrow)
        if place.lost:
            base, tip, left, right = arrow_head(start, end, stroke)
            polyline([(start[0] / width, start[1] / height), (base[0] / width, base[1] / height)],
                     False)
            head = np.array([_fixed(tip), _fixed(left), _fixed(right)], dtype=np.int32)
            cv2.polylines(img, [head], True, colour, max(1, stroke // 2), cv2.LINE_AA, _SHIFT)
        else:
            _arrow(img, start, end, colour, stroke)
    if drawn.anchor is not None and isinstance(shape, Text):
        cap = text_height_px(shape.width, height) * drawn.scale
        _label(img, shape.text, to_px(drawn.anchor, width, height), cap, colour)


def _fixed(point: PixelPoint) -> tuple[int, int]:
    return (round(point[0] * _ONE), round(point[1] * _ONE))


def _draw(img: np.ndarray, shape: Shape) -> None:
    height, width = img.shape[:2]
    colour = bgr_colour(shape.colour)
    stroke = stroke_px(shape.width, height)

    def px(point: tuple[float, float]) -> PixelPoint:
        return to_px(point, width, height)

    match shape:
        case Pen():
            scale = np.array([width * _ONE, height * _ONE])
            fixed = np.rint(np.array(shape.points) * scale).astype(np.int32)
            if len(fixed) == 1:
                _dot(img, (int(fixed[0, 0]), int(fixed[0, 1])), max(stroke / 2, 1.0), colour)
            else:
                polyline = fixed.reshape(-1, 1, 2)
                cv2.polylines(img, [polyline], False, colour, stroke, cv2.LINE_AA, _SHIFT)
        case Line():
            cv2.line(
                img,
                _fixed(px(shape.start)),
                _fixed(px(shape.end)),
                colour,
                stroke,
                cv2.LINE_AA,
                _SHIFT,
            )
        case Arrow():
            _arrow(img, px(shape.start), px(shape.end), colour, stroke)
        case Ellipse():
            left, top = px(shape.box[:2])
            right, bottom = px(shape.box[2:])
            centre = _fixed(((left + right) / 2, (top + bottom) / 2))
            axes = _fixed(((right - left) / 2, (bottom - top) / 2))
            cv2.ellipse(img, centre, axes, 0.0, 0.0, 360.0, colour, stroke, cv2.LINE_AA, _SHIFT)
        case Rect():
            left, top = px(shape.box[:2])
            right, bottom = px(shape.box[2:])
            corners = np.array(
                [_fixed(c) for c in ((left, top), (right, top), (right, bottom), (left, bottom))],
                dtype=np.int32,
            ).reshape(-1, 1, 2)
            cv2.polylines(img, [corners], True, colour, stroke, cv2.LINE_AA, _SHIFT)
        case Text():
            _label(img, shape.text, px(shape.anchor), text_height_px(shape.width, height), colour)
        case Pointer():
            radius = pointer_radius_px(shape.width, height)
            centre = _fixed(px(shape.at))
            _dot(img, centre, radius + max(1.0, radius / 4), _OUTLINE)
            _dot(img, centre, radius, colour)


def _dot(img: np.ndarray, centre: tuple[int, int], radius: float, colour: Bgr) -> None:
    cv2.circle(img, centre, max(1, round(radius * _ONE)), colour, -1, cv2.LINE_AA, _SHIFT)


def _arrow(img: np.ndarray, start: PixelPoint, end: PixelPoint, colour: Bgr, stroke: int) -> None:
    base, tip, left, right = arrow_head(start, end, stroke)
    cv2.line(img, _fixed(start), _fixed(base), colour, stroke, cv2.LINE_AA, _SHIFT)
    head = np.array([_fixed(tip), _fixed(left), _fixed(right)], dtype=np.int32)
    cv2.fillPoly(img, [head], colour, cv2.LINE_AA, _SHIFT)


def _label(img: np.ndarray, text: str, anchor: PixelPoint, cap: float, colour: Bgr) -> None:
    org = (round(anchor[0]), round(anchor[1]))
    font_px = max(1, round(cap * _FONT_PX_PER_CAP))
    if text.isascii() or _UNICODE_FONT is None:
        text = "".join(c if c.isascii() else "?" for c in text)
        thick = max(1, round(cap / 10))
        scale = cv2.getFontScaleFromHeight(_HERSHEY, font_px, thick)

        def put(at: tuple[int, int], ink: Bgr) -> None:
            cv2.putText(img, text, at, _HERSHEY, scale, ink, thick, cv2.LINE_AA)

    else:

        def put(at: tuple[int, int], ink: Bgr) -> None:
            cv2.putText(img, text, at, ink, _UNICODE_FONT, font_px)

    # The outline is the text in a dark colour shifted all around, not a thicker stroke:
    # OpenCV 5 draws Hershey text with its own font, where thickness only picks a weight.
    edge = max(1, round(cap / 12))
    for dx in (-edge, 0, edge):
        for dy in (-edge, 0, edge):
            if dx or dy:
                put((org[0] + dx, org[1] + dy), _OUTLINE)
    put(org, colour)
