"""Fuzzing the wire format and the room rules with hypothesis, without a network.

Whatever a client sends, parsing either returns a message or raises ProtocolError with a
documented code and a message; an accepted message serializes back to itself; and the
room rules answer any accepted message from any role without raising.
"""

from __future__ import annotations

import json

from hypothesis import example, given
from hypothesis import strategies as st

from surgery_teach.errors import ProtocolError
from surgery_teach.protocol import (
    ErrorCode,
    Join,
    Role,
    Rooms,
    Welcome,
    message_ref,
    parse_client,
    parse_server,
    serialize,
)
from tests.protocol.frames import PEER, frames, json_texts, json_values

CODES = {code.value for code in ErrorCode}


def _parse_or_refuse(frame: str | bytes) -> object | None:
    """The parsed message, or None after checking the refusal is a clean ProtocolError."""
    try:
        return parse_client(frame)
    except ProtocolError as exc:
        assert exc.code in CODES, exc
        assert exc.message
        return None


@given(frames())
@example('{"v":1,"type":"signal","to":"p-1","data":{"kind":[],"sdp":"v=0"}}')  # was TypeError
def test_any_frame_is_parsed_or_refused_with_a_protocol_error(frame: str | bytes) -> None:
    message = _parse_or_refuse(frame)
    ref = message_ref(frame)  # never raises either
    assert ref is None or isinstance(ref, str | int)
    if message is not None:
        assert parse_client(serialize(message)) == message  # one canonical form


@given(json_values)
def test_any_decoded_json_value_is_parsed_or_refused(value: object) -> None:
    _parse_or_refuse(json.dumps(value))


@given(st.binary(max_size=300))
def test_any_bytes_are_refused_as_a_binary_frame(data: bytes) -> None:
    assert _parse_or_refuse(data) is None


@given(json_texts() | st.binary(max_size=200))
def test_any_server_frame_is_parsed_or_refused_with_a_protocol_error(frame: str | bytes) -> None:
    try:
        parse_server(frame)
    except ProtocolError as exc:
        assert exc.code in CODES and exc.message


@given(st.sampled_from(list(Role)), st.lists(json_texts(), min_size=1, max_size=20))
def test_the_room_rules_answer_anything_accepted_from_any_role(
    role: Role, texts: list[str]
) -> None:
    rooms: Rooms[str] = Rooms(clock=lambda: 1000.0)
    peer = rooms.handle("peer", Join("r", "Peer", Role.MENTOR))[0][1]
    assert isinstance(peer, Welcome)
    rooms.handle("fuzzer", Join("r", "Fuzzer", role))
    for text in texts:
        message = _parse_or_refuse(text.replace(PEER, peer.you.id))
        if message is not None:
            outbox = rooms.handle("fuzzer", message)  # type: ignore[arg-type]
            for recipient, reply in outbox:
                assert recipient in ("fuzzer", "peer")
                serialize(reply)  # whatever goes out can be written
