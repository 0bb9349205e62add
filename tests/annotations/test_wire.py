"""The annotation wire format: every op from a literal string, and every way to get it wrong."""

from __future__ import annotations

import json
import re

import pytest

from surgery_teach.annotations import (
    Add,
    Arrow,
    Clear,
    ClearScope,
    Ellipse,
    Freeze,
    Line,
    Op,
    Pen,
    Pointer,
    Rect,
    Redo,
    Remove,
    Text,
    Undo,
    Unfreeze,
    Update,
    op_to_json,
    parse_op,
    parse_shape,
    shape_to_json,
    with_seq,
)
from surgery_teach.errors import ProtocolError

COMMON_JSON = (
    '"author":"p-1a2b3c4d","source":"Laparoscope","colour":"#ff0000","width":0.004,'
    '"frame_time":1764099000.5,"pinned":false,"created":1764099000.75'
)
COMMON = {
    "author": "p-1a2b3c4d",
    "source": "Laparoscope",
    "colour": "#ff0000",
    "width": 0.004,
    "frame_time": 1764099000.5,
    "created": 1764099000.75,
}
ARROW_JSON = (
    '{"kind":"arrow","id":"p-1a2b3c4d:17",' + COMMON_JSON + ',"start":[0.25,0.5],"end":[0.75,0.5]}'
)
ARROW = Arrow(id="p-1a2b3c4d:17", start=(0.25, 0.5), end=(0.75, 0.5), **COMMON)


def refused(problem: str) -> pytest.RaisesExc[ProtocolError]:
    """Expect a ProtocolError whose message contains ``problem`` literally."""
    return pytest.raises(ProtocolError, match=re.escape(problem))


def dumps(op: Op) -> str:
    return json.dumps(op_to_json(op), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


CASES: list[tuple[str, Op]] = [
    ('{"v":1,"op":"add","seq":0,"shape":' + ARROW_JSON + "}", Add(ARROW)),
    ('{"v":1,"op":"update","seq":42,"shape":' + ARROW_JSON + "}", Update(ARROW, seq=42)),
    (
        '{"v":1,"op":"add","seq":3,"shape":{"kind":"pen","id":"p-1:1",'
        + COMMON_JSON
        + ',"points":[[0.1,0.2],[0.11,0.21],[0.0,1.0]]}}',
        Add(Pen(id="p-1:1", points=((0.1, 0.2), (0.11, 0.21), (0.0, 1.0)), **COMMON), seq=3),
    ),
    (
        '{"v":1,"op":"add","seq":0,"shape":{"kind":"line","id":"l",'
        + COMMON_JSON
        + ',"start":[0.0,0.0],"end":[1.0,1.0]}}',
        Add(Line(id="l", start=(0, 0), end=(1, 1), **COMMON)),
    ),
    (
        '{"v":1,"op":"add","seq":0,"shape":{"kind":"ellipse","id":"e",'
        '"author":"p-1a2b3c4d","source":"Laparoscope","colour":"#00ff00","width":0.05,'
        '"frame_time":0.0,"pinned":true,"created":0.0,"box":[0.1,0.2,0.3,0.4]}}',
        Add(
            Ellipse(
                id="e",
                author="p-1a2b3c4d",
                source="Laparoscope",
                colour="#00FF00",
                width=0.05,
                pinned=True,
                box=(0.3, 0.4, 0.1, 0.2),
            )
        ),
    ),
    (
        '{"v":1,"op":"add","seq":0,"shape":{"kind":"rect","id":"r",'
        + COMMON_JSON
        + ',"box":[0.0,0.0,0.5,0.5]}}',
        Add(Rect(id="r", box=(0.0, 0.0, 0.5, 0.5), **COMMON)),
    ),
    (
        '{"v":1,"op":"add","seq":0,"shape":{"kind":"text","id":"t",'
        + COMMON_JSON
        + ',"anchor":[0.5,0.5],"text":"Пузырная артерия 胆囊动脉 👩‍⚕️"}}',
        Add(Text(id="t", anchor=(0.5, 0.5), text="Пузырная артерия 胆囊动脉 👩‍⚕️", **COMMON)),
    ),
    (
        '{"v":1,"op":"update","seq":0,"shape":{"kind":"pointer","id":"p-1:ptr",'
        + COMMON_JSON
        + ',"at":[0.9,0.1]}}',
        Update(Pointer(id="p-1:ptr", at=(0.9, 0.1), **COMMON)),
    ),
    (
        '{"v":1,"op":"remove","seq":7,"author":"p-mentor","id":"p-1a2b3c4d:17"}',
        Remove("p-1a2b3c4d:17", author="p-mentor", seq=7),
    ),
    (
        '{"v":1,"op":"clear","seq":0,"author":"p-1","scope":"mine","source":"Laparoscope"}',
        Clear(ClearScope.MINE, "Laparoscope", author="p-1"),
    ),
    (
        '{"v":1,"op":"clear","seq":9,"author":"p-m","scope":"all","source":"Room camera"}',
        Clear("all", "Room camera", author="p-m", seq=9),  # type: ignore[arg-type]
    ),
    ('{"v":1,"op":"undo","seq":0,"author":"p-1"}', Undo("p-1")),
    ('{"v":1,"op":"redo","seq":12,"author":"p-1"}', Redo("p-1", seq=12)),
    (
        '{"v":1,"op":"freeze","seq":0,"author":"p-s","source":"Laparoscope",'
        '"frame_time":1764099001.04}',
        Freeze("Laparoscope", 1764099001.04, author="p-s"),
    ),
    (
        '{"v":1,"op":"unfreeze","seq":0,"author":"p-s","source":"Laparoscope"}',
        Unfreeze("Laparoscope", author="p-s"),
    ),
]


@pytest.mark.parametrize(("text", "op"), CASES)
def test_op_round_trips_from_literal_json(text: str, op: Op) -> None:
    assert parse_op(text) == op
    assert parse_op(json.loads(text)) == op
    assert dumps(op) == text


def test_version_and_seq_may_be_left_out() -> None:
    assert parse_op('{"op":"undo","author":"p-1"}') == Undo("p-1")


def test_integers_are_accepted_where_numbers_are_expected() -> None:
    op = parse_op('{"op":"freeze","author":"p-1","source":"s","frame_time":12}')
    assert op == Freeze("s", 12.0, author="p-1")
    assert isinstance(op, Freeze) and isinstance(op.frame_time, float)


def test_coordinates_a_rounding_error_outside_the_picture_are_clamped() -> None:
    text = ARROW_JSON.replace("[0.25,0.5]", "[-0.0000005,1.0000009]")
    op = parse_op('{"op":"add","shape":' + text + "}")
    assert isinstance(op, Add) and isinstance(op.shape, Arrow)
    assert op.shape.start == (0.0, 1.0)


def test_lenient_parse_ignores_unknown_fields_and_strict_refuses_them() -> None:
    text = '{"op":"add","future":1,"shape":' + ARROW_JSON[:-1] + ',"glow":true}}'
    assert parse_op(text, strict=False) == Add(ARROW)
    with pytest.raises(ProtocolError, match="unknown field 'future'"):
        parse_op(text)
    with refused("unknown field 'shape.glow'"):
        parse_op(text.replace('"future":1,', ""))


def test_with_seq_assigns_the_servers_order() -> None:
    assert with_seq(Undo("p-1"), 5) == Undo("p-1", seq=5)
    assert with_seq(Add(ARROW), 6).shape is ARROW


def shape_json(**changes: object) -> str:
    shape = json.loads(ARROW_JSON)
    shape.update(changes)
    return json.dumps({"op": "add", "shape": shape})


REJECTED: list[tuple[str, str]] = [
    ("[]", "field 'op' must be in a JSON object"),
    ('{"op":"add"', "not valid JSON"),
    ('{"op":"undo","author":"p-1","seq":NaN}', "NaN is not valid JSON"),
    ('{"op":"erase","author":"p-1"}', "field 'op' must be one of add, update"),
    ('{"author":"p-1"}', "field 'op' must be one of"),
    ('{"v":2,"op":"undo","author":"p-1"}', "field 'v' must be 1"),
    ('{"v":true,"op":"undo","author":"p-1"}', "field 'v' must be 1"),
    ('{"op":"undo"}', "field 'author' is missing"),
    ('{"op":"undo","author":""}', "field 'author' must not be empty"),
    ('{"op":"undo","author":"p-1","seq":-1}', "field 'seq' must be from 0"),
    ('{"op":"undo","author":"p-1","seq":1.5}', "field 'seq' must be an integer"),
    ('{"op":"remove","author":"p-1","id":"' + "x" * 65 + '"}', "field 'id' is 65 characters"),
    ('{"op":"clear","author":"p-1","scope":"yours","source":"s"}', "field 'scope' must be mine"),
    ('{"op":"freeze","author":"p-1","source":"s","frame_time":-1}', "'frame_time' must not be"),
    ('{"op":"add"}', "field 'shape' is missing"),
    ('{"op":"add","shape":[]}', "field 'shape' must be a JSON object"),
    (shape_json(kind="star"), "field 'shape.kind' must be one of pen, arrow"),
    (shape_json(kind=None), "field 'shape.kind' must be one of"),
    (shape_json(start=[1.2, 0.5]), r"field 'shape.start\[0\]' must be from 0 to 1"),
    (shape_json(end=[0.5, -0.01]), r"field 'shape.end\[1\]' must be from 0 to 1"),
    (shape_json(end=[0.5]), "field 'shape.end' must be a point"),
    (shape_json(end=["0.5", 0.5]), r"field 'shape.end\[0\]' must be a number"),
    (shape_json(colour="red"), "field 'shape.colour' must be a colour like '#ff0000'"),
    (shape_json(colour="#ff00zz"), "field 'shape.colour'"),
    (shape_json(width=0.2), "field 'shape.width' must be from 0.001 to 0.05"),
    (shape_json(width=0), "field 'shape.width' must be from 0.001"),
    (shape_json(width=True), "field 'shape.width' must be a number"),
    (shape_json(pinned="yes"), "field 'shape.pinned' must be true or false"),
    (shape_json(id="a\nb"), "field 'shape.id' contains a control"),
    (shape_json(created=None), "field 'shape.created' must be a number"),
]


@pytest.mark.parametrize(("text", "problem"), REJECTED)
def test_malformed_ops_are_refused_with_the_field_named(text: str, problem: str) -> None:
    with pytest.raises(ProtocolError, match=problem) as caught:
        parse_op(text)
    assert caught.value.code == "bad-annotation"


def test_nan_and_infinity_in_a_decoded_object_are_refused() -> None:
    shape = json.loads(ARROW_JSON)
    for bad in (float("nan"), float("inf")):
        shape["start"] = [0.5, bad]
        with pytest.raises(ProtocolError, match=r"'shape.start\[1\]' must be a finite number"):
            parse_op({"op": "add", "shape": shape})


def test_text_over_200_characters_is_refused_and_200_is_fine() -> None:
    def text_op(text: str) -> dict[str, object]:
        shape = {**json.loads(ARROW_JSON), "kind": "text", "anchor": [0.5, 0.5], "text": text}
        del shape["start"], shape["end"]
        return {"op": "add", "shape": shape}

    assert isinstance(parse_op(text_op("ж" * 200)), Add)
    with refused("'shape.text' is 201 characters long; the limit"):
        parse_op(text_op("ж" * 201))
    with refused("'shape.text' contains the control character U+000A"):
        parse_op(text_op("two\nlines"))
    with refused("'shape.text' must contain at least one visible"):
        parse_op(text_op("   "))


def test_a_stroke_over_2000_points_is_refused() -> None:
    shape = {**json.loads(ARROW_JSON), "kind": "pen"}
    del shape["start"], shape["end"]
    shape["points"] = [[0.5, 0.5]] * 2000
    assert isinstance(parse_op({"op": "add", "shape": shape}), Add)
    shape["points"] = [[0.5, 0.5]] * 2001
    with refused("'shape.points' holds 2001 points; the limit is 2000"):
        parse_op({"op": "add", "shape": shape})
    shape["points"] = [[0.5, 0.5], [0.5, 7]]
    with pytest.raises(ProtocolError, match=r"'shape.points\[1\]\[1\]' must be from 0 to 1"):
        parse_op({"op": "add", "shape": shape})
    shape["points"] = []
    with refused("'shape.points' must hold at least one point"):
        parse_op({"op": "add", "shape": shape})


def test_a_pinned_pointer_is_refused() -> None:
    shape = {**json.loads(ARROW_JSON), "kind": "pointer", "at": [0.5, 0.5], "pinned": True}
    del shape["start"], shape["end"]
    with refused("'shape.pinned' must be false for a pointer"):
        parse_op({"op": "add", "shape": shape})


def test_an_oversize_op_is_refused_before_decoding() -> None:
    with pytest.raises(ProtocolError, match="the limit is 131072 bytes"):
        parse_op('{"op":"undo","author":"p-1","pad":"' + "x" * 140_000 + '"}')


def test_a_shape_parses_on_its_own_with_the_same_error_code() -> None:
    assert parse_shape(json.loads(ARROW_JSON)) == ARROW
    assert shape_to_json(ARROW) == json.loads(ARROW_JSON)
    with refused("field 'mark.width' must be a number") as caught:
        parse_shape({**json.loads(ARROW_JSON), "width": "thin"}, "mark")
    assert caught.value.code == "bad-annotation"
