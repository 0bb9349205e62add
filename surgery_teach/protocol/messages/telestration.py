"""Telestration: drawing on the video together, and who may draw.

A client sends one annotation op at a time in ``annotate`` (:class:`Annotate`); the
server numbers it and sends it to the room as ``annotation`` (:class:`Annotation`), or
sends the whole board as ``annotations`` (:class:`AnnotationSnapshot`). A mentor lets a
trainee draw, or stops them, with ``grant-draw`` (:class:`GrantDraw`). The ops are in the
format of :mod:`surgery_teach.annotations.wire`; a malformed op is ``bad-annotation``,
its error naming the field from the message down (``op.shape.points[3][1]``). Each
message is followed by its reader and writer and the :class:`~.common.WireForm` the
envelope lists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

from surgery_teach.annotations.ops import Op
from surgery_teach.annotations.wire import op_text, op_to_json, parse_op
from surgery_teach.errors import ProtocolError
from surgery_teach.protocol.messages.common import (
    WireForm,
    check_boolean,
    normalise,
    with_ref,
)
from surgery_teach.wire.fields import (
    MAX_ID_CHARS,
    MAX_SAFE_INTEGER,
    ErrorCode,
    JsonObject,
    MessageRef,
    bad,
    check_ref,
    check_text,
    json_kind,
    show,
)


def _read_op(value: object, path: str, *, strict: bool) -> Op:
    """One annotation op inside a message; errors name the field from ``path`` on."""
    if not isinstance(value, dict):  # parse_op would read a string as JSON text
        raise ProtocolError(
            ErrorCode.BAD_ANNOTATION,
            f"field '{path}' must be an annotation op, a JSON object like "
            f'{{"v":1,"op":"undo","seq":0,"author":"p-..."}} (got {json_kind(value)})',
        )
    try:
        return parse_op(value, strict=strict)
    except ProtocolError as exc:
        # "field 'shape.points[3][1]' ..." -> "field 'op.shape.points[3][1]' ..."
        message = exc.message.replace("field '", f"field '{path}.", 1)
        raise ProtocolError(exc.code, message) from None


# -- client -> server -------------------------------------------------------------------------


@dataclass(frozen=True)
class Annotate:
    """Draw, point, edit, undo or freeze: one annotation op for the server to order.

    ``op`` is as :func:`~surgery_teach.annotations.wire.op_to_json` writes it, with
    ``seq`` 0 (the server numbers it) and your participant id as its author. Everyone in
    the room, you included, gets it back as an :class:`Annotation` once it is accepted.
    """

    op: Op
    id: MessageRef = None

    def __post_init__(self) -> None:
        if self.op.seq != 0:
            raise ProtocolError(
                ErrorCode.BAD_ANNOTATION,
                f"field 'op.seq' must be 0 in an annotate message (got {show(self.op.seq)}); "
                "the server numbers the ops of a room",
            )
        check_ref(self.id)


def _read_annotate(msg: JsonObject) -> Annotate:
    return msg.build(Annotate, op=_read_op(msg.value("op"), "op", strict=True), id=msg.ref())


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _ref_text(ref: MessageRef, key: str) -> str:
    return "" if ref is None else f',"{key}":{_json(ref)}'


ANNOTATE_FORM: Final = WireForm(
    "annotate",
    Annotate,
    _read_annotate,
    lambda msg: {"op": op_to_json(msg.op)},
    fields=("op",),
    text=lambda msg: (
        f'{{"v":1,"type":"annotate","op":{op_text(msg.op)}{_ref_text(msg.id, "id")}}}'
    ),
)


@dataclass(frozen=True)
class GrantDraw:
    """A mentor lets trainee ``to`` draw (``allowed`` true) or stops them (false)."""

    to: str
    allowed: bool
    id: MessageRef = None

    def __post_init__(self) -> None:
        check_text(self.to, "to", MAX_ID_CHARS)
        check_boolean(self.allowed, "allowed")
        check_ref(self.id)


def _read_grant_draw(msg: JsonObject) -> GrantDraw:
    return msg.build(GrantDraw, to=msg.text("to"), allowed=msg.boolean("allowed"), id=msg.ref())


GRANT_DRAW_FORM: Final = WireForm(
    "grant-draw",
    GrantDraw,
    _read_grant_draw,
    lambda msg: {"to": msg.to, "allowed": msg.allowed},
    fields=("to", "allowed"),
)


# -- server -> client -------------------------------------------------------------------------


@dataclass(frozen=True)
class Annotation:
    """An annotation op as the room applies it, numbered (``op.seq``), from ``sender``.

    Wire type ``annotation``, field ``from``. ``ref`` is the ``id`` of the ``annotate``
    it answers, in the author's own copy only, so the author knows which op was accepted.
    The server has stamped a mark's ``created`` with its own clock.
    """

    sender: str
    op: Op
    ref: MessageRef = None

    def __post_init__(self) -> None:
        check_text(self.sender, "from", MAX_ID_CHARS)
        check_ref(self.ref, "ref")


ANNOTATION_FORM: Final = WireForm(
    "annotation",
    Annotation,
    lambda msg: Annotation(
        sender=msg.text("from"),
        op=_read_op(msg.value("op"), "op", strict=False),
        ref=msg.ref("ref"),
    ),
    lambda msg: with_ref({"from": msg.sender, "op": op_to_json(msg.op)}, msg.ref),
    text=lambda msg: (
        f'{{"v":1,"type":"annotation","from":{_json(msg.sender)},"op":{op_text(msg.op)}'
        f'{_ref_text(msg.ref, "ref")}}}'
    ),
)


@dataclass(frozen=True)
class AnnotationSnapshot:
    """The whole annotation board as ops (wire type ``annotations``): replace yours with it.

    Sent to a newcomer right after ``welcome`` (and ``chat-history``) when the room has
    marks, and to everyone after an undo or redo. ``seq`` is the last op it includes: drop
    any ``annotation`` numbered at or below it. ``ref`` is as for :class:`Annotation`.
    """

    ops: tuple[Op, ...]
    seq: int
    ref: MessageRef = None

    def __post_init__(self) -> None:
        normalise(self, "ops", tuple(self.ops))
        seq = self.seq
        if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= MAX_SAFE_INTEGER:
            raise bad("seq", f"must be an integer from 0 to {MAX_SAFE_INTEGER} (got {show(seq)})")
        check_ref(self.ref, "ref")


ANNOTATION_SNAPSHOT_FORM: Final = WireForm(
    "annotations",
    AnnotationSnapshot,
    lambda msg: AnnotationSnapshot(
        ops=tuple(
            _read_op(item, f"ops[{index}]", strict=False)
            for index, item in enumerate(msg.array("ops"))
        ),
        seq=msg.integer("seq"),
        ref=msg.ref("ref"),
    ),
    lambda msg: with_ref({"ops": [op_to_json(op) for op in msg.ops], "seq": msg.seq}, msg.ref),
    text=lambda msg: (
        f'{{"v":1,"type":"annotations","ops":[{",".join(op_text(op) for op in msg.ops)}],'
        f'"seq":{msg.seq}{_ref_text(msg.ref, "ref")}}}'
    ),
)
