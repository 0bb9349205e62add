"""How much one room's board may hold, and the tally the server keeps to enforce it.

Without limits one mentor could fill a board until a late joiner's snapshot no longer
fits a client's message limit and the server's memory grows with every stroke.
:class:`BoardLimits` holds the numbers (docs/protocol.md section 9 and docs/security.md
list them with these defaults); :class:`BoardTally` counts what the board holds, mark by
mark, from the changes :meth:`~surgery_teach.annotations.Board.apply` reports, and says
which limit an op would break. Pure, like the room rules that use it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Final, NamedTuple

from surgery_teach.annotations.board import (
    Change,
    FreezeChanged,
    ShapeAdded,
    ShapeChanged,
    ShapeRemoved,
)
from surgery_teach.annotations.history import HISTORY_BYTES
from surgery_teach.annotations.ops import Add
from surgery_teach.annotations.shapes import Pen, Shape
from surgery_teach.annotations.wire import op_text
from surgery_teach.errors import ConfigError

MARKS_PER_ROOM: Final = 1000
"""Marks and pointers on one room's board at once."""
POINTS_PER_ROOM: Final = 50_000
"""Freehand points on one room's board at once (a stroke holds at most 2000)."""
PINNED_PER_AUTHOR: Final = 100
"""Pinned marks one participant may have on the board at once."""
BOARD_BYTES: Final = 768 * 1024
"""The board's marks as a late joiner's snapshot, in bytes of JSON."""
HELD_PER_ROOM: Final = 16
"""Videos of one room held on a frame (``freeze``) at once."""


@dataclass(frozen=True, kw_only=True)
class BoardLimits:
    """The limits of one room's board; checked on construction (ConfigError)."""

    marks: int = MARKS_PER_ROOM
    points: int = POINTS_PER_ROOM
    pinned_per_author: int = PINNED_PER_AUTHOR
    snapshot_bytes: int = BOARD_BYTES
    held: int = HELD_PER_ROOM
    history_bytes: int = HISTORY_BYTES

    def __post_init__(self) -> None:
        for name in ("marks", "points", "pinned_per_author", "held"):
            if getattr(self, name) < 1:
                raise ConfigError(f"board limit {name} must be at least 1, "
                                  f"got {getattr(self, name)}")
        for name in ("snapshot_bytes", "history_bytes"):
            if getattr(self, name) < 64 * 1024:
                raise ConfigError(f"board limit {name} must be at least 65536 bytes, "
                                  f"got {getattr(self, name)}")


def shape_bytes(shape: Shape) -> int:
    """What ``shape`` adds to a snapshot: its ``add`` op as JSON (written once, cached)."""
    return len(op_text(Add(shape)).encode()) + 8  # the snapshot's seq has up to 16 digits


def least_bytes(shape: Shape) -> int:
    """At least :func:`shape_bytes`, known without writing the shape out: a point is at
    least ``[0.0,0.0],``, the rest of a mark at least 150 bytes."""
    return 150 + (10 * len(shape.points) if isinstance(shape, Pen) else 0)


class _Entry(NamedTuple):
    author: str
    bytes: int
    points: int
    pinned: bool


class BoardTally:
    """What one board holds: marks, freehand points, pinned marks per author, bytes."""

    def __init__(self) -> None:
        self._marks: dict[str, _Entry] = {}
        self.points = 0
        self.bytes = 0
        self.pinned: Counter[str] = Counter()
        self.held: set[str] = set()

    @property
    def marks(self) -> int:
        return len(self._marks)

    def follow(self, changes: list[Change]) -> None:
        """Count what the board reported changing."""
        for change in changes:
            match change:
                case ShapeAdded(shape) | ShapeChanged(shape):
                    self._drop(shape.id)
                    self._put(shape)
                case ShapeRemoved(shape):
                    self._drop(shape.id)
                case FreezeChanged(source, frame_time):
                    if frame_time is None:
                        self.held.discard(source)
                    else:
                        self.held.add(source)

    def problem(self, limits: BoardLimits, shape: Shape | None = None,
                held: str | None = None) -> str | None:
        """Which limit the board breaks once it holds ``shape`` (a new mark, or the new
        version of one it has) or holds ``held`` frozen, or None."""
        marks, points, size = self.marks, self.points, self.bytes
        pinned = self.pinned.copy()
        if shape is not None:
            old = self._marks.get(shape.id)
            if old is None:
                marks += 1
            else:
                points -= old.points
                size -= old.bytes
                pinned[old.author] -= old.pinned
            points += len(shape.points) if isinstance(shape, Pen) else 0
            # a board that is full for even the least this mark could be costs no writing
            size += least_bytes(shape)
            if size <= limits.snapshot_bytes:
                size += shape_bytes(shape) - least_bytes(shape)
            pinned[shape.author] += shape.pinned
        held_count = len(self.held | ({held} if held is not None else set()))
        if marks > limits.marks:
            return (f"the board holds {limits.marks} marks and pointers, its limit; remove "
                    "or clear marks first (live marks that have faded leave by themselves)")
        if points > limits.points:
            return (f"the board would hold {points} freehand points; its limit is "
                    f"{limits.points}. Remove or clear strokes first")
        if size > limits.snapshot_bytes:
            return (f"the board would be {size} bytes for someone joining; its limit is "
                    f"{limits.snapshot_bytes}. Remove or clear marks first")
        if shape is not None and pinned[shape.author] > limits.pinned_per_author:
            return (f"you have {limits.pinned_per_author} pinned marks on the board, the "
                    "limit for one participant; remove some, or draw unpinned marks")
        if held_count > limits.held:
            return (f"{limits.held} videos of this room are held on a frame already, the "
                    "limit; unfreeze one first")
        return None

    def over(self, limits: BoardLimits) -> str | None:
        """Which limit the board breaks as it is now, or None."""
        worst = max(self.pinned.values(), default=0)
        if worst > limits.pinned_per_author:
            return (f"the undo or redo would leave {worst} pinned marks of one participant "
                    f"on the board; the limit is {limits.pinned_per_author}")
        problem = self.problem(limits)
        return None if problem is None else f"the undo or redo would break a limit: {problem}"

    def _put(self, shape: Shape) -> None:
        points = len(shape.points) if isinstance(shape, Pen) else 0
        entry = _Entry(shape.author, shape_bytes(shape), points, shape.pinned)
        self._marks[shape.id] = entry
        self.points += entry.points
        self.bytes += entry.bytes
        if entry.pinned:
            self.pinned[entry.author] += 1

    def _drop(self, shape_id: str) -> None:
        entry = self._marks.pop(shape_id, None)
        if entry is None:
            return
        self.points -= entry.points
        self.bytes -= entry.bytes
        if entry.pinned:
            self.pinned[entry.author] -= 1
            if not self.pinned[entry.author]:
                del self.pinned[entry.author]
