"""Telestration marks drawn over the video with QPainter: crisp vectors, not pixels.

Uses the same geometry as the OpenCV renderer (:mod:`surgery_teach.annotations.geometry`)
with the picture's on-screen rectangle as the frame, so a mark lands on the same anatomy
in the window as in an exported recording.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPen,
    QPolygonF,
)

from surgery_teach.annotations import (
    Arrow,
    Ellipse,
    Line,
    Pen,
    Pointer,
    Rect,
    Text,
    VisibleShape,
)
from surgery_teach.annotations.geometry import (
    arrow_head,
    pointer_radius_px,
    stroke_px,
    text_height_px,
)
from surgery_teach.annotations.placing import LOST_OPACITY, outline
from surgery_teach.annotations.poses import MarkPlace


def paint_marks(painter: QPainter, target: QRectF, marks: list[VisibleShape],
                authors: Mapping[str, str] | None = None, me: str = "",
                places: Mapping[str, MarkPlace] | None = None) -> None:
    """Draw ``marks`` over the picture shown in ``target``. With ``authors`` (participant
    id → display name), pointers and other people's marks carry their author's name, so
    a trainee knows whose mark it is; the viewer's own (``me``) carry none. ``places``:
    where anchored marks are in the frame on screen (``board.places(source, frame,
    frame_time)``); such a mark is drawn on its tissue, dashed and faded when lost."""
    if not marks:
        return
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    w, h = target.width(), target.height()

    def at(point: tuple[float, float]) -> QPointF:
        return QPointF(target.left() + point[0] * w, target.top() + point[1] * h)

    for shape, opacity in marks:
        place = places.get(shape.id) if places and shape.anchored else None
        if place is not None and place.lost:
            opacity *= LOST_OPACITY
        colour = QColor(shape.colour)
        colour.setAlphaF(max(0.0, min(1.0, opacity)))
        stroke = stroke_px(shape.width, round(h))
        style = Qt.PenStyle.DashLine if place is not None and place.lost else Qt.PenStyle.SolidLine
        pen = QPen(colour, stroke, style, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if place is not None:
            _placed(painter, at, shape, place, colour, stroke, h)
            continue  # (no name tag: it would sit where the mark was drawn)
        if isinstance(shape, Pen):
            path = QPainterPath(at(shape.points[0]))
            for point in shape.points[1:]:
                path.lineTo(at(point))
            painter.drawPath(path)
        elif isinstance(shape, Arrow):
            start, end = at(shape.start), at(shape.end)
            base, tip, left, right = arrow_head((start.x(), start.y()), (end.x(), end.y()),
                                                stroke)
            painter.drawLine(start, QPointF(*base))
            painter.setBrush(QBrush(colour))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.drawPolygon(QPolygonF([QPointF(*tip), QPointF(*left), QPointF(*right)]))
        elif isinstance(shape, Line):
            painter.drawLine(at(shape.start), at(shape.end))
        elif isinstance(shape, (Ellipse, Rect)):
            left_, top, right_, bottom = shape.box
            box = QRectF(at((left_, top)), at((right_, bottom)))
            if isinstance(shape, Ellipse):
                painter.drawEllipse(box)
            else:
                painter.drawRect(box)
        elif isinstance(shape, Text):
            _text(painter, at(shape.anchor), shape.text, colour, text_height_px(shape.width, h))
        elif isinstance(shape, Pointer):
            radius = pointer_radius_px(shape.width, round(h))
            painter.setPen(QPen(QColor(255, 255, 255, int(200 * opacity)), 2))
            painter.setBrush(QBrush(colour))
            painter.drawEllipse(at(shape.at), radius, radius)
            name = (authors or {}).get(shape.author)
            if name:
                tag = QColor("#ffffff")
                tag.setAlphaF(colour.alphaF())
                _tag(painter, target, shape, name, tag, max(12.0, radius * 2), colour)
            continue
        name = (authors or {}).get(shape.author)
        if name and shape.author != me:
            tag = QColor("#ffffff")
            tag.setAlphaF(colour.alphaF())
            _tag(painter, target, shape, name, tag, max(10.0, h * 0.022), colour)
    painter.restore()


def _placed(painter: QPainter, at: object, shape: object, place: MarkPlace, colour: QColor,
            stroke: float, height: float) -> None:
    """An anchored mark on its tissue: the outline the OpenCV renderer draws, moved by
    ``place`` (:mod:`surgery_teach.annotations.placing`)."""
    to = at  # fractions -> widget pixels
    drawn = outline(shape, place)  # type: ignore[arg-type]
    for points, closed in drawn.lines:
        path = QPainterPath(to(points[0]))  # type: ignore[operator]
        for point in points[1:]:
            path.lineTo(to(point))  # type: ignore[operator]
        if closed:
            path.closeSubpath()
        painter.drawPath(path)
    if drawn.arrow is not None:
        start, end = (to(p) for p in drawn.arrow)  # type: ignore[operator]
        base, tip, left, right = arrow_head((start.x(), start.y()), (end.x(), end.y()), stroke)
        painter.drawLine(start, QPointF(*base))
        head = QPolygonF([QPointF(*tip), QPointF(*left), QPointF(*right)])
        if place.lost:
            painter.drawPolygon(head)
        else:
            painter.setBrush(QBrush(colour))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.drawPolygon(head)
    if drawn.anchor is not None and isinstance(shape, Text):
        _text(painter, to(drawn.anchor), shape.text, colour,  # type: ignore[operator]
              text_height_px(shape.width, height) * drawn.scale)


def _unit(x: float, y: float) -> tuple[float, float]:
    length = math.hypot(x, y)
    return (x / length, y / length) if length > 1e-9 else (0.7071, -0.7071)


def tag_place(shape: object, target: QRectF) -> tuple[QPointF, tuple[float, float], float]:
    """Where a mark's author name goes, kept clear of what the mark points at: a point
    of the mark, the direction away from it (a unit vector) and the clearance in pixels.

    A pointer sits on an instrument's tip, so its name stands off above it by twice the
    dot; an arrow's name goes behind its tail (its head is the point), a stroke's before
    its first point, a box's and an ellipse's outside their top left corner.
    """
    w, h = target.width(), target.height()

    def at(point: tuple[float, float]) -> QPointF:
        return QPointF(target.left() + point[0] * w, target.top() + point[1] * h)

    if isinstance(shape, Pointer):
        radius = pointer_radius_px(shape.width, round(h))
        return at(shape.at), (0.7071, -0.7071), 2.5 * radius + 8
    if isinstance(shape, (Arrow, Line)):
        start, end = at(shape.start), at(shape.end)
        return start, _unit(start.x() - end.x(), start.y() - end.y()), 8.0
    if isinstance(shape, Pen):
        first = at(shape.points[0])
        after = at(shape.points[min(len(shape.points) - 1, 3)])
        return first, _unit(first.x() - after.x(), first.y() - after.y()), 8.0
    if isinstance(shape, (Ellipse, Rect)):
        left, top = min(shape.box[0], shape.box[2]), min(shape.box[1], shape.box[3])
        return at((left, top)), (-0.7071, -0.7071), 6.0
    if isinstance(shape, Text):
        return at(shape.anchor), (0.0, -1.0), text_height_px(shape.width, h) * 1.6
    return at((0.0, 0.0)), (0.7071, 0.7071), 6.0


def tag_box(point: QPointF, away: tuple[float, float], clearance: float, width: float,
            height: float, bounds: QRectF) -> QRectF:
    """A ``width``×``height`` box for a name, at least ``clearance`` from ``point`` in
    the direction ``away``; near an edge, square to it, and only then the opposite way
    (which may cross the mark itself)."""
    reach = clearance + math.hypot(width, height) / 2  # the box's centre stays this far
    ax, ay = away
    for dx, dy in ((ax, ay), (-ay, ax), (ay, -ax), (-ax, -ay)):
        cx, cy = point.x() + dx * reach, point.y() + dy * reach
        box = QRectF(cx - width / 2, cy - height / 2, width, height)
        if bounds.contains(box):
            return box
    box = QRectF(point.x() + away[0] * reach - width / 2,
                 point.y() + away[1] * reach - height / 2, width, height)
    dx = max(bounds.left() - box.left(), 0.0) + min(bounds.right() - box.right(), 0.0)
    dy = max(bounds.top() - box.top(), 0.0) + min(bounds.bottom() - box.bottom(), 0.0)
    return box.translated(dx, dy)


def _tag(painter: QPainter, target: QRectF, shape: object, name: str, colour: QColor,
         height: float, line: QColor) -> None:
    """The author's name beside a mark, clear of its point, with a thin leader line."""
    font = QFont(painter.font())
    font.setPixelSize(max(8, round(height * 1.35)))
    font.setBold(True)
    metrics = QFontMetricsF(font)
    point, away, clearance = tag_place(shape, target)
    box = tag_box(point, away, clearance, metrics.horizontalAdvance(name),
                  metrics.ascent(), target)
    if clearance > 12:  # a name stood off from a pointer: show whose it is
        leader = QColor(line)
        painter.setPen(QPen(leader, 1.5))
        nearest = QPointF(min(max(point.x(), box.left()), box.right()),
                          min(max(point.y(), box.top()), box.bottom()))
        painter.drawLine(point, nearest)
    _text(painter, QPointF(box.left(), box.bottom()), name, colour, height)


def _text(painter: QPainter, anchor: QPointF, text: str, colour: QColor, height: float) -> None:
    """Text with a dark outline, readable on bright tissue; ``anchor`` is the baseline left."""
    font = QFont(painter.font())
    font.setPixelSize(max(8, round(height * 1.35)))  # cap height ≈ 0.72 of the em
    font.setBold(True)
    path = QPainterPath()
    path.addText(anchor, font, text)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.setPen(QPen(QColor(0, 0, 0, colour.alpha()), max(2.0, height / 8)))
    painter.drawPath(path)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QBrush(colour))
    painter.drawPath(path)
