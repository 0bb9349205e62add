"""Signal messages on the wire: offers, answers, candidates, and every way to get them wrong."""

from __future__ import annotations

import json

import pytest

from surgery_teach.errors import ProtocolError
from surgery_teach.protocol.messages import (
    MAX_SDP_BYTES,
    Answer,
    Candidate,
    ClientMessage,
    Offer,
    Relayed,
    ServerMessage,
    Signal,
    TrackInfo,
    parse_client,
    parse_server,
    serialize,
)
from tests.protocol.messages.samples import LI, refused

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
]

SERVER_CASES: list[tuple[str, ServerMessage]] = [
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
]


@pytest.mark.parametrize(("text", "message"), CLIENT_CASES)
def test_client_message_round_trips_from_literal_json(text: str, message: ClientMessage) -> None:
    assert parse_client(text) == message
    assert serialize(message) == text


@pytest.mark.parametrize(("text", "message"), SERVER_CASES)
def test_server_message_round_trips_from_literal_json(text: str, message: ServerMessage) -> None:
    assert parse_server(text) == message
    assert serialize(message) == text


def _signal(data: object) -> str:
    return json.dumps({"v": 1, "type": "signal", "to": "p-1", "data": data})


_BIG_SDP = "v=0\r\n" + "a" * MAX_SDP_BYTES
_TRACK = {"track_id": "t", "label": "Laparoscope"}

BAD_CLIENT_INPUT = [
    # (frame, code, words the explanation must contain)
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
]


@pytest.mark.parametrize(("raw", "code", "explanation"), BAD_CLIENT_INPUT)
def test_bad_client_input_is_refused_with_code_and_explanation(
    raw: str, code: str, explanation: str
) -> None:
    error = refused(raw)
    assert error.code == code
    assert explanation in error.message


def test_sdp_at_the_limit_is_accepted() -> None:
    sdp = "v=0\r\n" + "a" * (MAX_SDP_BYTES - 5)
    message = parse_client(_signal({"kind": "offer", "sdp": sdp}))
    assert isinstance(message, Signal)
    assert message.data == Offer(sdp)


BAD_SERVER_INPUT = [
    ('{"v":1,"type":"signal","from":"p-1","data":{"kind":"offer"}}', "bad-message"),
]


@pytest.mark.parametrize(("raw", "code"), BAD_SERVER_INPUT)
def test_bad_server_input_is_refused(raw: str | bytes, code: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_server(raw)
    assert caught.value.code == code


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
