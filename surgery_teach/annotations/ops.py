"""Annotation operations: what a client asks for and the server relays, in room order.

Each op carries its ``author`` (for :class:`Add` and :class:`Update` that is the shape's
author) and a ``seq`` that the server assigns when it orders the op in the room (0 until
then). :mod:`.wire` holds their one parse and one serialize.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, replace
from enum import StrEnum
from typing import Final, TypeAlias, TypeVar

from surgery_teach.annotations import values
from surgery_teach.annotations.poses import Anchor, Poses
from surgery_teach.annotations.shapes import SHAPE_CLASSES, Shape
from surgery_teach.annotations.values import bad
from surgery_teach.wire.fields import show


class ClearScope(StrEnum):
    """Whose marks a :class:`Clear` removes."""

    MINE = "mine"
    ALL = "all"


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


def _check_shape(shape: object) -> None:
    if not isinstance(shape, SHAPE_CLASSES):
        raise bad("shape", f"must be a shape, one of the annotation kinds (got {shape!r:.48})")


@dataclass(frozen=True)
class _ShapeOp:
    """An op that carries a whole mark; its author is the mark's."""

    shape: Shape
    _: KW_ONLY
    seq: int = 0

    def __post_init__(self) -> None:
        _check_shape(self.shape)
        values.seq(self.seq)

    @property
    def author(self) -> str:
        return self.shape.author


@dataclass(frozen=True)
class Add(_ShapeOp):
    """Put a new mark on the board (or show a pointer)."""


@dataclass(frozen=True)
class Update(_ShapeOp):
    """Replace a mark while it is being drawn or edited: same id, same author, same kind."""


@dataclass(frozen=True)
class Remove:
    """Take the mark ``id`` off the board (the author's own, or anyone's for a mentor)."""

    id: str
    _: KW_ONLY
    author: str
    seq: int = 0

    def __post_init__(self) -> None:
        values.label(self.id, "id")
        values.label(self.author, "author")
        values.seq(self.seq)


@dataclass(frozen=True)
class Clear:
    """Remove the author's own marks (``mine``) or everyone's (``all``) on ``source``."""

    scope: ClearScope
    source: str
    _: KW_ONLY
    author: str
    seq: int = 0

    def __post_init__(self) -> None:
        if self.scope not in tuple(ClearScope):
            raise bad("scope", f"must be mine or all (got {show(self.scope)})")
        _set(self, "scope", ClearScope(self.scope))
        values.label(self.source, "source")
        values.label(self.author, "author")
        values.seq(self.seq)


@dataclass(frozen=True)
class Undo:
    """Undo the author's last add, edit, remove or clear of their own marks."""

    author: str
    _: KW_ONLY
    seq: int = 0

    def __post_init__(self) -> None:
        values.label(self.author, "author")
        values.seq(self.seq)


@dataclass(frozen=True)
class Redo:
    """Do again what the author's last undo took back."""

    author: str
    _: KW_ONLY
    seq: int = 0

    def __post_init__(self) -> None:
        values.label(self.author, "author")
        values.seq(self.seq)


@dataclass(frozen=True)
class Freeze:
    """Everyone holds ``source`` at the frame captured at ``frame_time``."""

    source: str
    frame_time: float
    _: KW_ONLY
    author: str
    seq: int = 0

    def __post_init__(self) -> None:
        values.label(self.source, "source")
        _set(self, "frame_time", values.timestamp(self.frame_time, "frame_time"))
        values.label(self.author, "author")
        values.seq(self.seq)


@dataclass(frozen=True)
class Unfreeze:
    """``source`` plays live again."""

    source: str
    _: KW_ONLY
    author: str
    seq: int = 0

    def __post_init__(self) -> None:
        values.label(self.source, "source")
        values.label(self.author, "author")
        values.seq(self.seq)


Op: TypeAlias = (Add | Update | Remove | Clear | Undo | Redo | Freeze | Unfreeze | Anchor
                 | Poses)
OP_CLASSES: Final = (Add, Update, Remove, Clear, Undo, Redo, Freeze, Unfreeze, Anchor, Poses)

OpT = TypeVar("OpT", Add, Update, Remove, Clear, Undo, Redo, Freeze, Unfreeze, Anchor, Poses)


def with_seq(op: OpT, seq: int) -> OpT:
    """``op`` as the server orders it: the same op with ``seq`` assigned."""
    return replace(op, seq=seq)
