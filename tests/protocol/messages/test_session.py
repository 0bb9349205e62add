"""Being in a room on the wire: join, leave, publish, ping, remove and the server's replies."""

from __future__ import annotations

import json

import pytest

from surgery_teach.errors import ProtocolError
from surgery_teach.protocol.messages import (
    ClientMessage,
    ErrorCode,
    ErrorReply,
    Join,
    Joined,
    Leave,
    Left,
    ParticipantInfo,
    Ping,
    Pong,
    Publish,
    Publishes,
    RemoveParticipant,
    Role,
    ServerMessage,
    TrackInfo,
    Updated,
    Welcome,
    parse_client,
    parse_server,
    serialize,
)
from tests.protocol.messages.samples import DMITRY, IVANOVA, LI, refused

LI_JSON = (
    '{"id":"p-0a1b2c3d","name":"Dr Li","role":"mentor","publishes":{"video":0,"audio":false},'
    '"can_draw":true}'
)
IVANOVA_JSON = (
    '{"id":"p-99aa88bb","name":"Иванова А. П.","role":"surgeon",'
    '"publishes":{"video":2,"audio":true},"can_draw":true}'
)
DMITRY_JSON = (
    '{"id":"p-5e6f7a8b","name":"Дмитрий","role":"trainee",'
    '"publishes":{"video":0,"audio":true},"can_draw":false}'
)

CLIENT_CASES: list[tuple[str, ClientMessage]] = [
    (
        '{"v":1,"type":"join","room":"chole-2026-11-25","name":"Dr Li","role":"mentor"}',
        Join("chole-2026-11-25", "Dr Li", Role.MENTOR),
    ),
    (
        '{"v":1,"type":"join","room":"A.b_9","name":"李明","role":"student","id":"j-1"}',
        Join("A.b_9", "李明", Role.STUDENT, id="j-1"),
    ),
    ('{"v":1,"type":"leave"}', Leave()),
    ('{"v":1,"type":"leave","id":42}', Leave(id=42)),
    ('{"v":1,"type":"ping"}', Ping()),
    ('{"v":1,"type":"ping","id":"x"}', Ping(id="x")),
    (
        '{"v":1,"type":"join","room":"chole-2026-11-25","name":"Иванова А. П.",'
        '"role":"surgeon","publishes":{"video":2,"audio":true}}',
        Join("chole-2026-11-25", "Иванова А. П.", Role.SURGEON, Publishes(2, True)),
    ),
    (
        '{"v":1,"type":"join","room":"r","name":"Дмитрий","role":"trainee",'
        '"publishes":{"video":0,"audio":true},"id":"j-2"}',
        Join("r", "Дмитрий", Role.TRAINEE, Publishes(audio=True), id="j-2"),
    ),
    (
        '{"v":1,"type":"publish","publishes":{"video":1,"audio":true}}',
        Publish(Publishes(1, True)),
    ),
    (
        '{"v":1,"type":"publish","publishes":{"video":0,"audio":false},"id":7}',
        Publish(Publishes(), id=7),
    ),
    ('{"v":1,"type":"remove","participant":"p-5e6f7a8b"}', RemoveParticipant(DMITRY.id)),
    (
        '{"v":1,"type":"remove","participant":"p-5e6f7a8b","id":"r-1"}',
        RemoveParticipant(DMITRY.id, id="r-1"),
    ),
]

SERVER_CASES: list[tuple[str, ServerMessage]] = [
    (
        '{"v":1,"type":"welcome","room":"chole-2026-11-25","you":' + LI_JSON + ","
        '"participants":[' + IVANOVA_JSON + '],"server_version":"0.1.0"}',
        Welcome("chole-2026-11-25", LI, (IVANOVA,), "0.1.0"),
    ),
    (
        '{"v":1,"type":"welcome","room":"r","you":' + LI_JSON + ","
        '"participants":[],"server_version":"0.1.0"}',
        Welcome("r", LI, (), "0.1.0"),
    ),
    ('{"v":1,"type":"joined","participant":' + IVANOVA_JSON + "}", Joined(IVANOVA)),
    (
        '{"v":1,"type":"left","participant":' + LI_JSON + ',"reason":"disconnect"}',
        Left(LI, "disconnect"),
    ),
    ('{"v":1,"type":"updated","participant":' + IVANOVA_JSON + "}", Updated(IVANOVA)),
    (
        '{"v":1,"type":"pong","server_time":1764099000.123,"rooms":3,"participants":7}',
        Pong(1764099000.123, 3, 7),
    ),
    (
        '{"v":1,"type":"error","code":"bad-json","message":"not JSON","ref":null}',
        ErrorReply("bad-json", "not JSON"),
    ),
    (
        '{"v":1,"type":"error","code":"room-full","message":"full","ref":"j-1"}',
        ErrorReply("room-full", "full", "j-1"),
    ),
    ('{"v":1,"type":"joined","participant":' + DMITRY_JSON + "}", Joined(DMITRY)),
    (
        '{"v":1,"type":"updated","participant":{"id":"p-5e6f7a8b","name":"Дмитрий",'
        '"role":"trainee","publishes":{"video":0,"audio":true},"can_draw":true}}',
        Updated(ParticipantInfo(DMITRY.id, DMITRY.name, Role.TRAINEE, DMITRY.publishes, True)),
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


def test_serialized_error_code_is_the_plain_string() -> None:
    text = serialize(ErrorReply(ErrorCode.ROOM_FULL, "full", 5))
    assert json.loads(text) == {
        "v": 1,
        "type": "error",
        "code": "room-full",
        "message": "full",
        "ref": 5,
    }


def test_names_and_labels_are_trimmed() -> None:
    join = parse_client('{"v":1,"type":"join","room":"r","name":"  Dr Li \\t","role":"mentor"}')
    assert isinstance(join, Join)
    assert join.name == "Dr Li"
    assert TrackInfo("a", "  Laparoscope ").label == "Laparoscope"


def test_constructors_take_role_strings_and_reject_bad_values_early() -> None:
    assert Join("r", "A", "trainee").role is Role.TRAINEE  # type: ignore[arg-type]
    with pytest.raises(ProtocolError, match="'room'"):
        Join("no spaces", "A", Role.MENTOR)
    with pytest.raises(ProtocolError, match="'role'"):
        ParticipantInfo("p-1", "A", "nurse")  # type: ignore[arg-type]


def test_a_join_publishing_nothing_leaves_publishes_out_so_older_servers_accept_it() -> None:
    text = '{"v":1,"type":"join","room":"r","name":"A","role":"student"}'
    explicit = '{"v":1,"type":"join","room":"r","name":"A","role":"student",' + (
        '"publishes":{"video":0,"audio":false}}'
    )
    assert parse_client(explicit) == parse_client(text)
    assert serialize(parse_client(explicit)) == text


def _join(**fields: object) -> str:
    body: dict[str, object] = {"v": 1, "type": "join", "room": "r", "name": "A", "role": "mentor"}
    body.update(fields)
    return json.dumps({k: v for k, v in body.items() if v is not _DROP})


_DROP = object()

BAD_CLIENT_INPUT = [
    # (frame, code, words the explanation must contain)
    (_join(room=_DROP), "bad-message", "'room' is missing"),
    (_join(room=5), "bad-message", "'room' must be a string"),
    (_join(room=""), "bad-message", "'room' must not be empty"),
    (_join(room="chole 2026"), "bad-message", "'room' may contain only"),
    (_join(room="ward/3"), "bad-message", "'room' may contain only"),
    (_join(room="операция"), "bad-message", "'room' may contain only"),
    (_join(room="r" * 65), "bad-message", "'room' is 65 characters"),
    (_join(name=_DROP), "bad-message", "'name' is missing"),
    (_join(name=None), "bad-message", "'name' must be a string"),
    (_join(name=""), "bad-message", "'name' must contain at least one visible"),
    (_join(name="   "), "bad-message", "'name' must contain at least one visible"),
    (_join(name="N" * 65), "bad-message", "'name' is 65 characters"),
    (_join(name="Dr\nLi"), "bad-message", "'name' contains a control"),
    (_join(name="Dr\u200bLi"), "bad-message", "'name' contains a control"),
    (_join(role="nurse"), "bad-message", "'role' must be one of surgeon, mentor"),
    (_join(role="Mentor"), "bad-message", "'role' must be one of"),
    (_join(role=1), "bad-message", "'role' must be a string"),
    (_join(colour="blue"), "bad-message", "unknown field 'colour'"),
    (_join(publishes=None), "bad-message", "'publishes' must be a JSON object (got null)"),
    (_join(publishes=2), "bad-message", "'publishes' must be a JSON object"),
    (_join(publishes=[2, True]), "bad-message", "'publishes' must be a JSON object"),
    (_join(publishes={"video": -1}), "bad-message", "'publishes.video' must be a number"),
    (
        _join(publishes={"video": 9, "audio": True}),
        "bad-message",
        "'publishes.video' must be a number of video tracks from 0 to 8 (got 9)",
    ),
    (_join(publishes={"video": "2"}), "bad-message", "'publishes.video' must be an integer"),
    (_join(publishes={"video": 1.0}), "bad-message", "'publishes.video' must be an integer"),
    (_join(publishes={"video": True}), "bad-message", "'publishes.video' must be an integer"),
    (_join(publishes={"audio": 1}), "bad-message", "'publishes.audio' must be true or false"),
    (_join(publishes={"audio": "on"}), "bad-message", "'publishes.audio' must be true or"),
    (
        _join(publishes={"video": 1, "screen": 1}),
        "bad-message",
        "unknown field 'publishes.screen' in a publishes object",
    ),
    ('{"v":1,"type":"publish"}', "bad-message", "'publishes' is missing"),
    ('{"v":1,"type":"publish","publishes":true}', "bad-message", "'publishes' must be a JSON"),
    (
        '{"v":1,"type":"publish","publishes":{"video":12}}',
        "bad-message",
        "'publishes.video' must be a number of video tracks from 0 to 8",
    ),
    (
        '{"v":1,"type":"publish","publishes":{},"video":1}',
        "bad-message",
        "unknown field 'video'",
    ),
    ('{"v":1,"type":"remove"}', "bad-message", "'participant' is missing"),
    ('{"v":1,"type":"remove","participant":7}', "bad-message", "'participant' must be a string"),
    (
        '{"v":1,"type":"remove","participant":"p-1","reason":"rude"}',
        "bad-message",
        "unknown field 'reason'",
    ),
]


@pytest.mark.parametrize(("raw", "code", "explanation"), BAD_CLIENT_INPUT)
def test_bad_client_input_is_refused_with_code_and_explanation(
    raw: str, code: str, explanation: str
) -> None:
    error = refused(raw)
    assert error.code == code
    assert explanation in error.message


BAD_SERVER_INPUT = [
    ('{"v":1,"type":"pong","server_time":"now","rooms":1,"participants":1}', "bad-message"),
    ('{"v":1,"type":"pong","server_time":1e999,"rooms":1,"participants":1}', "bad-message"),
    ('{"v":1,"type":"joined"}', "bad-message"),
    ('{"v":1,"type":"joined","participant":{"id":"p-1","name":"A","role":"x"}}', "bad-message"),
    ('{"v":1,"type":"error","code":"x","message":"y","ref":[1]}', "bad-message"),
    ('{"v":1,"type":"updated"}', "bad-message"),
    (
        '{"v":1,"type":"updated","participant":{"id":"p-1","name":"A","role":"mentor",'
        '"publishes":{"video":9}}}',
        "bad-message",
    ),
    (
        '{"v":1,"type":"updated","participant":{"id":"p-1","name":"A","role":"trainee",'
        '"can_draw":1}}',
        "bad-message",
    ),
]


@pytest.mark.parametrize(("raw", "code"), BAD_SERVER_INPUT)
def test_bad_server_input_is_refused(raw: str | bytes, code: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_server(raw)
    assert caught.value.code == code
