"""The v1 wire format: every message from a literal string, and every way to get it wrong."""

from __future__ import annotations

import json

import pytest

from surgery_teach.errors import ProtocolError
from surgery_teach.protocol.messages import (
    MAX_MESSAGE_BYTES,
    MAX_SDP_BYTES,
    Answer,
    Candidate,
    ClientMessage,
    ErrorCode,
    ErrorReply,
    Join,
    Joined,
    Leave,
    Left,
    Offer,
    ParticipantInfo,
    Ping,
    Pong,
    Relayed,
    Role,
    ServerMessage,
    Signal,
    TrackInfo,
    Welcome,
    message_ref,
    parse_client,
    parse_server,
    serialize,
)

LI = ParticipantInfo("p-0a1b2c3d", "Dr Li", Role.MENTOR)
IVANOVA = ParticipantInfo("p-99aa88bb", "Иванова А. П.", Role.SURGEON)
OFFER_JSON = (
    '{"kind":"offer","sdp":"v=0\\r\\no=- 1 1 IN IP4 0.0.0.0\\r\\n",'
    '"tracks":[{"track_id":"abc","label":"Laparoscope","source":"synthetic:1280x720@30"},'
    '{"track_id":"def","label":"Room camera","source":""}]}'
)
OFFER = Offer(
    "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n",
    (
        TrackInfo("abc", "Laparoscope", "synthetic:1280x720@30"),
        TrackInfo("def", "Room camera"),
    ),
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
    ('{"v":1,"type":"signal","to":"p-0a1b2c3d","data":' + OFFER_JSON + "}", Signal(LI.id, OFFER)),
    (
        '{"v":1,"type":"signal","to":"p-1","data":{"kind":"offer","sdp":"v=0"},"id":3}',
        Signal("p-1", Offer("v=0"), id=3),
    ),
    (
        '{"v":1,"type":"signal","to":"p-1","data":{"kind":"answer","sdp":"v=0\\r\\n"}}',
        Signal("p-1", Answer("v=0\r\n")),
    ),
    (
        '{"v":1,"type":"signal","to":"p-1","data":{"kind":"candidate",'
        '"candidate":"candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host",'
        '"sdpMid":"0","sdpMLineIndex":0}}',
        Signal(
            "p-1",
            Candidate("candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host", "0", 0),
        ),
    ),
    (
        '{"v":1,"type":"signal","to":"p-1","data":{"kind":"candidate","candidate":"",'
        '"sdpMid":null,"sdpMLineIndex":null}}',
        Signal("p-1", Candidate("", None, None)),
    ),
]

SERVER_CASES: list[tuple[str, ServerMessage]] = [
    (
        '{"v":1,"type":"welcome","room":"chole-2026-11-25",'
        '"you":{"id":"p-0a1b2c3d","name":"Dr Li","role":"mentor"},'
        '"participants":[{"id":"p-99aa88bb","name":"Иванова А. П.","role":"surgeon"}],'
        '"server_version":"0.1.0"}',
        Welcome("chole-2026-11-25", LI, (IVANOVA,), "0.1.0"),
    ),
    (
        '{"v":1,"type":"welcome","room":"r","you":{"id":"p-0a1b2c3d","name":"Dr Li",'
        '"role":"mentor"},"participants":[],"server_version":"0.1.0"}',
        Welcome("r", LI, (), "0.1.0"),
    ),
    (
        '{"v":1,"type":"joined","participant":{"id":"p-99aa88bb","name":"Иванова А. П.",'
        '"role":"surgeon"}}',
        Joined(IVANOVA),
    ),
    (
        '{"v":1,"type":"left","participant":{"id":"p-0a1b2c3d","name":"Dr Li",'
        '"role":"mentor"},"reason":"disconnect"}',
        Left(LI, "disconnect"),
    ),
    (
        '{"v":1,"type":"signal","from":"p-0a1b2c3d","data":' + OFFER_JSON + "}",
        Relayed(LI.id, OFFER),
    ),
    (
        '{"v":1,"type":"signal","from":"p-1","data":{"kind":"answer","sdp":"v=0"}}',
        Relayed("p-1", Answer("v=0")),
    ),
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
]


@pytest.mark.parametrize(("text", "message"), CLIENT_CASES)
def test_client_message_round_trips_from_literal_json(text: str, message: ClientMessage) -> None:
    assert parse_client(text) == message
    assert serialize(message) == text


@pytest.mark.parametrize(("text", "message"), SERVER_CASES)
def test_server_message_round_trips_from_literal_json(text: str, message: ServerMessage) -> None:
    assert parse_server(text) == message
    assert serialize(message) == text


def test_serialize_puts_version_and_type_first_and_keeps_unicode_readable() -> None:
    text = serialize(Join("r", "Дмитрий 王", Role.TRAINEE))
    assert text.startswith('{"v":1,"type":"join",')
    assert "Дмитрий 王" in text


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


def test_parse_accepts_any_key_order_and_whitespace() -> None:
    text = '{ "role" : "surgeon", "name": "A", "type": "join", "room": "r", "v": 1 }'
    assert parse_client(text) == Join("r", "A", Role.SURGEON)


def test_constructors_take_role_strings_and_reject_bad_values_early() -> None:
    assert Join("r", "A", "trainee").role is Role.TRAINEE  # type: ignore[arg-type]
    with pytest.raises(ProtocolError, match="'room'"):
        Join("no spaces", "A", Role.MENTOR)
    with pytest.raises(ProtocolError, match="'role'"):
        ParticipantInfo("p-1", "A", "nurse")  # type: ignore[arg-type]


def test_parse_server_ignores_unknown_fields_for_forward_compatibility() -> None:
    text = (
        '{"v":1,"type":"joined","participant":{"id":"p-1","name":"A","role":"mentor",'
        '"muted":true},"future":{"x":1}}'
    )
    assert parse_server(text) == Joined(ParticipantInfo("p-1", "A", Role.MENTOR))
    relayed = parse_server(
        '{"v":1,"type":"signal","from":"p-1","data":{"kind":"answer","sdp":"v=0","new":1}}'
    )
    assert relayed == Relayed("p-1", Answer("v=0"))


def test_parse_server_accepts_utf8_bytes() -> None:
    text = '{"v":1,"type":"pong","server_time":1,"rooms":0,"participants":0}'
    assert parse_server(text.encode()) == Pong(1.0, 0, 0)


def _refused(raw: str | bytes, **kwargs: int) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        parse_client(raw, **kwargs)
    return caught.value


def _join(**fields: object) -> str:
    body: dict[str, object] = {"v": 1, "type": "join", "room": "r", "name": "A", "role": "mentor"}
    body.update(fields)
    return json.dumps({k: v for k, v in body.items() if v is not _DROP})


def _signal(data: object) -> str:
    return json.dumps({"v": 1, "type": "signal", "to": "p-1", "data": data})


_DROP = object()
_BIG_SDP = "v=0\r\n" + "a" * MAX_SDP_BYTES
_TRACK = {"track_id": "t", "label": "Laparoscope"}

BAD_CLIENT_INPUT = [
    # (frame, code, words the explanation must contain)
    ("", "bad-json", "not valid JSON"),
    ("hello", "bad-json", "not valid JSON"),
    ('{"v":1,"type":"ping"', "bad-json", "not valid JSON"),
    ('{"v":1,"type":"ping","id":NaN}', "bad-json", "NaN"),
    ("[" * 100_000 + "]" * 100_000, "bad-json", "nested too deeply"),
    ('"ping"', "bad-message", "JSON object"),
    ("[1,2]", "bad-message", "got an array"),
    ("null", "bad-message", "got null"),
    ('{"type":"ping"}', "bad-message", "'v' is missing"),
    ('{"v":"1","type":"ping"}', "bad-message", "'v' must be the integer 1"),
    ('{"v":true,"type":"ping"}', "bad-message", "'v' must be the integer 1"),
    ('{"v":1.0,"type":"ping"}', "bad-message", "'v' must be the integer 1"),
    ('{"v":2,"type":"ping"}', "unsupported-version", "version 2"),
    ('{"v":0,"type":"ping"}', "unsupported-version", "version 0"),
    ('{"v":1}', "bad-message", "'type' is missing"),
    ('{"v":1,"type":7}', "bad-message", "'type' must be a string"),
    ('{"v":1,"type":"dance"}', "unknown-type", "'dance'"),
    ('{"v":1,"type":"welcome"}', "unknown-type", "join, leave, signal, ping"),
    ('{"v":1,"type":"ping","v":1}', "bad-message", "'v' appears twice"),
    ('{"v":1,"type":"ping","extra":1}', "bad-message", "unknown field 'extra'"),
    ('{"v":1,"type":"ping","id":true}', "bad-message", "'id'"),
    ('{"v":1,"type":"ping","id":""}', "bad-message", "'id' must not be empty"),
    ('{"v":1,"type":"ping","id":1.5}', "bad-message", "'id'"),
    ('{"v":1,"type":"ping","id":9007199254740993}', "bad-message", "'id' must be between"),
    ('{"v":1,"type":"ping","id":"' + "x" * 65 + '"}', "bad-message", "'id' is 65 characters"),
    ('{"v":1,"type":"ping","id":"\\ud800"}', "bad-message", "surrogate"),
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
    ('{"v":1,"type":"signal","data":{"kind":"answer","sdp":"v=0"}}', "bad-message", "'to'"),
    ('{"v":1,"type":"signal","to":"","data":{"kind":"answer","sdp":"v=0"}}', "bad-message", "'to'"),
    ('{"v":1,"type":"signal","to":"p-1"}', "bad-message", "'data' is missing"),
    (_signal("offer"), "bad-message", "'data' must be a JSON object"),
    (_signal({"sdp": "v=0"}), "bad-message", "'data.kind'"),
    (_signal({"kind": "bye"}), "bad-message", "'data.kind'"),
    (_signal({"kind": "answer"}), "bad-message", "'data.sdp' is missing"),
    (_signal({"kind": "answer", "sdp": ""}), "bad-message", "'data.sdp' must not be empty"),
    (_signal({"kind": "answer", "sdp": 1}), "bad-message", "'data.sdp' must be a string"),
    (_signal({"kind": "answer", "sdp": _BIG_SDP}), "bad-message", "'data.sdp' is 131077 bytes"),
    (_signal({"kind": "answer", "sdp": "v=0", "x": 1}), "bad-message", "'data.x'"),
    (_signal({"kind": "offer", "sdp": "v=0", "tracks": {}}), "bad-message", "'data.tracks'"),
    (
        _signal({"kind": "offer", "sdp": "v=0", "tracks": [_TRACK] * 17}),
        "bad-message",
        "'data.tracks' lists 17 tracks",
    ),
    (_signal({"kind": "offer", "sdp": "v=0", "tracks": [1]}), "bad-message", "'data.tracks[0]'"),
    (
        _signal({"kind": "offer", "sdp": "v=0", "tracks": [_TRACK, {"track_id": "t"}]}),
        "bad-message",
        "'data.tracks[1].label' is missing",
    ),
    (
        _signal({"kind": "offer", "sdp": "v=0", "tracks": [{**_TRACK, "label": "L" * 65}]}),
        "bad-message",
        "'data.tracks[0].label' is 65",
    ),
    (
        _signal({"kind": "offer", "sdp": "v=0", "tracks": [{**_TRACK, "track_id": "x" * 65}]}),
        "bad-message",
        "'data.tracks[0].track_id' is 65",
    ),
    (
        _signal({"kind": "offer", "sdp": "v=0", "tracks": [{**_TRACK, "source": "s" * 257}]}),
        "bad-message",
        "'data.tracks[0].source' is 257",
    ),
    (
        _signal({"kind": "offer", "sdp": "v=0", "tracks": [{**_TRACK, "kind": "video"}]}),
        "bad-message",
        "unknown field 'data.tracks[0].kind'",
    ),
    (
        _signal({"kind": "offer", "sdp": "v=0", "tracks": [_TRACK, _TRACK]}),
        "bad-message",
        "'data.tracks' names track_id 't' twice",
    ),
    (_signal({"kind": "candidate"}), "bad-message", "'data.candidate' is missing"),
    (
        _signal({"kind": "candidate", "candidate": "c", "sdpMLineIndex": "0"}),
        "bad-message",
        "'data.sdpMLineIndex' must be an integer",
    ),
    (
        _signal({"kind": "candidate", "candidate": "c", "sdpMLineIndex": -1}),
        "bad-message",
        "'data.sdpMLineIndex' must be an integer from 0",
    ),
    (
        _signal({"kind": "candidate", "candidate": "c", "sdpMid": 0}),
        "bad-message",
        "'data.sdpMid' must be a string",
    ),
    (
        _signal({"kind": "candidate", "candidate": "c", "usernameFragment": "u"}),
        "bad-message",
        "unknown field 'data.usernameFragment'",
    ),
]


@pytest.mark.parametrize(("raw", "code", "explanation"), BAD_CLIENT_INPUT)
def test_bad_client_input_is_refused_with_code_and_explanation(
    raw: str, code: str, explanation: str
) -> None:
    error = _refused(raw)
    assert error.code == code
    assert explanation in error.message


def test_message_over_the_size_limit_is_too_large() -> None:
    error = _refused('{"v":1,"type":"ping","id":"' + "x" * MAX_MESSAGE_BYTES + '"}')
    assert error.code == ErrorCode.TOO_LARGE
    assert f"limit is {MAX_MESSAGE_BYTES} bytes" in error.message


def test_size_limit_counts_utf8_bytes_not_characters() -> None:
    # 100 000 three-byte characters: under the limit in characters, over it in bytes.
    assert _refused("王" * 100_000).code == ErrorCode.TOO_LARGE


def test_size_limit_is_configurable() -> None:
    assert _refused('{"v":1,"type":"ping"}', max_bytes=10).code == ErrorCode.TOO_LARGE


def test_binary_frame_is_refused_even_with_valid_json() -> None:
    error = _refused(b'{"v":1,"type":"ping"}')
    assert error.code == ErrorCode.BAD_MESSAGE
    assert "text frame" in error.message
    assert _refused(b"x" * (MAX_MESSAGE_BYTES + 1)).code == ErrorCode.TOO_LARGE


def test_sdp_at_the_limit_is_accepted() -> None:
    sdp = "v=0\r\n" + "a" * (MAX_SDP_BYTES - 5)
    message = parse_client(_signal({"kind": "offer", "sdp": sdp}))
    assert isinstance(message, Signal)
    assert message.data == Offer(sdp)


@pytest.mark.parametrize(
    ("raw", "ref"),
    [
        ('{"v":1,"type":"dance","id":"d-1"}', "d-1"),
        ('{"v":9,"type":"ping","id":12}', 12),
        ('{"v":1,"type":"ping","id":true}', None),
        ('{"v":1,"type":"ping","id":"' + "x" * 65 + '"}', None),
        ('["id"]', None),
        ("not json", None),
        (b'{"v":1,"type":"ping","id":"b"}', None),
    ],
)
def test_message_ref_recovers_a_valid_id_from_a_refused_frame(
    raw: str | bytes, ref: object
) -> None:
    assert message_ref(raw) == ref


BAD_SERVER_INPUT = [
    ("nope", "bad-json"),
    (b"\xff\xfe", "bad-json"),
    ('{"v":2,"type":"pong"}', "unsupported-version"),
    ('{"v":1,"type":"join"}', "unknown-type"),
    ('{"v":1,"type":"pong","server_time":"now","rooms":1,"participants":1}', "bad-message"),
    ('{"v":1,"type":"pong","server_time":1e999,"rooms":1,"participants":1}', "bad-message"),
    ('{"v":1,"type":"joined"}', "bad-message"),
    ('{"v":1,"type":"joined","participant":{"id":"p-1","name":"A","role":"x"}}', "bad-message"),
    ('{"v":1,"type":"signal","from":"p-1","data":{"kind":"offer"}}', "bad-message"),
    ('{"v":1,"type":"error","code":"x","message":"y","ref":[1]}', "bad-message"),
]


@pytest.mark.parametrize(("raw", "code"), BAD_SERVER_INPUT)
def test_bad_server_input_is_refused(raw: str | bytes, code: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_server(raw)
    assert caught.value.code == code


def test_nested_participant_errors_name_the_path() -> None:
    raw = (
        '{"v":1,"type":"welcome","room":"r","you":{"id":"p-1","name":"A","role":"mentor"},'
        '"participants":[{"id":"p-2","name":"","role":"mentor"}],"server_version":"0.1.0"}'
    )
    with pytest.raises(ProtocolError, match=r"'participants\[0\]\.name'"):
        parse_server(raw)
