"""The marks a mentor draws on a video source, in coordinates of the source picture.

Points are fractions of the source picture (x right, y down, both 0..1), so a mark stays on
the same anatomy whatever the window size or the stream resolution. A coordinate within
1e-6 outside 0..1 is clamped to the edge (rounding); anything further out is refused, so a
tool must clamp a drag that leaves the video (:class:`~.tools.ToolSession` does).

Every shape is a frozen dataclass that checks itself; all fields are keyword-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final, TypeAlias

from surgery_teach.annotations import values
from surgery_teach.annotations.values import Point, bad

MAX_PEN_POINTS: Final = 2000
"""Most points in one freehand stroke; a tool starts a new stroke when one is full."""


def _set(obj: object, name: str, value: object) -> None:
    """Store a normalised field of a frozen dataclass from its ``__post_init__``."""
    object.__setattr__(obj, name, value)


@dataclass(frozen=True, kw_only=True)
class ShapeBase:
    """What every mark carries.

    ``id`` is chosen by the author's client (unique in the room, e.g. ``"p-1a2b3c4d:17"``);
    ``author`` is the participant id; ``width`` is the stroke width as a fraction of the
    picture height (0.001-0.05); ``source`` names the video track the mark is drawn on;
    ``frame_time`` is the capture time of the frame it was drawn on; ``created`` is when
    this version of the mark was made (live marks fade from then); ``pinned`` marks stay;
    ``anchored`` marks follow the tissue under them (:mod:`.poses`).
    """

    kind: ClassVar[str] = ""

    id: str
    author: str
    source: str
    colour: str
    width: float
    frame_time: float = 0.0
    pinned: bool = False
    created: float = 0.0
    anchored: bool = False

    def __post_init__(self) -> None:
        values.label(self.id, "id")
        values.label(self.author, "author")
        values.label(self.source, "source")
        _set(self, "colour", values.colour(self.colour))
        _set(self, "width", values.width(self.width))
        _set(self, "frame_time", values.timestamp(self.frame_time, "frame_time"))
        _set(self, "pinned", values.boolean(self.pinned, "pinned"))
        _set(self, "created", values.timestamp(self.created, "created"))
        _set(self, "anchored", values.boolean(self.anchored, "anchored"))


@dataclass(frozen=True, kw_only=True)
class Pen(ShapeBase):
    """A freehand stroke through ``points`` (1 to 2000; one point is a dot)."""

    kind: ClassVar[str] = "pen"
    points: tuple[Point, ...]

    def __post_init__(self) -> None:
        super().__post_init__()
        raw = self.points
        if not isinstance(raw, tuple | list):
            raise bad("points", "must be an array of points [[x, y], ...]")
        if not raw:
            raise bad("points", "must hold at least one point")
        if len(raw) > MAX_PEN_POINTS:
            raise bad(
                "points",
                f"holds {len(raw)} points; the limit is {MAX_PEN_POINTS} (start a new stroke)",
            )
        _set(self, "points", _points(raw))


def _points(raw: tuple[object, ...] | list[object]) -> tuple[Point, ...]:
    """Checked points. A stroke may hold 2000 and the server checks every op it relays, so
    the common case (a pair of floats in 0..1) takes a short path; anything else gets the
    full rules (and their error naming the point)."""
    points: list[Point] = []
    append = points.append
    for index, p in enumerate(raw):
        if (type(p) is tuple or type(p) is list) and len(p) == 2:  # exact types: fast
            x, y = p
            if type(x) is float and type(y) is float and 0.0 <= x <= 1.0 and 0.0 <= y <= 1.0:
                append(p if type(p) is tuple else (x, y))  # type: ignore[arg-type]
                continue
        append(values.point(p, f"points[{index}]"))
    return tuple(points)


@dataclass(frozen=True, kw_only=True)
class _Segment(ShapeBase):
    """A straight mark from ``start`` to ``end``."""

    start: Point
    end: Point

    def __post_init__(self) -> None:
        super().__post_init__()
        _set(self, "start", values.point(self.start, "start"))
        _set(self, "end", values.point(self.end, "end"))


@dataclass(frozen=True, kw_only=True)
class Arrow(_Segment):
    """A straight arrow whose head is at ``end``."""

    kind: ClassVar[str] = "arrow"


@dataclass(frozen=True, kw_only=True)
class Line(_Segment):
    """A straight line."""

    kind: ClassVar[str] = "line"


@dataclass(frozen=True, kw_only=True)
class _Boxed(ShapeBase):
    """A mark inside the box ``(left, top, right, bottom)``; corners may come in any order."""

    box: tuple[float, float, float, float]

    def __post_init__(self) -> None:
        super().__post_init__()
        raw = self.box
        if not isinstance(raw, tuple | list) or len(raw) != 4:
            raise bad("box", "must be [left, top, right, bottom]")
        x0, y0, x1, y1 = (values.coordinate(v, f"box[{i}]") for i, v in enumerate(raw))
        _set(self, "box", (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))


@dataclass(frozen=True, kw_only=True)
class Ellipse(_Boxed):
    """An ellipse filling its bounding ``box`` (a circle is an ellipse)."""

    kind: ClassVar[str] = "ellipse"


@dataclass(frozen=True, kw_only=True)
class Rect(_Boxed):
    """A rectangle outline."""

    kind: ClassVar[str] = "rect"


@dataclass(frozen=True, kw_only=True)
class Text(ShapeBase):
    """A one-line label (1-200 characters, any Unicode); ``anchor`` is the left end of its
    baseline, as for ``cv2.putText`` and ``QPainter.drawText(QPointF, str)``."""

    kind: ClassVar[str] = "text"
    anchor: Point
    text: str

    def __post_init__(self) -> None:
        super().__post_init__()
        _set(self, "anchor", values.point(self.anchor, "anchor"))
        values.text(self.text)


@dataclass(frozen=True, kw_only=True)
class Pointer(ShapeBase):
    """A laser dot at ``at``: transient, never pinned, never in the undo history.

    A board hides it 2 s after its last update (``created``), so a pointer whose owner
    vanished does not stay on screen.
    """

    kind: ClassVar[str] = "pointer"
    at: Point

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.pinned is not False:
            raise bad("pinned", "must be false for a pointer: it leaves no mark")
        _set(self, "at", values.point(self.at, "at"))


Shape: TypeAlias = Pen | Arrow | Line | Ellipse | Rect | Text | Pointer
SHAPE_CLASSES: Final[tuple[type[Shape], ...]] = (Pen, Arrow, Line, Ellipse, Rect, Text, Pointer)
SHAPE_KINDS: Final[dict[str, type[Shape]]] = {cls.kind: cls for cls in SHAPE_CLASSES}
"""Each wire ``kind`` and its class."""
