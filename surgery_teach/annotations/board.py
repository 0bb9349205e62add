"""The annotation state of a room: every source's marks, pointers and freeze-frame.

:class:`Board` applies ops in the order the server gave them (their ``seq``) and says what
changed, so a view redraws only that. It is pure and deterministic: every participant that
applies the same ops holds the same board. It does not judge permissions
(:func:`~.permissions.may` does, on the server); it only refuses what cannot make sense,
such as updating somebody else's mark, and ignores it without raising, because an op the
server relayed has to be applied the same way everywhere.

Fading depends on the viewer's clock (``now``) against each mark's ``created``, the clock
of the author's machine: the server should stamp ``created`` with its own clock (and
clients compare with the server's, e.g. from ``pong``), or clock skew shifts the fading.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Final, NamedTuple, TypeAlias

from surgery_teach.annotations.history import Entry, History
from surgery_teach.annotations.ops import (
    Add,
    Clear,
    ClearScope,
    Freeze,
    Op,
    Redo,
    Remove,
    Undo,
    Unfreeze,
    Update,
    with_seq,
)
from surgery_teach.annotations.poses import Anchor, MarkPlace, Poses, place_at
from surgery_teach.annotations.shapes import Pointer, Shape

FADE_AFTER: Final = 4.0
"""Seconds a live (unpinned) mark stays fully visible before it fades."""
FADE_SECONDS: Final = 1.0
"""Seconds a live mark takes to fade out completely."""
POINTER_TIMEOUT: Final = 2.0
"""A pointer not updated for this long is hidden (its owner's client went quiet)."""
POSES_KEPT: Final = 48
"""Recent ``poses`` ops kept per source (about 5 s at 10 a second): a viewer whose video
lags the poses still finds the pose of the frame on its screen."""


class VisibleShape(NamedTuple):
    """A mark to draw, with its opacity (0 < opacity <= 1)."""

    shape: Shape
    opacity: float


@dataclass(frozen=True)
class ShapeAdded:
    shape: Shape


@dataclass(frozen=True)
class ShapeChanged:
    """``shape`` replaced the mark with the same id."""

    shape: Shape


@dataclass(frozen=True)
class ShapeRemoved:
    """``shape`` (as it was) left the board."""

    shape: Shape


@dataclass(frozen=True)
class FreezeChanged:
    """``source`` is now held at ``frame_time``, or plays live again (None)."""

    source: str
    frame_time: float | None


Change: TypeAlias = ShapeAdded | ShapeChanged | ShapeRemoved | FreezeChanged


def opacity_at(shape: Shape, now: float, fade_after: float = FADE_AFTER) -> float:
    """How visible ``shape`` is at ``now``: 1, then fading over 1 s, then 0 (gone).

    Pinned marks never fade; a pointer shows fully until 2 s after its last update.
    """
    age = now - shape.created
    if isinstance(shape, Pointer):
        return 1.0 if age <= POINTER_TIMEOUT else 0.0
    if shape.pinned or age <= fade_after:
        return 1.0
    return max(0.0, 1.0 - (age - fade_after) / FADE_SECONDS)


def _visible(shapes: Iterable[Shape], now: float, fade_after: float) -> list[VisibleShape]:
    """``shapes`` with their opacity at ``now``, leaving out those faded away."""
    found = []
    for shape in shapes:
        opacity = opacity_at(shape, now, fade_after)
        if opacity > 0.0:
            found.append(VisibleShape(shape, opacity))
    return found


@dataclass(frozen=True)
class BoardView:
    """What a :class:`Board` showed at one moment, frozen (:meth:`Board.view`).

    Another thread (a window painting marks) reads it while the board itself goes on
    changing on the media thread. ``marks`` holds each source's marks in drawing order,
    then its pointers; ``held`` each frozen source's frame time, ``held_by`` who froze it
    (a participant id: the window says "Frozen by Dr Li").
    """

    marks: Mapping[str, tuple[Shape, ...]] = field(default_factory=dict)
    held: Mapping[str, float] = field(default_factory=dict)
    last_seq: int = 0
    held_by: Mapping[str, str] = field(default_factory=dict)
    poses: Mapping[str, tuple[Poses, ...]] = field(default_factory=dict)

    def shapes(self, source: str, now: float, fade_after: float = FADE_AFTER) -> list[VisibleShape]:
        """As :meth:`Board.shapes`: the marks of ``source`` to draw at ``now``."""
        return _visible(self.marks.get(source, ()), now, fade_after)

    def frozen(self, source: str) -> float | None:
        """As :meth:`Board.frozen`."""
        return self.held.get(source)

    def frozen_by(self, source: str) -> str | None:
        """As :meth:`Board.frozen_by`."""
        return self.held_by.get(source)

    def place(self, shape: Shape, frame: int | None = None,
              frame_time: float | None = None) -> MarkPlace | None:
        """As :meth:`Board.place`."""
        if not shape.anchored:
            return None
        return place_at(self.poses.get(shape.source, ()), shape.id, frame, frame_time,
                        shape.frame_time or None)

    def places(self, source: str, frame: int | None = None,
               frame_time: float | None = None) -> dict[str, MarkPlace]:
        """As :meth:`Board.places`."""
        return _places(self.marks.get(source, ()), self.poses.get(source, ()), frame,
                       frame_time)


class Board:
    """Marks of every source in one room, built by applying ops in ``seq`` order.

    ``history_bytes`` bounds each author's undo history (None: only by its 100 steps).
    """

    def __init__(self, *, history_bytes: int | None = None) -> None:
        self._history_bytes = history_bytes
        self._restored: list[tuple[int, Shape]] = []
        self._shapes: dict[str, Shape] = {}
        self._order: dict[str, int] = {}
        self._next_order = 0
        self._pointers: dict[str, Pointer] = {}
        self._frozen: dict[str, Freeze] = {}
        self._poses: dict[str, deque[Poses]] = {}
        self._histories: dict[str, History] = {}
        self._last_seq = 0
        self._changes: list[Change] = []

    @property
    def last_seq(self) -> int:
        """The highest ``seq`` applied; the live stream continues after it."""
        return self._last_seq

    # -- reading ------------------------------------------------------------------------------

    def get(self, shape_id: str) -> Shape | None:
        """The mark or pointer ``shape_id``, if it is on the board."""
        return self._shapes.get(shape_id) or self._pointers.get(shape_id)

    def author_of(self, shape_id: str) -> str | None:
        """Who drew ``shape_id`` (what :func:`~.permissions.may` needs for a remove)."""
        shape = self.get(shape_id)
        return None if shape is None else shape.author

    def frozen(self, source: str) -> float | None:
        """The capture time of the frame ``source`` is held at, or None when it plays."""
        held = self._frozen.get(source)
        return None if held is None else held.frame_time

    def frozen_by(self, source: str) -> str | None:
        """Who froze ``source`` (the ``freeze`` op's author), or None when it plays."""
        held = self._frozen.get(source)
        return None if held is None else held.author

    def place(self, shape: Shape, frame: int | None = None,
              frame_time: float | None = None) -> MarkPlace | None:
        """Where anchored ``shape`` is in stamped frame ``frame`` of its source, captured at
        ``frame_time`` (both from the picture's stamp; None: the newest pose known); None
        when it is not anchored or has no pose yet (it is then drawn where it was drawn).
        See :func:`~.poses.place_at`."""
        if not shape.anchored:
            return None
        return place_at(self._poses.get(shape.source, ()), shape.id, frame, frame_time,
                        shape.frame_time or None)

    def places(self, source: str, frame: int | None = None,
               frame_time: float | None = None) -> dict[str, MarkPlace]:
        """Every anchored mark of ``source`` that has a pose: mark id -> its place in
        ``frame`` (what :func:`~.render.render_marks` takes)."""
        return _places(self._shapes.values(), self._poses.get(source, ()), frame, frame_time)

    def can_undo(self, author: str) -> bool:
        history = self._histories.get(author)
        return history is not None and any(
            any(self._current(e.id) == e.after for e in action) for action in history.undoable
        )

    def can_redo(self, author: str) -> bool:
        history = self._histories.get(author)
        return history is not None and any(
            any(self._current(e.id) == e.before for e in action) for action in history.redoable
        )

    def shapes(self, source: str, now: float, fade_after: float = FADE_AFTER) -> list[VisibleShape]:
        """The marks of ``source`` to draw at ``now``, bottom first; pointers on top."""
        marks = sorted(
            (s for s in self._shapes.values() if s.source == source),
            key=lambda s: self._order[s.id],
        )
        pointers = (p for p in self._pointers.values() if p.source == source)
        return _visible([*marks, *pointers], now, fade_after)

    def view(self) -> BoardView:
        """A frozen copy of what the board shows now, for readers on other threads."""
        marks: dict[str, list[Shape]] = {}
        for shape in sorted(self._shapes.values(), key=lambda s: self._order[s.id]):
            marks.setdefault(shape.source, []).append(shape)
        for pointer in self._pointers.values():
            marks.setdefault(pointer.source, []).append(pointer)
        return BoardView(
            marks=MappingProxyType({source: tuple(found) for source, found in marks.items()}),
            held=MappingProxyType({source: held.frame_time
                                   for source, held in self._frozen.items()}),
            last_seq=self._last_seq,
            held_by=MappingProxyType({source: held.author
                                      for source, held in self._frozen.items()}),
            poses=MappingProxyType({source: tuple(found)
                                    for source, found in self._poses.items()}),
        )

    # -- applying -----------------------------------------------------------------------------

    def apply(self, op: Op) -> list[Change]:
        """Apply one op and return what changed (empty when nothing did).

        An op whose ``seq`` is at or below :attr:`last_seq` was applied already (a replay
        after a reconnect) and changes nothing. ``seq`` 0 means not ordered by a server (a
        board with no server, a preview): it is applied and does not move :attr:`last_seq`.
        """
        if op.seq:
            if op.seq <= self._last_seq:
                return []
            self._last_seq = op.seq
        self._changes = []
        match op:
            case Add():
                self._add(op.shape)
            case Update():
                self._update(op.shape)
            case Remove():
                self._remove(op.id, op.author)
            case Clear():
                self._clear(op.scope, op.source, op.author)
            case Undo():
                self._history(op.author).undo(self._restore)
                self._on_top()
            case Redo():
                self._history(op.author).redo(self._restore)
                self._on_top()
            case Freeze():
                if self.frozen(op.source) != op.frame_time:
                    self._frozen[op.source] = op
                    self._changes.append(FreezeChanged(op.source, op.frame_time))
            case Unfreeze():
                if self._frozen.pop(op.source, None) is not None:
                    self._changes.append(FreezeChanged(op.source, None))
            case Anchor():
                self._anchor(op)
            case Poses():  # where anchored marks are: no mark changes, none is undone
                kept = self._poses.setdefault(op.source, deque(maxlen=POSES_KEPT))
                if kept and (op.author != kept[-1].author or (
                        op.frame < kept[-1].frame and op.frame_time > kept[-1].frame_time)):
                    # another publisher, or its frames counted from 1 again (a restarted
                    # program, a replaced camera): the old poses say nothing of these
                    self._poses[op.source] = kept = deque([op], maxlen=POSES_KEPT)
                elif kept and op.frame < kept[-1].frame:
                    self._poses[op.source] = kept = deque(
                        sorted([*kept, op], key=lambda p: p.frame), maxlen=POSES_KEPT)
                else:
                    kept.append(op)
        return self._changes

    def note_seq(self, seq: int) -> None:
        """Ops up to ``seq`` are in the board: the server applied an undo or redo with
        ``seq`` 0 and numbered the changes it made as ops of their own."""
        self._last_seq = max(self._last_seq, seq)

    def drop_faded(self, now: float, fade_after: float = FADE_AFTER) -> list[Change]:
        """Take off live marks that have faded away and pointers hidden for going quiet
        (they show nowhere any more); the undo history is left as it is."""
        self._changes = []
        gone = [s.id for s in self._shapes.values() if opacity_at(s, now, fade_after) <= 0.0]
        gone += [p.id for p in self._pointers.values() if opacity_at(p, now) <= 0.0]
        for shape_id in gone:
            self._take(shape_id)
        return self._changes

    def _history(self, author: str) -> History:
        history = self._histories.get(author)
        if history is None:
            history = self._histories[author] = History(max_weight=self._history_bytes)
        return history

    def _on_top(self) -> None:
        """Marks an undo or redo brought back go on top, in the order they were drawn:
        where every other board puts them, which gets them as ``add`` ops."""
        restored, self._restored = sorted(self._restored, key=lambda r: r[0]), []
        for _, shape in restored:
            self._order[shape.id] = self._next_order
            self._next_order += 1
            self._changes.append(ShapeAdded(shape))

    def _current(self, shape_id: str) -> Shape | None:
        return self._shapes.get(shape_id)

    def _add(self, shape: Shape) -> None:
        if self.get(shape.id) is not None:
            return  # ids are unique; a second add of one is a client bug
        if isinstance(shape, Pointer):
            self._pointers[shape.id] = shape
        else:
            self._order[shape.id] = self._next_order
            self._next_order += 1
            self._shapes[shape.id] = shape
            entry = Entry(shape.id, None, shape, self._order[shape.id])
            self._history(shape.author).record((entry,))
        self._changes.append(ShapeAdded(shape))

    def _update(self, shape: Shape) -> None:
        old = self.get(shape.id)
        if old is None or old.author != shape.author or old.kind != shape.kind:
            return
        if old.source != shape.source:
            return
        if isinstance(shape, Pointer):
            self._pointers[shape.id] = shape
        else:
            self._shapes[shape.id] = shape
            history = self._history(shape.author)
            if not history.extend(old, shape):
                history.record((Entry(shape.id, old, shape, self._order[shape.id]),))
        self._changes.append(ShapeChanged(shape))

    def _anchor(self, op: Anchor) -> None:
        old = self._shapes.get(op.id)
        if old is None or old.anchored == op.anchored:
            return
        shape = replace(old, anchored=op.anchored)
        self._shapes[op.id] = shape
        self._history(op.author).record((Entry(op.id, old, shape, self._order[op.id]),))
        self._changes.append(ShapeChanged(shape))

    def _take(self, shape_id: str) -> Entry | None:
        """Remove one mark or pointer; the history entry for a mark, None for a pointer."""
        pointer = self._pointers.pop(shape_id, None)
        if pointer is not None:
            self._changes.append(ShapeRemoved(pointer))
            return None
        shape = self._shapes.pop(shape_id)
        self._changes.append(ShapeRemoved(shape))
        return Entry(shape_id, shape, None, self._order.pop(shape_id))

    def _remove(self, shape_id: str, author: str) -> None:
        if self.get(shape_id) is None:
            return
        entry = self._take(shape_id)
        if entry is not None:
            self._history(author).record((entry,))

    def _clear(self, scope: ClearScope, source: str, author: str) -> None:
        doomed = [
            s.id
            for s in [*self._shapes.values(), *self._pointers.values()]
            if s.source == source and (scope is ClearScope.ALL or s.author == author)
        ]
        entries = tuple(e for e in (self._take(i) for i in doomed) if e is not None)
        # Clearing one's own marks can be undone; clearing everyone's is final.
        if entries and scope is ClearScope.MINE:
            self._history(author).record(entries)

    def _restore(self, entry: Entry, expected: Shape | None, wanted: Shape | None) -> bool:
        """Undo/redo one entry if the board still shows ``expected`` for its mark."""
        current = self._shapes.get(entry.id)
        if current != expected or (current is None and entry.id in self._pointers):
            return False
        if wanted is None:
            self._take(entry.id)
        elif current is None:
            self._shapes[entry.id] = wanted
            self._order[entry.id] = entry.order  # placed on top once the step is done
            self._restored.append((entry.order, wanted))
        else:
            self._shapes[entry.id] = wanted
            self._changes.append(ShapeChanged(wanted))
        return True

    # -- late joiners -------------------------------------------------------------------------

    def snapshot(self) -> list[Op]:
        """The ops that rebuild this board's visible state, compacted, for a late joiner.

        One :class:`Add` per mark (drawing order) and pointer, and one :class:`Freeze` per
        held source, each carrying :attr:`last_seq` so the joiner knows where the live
        stream continues. The undo history is not carried: on a joiner's board each
        author's history is just their current marks, so an undo of a remove or clear made
        before it joined does not take effect there (the server should then send a fresh
        snapshot, or keep the full op log for joiners).
        """
        seq = self._last_seq
        marks = sorted(self._shapes.values(), key=lambda s: self._order[s.id])
        ops: list[Op] = [Add(s, seq=seq) for s in [*marks, *self._pointers.values()]]
        ops += [with_seq(held, seq) for held in self._frozen.values()]
        ops += [with_seq(kept[-1], seq) for kept in self._poses.values() if kept]
        return ops

    @classmethod
    def from_snapshot(cls, ops: Iterable[Op], *, last_seq: int | None = None,
                      history_bytes: int | None = None) -> Board:
        """A board rebuilt from :meth:`snapshot` ops; ``last_seq`` defaults to their seq."""
        board = cls(history_bytes=history_bytes)
        highest = 0
        for op in ops:
            highest = max(highest, op.seq)
            board.apply(with_seq(op, 0))
        board._last_seq = highest if last_seq is None else last_seq
        return board


def _places(shapes: Iterable[Shape], batches: Sequence[Poses], frame: int | None,
            frame_time: float | None) -> dict[str, MarkPlace]:
    found = {}
    for shape in shapes:
        if shape.anchored:
            place = place_at(batches, shape.id, frame, frame_time, shape.frame_time or None)
            if place is not None:
                found[shape.id] = place
    return found
