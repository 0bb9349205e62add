"""Telestration: marks that mentors draw on the surgeon's video, Qt-free and I/O-free.

:mod:`.shapes` are the marks, :mod:`.ops` the edits and :mod:`.wire` their JSON;
:class:`.board.Board` applies ops in server order; :mod:`.permissions` says who may send
what; :class:`.tools.ToolSession` turns pointer events into ops; :mod:`.render` draws
marks onto a BGR frame, with the pixel geometry of :mod:`.geometry` that a Qt view shares.
"""

from __future__ import annotations

from surgery_teach.annotations.board import (
    FADE_AFTER,
    FADE_SECONDS,
    POINTER_TIMEOUT,
    Board,
    BoardView,
    Change,
    FreezeChanged,
    ShapeAdded,
    ShapeChanged,
    ShapeRemoved,
    VisibleShape,
    opacity_at,
)
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
from surgery_teach.annotations.permissions import may, may_draw
from surgery_teach.annotations.poses import Anchor, MarkPlace, Poses
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
from surgery_teach.annotations.tools import Tool, ToolSession, id_sequence
from surgery_teach.annotations.values import BAD_ANNOTATION, MAX_TEXT_CHARS, Point
from surgery_teach.annotations.wire import op_to_json, parse_op, parse_shape, shape_to_json

__all__ = [
    "BAD_ANNOTATION",
    "FADE_AFTER",
    "FADE_SECONDS",
    "MAX_PEN_POINTS",
    "MAX_TEXT_CHARS",
    "POINTER_TIMEOUT",
    "Add",
    "Anchor",
    "Arrow",
    "Board",
    "BoardView",
    "Change",
    "Clear",
    "ClearScope",
    "Ellipse",
    "Freeze",
    "FreezeChanged",
    "Line",
    "MarkPlace",
    "Op",
    "Pen",
    "Point",
    "Pointer",
    "Poses",
    "Rect",
    "Redo",
    "Remove",
    "Shape",
    "ShapeAdded",
    "ShapeChanged",
    "ShapeRemoved",
    "Text",
    "Tool",
    "ToolSession",
    "Undo",
    "Unfreeze",
    "Update",
    "VisibleShape",
    "id_sequence",
    "may",
    "may_draw",
    "op_to_json",
    "opacity_at",
    "parse_op",
    "parse_shape",
    "shape_to_json",
    "with_seq",
]
