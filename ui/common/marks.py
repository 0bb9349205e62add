"""Telestration marks drawn over the video with QPainter: crisp vectors, not pixels.

Uses the same geometry as the OpenCV renderer (:mod:`surgery_teach.annotations.geometry`)
with the picture's on-screen rectangle as the frame, so a mark lands on the same anatomy
in the window as in an exported recording.
"""

from __future__ import annotations

from collections.abc import Mapping

from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QBrush, QColor, QFont, QPainter, QPainterPath, QPen, QPolygonF

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


def paint_marks(painter: QPainter, target: QRectF, marks: list[VisibleShape],
                authors: Mapping[str, str] | None = None, me: str = "") -> None:
    """Draw ``marks`` over the picture shown in ``target``. With ``authors`` (participant
    id → display name), pointers and other people's marks carry their author's name, so
    a trainee knows whose mark it is; the viewer's own (``me``) carry none."""
    if not marks:
        return
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    w, h = target.width(), target.height()

    def at(point: tuple[float, float]) -> QPointF:
        return QPointF(target.left() + point[0] * w, target.top() + point[1] * h)

    for shape, opacity in marks:
        colour = QColor(shape.colour)
        colour.setAlphaF(max(0.0, min(1.0, opacity)))
        stroke = stroke_px(shape.width, round(h))
        pen = QPen(colour, stroke, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                   Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
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
                _text(painter, at(shape.at) + QPointF(radius + 4, -radius), name,
                      QColor("#ffffff"), max(12.0, radius * 2))
            continue
        name = (authors or {}).get(shape.author)
        if name and shape.author != me:
            tag = QColor("#ffffff")
            tag.setAlphaF(colour.alphaF())
            _text(painter, at(_tag_point(shape)) + QPointF(6, -6), name, tag,
                  max(10.0, h * 0.022))
    painter.restore()


def _tag_point(shape: object) -> tuple[float, float]:
    """Where a mark's author name goes: its first point, or its box's top left."""
    if isinstance(shape, Pen):
        return shape.points[0]
    if isinstance(shape, (Arrow, Line)):
        return shape.start
    if isinstance(shape, (Ellipse, Rect)):
        return (shape.box[0], shape.box[1])
    if isinstance(shape, Text):
        return (shape.anchor[0], shape.anchor[1] - 0.05)
    return (0.0, 0.0)


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
