"""The v1 wire format: every message from a literal string, and every way to get it wrong."""

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
    MAX_CHAT_CHARS,
    MAX_MESSAGE_BYTES,
    MAX_SDP_BYTES,
    Annotate,
    Annotation,
    AnnotationSnapshot,
    Answer,
    Candidate,
    Chat,
    ChatHistory,
    ChatMessage,
    ClientMessage,
    ErrorCode,
    ErrorReply,
    GrantDraw,
    Join,
    Joined,
    Leave,
    Left,
    Offer,
    ParticipantInfo,
    Ping,
    Pong,
    Publish,
    Publishes,
    Relayed,
    RemoveParticipant,
    Role,
    ServerMessage,
    Signal,
    TrackInfo,
    Updated,
    Welcome,
    message_ref,
    parse_client,
    parse_server,
    serialize,
)

LI = ParticipantInfo("p-0a1b2c3d", "Dr Li", Role.MENTOR, can_draw=True)
IVANOVA = ParticipantInfo(
    "p-99aa88bb", "Иванова А. П.", Role.SURGEON, Publishes(2, True), can_draw=True
)
DMITRY = ParticipantInfo("p-5e6f7a8b", "Дмитрий", Role.TRAINEE, Publishes(audio=True))
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
CHAT_LI_JSON = (
    '{"from":"p-0a1b2c3d","name":"Dr Li","role":"mentor",'
    '"text":"Please show Calot\'s triangle","time":1764099000.123,"seq":17}'
)
CHAT_LI = ChatMessage(
    LI.id, "Dr Li", Role.MENTOR, "Please show Calot's triangle", 1764099000.123, 17
)
CHAT_IVANOVA_JSON = (
    '{"from":"p-99aa88bb","name":"Иванова А. П.","role":"surgeon",'
    '"text":"Это пузырная артерия.\\n看这里","time":1764099002.5,"seq":18}'
)
CHAT_IVANOVA = ChatMessage(
    IVANOVA.id, IVANOVA.name, Role.SURGEON, "Это пузырная артерия.\n看这里", 1764099002.5, 18
)
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
    (
        '{"v":1,"type":"signal","to":"p-1","data":{"kind":"candidate",'
        '"candidate":"candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host",'
        '"sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"Xq3b"}}',
        Signal(
            "p-1",
            Candidate("candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host", "0", 0, "Xq3b"),
        ),
    ),
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
    (
        '{"v":1,"type":"chat","text":"Please show Calot\'s triangle"}',
        Chat("Please show Calot's triangle"),
    ),
    (
        '{"v":1,"type":"chat","text":"请放大胆囊三角\\nПокажите ещё раз 👩‍⚕️","id":"c-1"}',
        Chat("请放大胆囊三角\nПокажите ещё раз 👩‍⚕️", id="c-1"),
    ),
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
    ('{"v":1,"type":"chat",' + CHAT_LI_JSON[1:], CHAT_LI),
    (
        '{"v":1,"type":"chat-history","messages":[' + CHAT_LI_JSON + "," + CHAT_IVANOVA_JSON + "]}",
        ChatHistory((CHAT_LI, CHAT_IVANOVA)),
    ),
    ('{"v":1,"type":"chat-history","messages":[]}', ChatHistory(())),
    (
        '{"v":1,"type":"signal","from":"p-1","data":{"kind":"candidate","candidate":"",'
        '"sdpMid":"0","sdpMLineIndex":0,"usernameFragment":""}}',
        Relayed("p-1", Candidate("", "0", 0, "")),
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
    ('{"v":1,"type":"joined","participant":' + DMITRY_JSON + "}", Joined(DMITRY)),
    (
        '{"v":1,"type":"updated","participant":{"id":"p-5e6f7a8b","name":"Дмитрий",'
        '"role":"trainee","publishes":{"video":0,"audio":true},"can_draw":true}}',
        Updated(ParticipantInfo(DMITRY.id, DMITRY.name, Role.TRAINEE, DMITRY.publishes, True)),
    ),
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
        '"muted":true,"publishes":{"video":1,"screen":true}},"future":{"x":1}}'
    )
    assert parse_server(text) == Joined(ParticipantInfo("p-1", "A", Role.MENTOR, Publishes(1)))
    relayed = parse_server(
        '{"v":1,"type":"signal","from":"p-1","data":{"kind":"answer","sdp":"v=0","new":1}}'
    )
    assert relayed == Relayed("p-1", Answer("v=0"))


@pytest.mark.parametrize(
    "text",
    [
        '{"v":1,"type":"joined","participant":{"id":"p-1","name":"A","role":"mentor"}}',
        '{"v":1,"type":"updated","participant":{"id":"p-1","name":"A","role":"mentor"}}',
        '{"v":1,"type":"left","participant":{"id":"p-1","name":"A","role":"mentor"},'
        '"reason":"leave"}',
        '{"v":1,"type":"welcome","room":"r","you":{"id":"p-1","name":"A","role":"mentor"},'
        '"participants":[{"id":"p-1","name":"A","role":"mentor"}],"server_version":"0.1.0"}',
    ],
)
def test_parse_server_reads_a_participant_without_publishes_as_publishing_nothing(
    text: str,
) -> None:
    """Servers from before ``publishes`` existed leave it out of participant objects."""
    message = parse_server(text)
    participants = (
        (message.you, *message.participants)
        if isinstance(message, Welcome)
        else (message.participant,)  # type: ignore[union-attr]
    )
    for participant in participants:
        assert participant == ParticipantInfo("p-1", "A", Role.MENTOR)
        assert participant.publishes == Publishes(video=0, audio=False)
        assert participant.can_draw is False  # nor can_draw: read as not drawing


def test_publishes_defaults_to_nothing_and_any_says_whether_media_is_sent() -> None:
    assert Publishes() == Publishes(video=0, audio=False)
    assert not Publishes().any
    assert Publishes(video=1).any
    assert Publishes(audio=True).any
    assert ParticipantInfo("p-1", "A", Role.MENTOR).publishes == Publishes()
    assert Join("r", "A", Role.MENTOR).publishes == Publishes()


def test_publishes_checks_its_values_when_built_in_python() -> None:
    with pytest.raises(ProtocolError, match="'video' must be a number of video tracks from 0"):
        Publishes(video=9)
    with pytest.raises(ProtocolError, match="'video' must be an integer"):
        Publishes(video=True)
    with pytest.raises(ProtocolError, match="'audio' must be true or false"):
        Publishes(audio=1)  # type: ignore[arg-type]


def test_a_join_publishing_nothing_leaves_publishes_out_so_older_servers_accept_it() -> None:
    text = '{"v":1,"type":"join","room":"r","name":"A","role":"student"}'
    explicit = '{"v":1,"type":"join","room":"r","name":"A","role":"student",' + (
        '"publishes":{"video":0,"audio":false}}'
    )
    assert parse_client(explicit) == parse_client(text)
    assert serialize(parse_client(explicit)) == text


def test_publishes_fields_are_each_optional() -> None:
    text = '{"v":1,"type":"publish","publishes":{"audio":true}}'
    assert parse_client(text) == Publish(Publishes(video=0, audio=True))
    assert parse_client('{"v":1,"type":"publish","publishes":{}}') == Publish(Publishes())


def test_chat_text_is_trimmed_and_keeps_inner_line_breaks() -> None:
    chat = parse_client('{"v":1,"type":"chat","text":"\\n  Clip here,\\nthen cut  \\n"}')
    assert chat == Chat("Clip here,\nthen cut")
    assert Chat(" Да ").text == "Да"


def test_chat_text_limit_counts_characters_after_trimming() -> None:
    longest = "王" * MAX_CHAT_CHARS
    assert Chat(f"  {longest}\n").text == longest
    error = _refused(json.dumps({"v": 1, "type": "chat", "text": longest + "!"}))
    assert error.message == "field 'text' is 2001 characters long; the limit is 2000"


def test_chat_keeps_invisible_characters_that_names_refuse() -> None:
    # Zero-width joiners build emoji; marks steer right-to-left text. Not controls.
    text = "👩‍⚕️ ok \u200f\u05e9\u05dc\u05d5\u05dd"
    assert Chat(text).text == text


def test_chat_errors_never_quote_the_text() -> None:
    """Clients log error messages; chat may hold patient details."""
    error = _refused(json.dumps({"v": 1, "type": "chat", "text": "Mrs Patient\tbed 4"}))
    assert "Patient" not in error.message
    assert error.message == (
        "field 'text' contains the control character U+0009 (tab) at character 12; "
        "only line breaks (\\n) are allowed"
    )


def test_chat_message_checks_its_values_when_built_in_python() -> None:
    with pytest.raises(ProtocolError, match="'seq' must be an integer from 1"):
        ChatMessage("p-1", "A", Role.MENTOR, "hi", 1.0, 0)
    with pytest.raises(ProtocolError, match="'time' must be a finite number"):
        ChatMessage("p-1", "A", Role.MENTOR, "hi", float("nan"), 1)
    with pytest.raises(ProtocolError, match="'from' must not be empty"):
        ChatMessage("", "A", Role.MENTOR, "hi", 1.0, 1)
    assert ChatMessage("p-1", "A", "student", "hi", 5, 1).role is Role.STUDENT  # type: ignore[arg-type]


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


def _annotate(op: object, **shape: object) -> str:
    """An annotate message around ``op``, or around the test arrow with ``shape`` changes."""
    if op is _ARROW:
        arrow = json.loads(ADD_ARROW_JSON)
        arrow["shape"].update(shape)
        op = arrow
    return json.dumps({"v": 1, "type": "annotate", "op": op}, ensure_ascii=False)


_DROP = object()
_ARROW = object()
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
        _signal({"kind": "candidate", "candidate": "c", "usernameFragment": 5}),
        "bad-message",
        "'data.usernameFragment' must be a string",
    ),
    (
        _signal({"kind": "candidate", "candidate": "c", "usernameFragment": "u" * 257}),
        "bad-message",
        "'data.usernameFragment' is 257 characters long; the limit is 256",
    ),
    (
        _signal({"kind": "candidate", "candidate": "c", "ufrag": "u"}),
        "bad-message",
        "unknown field 'data.ufrag'",
    ),
    ('{"v":1,"type":"hello"}', "unknown-type", "join, leave, signal, ping, publish, chat"),
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
    ('{"v":1,"type":"chat"}', "bad-message", "'text' is missing"),
    ('{"v":1,"type":"chat","text":null}', "bad-message", "'text' must be a string"),
    ('{"v":1,"type":"chat","text":["hi"]}', "bad-message", "'text' must be a string"),
    ('{"v":1,"type":"chat","text":""}', "bad-message", "'text' must contain at least one"),
    ('{"v":1,"type":"chat","text":" \\n\\t "}', "bad-message", "'text' must contain at least"),
    (
        json.dumps({"v": 1, "type": "chat", "text": "x" * 2001}),
        "bad-message",
        "'text' is 2001 characters long; the limit is 2000",
    ),
    ('{"v":1,"type":"chat","text":"a\\rb"}', "bad-message", "U+000D (carriage return) at"),
    ('{"v":1,"type":"chat","text":"a\\u0000b"}', "bad-message", "U+0000 (NUL) at character 2"),
    ('{"v":1,"type":"chat","text":" a\\u001bb"}', "bad-message", "U+001B at character 3"),
    ('{"v":1,"type":"chat","text":"a\\u007f"}', "bad-message", "control character U+007F"),
    ('{"v":1,"type":"chat","text":"a\\u0085b"}', "bad-message", "control character U+0085"),
    ('{"v":1,"type":"chat","text":"a\\ud800"}', "bad-message", "'text' contains an unpaired"),
    ('{"v":1,"type":"chat","text":"hi","to":"p-1"}', "bad-message", "unknown field 'to'"),
    (
        '{"v":1,"type":"chat","from":"p-1","name":"A","role":"mentor","text":"hi",'
        '"time":1,"seq":1}',
        "bad-message",
        "unknown field",
    ),
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
    ('{"v":1,"type":"remove"}', "bad-message", "'participant' is missing"),
    ('{"v":1,"type":"remove","participant":7}', "bad-message", "'participant' must be a string"),
    (
        '{"v":1,"type":"remove","participant":"p-1","reason":"rude"}',
        "bad-message",
        "unknown field 'reason'",
    ),
    ('{"v":1,"type":"hi"}', "unknown-type", "chat, annotate, grant-draw, remove"),
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
    ('{"v":1,"type":"updated"}', "bad-message"),
    (
        '{"v":1,"type":"updated","participant":{"id":"p-1","name":"A","role":"mentor",'
        '"publishes":{"video":9}}}',
        "bad-message",
    ),
    ('{"v":1,"type":"chat","text":"hi"}', "bad-message"),  # a client chat, not a server one
    (
        '{"v":1,"type":"chat","from":"p-1","name":"A","role":"mentor","text":"hi",'
        '"time":1,"seq":0}',
        "bad-message",
    ),
    ('{"v":1,"type":"chat-history","messages":{}}', "bad-message"),
    ('{"v":1,"type":"chat-history"}', "bad-message"),
    ('{"v":1,"type":"annotation","from":"p-1","op":"undo"}', "bad-annotation"),
    ('{"v":1,"type":"annotation","from":"p-1","op":{"op":"undo"}}', "bad-annotation"),
    ('{"v":1,"type":"annotation","op":' + SERVER_ARROW_JSON + "}", "bad-message"),
    ('{"v":1,"type":"annotations","ops":{},"seq":1}', "bad-message"),
    ('{"v":1,"type":"annotations","ops":[]}', "bad-message"),
    ('{"v":1,"type":"annotations","ops":[],"seq":-1}', "bad-message"),
    ('{"v":1,"type":"annotations","ops":[{"op":"redo"}],"seq":1}', "bad-annotation"),
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


def test_nested_participant_errors_name_the_path() -> None:
    raw = (
        '{"v":1,"type":"welcome","room":"r","you":{"id":"p-1","name":"A","role":"mentor"},'
        '"participants":[{"id":"p-2","name":"","role":"mentor"}],"server_version":"0.1.0"}'
    )
    with pytest.raises(ProtocolError, match=r"'participants\[0\]\.name'"):
        parse_server(raw)
    raw = (
        '{"v":1,"type":"joined","participant":{"id":"p-1","name":"A","role":"mentor",'
        '"publishes":{"audio":"yes"}}}'
    )
    with pytest.raises(ProtocolError, match=r"'participant\.publishes\.audio'"):
        parse_server(raw)


def test_chat_history_errors_name_the_message() -> None:
    raw = (
        '{"v":1,"type":"chat-history","messages":[' + CHAT_LI_JSON + ","
        '{"from":"p-1","name":"A","role":"mentor","text":"","time":1,"seq":2}]}'
    )
    with pytest.raises(ProtocolError, match=r"'messages\[1\]\.text' must contain"):
        parse_server(raw)


def test_answer_may_label_the_tracks_the_answerer_sends_back() -> None:
    raw = ('{"v":1,"type":"signal","to":"p-0a1b2c3d","data":{"kind":"answer","sdp":"v=0\\r\\n",'
           '"tracks":[{"track_id":"t1","label":"Консультант","source":"camera:0"}]}}')
    message = parse_client(raw)
    assert isinstance(message, Signal) and isinstance(message.data, Answer)
    assert message.data.tracks == (TrackInfo("t1", "Консультант", "camera:0"),)
    assert parse_client(serialize(message)) == message
    plain = parse_client('{"v":1,"type":"signal","to":"p-0a1b2c3d",'
                         '"data":{"kind":"answer","sdp":"v=0\\r\\n"}}')
    assert plain.data == Answer("v=0\r\n")  # type: ignore[union-attr]


def test_bad_annotation_is_the_annotation_core_code() -> None:
    assert ErrorCode.BAD_ANNOTATION == BAD_ANNOTATION == "bad-annotation"


def test_annotate_errors_name_the_field_inside_the_op() -> None:
    error = _refused(_annotate(_ARROW, start=[0.25, "0.5"]))
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
