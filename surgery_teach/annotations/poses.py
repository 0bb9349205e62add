"""Marks that stay on the tissue, as ops: anchoring a mark, and where anchored marks are now.

:class:`Anchor` makes a mark follow the tissue under it (or fixes it back on the screen).
The computer that publishes the source (the surgeon's: it has the original frames) tracks
its anchored marks and sends one :class:`Poses` op per source ten times a second: for the
stamped frame ``frame`` of ``source``, each anchored mark's :class:`MarkPlace`, a 2x3
affine ``transform`` that takes the mark as drawn to where its tissue is in that frame.

Transforms are in fractions of the source picture, like the marks' points, so they apply
whatever the window or stream size: ``x' = a x + b y + c``, ``y' = d x + e y + f`` for
``transform = (a, b, c, d, e, f)``. ``lost``: the tissue is not recognised, the transform
is the last one trusted and the mark is drawn dashed and faded there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from typing import Final

from surgery_teach.annotations import values
from surgery_teach.annotations.values import Point, bad
from surgery_teach.errors import ProtocolError
from surgery_teach.wire.fields import MAX_SAFE_INTEGER, show

MAX_PLACES: Final = 64
"""Most anchored marks one ``poses`` op carries (a board holds few anchored marks)."""
MAX_LINEAR: Final = 8.0
"""Largest magnitude of a transform's linear entries (a mark magnified 8x is not tissue)."""
MAX_SHIFT: Final = 8.0
"""Largest shift, in picture widths/heights: a mark far off the picture is lost, not moved."""

MAX_AHEAD: Final = 10
"""Frames past the newest pose a mark is carried on at its last speed (a third of a second
at 30 frames a second); beyond, it waits there for the next pose."""
MAX_GAP: Final = 15
"""Frames (half a second at 30 a second) between two poses beyond which the mark is not
interpolated across: poses come ten times a second, so a longer gap means the tracking
computer fell behind (a busy machine), and the tissue may have moved anywhere meanwhile."""

Transform = tuple[float, float, float, float, float, float]
IDENTITY: Final[Transform] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


def _transform(value: object, field: str) -> Transform:
    if not isinstance(value, tuple | list) or len(value) != 6:
        raise bad(field, "must be a 2x3 transform of 6 numbers [a, b, c, d, e, f] "
                         f"(got {show(value)})")
    numbers = []
    for index, item in enumerate(value):
        number = values.number(item, f"{field}[{index}]")
        limit = MAX_SHIFT if index in (2, 5) else MAX_LINEAR
        if abs(number) > limit:
            raise bad(f"{field}[{index}]", f"must be between -{limit:g} and {limit:g} "
                                           f"(got {show(item)}); send the mark as lost instead")
        numbers.append(number)
    a, b, _, d, e, _ = numbers
    if abs(a * e - b * d) < 1e-6:
        raise bad(field, "must be invertible (its linear part has no area); a mark that "
                         "cannot be placed is sent as lost with its last trusted transform")
    return (numbers[0], numbers[1], numbers[2], numbers[3], numbers[4], numbers[5])


@dataclass(frozen=True)
class MarkPlace:
    """Where anchored mark ``id`` is in one frame: its ``transform`` (fractions of the
    picture), whether it is ``lost``, and the tracker's ``confidence`` (0..1)."""

    id: str
    transform: Transform = IDENTITY
    lost: bool = False
    confidence: float = 1.0

    def __post_init__(self) -> None:
        values.label(self.id, "id")
        _set(self, "transform", _transform(self.transform, "transform"))
        _set(self, "lost", values.boolean(self.lost, "lost"))
        confidence = values.number(self.confidence, "confidence")
        if not 0.0 <= confidence <= 1.0:
            raise bad("confidence", f"must be from 0 to 1 (got {show(self.confidence)})")
        _set(self, "confidence", confidence)

    def apply(self, point: Point) -> Point:
        """``point`` of the mark as drawn, where its tissue is now (may leave 0..1)."""
        a, b, c, d, e, f = self.transform
        x, y = point
        return (a * x + b * y + c, d * x + e * y + f)

    @property
    def scale(self) -> float:
        """Mean magnification of the transform (for stroke widths and text sizes)."""
        a, b, _, d, e, _ = self.transform
        return math.sqrt(abs(a * e - b * d))


@dataclass(frozen=True)
class Poses:
    """The anchored marks of ``source`` in its stamped frame ``frame`` (captured at
    ``frame_time``), as its publisher's tracker sees them; sent about ten times a second.

    A mark missing from ``places`` has no pose yet: it is drawn where it was drawn.
    """

    source: str
    frame: int
    frame_time: float
    places: tuple[MarkPlace, ...]
    _: KW_ONLY
    author: str
    seq: int = 0

    def __post_init__(self) -> None:
        values.label(self.source, "source")
        if isinstance(self.frame, bool) or not isinstance(self.frame, int) or not (
                0 <= self.frame <= MAX_SAFE_INTEGER):
            raise bad("frame", f"must be the stamped frame number, an integer from 0 "
                               f"(got {show(self.frame)})")
        _set(self, "frame_time", values.timestamp(self.frame_time, "frame_time"))
        if not isinstance(self.places, tuple | list):
            raise bad("marks", "must be an array of mark poses")
        if len(self.places) > MAX_PLACES:
            raise bad("marks", f"holds {len(self.places)} mark poses; the limit is "
                               f"{MAX_PLACES} (anchor fewer marks on one source)")
        places = tuple(self.places)
        for index, place in enumerate(places):
            if not isinstance(place, MarkPlace):
                raise bad(f"marks[{index}]", "must be a mark pose")
        if len({p.id for p in places}) != len(places):
            raise bad("marks", "names a mark twice; send one pose per mark")
        _set(self, "places", places)
        values.label(self.author, "author")
        values.seq(self.seq)

    def place_of(self, mark_id: str) -> MarkPlace | None:
        """The pose of mark ``mark_id`` in this frame, if it has one."""
        for place in self.places:
            if place.id == mark_id:
                return place
        return None


@dataclass(frozen=True)
class Anchor:
    """Make mark ``id`` follow the tissue under it (``anchored`` true), or fix it back on
    the screen (false). The same rights as editing the mark: its author, or a surgeon or
    mentor (who may anchor anyone's mark)."""

    id: str
    anchored: bool
    _: KW_ONLY
    author: str
    seq: int = 0

    def __post_init__(self) -> None:
        values.label(self.id, "id")
        _set(self, "anchored", values.boolean(self.anchored, "anchored"))
        values.label(self.author, "author")
        values.seq(self.seq)


def place_at(batches: Sequence[Poses], mark_id: str, frame: int | None = None,
             frame_time: float | None = None, drawn_at: float | None = None,
             ) -> MarkPlace | None:
    """Where anchored mark ``mark_id`` is in stamped frame ``frame``, captured at
    ``frame_time`` (either may be None; both None: the newest pose known), from a source's
    recent ``poses`` ops.

    A pose of that very frame is used as it is. Between two ops the transform is
    interpolated (poses come ten times a second, frames thirty), by capture time when the
    frame's ``frame_time`` is given (a busy source skips frames, so numbers are uneven in
    time), else by frame number; every viewer showing the frame draws the mark at the same
    place. A frame newer than the newest op (the video outran the poses) is extrapolated
    from the last two, at most :data:`MAX_AHEAD` frames. Before the oldest op: with
    ``drawn_at`` (the capture time of the frame the mark was drawn on, where it is exactly
    as drawn) and ``frame_time``, interpolated from the drawing to that op (a frame captured
    before the drawing shows the mark as drawn); otherwise the oldest holds. Next to a lost
    pose the lost one wins, and between two poses more than :data:`MAX_GAP` frames apart
    the mark is lost at the nearer one: a mark is never drawn confidently where it was not
    seen.
    """
    by_time = frame_time is not None
    known = sorted(((batch.frame_time if by_time else float(batch.frame)), batch.frame, place)
                   for batch in batches if (place := batch.place_of(mark_id)) is not None)
    if not known:
        return None
    if frame is None and frame_time is None:
        return max(known, key=lambda k: k[1])[2]
    exact = [place for _, number, place in known if number == frame]
    if exact:
        return exact[-1]
    at = frame_time if frame_time is not None else float(frame)  # type: ignore[arg-type]
    ahead = MAX_AHEAD / 30.0 if by_time else float(MAX_AHEAD)
    gap = MAX_GAP / 30.0 if by_time else float(MAX_GAP)
    later = next((n for n, (k, _, _) in enumerate(known) if k > at), len(known))
    if later == 0:
        if by_time and drawn_at and drawn_at < known[0][0]:
            return _from_drawing(mark_id, drawn_at, known[0][0], known[0][2], at, gap)
        return known[0][2]
    if later == len(known):  # newer than every op
        if len(known) < 2:
            return known[-1][2]
        (k0, _, p0), (k1, _, p1) = known[-2], known[-1]
        if p1.lost or p0.lost or not (MIN_GAP_S if by_time else 1) <= k1 - k0 <= gap:
            return p1  # (two poses a hair or an age apart say nothing of the speed)
        return _blend(mark_id, p0, p1, (min(at, k1 + ahead) - k0) / (k1 - k0))
    (k0, _, p0), (k1, _, p1) = known[later - 1], known[later]
    if p0.lost or p1.lost or k0 == k1:
        return p0 if p0.lost or not p1.lost else p1
    if k1 - k0 > gap:  # the tracker fell behind: where the tissue went meanwhile is unknown
        nearer = p0 if at - k0 <= k1 - at else p1
        return MarkPlace(mark_id, nearer.transform, lost=True, confidence=0.0)
    return _blend(mark_id, p0, p1, (at - k0) / (k1 - k0))


def _from_drawing(mark_id: str, drawn_at: float, first_at: float, first: MarkPlace,
                  at: float, gap: float) -> MarkPlace:
    """The place at capture time ``at`` before the first pose (``first``, at ``first_at``)
    of a mark drawn on the frame captured at ``drawn_at``: on that frame the mark is where
    it was drawn (the identity); in between, the way from there to the first pose."""
    drawn = MarkPlace(mark_id, IDENTITY, confidence=first.confidence)
    if at <= drawn_at:
        return drawn
    if first.lost:
        return first
    if first_at - drawn_at > gap:  # the tracker fell behind: lost at the nearer
        nearer = drawn if at - drawn_at <= first_at - at else first
        return MarkPlace(mark_id, nearer.transform, lost=True, confidence=0.0)
    return _blend(mark_id, drawn, first, (at - drawn_at) / (first_at - drawn_at))


MAX_BLEND = 1.0 + MAX_AHEAD
"""The farthest a mark is carried on past its newest pose, in intervals of the two before."""
MIN_GAP_S = 1 / 60
"""Two poses closer in time than this are not used to carry a mark on."""


def _blend(mark_id: str, p0: MarkPlace, p1: MarkPlace, w: float) -> MarkPlace:
    """``p0`` moved ``w`` of the way to ``p1`` (beyond it when ``w`` > 1). Never raises:
    poses a peer sent close together (or turned half way round) would otherwise blend
    into a transform out of bounds or without area, at paint time; then ``p1``, lost."""
    w = min(max(w, 0.0), MAX_BLEND) if math.isfinite(w) else 1.0
    mixed = tuple(a + (b - a) * w for a, b in zip(p0.transform, p1.transform, strict=True))
    try:
        return MarkPlace(mark_id, mixed,  # type: ignore[arg-type]
                         confidence=min(p0.confidence, p1.confidence))
    except ProtocolError:
        return MarkPlace(mark_id, p1.transform, lost=True, confidence=0.0)
