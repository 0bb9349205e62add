"""The envelope every v1 message shares, from literal strings: JSON, version, type, size, ids."""

from __future__ import annotations

import pytest

from surgery_teach.errors import ProtocolError
from surgery_teach.protocol.messages import (
    MAX_MESSAGE_BYTES,
    Answer,
    ErrorCode,
    Join,
    Joined,
    ParticipantInfo,
    Pong,
    Publishes,
    Relayed,
    Role,
    message_ref,
    parse_client,
    parse_server,
    serialize,
)
from surgery_teach.protocol.messages.shares import MAX_CHUNK_FRAME_BYTES
from tests.protocol.messages.samples import refused


def test_serialize_puts_version_and_type_first_and_keeps_unicode_readable() -> None:
    text = serialize(Join("r", "Дмитрий 王", Role.TRAINEE))
    assert text.startswith('{"v":1,"type":"join",')
    assert "Дмитрий 王" in text


def test_parse_accepts_any_key_order_and_whitespace() -> None:
    text = '{ "role" : "surgeon", "name": "A", "type": "join", "room": "r", "v": 1 }'
    assert parse_client(text) == Join("r", "A", Role.SURGEON)


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


def test_parse_server_accepts_utf8_bytes() -> None:
    text = '{"v":1,"type":"pong","server_time":1,"rooms":0,"participants":0}'
    assert parse_server(text.encode()) == Pong(1.0, 0, 0)


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
    ('{"v":1,"type":"hello"}', "unknown-type", "join, leave, signal, ping, publish, chat"),
    ('{"v":1,"type":"hi"}', "unknown-type", "chat, annotate, grant-draw, remove"),
]


@pytest.mark.parametrize(("raw", "code", "explanation"), BAD_CLIENT_INPUT)
def test_bad_client_input_is_refused_with_code_and_explanation(
    raw: str, code: str, explanation: str
) -> None:
    error = refused(raw)
    assert error.code == code
    assert explanation in error.message


def test_message_over_the_size_limit_is_too_large() -> None:
    error = refused('{"v":1,"type":"ping","id":"' + "x" * MAX_MESSAGE_BYTES + '"}')
    assert error.code == ErrorCode.TOO_LARGE
    assert f"limit is {MAX_MESSAGE_BYTES} bytes" in error.message


def test_size_limit_counts_utf8_bytes_not_characters() -> None:
    # 100 000 three-byte characters: under the limit in characters, over it in bytes.
    assert refused("王" * 100_000).code == ErrorCode.TOO_LARGE


def test_size_limit_is_configurable() -> None:
    assert refused('{"v":1,"type":"ping"}', max_bytes=10).code == ErrorCode.TOO_LARGE


def test_binary_frame_is_refused_even_with_valid_json() -> None:
    """Binary frames carry only share chunks (``STS1``...); anything else is refused."""
    error = refused(b'{"v":1,"type":"ping"}')
    assert error.code == ErrorCode.BAD_MESSAGE
    assert "text frame" in error.message
    assert refused(b"x" * (MAX_CHUNK_FRAME_BYTES + 1)).code == ErrorCode.TOO_LARGE


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
]


@pytest.mark.parametrize(("raw", "code"), BAD_SERVER_INPUT)
def test_bad_server_input_is_refused(raw: str | bytes, code: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_server(raw)
    assert caught.value.code == code
