"""Telestration on the wire: annotate, annotations, grant-draw, and every way to get them wrong."""

from __future__ import annotations

import json

import pytest

from surgery_teach.annotations import (
    BAD_ANNOTATION,
    Add,
    Arrow,
    Clear,
    ClearScope,
    Pointer,
    Undo,
    Update,
)
from surgery_teach.errors import ProtocolError
from surgery_teach.protocol.messages import (
    Annotate,
    Annotation,
    AnnotationSnapshot,
    ClientMessage,
    ErrorCode,
    GrantDraw,
    ParticipantInfo,
    Role,
    ServerMessage,
    parse_client,
    parse_server,
    serialize,
)
from tests.protocol.messages.samples import DMITRY, LI, refused

SHAPE_COMMON_JSON = (
    '"author":"p-0a1b2c3d","source":"Laparoscope","colour":"#ffd400","width":0.004,'
    '"frame_time":1764099000.5,"pinned":false'
)
ARROW_COMMON = {
    "id": "p-0a1b2c3d:17",
    "author": LI.id,
    "source": "Laparoscope",
    "colour": "#ffd400",
    "width": 0.004,
    "frame_time": 1764099000.5,
    "start": (0.25, 0.5),
    "end": (0.75, 0.5),
}
ADD_ARROW_JSON = (
    '{"v":1,"op":"add","seq":0,"shape":{"kind":"arrow","id":"p-0a1b2c3d:17",'
    + SHAPE_COMMON_JSON
    + ',"created":1764099000.75,"start":[0.25,0.5],"end":[0.75,0.5]}}'
)
ADD_ARROW = Add(Arrow(created=1764099000.75, **ARROW_COMMON))
SERVER_ARROW_JSON = (
    '{"v":1,"op":"add","seq":42,"shape":{"kind":"arrow","id":"p-0a1b2c3d:17",'
    + SHAPE_COMMON_JSON
    + ',"created":1764099000.8,"start":[0.25,0.5],"end":[0.75,0.5]}}'
)
SERVER_ARROW = Add(Arrow(created=1764099000.8, **ARROW_COMMON), seq=42)

CLIENT_CASES: list[tuple[str, ClientMessage]] = [
    (
        '{"v":1,"type":"annotate","op":' + ADD_ARROW_JSON + ',"id":"c-17"}',
        Annotate(ADD_ARROW, "c-17"),
    ),
    (
        '{"v":1,"type":"annotate","op":{"v":1,"op":"clear","seq":0,"author":"p-0a1b2c3d",'
        '"scope":"all","source":"Laparoscope"}}',
        Annotate(Clear(ClearScope.ALL, "Laparoscope", author=LI.id)),
    ),
    (
        '{"v":1,"type":"annotate","op":{"v":1,"op":"undo","seq":0,"author":"p-0a1b2c3d"},"id":3}',
        Annotate(Undo(LI.id), id=3),
    ),
    (
        '{"v":1,"type":"grant-draw","to":"p-5e6f7a8b","allowed":true}',
        GrantDraw(DMITRY.id, allowed=True),
    ),
    (
        '{"v":1,"type":"grant-draw","to":"p-5e6f7a8b","allowed":false,"id":"g-2"}',
        GrantDraw(DMITRY.id, allowed=False, id="g-2"),
    ),
]

SERVER_CASES: list[tuple[str, ServerMessage]] = [
    (
        '{"v":1,"type":"annotation","from":"p-0a1b2c3d","op":' + SERVER_ARROW_JSON + "}",
        Annotation(LI.id, SERVER_ARROW),
    ),
    (
        '{"v":1,"type":"annotation","from":"p-0a1b2c3d","op":'
        + SERVER_ARROW_JSON
        + ',"ref":"c-17"}',
        Annotation(LI.id, SERVER_ARROW, ref="c-17"),
    ),
    (
        '{"v":1,"type":"annotations","ops":[' + SERVER_ARROW_JSON + '],"seq":42}',
        AnnotationSnapshot((SERVER_ARROW,), 42),
    ),
    (
        '{"v":1,"type":"annotations","ops":[],"seq":43,"ref":5}',
        AnnotationSnapshot((), 43, ref=5),
    ),
]


@pytest.mark.parametrize(("text", "message"), CLIENT_CASES)
def test_client_message_round_trips_from_literal_json(text: str, message: ClientMessage) -> None:
    assert parse_client(text) == message
    assert serialize(message) == text


@pytest.mark.parametrize(("text", "message"), SERVER_CASES)
def test_server_message_round_trips_from_literal_json(text: str, message: ServerMessage) -> None:
    assert parse_server(text) == message
    assert serialize(message) == text


def _annotate(op: object, **shape: object) -> str:
    """An annotate message around ``op``, or around the test arrow with ``shape`` changes."""
    if op is _ARROW:
        arrow = json.loads(ADD_ARROW_JSON)
        arrow["shape"].update(shape)
        op = arrow
    return json.dumps({"v": 1, "type": "annotate", "op": op}, ensure_ascii=False)


_ARROW = object()

BAD_CLIENT_INPUT = [
    # (frame, code, words the explanation must contain)
    ('{"v":1,"type":"annotate"}', "bad-message", "'op' is missing"),
    (_annotate("undo"), "bad-annotation", "field 'op' must be an annotation op"),
    (_annotate(None), "bad-annotation", "field 'op' must be an annotation op, a JSON object"),
    (_annotate({"v": 1, "op": "dance"}), "bad-annotation", "field 'op.op' must be one of add"),
    (_annotate({"v": 2, "op": "undo", "author": "p-1"}), "bad-annotation", "field 'op.v' must"),
    (_annotate({"op": "undo"}), "bad-annotation", "field 'op.author' is missing"),
    (
        _annotate({"op": "undo", "author": "p-1", "seq": 4}),
        "bad-annotation",
        "field 'op.seq' must be 0 in an annotate message (got 4)",
    ),
    (
        _annotate(_ARROW, start=[1.5, 0.5]),
        "bad-annotation",
        "field 'op.shape.start[0]' must be from 0 to 1",
    ),
    (_annotate(_ARROW, kind="laser"), "bad-annotation", "field 'op.shape.kind' must be one of"),
    (_annotate(_ARROW, glow=True), "bad-annotation", "unknown field 'op.shape.glow'"),
    (_annotate(_ARROW, colour="red"), "bad-annotation", "field 'op.shape.colour'"),
    (
        '{"v":1,"type":"annotate","op":' + ADD_ARROW_JSON + ',"from":"p-0a1b2c3d"}',
        "bad-message",
        "unknown field 'from'",
    ),
    ('{"v":1,"type":"grant-draw","allowed":true}', "bad-message", "'to' is missing"),
    ('{"v":1,"type":"grant-draw","to":"p-1"}', "bad-message", "'allowed' is missing"),
    (
        '{"v":1,"type":"grant-draw","to":"p-1","allowed":"yes"}',
        "bad-message",
        "'allowed' must be true or false",
    ),
    ('{"v":1,"type":"grant-draw","to":"","allowed":true}', "bad-message", "'to' must not be"),
]


@pytest.mark.parametrize(("raw", "code", "explanation"), BAD_CLIENT_INPUT)
def test_bad_client_input_is_refused_with_code_and_explanation(
    raw: str, code: str, explanation: str
) -> None:
    error = refused(raw)
    assert error.code == code
    assert explanation in error.message


BAD_SERVER_INPUT = [
    ('{"v":1,"type":"annotation","from":"p-1","op":"undo"}', "bad-annotation"),
    ('{"v":1,"type":"annotation","from":"p-1","op":{"op":"undo"}}', "bad-annotation"),
    ('{"v":1,"type":"annotation","op":' + SERVER_ARROW_JSON + "}", "bad-message"),
    ('{"v":1,"type":"annotations","ops":{},"seq":1}', "bad-message"),
    ('{"v":1,"type":"annotations","ops":[]}', "bad-message"),
    ('{"v":1,"type":"annotations","ops":[],"seq":-1}', "bad-message"),
    ('{"v":1,"type":"annotations","ops":[{"op":"redo"}],"seq":1}', "bad-annotation"),
]


@pytest.mark.parametrize(("raw", "code"), BAD_SERVER_INPUT)
def test_bad_server_input_is_refused(raw: str | bytes, code: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_server(raw)
    assert caught.value.code == code


def test_bad_annotation_is_the_annotation_core_code() -> None:
    assert ErrorCode.BAD_ANNOTATION == BAD_ANNOTATION == "bad-annotation"


def test_annotate_errors_name_the_field_inside_the_op() -> None:
    error = refused(_annotate(_ARROW, start=[0.25, "0.5"]))
    assert error.code == ErrorCode.BAD_ANNOTATION
    assert error.message.startswith("field 'op.shape.start[1]' must be a number")


def test_snapshot_errors_name_the_op() -> None:
    raw = (
        '{"v":1,"type":"annotations","ops":[' + SERVER_ARROW_JSON + ","
        '{"v":1,"op":"remove","seq":42,"author":"p-1"}],"seq":42}'
    )
    with pytest.raises(ProtocolError, match=r"field 'ops\[1\]\.id' is missing"):
        parse_server(raw)


def test_a_pointer_update_rides_in_annotate_and_annotation() -> None:
    pointer = Pointer(
        id="p-0a1b2c3d:ptr",
        author=LI.id,
        source="Laparoscope",
        colour="#00ff00",
        width=0.01,
        at=(0.5, 0.25),
    )
    annotate = Annotate(Update(pointer), id="c-18")
    assert parse_client(serialize(annotate)) == annotate
    relayed = Annotation(LI.id, Update(pointer, seq=7))
    assert parse_server(serialize(relayed)) == relayed
    assert '"ref"' not in serialize(relayed)  # only the author's copy carries one


def test_parse_server_ignores_unknown_fields_inside_ops() -> None:
    op = json.loads(SERVER_ARROW_JSON)
    op["shape"]["glow"] = True
    op["signed"] = "x"
    text = json.dumps({"v": 1, "type": "annotation", "from": LI.id, "op": op, "new": 1})
    assert parse_server(text) == Annotation(LI.id, SERVER_ARROW)


def test_annotate_refuses_an_op_the_server_already_numbered() -> None:
    with pytest.raises(ProtocolError, match=r"'op\.seq' must be 0") as caught:
        Annotate(Undo(LI.id, seq=3))
    assert caught.value.code == ErrorCode.BAD_ANNOTATION


def test_drawing_rights_are_checked_when_built_in_python() -> None:
    with pytest.raises(ProtocolError, match="'can_draw' must be true or false"):
        ParticipantInfo("p-1", "A", Role.TRAINEE, can_draw=1)  # type: ignore[arg-type]
    with pytest.raises(ProtocolError, match="'allowed' must be true or false"):
        GrantDraw("p-1", allowed=None)  # type: ignore[arg-type]
    with pytest.raises(ProtocolError, match="'seq' must be an integer from 0"):
        AnnotationSnapshot((), seq=True)  # type: ignore[arg-type]
    assert AnnotationSnapshot([ADD_ARROW], 0).ops == (ADD_ARROW,)  # type: ignore[arg-type]
