"""Chat and chat history, from literal strings, and every way to get them wrong."""

from __future__ import annotations

import json

import pytest

from surgery_teach.errors import ProtocolError
from surgery_teach.protocol.messages import (
    MAX_CHAT_CHARS,
    Chat,
    ChatHistory,
    ChatMessage,
    ClientMessage,
    Role,
    ServerMessage,
    parse_client,
    parse_server,
    serialize,
)
from tests.protocol.messages.samples import IVANOVA, LI, refused

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

CLIENT_CASES: list[tuple[str, ClientMessage]] = [
    (
        '{"v":1,"type":"chat","text":"Please show Calot\'s triangle"}',
        Chat("Please show Calot's triangle"),
    ),
    (
        '{"v":1,"type":"chat","text":"请放大胆囊三角\\nПокажите ещё раз 👩‍⚕️","id":"c-1"}',
        Chat("请放大胆囊三角\nПокажите ещё раз 👩‍⚕️", id="c-1"),
    ),
]

SERVER_CASES: list[tuple[str, ServerMessage]] = [
    ('{"v":1,"type":"chat",' + CHAT_LI_JSON[1:], CHAT_LI),
    (
        '{"v":1,"type":"chat-history","messages":[' + CHAT_LI_JSON + "," + CHAT_IVANOVA_JSON + "]}",
        ChatHistory((CHAT_LI, CHAT_IVANOVA)),
    ),
    ('{"v":1,"type":"chat-history","messages":[]}', ChatHistory(())),
]


@pytest.mark.parametrize(("text", "message"), CLIENT_CASES)
def test_client_message_round_trips_from_literal_json(text: str, message: ClientMessage) -> None:
    assert parse_client(text) == message
    assert serialize(message) == text


@pytest.mark.parametrize(("text", "message"), SERVER_CASES)
def test_server_message_round_trips_from_literal_json(text: str, message: ServerMessage) -> None:
    assert parse_server(text) == message
    assert serialize(message) == text


def test_chat_text_is_trimmed_and_keeps_inner_line_breaks() -> None:
    chat = parse_client('{"v":1,"type":"chat","text":"\\n  Clip here,\\nthen cut  \\n"}')
    assert chat == Chat("Clip here,\nthen cut")
    assert Chat(" Да ").text == "Да"


def test_chat_text_limit_counts_characters_after_trimming() -> None:
    longest = "王" * MAX_CHAT_CHARS
    assert Chat(f"  {longest}\n").text == longest
    error = refused(json.dumps({"v": 1, "type": "chat", "text": longest + "!"}))
    assert error.message == "field 'text' is 2001 characters long; the limit is 2000"


def test_chat_keeps_invisible_characters_that_names_refuse() -> None:
    # Zero-width joiners build emoji; marks steer right-to-left text. Not controls.
    text = "👩‍⚕️ ok \u200f\u05e9\u05dc\u05d5\u05dd"
    assert Chat(text).text == text


def test_chat_errors_never_quote_the_text() -> None:
    """Clients log error messages; chat may hold patient details."""
    error = refused(json.dumps({"v": 1, "type": "chat", "text": "Mrs Patient\tbed 4"}))
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


BAD_CLIENT_INPUT = [
    # (frame, code, words the explanation must contain)
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
]


@pytest.mark.parametrize(("raw", "code", "explanation"), BAD_CLIENT_INPUT)
def test_bad_client_input_is_refused_with_code_and_explanation(
    raw: str, code: str, explanation: str
) -> None:
    error = refused(raw)
    assert error.code == code
    assert explanation in error.message


BAD_SERVER_INPUT = [
    ('{"v":1,"type":"chat","text":"hi"}', "bad-message"),  # a client chat, not a server one
    (
        '{"v":1,"type":"chat","from":"p-1","name":"A","role":"mentor","text":"hi",'
        '"time":1,"seq":0}',
        "bad-message",
    ),
    ('{"v":1,"type":"chat-history","messages":{}}', "bad-message"),
    ('{"v":1,"type":"chat-history"}', "bad-message"),
]


@pytest.mark.parametrize(("raw", "code"), BAD_SERVER_INPUT)
def test_bad_server_input_is_refused(raw: str | bytes, code: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_server(raw)
    assert caught.value.code == code


def test_chat_history_errors_name_the_message() -> None:
    raw = (
        '{"v":1,"type":"chat-history","messages":[' + CHAT_LI_JSON + ","
        '{"from":"p-1","name":"A","role":"mentor","text":"","time":1,"seq":2}]}'
    )
    with pytest.raises(ProtocolError, match=r"'messages\[1\]\.text' must contain"):
        parse_server(raw)
