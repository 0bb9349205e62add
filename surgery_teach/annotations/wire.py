"""Annotation wire format, version 1: one parse and one serialize for every op.

An op is a JSON object ``{"v":1,"op":"add","seq":0,"shape":{"kind":"arrow",...}}``;
docs for each kind are on the op classes in :mod:`.ops` and the shape classes in
:mod:`.shapes`. Points are ``[x, y]`` arrays of fractions of the source picture.
``"v"`` may be left out (it means 1), so an op can ride inside a versioned envelope.
Every rejection is a ProtocolError with code ``bad-annotation`` whose message names the
field (``shape.points[3][1]``) and what to send instead.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final

from surgery_teach.annotations.ops import (
    Add,
    Anchor,
    Clear,
    Freeze,
    Op,
    Poses,
    Redo,
    Remove,
    Undo,
    Unfreeze,
    Update,
)
from surgery_teach.annotations.poses import MAX_PLACES, MarkPlace
from surgery_teach.annotations.shapes import (
    MAX_PEN_POINTS,
    SHAPE_KINDS,
    Arrow,
    Ellipse,
    Line,
    Pen,
    Pointer,
    Rect,
    Shape,
    Text,
)
from surgery_teach.annotations.values import BAD_ANNOTATION
from surgery_teach.errors import ProtocolError
from surgery_teach.wire.fields import JsonObject, bad, json_kind, load_json, show

ANNOTATION_VERSION: Final = 1
MAX_OP_BYTES: Final = 128 * 1024
"""Largest accepted op text (UTF-8 bytes); a full 2000-point stroke needs about 50 KiB."""

_COMMON: Final = (
    "kind",
    "id",
    "author",
    "source",
    "colour",
    "width",
    "frame_time",
    "pinned",
    "created",
    "anchored",
)
_KIND_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "pen": ("points",),
    "arrow": ("start", "end"),
    "line": ("start", "end"),
    "ellipse": ("box",),
    "rect": ("box",),
    "text": ("anchor", "text"),
    "pointer": ("at",),
}


# -- serialize --------------------------------------------------------------------------------


def shape_to_json(shape: Shape) -> dict[str, Any]:
    """The JSON object for one shape, common fields first."""
    body = _shape_body(shape)
    match shape:
        case Pen():
            body["points"] = [list(p) for p in shape.points]
        case Arrow() | Line():
            body["start"] = list(shape.start)
            body["end"] = list(shape.end)
        case Ellipse() | Rect():
            body["box"] = list(shape.box)
        case Text():
            body["anchor"] = list(shape.anchor)
        case Pointer():
            body["at"] = list(shape.at)
    return body


_TEXT_OPTIONS: Final[dict[str, Any]] = {
    "ensure_ascii": False, "separators": (",", ":"), "allow_nan": False}
"""How every message is written (:func:`surgery_teach.protocol.messages.serialize`)."""
_shape_texts: dict[int, tuple[weakref.ref[Shape], str]] = {}


def shape_text(shape: Shape) -> str:
    """``json.dumps(shape_to_json(shape))`` as messages are written (compact, UTF-8 as
    is), computed once per shape object: a mark that the server relays, keeps, journals and
    sends to late joiners (a 2000-point stroke is about 80 KB) is written out only once."""
    key = id(shape)
    cached = _shape_texts.get(key)
    if cached is not None and cached[0]() is shape:
        return cached[1]
    text = json.dumps(_shape_body(shape), **_TEXT_OPTIONS)  # tuples are written as arrays
    _shape_texts[key] = (weakref.ref(shape, lambda _, key=key: _forget(key)), text)
    return text


def _forget(key: int) -> None:
    _shape_texts.pop(key, None)


def op_text(op: Op) -> str:
    """``json.dumps(op_to_json(op))`` as messages are written, the shape from
    :func:`shape_text`."""
    if isinstance(op, Add | Update):
        name = "add" if isinstance(op, Add) else "update"
        return (f'{{"v":{ANNOTATION_VERSION},"op":"{name}","seq":{op.seq},'
                f'"shape":{shape_text(op.shape)}}}')
    return json.dumps(op_to_json(op), **_TEXT_OPTIONS)


def _shape_body(shape: Shape) -> dict[str, Any]:
    """A shape's JSON object with its points as tuples (what ``json.dumps`` needs)."""
    body: dict[str, Any] = {
        "kind": shape.kind,
        "id": shape.id,
        "author": shape.author,
        "source": shape.source,
        "colour": shape.colour,
        "width": shape.width,
        "frame_time": shape.frame_time,
        "pinned": shape.pinned,
        "created": shape.created,
    }
    if shape.anchored:  # written only when set, so older readers see the marks they know
        body["anchored"] = True
    match shape:
        case Pen():
            body["points"] = shape.points
        case Arrow() | Line():
            body["start"] = shape.start
            body["end"] = shape.end
        case Ellipse() | Rect():
            body["box"] = shape.box
        case Text():
            body["anchor"] = shape.anchor
            body["text"] = shape.text
        case Pointer():
            body["at"] = shape.at
    return body


def op_to_json(op: Op) -> dict[str, Any]:
    """The JSON object for one op: ``v``, ``op`` and ``seq`` first; ``json.dumps`` it."""
    head: dict[str, Any] = {"v": ANNOTATION_VERSION}
    match op:
        case Add() | Update():
            name = "add" if isinstance(op, Add) else "update"
            return {**head, "op": name, "seq": op.seq, "shape": shape_to_json(op.shape)}
        case Remove():
            return {**head, "op": "remove", "seq": op.seq, "author": op.author, "id": op.id}
        case Clear():
            return {
                **head,
                "op": "clear",
                "seq": op.seq,
                "author": op.author,
                "scope": op.scope.value,
                "source": op.source,
            }
        case Undo() | Redo():
            name = "undo" if isinstance(op, Undo) else "redo"
            return {**head, "op": name, "seq": op.seq, "author": op.author}
        case Freeze():
            return {
                **head,
                "op": "freeze",
                "seq": op.seq,
                "author": op.author,
                "source": op.source,
                "frame_time": op.frame_time,
            }
        case Unfreeze():
            return {
                **head,
                "op": "unfreeze",
                "seq": op.seq,
                "author": op.author,
                "source": op.source,
            }
        case Anchor():
            return {**head, "op": "anchor", "seq": op.seq, "author": op.author, "id": op.id,
                    "anchored": op.anchored}
        case Poses():
            return {
                **head,
                "op": "poses",
                "seq": op.seq,
                "author": op.author,
                "source": op.source,
                "frame": op.frame,
                "frame_time": op.frame_time,
                "marks": [_place_to_json(p) for p in op.places],
            }
    raise TypeError(f"not an annotation op: {op!r}")


def _place_to_json(place: MarkPlace) -> dict[str, Any]:
    return {"id": place.id, "transform": list(place.transform), "lost": place.lost,
            "confidence": place.confidence}


# -- parse ------------------------------------------------------------------------------------


def _point(obj: JsonObject, key: str) -> object:
    """A point as sent; the shape checks its numbers and names ``key[0]`` or ``key[1]``."""
    value = obj.value(key)
    if not isinstance(value, list) or len(value) != 2:
        raise bad(obj.path(key), f"must be a point [x, y] (got {json_kind(value)})")
    return value


def parse_shape(value: object, path: str = "shape", *, strict: bool = True) -> Shape:
    """Parse one decoded shape object; ``path`` prefixes field names in errors."""
    with _annotation_errors():
        return _parse_shape(value, path, strict)


def _parse_shape(value: object, path: str, strict: bool) -> Shape:
    if not isinstance(value, dict):
        raise bad(path, f"must be a JSON object (got {json_kind(value)})")
    kind = value.get("kind")
    if not isinstance(kind, str) or kind not in SHAPE_KINDS:
        raise bad(
            f"{path}.kind",
            f"must be one of {', '.join(SHAPE_KINDS)} (got {json_kind(kind)})",
        )
    obj = JsonObject(
        value, path, (*_COMMON, *_KIND_FIELDS[kind]), strict=strict, what=f"a {kind} shape"
    )
    common: dict[str, Any] = {
        "id": obj.text("id"),
        "author": obj.text("author"),
        "source": obj.text("source"),
        "colour": obj.text("colour"),
        "width": obj.number("width"),
        "frame_time": obj.number("frame_time"),
        "pinned": obj.boolean("pinned"),
        "created": obj.number("created"),
        "anchored": obj.boolean("anchored", default=False),
    }
    match kind:
        case "pen":
            points = obj.array("points")
            if len(points) > MAX_PEN_POINTS:  # before reading them one by one
                raise bad(
                    obj.path("points"), f"holds {len(points)} points; the limit is {MAX_PEN_POINTS}"
                )
            return obj.build(Pen, points=tuple(points), **common)
        case "arrow" | "line":
            cls = Arrow if kind == "arrow" else Line
            return obj.build(cls, start=_point(obj, "start"), end=_point(obj, "end"), **common)
        case "ellipse" | "rect":
            box = obj.array("box")
            return obj.build(Ellipse if kind == "ellipse" else Rect, box=tuple(box), **common)
        case "text":
            return obj.build(Text, anchor=_point(obj, "anchor"), text=obj.text("text"), **common)
    return obj.build(Pointer, at=_point(obj, "at"), **common)


def _seq(obj: JsonObject) -> int:
    return obj.integer("seq", default=0)


def _read_add(obj: JsonObject, strict: bool) -> Op:
    shape = _parse_shape(obj.value("shape"), "shape", strict)
    return obj.build(Add, shape=shape, seq=_seq(obj))


def _read_update(obj: JsonObject, strict: bool) -> Op:
    shape = _parse_shape(obj.value("shape"), "shape", strict)
    return obj.build(Update, shape=shape, seq=_seq(obj))


def _read_place(value: object, path: str, strict: bool) -> MarkPlace:
    if not isinstance(value, dict):
        raise bad(path, f"must be a mark pose, a JSON object like "
                        f'{{"id":"p-1:3","transform":[1,0,0,0,1,0],"lost":false,'
                        f'"confidence":0.9}} (got {json_kind(value)})')
    obj = JsonObject(value, path, ("id", "transform", "lost", "confidence"), strict=strict,
                     what="a mark pose")
    transform = obj.array("transform")
    return obj.build(MarkPlace, id=obj.text("id"), transform=tuple(transform),
                     lost=obj.boolean("lost"), confidence=obj.number("confidence"))


def _read_poses(obj: JsonObject, strict: bool) -> Op:
    marks = obj.array("marks")
    if len(marks) > MAX_PLACES:  # before reading them one by one
        raise bad(obj.path("marks"), f"holds {len(marks)} mark poses; the limit is {MAX_PLACES}")
    places = tuple(_read_place(item, f"{obj.path('marks')}[{index}]", strict)
                   for index, item in enumerate(marks))
    return obj.build(Poses, source=obj.text("source"), frame=obj.integer("frame"),
                     frame_time=obj.number("frame_time"), places=places,
                     author=obj.text("author"), seq=_seq(obj))


_OPS: Final[dict[str, tuple[tuple[str, ...], Callable[[JsonObject, bool], Op]]]] = {
    "add": (("shape",), _read_add),
    "update": (("shape",), _read_update),
    "remove": (
        ("author", "id"),
        lambda o, _: o.build(Remove, id=o.text("id"), author=o.text("author"), seq=_seq(o)),
    ),
    "clear": (
        ("author", "scope", "source"),
        lambda o, _: o.build(
            Clear,
            scope=o.text("scope"),
            source=o.text("source"),
            author=o.text("author"),
            seq=_seq(o),
        ),
    ),
    "undo": (("author",), lambda o, _: o.build(Undo, author=o.text("author"), seq=_seq(o))),
    "redo": (("author",), lambda o, _: o.build(Redo, author=o.text("author"), seq=_seq(o))),
    "freeze": (
        ("author", "source", "frame_time"),
        lambda o, _: o.build(
            Freeze,
            source=o.text("source"),
            frame_time=o.number("frame_time"),
            author=o.text("author"),
            seq=_seq(o),
        ),
    ),
    "unfreeze": (
        ("author", "source"),
        lambda o, _: o.build(
            Unfreeze, source=o.text("source"), author=o.text("author"), seq=_seq(o)
        ),
    ),
    "anchor": (
        ("author", "id", "anchored"),
        lambda o, _: o.build(Anchor, id=o.text("id"), anchored=o.boolean("anchored"),
                             author=o.text("author"), seq=_seq(o)),
    ),
    "poses": (("author", "source", "frame", "frame_time", "marks"), _read_poses),
}


def _parse(raw: object, strict: bool) -> Op:
    if isinstance(raw, str):
        size = len(raw.encode("utf-8", "surrogatepass"))
        if size > MAX_OP_BYTES:
            raise bad("op", f"the op is {size} bytes; the limit is {MAX_OP_BYTES} bytes")
        raw = load_json(raw)
    if not isinstance(raw, dict):
        raise bad("op", f'must be in a JSON object like {{"op":"undo",...}} (got {json_kind(raw)})')
    version = raw.get("v", ANNOTATION_VERSION)
    if type(version) is not int or version != ANNOTATION_VERSION:  # bool is not int here
        raise bad("v", f"must be {ANNOTATION_VERSION}, the annotation format (got {show(version)})")
    name = raw.get("op")
    if not isinstance(name, str) or name not in _OPS:
        raise bad("op", f"must be one of {', '.join(_OPS)} (got {json_kind(name)})")
    allowed, read = _OPS[name]
    obj = JsonObject(raw, "", ("v", "op", "seq", *allowed), strict=strict, what=f"a {name!r} op")
    return read(obj, strict)


def parse_op(raw: dict[str, Any] | str, *, strict: bool = True) -> Op:
    """Parse one op from JSON text or an already decoded object.

    With ``strict`` (the default, what the server demands of clients) unknown fields are
    refused; without it they are ignored, so an older client can read a newer server.
    Raises ProtocolError with code ``bad-annotation`` naming the field at fault.
    """
    with _annotation_errors():
        return _parse(raw, strict)


@contextmanager
def _annotation_errors() -> Iterator[None]:
    """Give the shared JSON readers' errors (``bad-message``, ``bad-json``) our code."""
    try:
        yield
    except ProtocolError as exc:
        if exc.code == BAD_ANNOTATION:
            raise
        raise ProtocolError(BAD_ANNOTATION, exc.message) from None
