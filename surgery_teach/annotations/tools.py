"""Drawing tools: pointer events (press, move, release) in, annotation ops out, no Qt.

A view converts mouse or touch positions to fractions of the source picture and feeds a
:class:`ToolSession`; the ops it returns go to the server (``seq`` 0) and, once ordered,
to every board. Positions dragged past the edge of the video are clamped to it.

Updates while drawing are sent at most ``max_rate`` times a second (30 by default); the
view should call :meth:`ToolSession.tick` every 50-100 ms while a button is held, so the
last position is sent when the hand stops and a held pointer does not time out.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import fields, replace
from enum import StrEnum
from typing import Any, Final

from surgery_teach.annotations import values
from surgery_teach.annotations.ops import Add, Op, Remove, Update
from surgery_teach.annotations.shapes import (
    MAX_PEN_POINTS,
    Arrow,
    Ellipse,
    Line,
    Pen,
    Pointer,
    Rect,
    Shape,
    Text,
)
from surgery_teach.annotations.values import Point

PEN_MIN_STEP: Final = 0.002
"""A pen point closer than this to the previous one is skipped."""
MIN_SHAPE_SIZE: Final = 0.005
"""A drag shorter than this (corner to corner) draws no arrow, line, ellipse or rect."""
MAX_RATE: Final = 30.0
POINTER_KEEPALIVE: Final = 1.0
"""A held, unmoving pointer is re-sent this often, well within the 2 s pointer timeout."""
_DIGITS: Final = 5
"""Coordinates are rounded to 1e-5 of the picture (0.04 px at 4K) to keep ops short."""


class Tool(StrEnum):
    PEN = "pen"
    ARROW = "arrow"
    LINE = "line"
    ELLIPSE = "ellipse"
    RECT = "rect"
    TEXT = "text"
    POINTER = "pointer"


def id_sequence(prefix: str) -> Callable[[], str]:
    """Shape ids ``prefix:1``, ``prefix:2``, ...: pass the participant id as ``prefix``."""
    counter = itertools.count(1)
    return lambda: f"{prefix}:{next(counter)}"


def _clamp(x: float, y: float) -> Point:
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f"pointer position must be finite numbers (got {x!r}, {y!r})")
    return (round(min(1.0, max(0.0, x)), _DIGITS), round(min(1.0, max(0.0, y)), _DIGITS))


def _distance(a: Point, b: Point) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])


def _same(a: Shape, b: Shape | None) -> bool:
    """Whether two versions of a mark look the same (they may differ in ``created``)."""
    return type(a) is type(b) and all(
        getattr(a, f.name) == getattr(b, f.name) for f in fields(a) if f.name != "created"
    )


class ToolSession:
    """One participant's current tool and style, turning a gesture into ops.

    Pen: press adds a one-point stroke, moves add points (skipping those closer than
    0.002 to the last), release sends the finished stroke; a stroke that reaches 2000
    points goes on as a new one. Arrow, line, ellipse, rect: press sets the first point,
    the mark is added once the drag reaches 0.005 and follows the hand until release (a
    click gives nothing). Text: press places the label, :meth:`type_text` writes it.
    Pointer: press shows it, moves update it, release takes it away.
    """

    def __init__(
        self,
        tool: Tool | str,
        *,
        author: str,
        colour: str,
        width: float,
        source: str,
        pinned: bool = False,
        anchored: bool = False,
        id_factory: Callable[[], str],
        max_rate: float = MAX_RATE,
    ) -> None:
        self.tool = Tool(tool)
        self.author = values.label(author, "author")
        self.colour = values.colour(colour)
        self.width = values.width(width)
        self.source = values.label(source, "source")
        self.pinned = bool(pinned) and self.tool is not Tool.POINTER
        # anchored marks follow the tissue; a pointer follows its owner's hand
        self.anchored = bool(anchored) and self.tool is not Tool.POINTER
        if not max_rate > 0:
            raise ValueError(
                f"max_rate must be a positive number of updates a second (got {max_rate!r})"
            )
        self._new_id = id_factory
        self._interval = 1.0 / max_rate
        self._pressed = False
        self._placed = False  # the text tool has a label position
        self._anchor: Point = (0.0, 0.0)
        self._points: list[Point] = []
        self._frame_time = 0.0
        self._id = ""
        self._sent: Shape | None = None  # what the others see now
        self._latest: Shape | None = None  # what the author drew, maybe not sent yet
        self._grown = False  # the stroke has points not in _latest yet (built when sent)
        self._sent_at = -math.inf

    @property
    def drawing(self) -> bool:
        """True between press and release."""
        return self._pressed

    def press(self, x: float, y: float, frame_time: float, t: float) -> list[Op]:
        """Button down at ``(x, y)`` on the frame captured at ``frame_time``; ``t`` is now."""
        ops = self._finish(t)
        p = _clamp(x, y)
        self._pressed, self._anchor, self._frame_time = True, p, frame_time
        self._id, self._sent, self._latest = "", None, None
        self._placed = self.tool is Tool.TEXT
        if self.tool is Tool.PEN:
            self._points = [p]
            ops += self._send_new(t)
        elif self.tool is Tool.POINTER:
            ops += self._send_new(t, p)
        return ops

    def move(self, x: float, y: float, t: float) -> list[Op]:
        """The hand moved while the button is held (hover moves give nothing)."""
        if not self._pressed or self.tool is Tool.TEXT:
            return []
        return self._track(_clamp(x, y), t) + self._send_latest(t)

    def release(self, x: float, y: float, t: float) -> list[Op]:
        """Button up: the mark is finished (a pointer is taken away)."""
        if not self._pressed:
            return []
        ops: list[Op] = []
        if self.tool not in (Tool.TEXT, Tool.POINTER):
            ops += self._track(_clamp(x, y), t)
        return ops + self._finish(t)

    def tick(self, t: float) -> list[Op]:
        """Send a change held back by the rate limit, or keep a held pointer alive."""
        if not self._pressed:
            return []
        ops = self._send_latest(t)
        latest = self._latest
        if ops or not isinstance(latest, Pointer) or t - self._sent_at < POINTER_KEEPALIVE:
            return ops
        self._latest = self._sent = replace(latest, created=t)
        self._sent_at = t
        return [Update(self._sent)]

    def type_text(self, text: str, t: float) -> list[Op]:
        """The label placed by the last press now reads ``text``; call it as the user types.

        The first call adds the label, later ones update it, and emptying it removes it.
        Text over 200 characters or with line breaks raises ProtocolError.
        """
        if not self._placed:
            raise ValueError("type_text needs the text tool and a press to place the label")
        if not text.strip():
            return self._take_back()
        if self._sent is None:
            return self._send_new(t, text=text)
        self._latest = self._shape(t, text=text)
        return self._send_latest(t, force=True)

    # -- building shapes ----------------------------------------------------------------------

    def _shape(self, t: float, p: Point | None = None, text: str = "") -> Shape:
        """The current mark: the stroke so far, or the anchor-to-``p`` shape."""
        common: dict[str, Any] = {
            "id": self._id,
            "author": self.author,
            "source": self.source,
            "colour": self.colour,
            "width": self.width,
            "frame_time": self._frame_time,
            "pinned": self.pinned,
            "created": t,
            "anchored": self.anchored,
        }
        a, b = self._anchor, p or self._anchor
        match self.tool:
            case Tool.PEN:
                return Pen(points=tuple(self._points), **common)
            case Tool.ARROW:
                return Arrow(start=a, end=b, **common)
            case Tool.LINE:
                return Line(start=a, end=b, **common)
            case Tool.ELLIPSE:
                return Ellipse(box=(*a, *b), **common)
            case Tool.RECT:
                return Rect(box=(*a, *b), **common)
            case Tool.TEXT:
                return Text(anchor=a, text=text, **common)
        return Pointer(at=b, **common)

    # -- sending ------------------------------------------------------------------------------

    def _track(self, p: Point, t: float) -> list[Op]:
        """Follow the hand to ``p``; returns ops only when a new mark starts."""
        if self.tool is Tool.PEN:
            if _distance(p, self._points[-1]) < PEN_MIN_STEP:
                return []
            if len(self._points) < MAX_PEN_POINTS:
                self._points.append(p)
                self._grown = True
                return []
            # A full stroke goes on as a new one from its last point.
            ops = self._send_latest(t, force=True)
            self._points = [self._points[-1], p]
            return ops + self._send_new(t)
        if self._sent is None:  # an arrow, line, ellipse or rect not shown yet
            if _distance(self._anchor, p) < MIN_SHAPE_SIZE:
                return []
            return self._send_new(t, p)
        self._latest = self._shape(t, p)
        return []

    def _send_new(self, t: float, p: Point | None = None, text: str = "") -> list[Op]:
        self._id, self._grown = self._new_id(), False
        shape = self._shape(t, p, text)
        self._sent = self._latest = shape
        self._sent_at = t
        return [Add(shape)]

    def _send_latest(self, t: float, *, force: bool = False) -> list[Op]:
        if not force and t - self._sent_at < self._interval - 1e-9:
            return []
        if self._grown:  # a stroke is validated only when sent: 2000 points take a while
            self._latest, self._grown = self._shape(t), False
        latest = self._latest
        if latest is None or _same(latest, self._sent):
            return []
        self._sent, self._sent_at = latest, t
        return [Update(latest)]

    def _take_back(self) -> list[Op]:
        if self._sent is None:
            return []
        ops: list[Op] = [Remove(self._id, author=self.author)]
        self._id, self._sent, self._latest = "", None, None
        return ops

    def _finish(self, t: float) -> list[Op]:
        """End the gesture: send the last state, or take a pointer away."""
        if not self._pressed:
            return []
        self._pressed = False
        if self.tool is Tool.POINTER:
            return self._take_back()
        return self._send_latest(t, force=True)
