"""Where an anchored mark is drawn: its outline moved by its pose, and the lost style.

Shared by the OpenCV renderer (recordings, exported clips) and the Qt views, so an
anchored mark sits on the same pixels everywhere. An ellipse or rectangle under a turning
pose is no longer axis-aligned, so placed marks are outlines: polylines in fractions of
the picture (they may leave 0..1 when the tissue leaves the view; drawing clips them).
A lost mark is drawn dashed and faded where it was last trusted (:data:`LOST_OPACITY`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from surgery_teach.annotations.poses import MarkPlace
from surgery_teach.annotations.shapes import Arrow, Ellipse, Line, Pen, Pointer, Rect, Shape, Text
from surgery_teach.annotations.values import Point

LOST_OPACITY: Final = 0.45
"""How much of its opacity a lost mark keeps: visibly unsure, still readable."""
ELLIPSE_STEPS: Final = 72
"""Points on a placed ellipse's outline (5 degrees apart: smooth at any size on screen)."""


@dataclass(frozen=True)
class Outline:
    """A placed mark's strokes: ``lines`` (each a polyline, ``closed`` or not) in fractions
    of the picture; for an arrow its ``tip`` and the point the shaft comes from; for text
    its ``anchor`` and ``scale`` (how much the tissue has grown or shrunk)."""

    lines: tuple[tuple[tuple[Point, ...], bool], ...] = ()
    arrow: tuple[Point, Point] | None = None
    anchor: Point | None = None
    scale: float = 1.0


def outline(shape: Shape, place: MarkPlace | None) -> Outline:
    """``shape``'s strokes, moved by ``place`` (None: where it was drawn)."""

    def at(point: Point) -> Point:
        return point if place is None else place.apply(point)

    scale = 1.0 if place is None else place.scale
    match shape:
        case Pen():
            return Outline(((tuple(at(p) for p in shape.points), False),), scale=scale)
        case Arrow():
            return Outline(arrow=(at(shape.start), at(shape.end)), scale=scale)
        case Line():
            return Outline((((at(shape.start), at(shape.end)), False),), scale=scale)
        case Ellipse():
            left, top, right, bottom = shape.box
            cx, cy, rx, ry = (left + right) / 2, (top + bottom) / 2, (right - left) / 2, (
                bottom - top) / 2
            ring = tuple(at((cx + rx * math.cos(2 * math.pi * k / ELLIPSE_STEPS),
                             cy + ry * math.sin(2 * math.pi * k / ELLIPSE_STEPS)))
                         for k in range(ELLIPSE_STEPS))
            return Outline(((ring, True),), scale=scale)
        case Rect():
            left, top, right, bottom = shape.box
            corners = ((left, top), (right, top), (right, bottom), (left, bottom))
            return Outline(((tuple(at(c) for c in corners), True),), scale=scale)
        case Text():
            return Outline(anchor=at(shape.anchor), scale=scale)
        case Pointer():
            return Outline(anchor=at(shape.at), scale=scale)
    raise TypeError(f"not a mark: {shape!r}")


def dashed(points: Sequence[tuple[float, float]], closed: bool, dash: float,
           gap: float) -> list[list[tuple[float, float]]]:
    """A polyline (pixels) cut into dashes ``dash`` long with ``gap`` between: the pieces
    to draw. Used for lost marks in every view, so they look alike everywhere."""
    pts = list(points)
    if closed and len(pts) > 1:
        pts.append(pts[0])
    pieces: list[list[tuple[float, float]]] = []
    current: list[tuple[float, float]] = []
    period = dash + gap
    walked = 0.0
    for (x0, y0), (x1, y1) in itertools.pairwise(pts):
        length = math.hypot(x1 - x0, y1 - y0)
        done = 0.0
        while done < length:
            phase = walked % period
            on = phase < dash
            step = min(length - done, (dash - phase) if on else (period - phase))
            step = max(step, 1e-9)
            t0, t1 = done / length, min(1.0, (done + step) / length)
            if on:
                start = (x0 + (x1 - x0) * t0, y0 + (y1 - y0) * t0)
                end = (x0 + (x1 - x0) * t1, y0 + (y1 - y0) * t1)
                if not current:
                    current.append(start)
                current.append(end)
            elif current:
                pieces.append(current)
                current = []
            done += step
            walked += step
    if len(current) > 1:
        pieces.append(current)
    return pieces
