"""Signaling wire format, version 1: one parse and one serialize for every message.

Every message is a JSON object sent as one websocket text frame, with ``"v": 1`` and a
``"type"``. Clients send :data:`ClientMessage`; the server sends :data:`ServerMessage`.
:func:`parse_client` is strict (unknown fields are rejected so mistakes surface at once);
:func:`parse_server` ignores unknown fields so that older clients keep working against a
newer server. Every rejection is a :class:`~surgery_teach.errors.ProtocolError` whose
``code`` goes on the wire and whose message names the problem and the fix.
docs/protocol.md is the written form of this module.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, TypeAlias

from surgery_teach.errors import ProtocolError
from surgery_teach.protocol.fields import (
    MAX_CANDIDATE_CHARS,
    MAX_ID_CHARS,
    MAX_LABEL_CHARS,
    MAX_MESSAGE_BYTES,
    MAX_MLINE_INDEX,
    MAX_NAME_CHARS,
    MAX_SDP_BYTES,
    MAX_SOURCE_CHARS,
    MAX_TRACKS,
    ErrorCode,
    JsonObject,
    MessageRef,
    bad,
    check_ref,
    check_room,
    check_sdp,
    check_text,
    clean_label,
    json_kind,
    load_json,
    show,
)

__all__ = [
    "MAX_MESSAGE_BYTES",
    "MAX_SDP_BYTES",
    "MAX_TRACKS",
    "PROTOCOL_VERSION",
    "Answer",
    "Candidate",
    "ClientMessage",
    "ErrorCode",
    "ErrorReply",
    "Join",
    "Joined",
    "Leave",
    "Left",
    "MessageRef",
    "Offer",
    "ParticipantInfo",
    "Ping",
    "Pong",
    "Relayed",
    "Role",
    "ServerMessage",
    "Signal",
    "SignalData",
    "TrackInfo",
    "Welcome",
    "message_ref",
    "parse_client",
    "parse_server",
    "serialize",
]

PROTOCOL_VERSION: Final = 1


class Role(StrEnum):
    """What a participant does in the room."""

    SURGEON = "surgeon"
    MENTOR = "mentor"
    TRAINEE = "trainee"
    STUDENT = "student"


def _as_role(role: object) -> Role:
    if isinstance(role, str):
        try:
            return Role(role)
        except ValueError:
            pass
    allowed = ", ".join(r.value for r in Role)
    raise bad("role", f"must be one of {allowed} (got {show(role)})")


def _normalise(obj: object, name: str, value: object) -> None:
    """Replace a field of a frozen dataclass from its ``__post_init__``."""
    object.__setattr__(obj, name, value)


# -- what participants and tracks look like ---------------------------------------------------


@dataclass(frozen=True)
class ParticipantInfo:
    """A participant as others see them: server-assigned ``id``, display name, role."""

    id: str
    name: str
    role: Role

    def __post_init__(self) -> None:
        check_text(self.id, "id", MAX_ID_CHARS)
        _normalise(self, "name", clean_label(self.name, "name", MAX_NAME_CHARS))
        _normalise(self, "role", _as_role(self.role))


@dataclass(frozen=True)
class TrackInfo:
    """Names one sending track; ``track_id`` is the msid track id in the SDP."""

    track_id: str
    label: str
    source: str = ""

    def __post_init__(self) -> None:
        check_text(self.track_id, "track_id", MAX_ID_CHARS)
        _normalise(self, "label", clean_label(self.label, "label", MAX_LABEL_CHARS))
        check_text(self.source, "source", MAX_SOURCE_CHARS, allow_empty=True)


# -- signal data, relayed verbatim between two participants -----------------------------------


@dataclass(frozen=True)
class Offer:
    """An SDP offer, with a human label for each track it sends."""

    sdp: str
    tracks: tuple[TrackInfo, ...] = ()

    def __post_init__(self) -> None:
        check_sdp(self.sdp)
        _normalise(self, "tracks", tuple(self.tracks))
        if len(self.tracks) > MAX_TRACKS:
            raise bad("tracks", f"lists {len(self.tracks)} tracks; the limit is {MAX_TRACKS}")
        seen: set[str] = set()
        for track in self.tracks:
            if track.track_id in seen:
                raise bad("tracks", f"names track_id {show(track.track_id)} twice")
            seen.add(track.track_id)


@dataclass(frozen=True)
class Answer:
    """An SDP answer, sent back to the participant that made the offer."""

    sdp: str

    def __post_init__(self) -> None:
        check_sdp(self.sdp)


@dataclass(frozen=True)
class Candidate:
    """One trickled ICE candidate (browsers); an empty ``candidate`` ends the candidates."""

    candidate: str
    sdp_mid: str | None = None
    sdp_mline_index: int | None = None

    def __post_init__(self) -> None:
        check_text(self.candidate, "candidate", MAX_CANDIDATE_CHARS, allow_empty=True)
        if self.sdp_mid is not None:
            check_text(self.sdp_mid, "sdpMid", MAX_ID_CHARS, allow_empty=True)
        index = self.sdp_mline_index
        if index is not None and (
            isinstance(index, bool)
            or not isinstance(index, int)
            or not 0 <= index <= MAX_MLINE_INDEX
        ):
            raise bad("sdpMLineIndex", f"must be an integer from 0 to {MAX_MLINE_INDEX} or null")


SignalData: TypeAlias = Offer | Answer | Candidate


# -- client -> server -------------------------------------------------------------------------


@dataclass(frozen=True)
class Join:
    """Enter ``room`` under a display name and role."""

    room: str
    name: str
    role: Role
    id: MessageRef = None

    def __post_init__(self) -> None:
        check_room(self.room)
        _normalise(self, "name", clean_label(self.name, "name", MAX_NAME_CHARS))
        _normalise(self, "role", _as_role(self.role))
        check_ref(self.id)


@dataclass(frozen=True)
class Leave:
    """Leave the room; the connection stays open and may join again."""

    id: MessageRef = None

    def __post_init__(self) -> None:
        check_ref(self.id)


@dataclass(frozen=True)
class Signal:
    """Ask the server to relay ``data`` to participant ``to`` in the same room."""

    to: str
    data: SignalData
    id: MessageRef = None

    def __post_init__(self) -> None:
        check_text(self.to, "to", MAX_ID_CHARS)
        check_ref(self.id)


@dataclass(frozen=True)
class Ping:
    """Ask the server for a ``pong`` (liveness and load)."""

    id: MessageRef = None

    def __post_init__(self) -> None:
        check_ref(self.id)


ClientMessage: TypeAlias = Join | Leave | Signal | Ping


# -- server -> client -------------------------------------------------------------------------


@dataclass(frozen=True)
class Welcome:
    """Reply to a successful join: your id and everyone already in the room."""

    room: str
    you: ParticipantInfo
    participants: tuple[ParticipantInfo, ...]
    server_version: str

    def __post_init__(self) -> None:
        _normalise(self, "participants", tuple(self.participants))


@dataclass(frozen=True)
class Joined:
    """Someone entered your room."""

    participant: ParticipantInfo


@dataclass(frozen=True)
class Left:
    """Someone left your room; ``reason`` is ``"leave"`` or ``"disconnect"``."""

    participant: ParticipantInfo
    reason: str


@dataclass(frozen=True)
class Relayed:
    """Signal data from participant ``sender`` (wire type ``signal``, field ``from``)."""

    sender: str
    data: SignalData


@dataclass(frozen=True)
class Pong:
    """Reply to ``ping``: the server clock (Unix seconds) and current load."""

    server_time: float
    rooms: int
    participants: int


@dataclass(frozen=True)
class ErrorReply:
    """A message was refused; ``ref`` echoes the offending message's ``id``."""

    code: str
    message: str
    ref: MessageRef = None


ServerMessage: TypeAlias = Welcome | Joined | Left | Relayed | Pong | ErrorReply


# -- serialize --------------------------------------------------------------------------------


def serialize(msg: ClientMessage | ServerMessage) -> str:
    """Compact JSON text for one message, ``"v"`` and ``"type"`` first, UTF-8 unescaped."""
    wire_type, body = _body(msg)
    if isinstance(msg, Join | Leave | Signal | Ping) and msg.id is not None:
        body["id"] = msg.id
    return json.dumps(
        {"v": PROTOCOL_VERSION, "type": wire_type, **body},
        ensure_ascii=False,
        separators=(",", ":"),
        allow_nan=False,
    )


def _participant(info: ParticipantInfo) -> dict[str, Any]:
    return {"id": info.id, "name": info.name, "role": info.role.value}


def _data(data: SignalData) -> dict[str, Any]:
    match data:
        case Offer(sdp=sdp, tracks=tracks):
            body: dict[str, Any] = {"kind": "offer", "sdp": sdp}
            if tracks:
                body["tracks"] = [
                    {"track_id": t.track_id, "label": t.label, "source": t.source} for t in tracks
                ]
            return body
        case Answer(sdp=sdp):
            return {"kind": "answer", "sdp": sdp}
        case Candidate():
            return {
                "kind": "candidate",
                "candidate": data.candidate,
                "sdpMid": data.sdp_mid,
                "sdpMLineIndex": data.sdp_mline_index,
            }
    raise TypeError(f"not signal data: {data!r}")


def _body(msg: ClientMessage | ServerMessage) -> tuple[str, dict[str, Any]]:
    match msg:
        case Join():
            return "join", {"room": msg.room, "name": msg.name, "role": msg.role.value}
        case Leave():
            return "leave", {}
        case Signal():
            return "signal", {"to": msg.to, "data": _data(msg.data)}
        case Ping():
            return "ping", {}
        case Welcome():
            return "welcome", {
                "room": msg.room,
                "you": _participant(msg.you),
                "participants": [_participant(p) for p in msg.participants],
                "server_version": msg.server_version,
            }
        case Joined():
            return "joined", {"participant": _participant(msg.participant)}
        case Left():
            return "left", {"participant": _participant(msg.participant), "reason": msg.reason}
        case Relayed():
            return "signal", {"from": msg.sender, "data": _data(msg.data)}
        case Pong():
            return "pong", {
                "server_time": msg.server_time,
                "rooms": msg.rooms,
                "participants": msg.participants,
            }
        case ErrorReply():
            return "error", {"code": str(msg.code), "message": msg.message, "ref": msg.ref}
    raise TypeError(f"not a protocol message: {msg!r}")


# -- parse ------------------------------------------------------------------------------------


def _envelope(raw: object, known_types: Collection[str]) -> tuple[str, dict[str, Any]]:
    """Check what every message shares: an object, ``"v": 1`` and a known ``type``."""
    if not isinstance(raw, dict):
        raise ProtocolError(
            ErrorCode.BAD_MESSAGE,
            f'a message must be a JSON object like {{"v":1,"type":"ping"}} (got {json_kind(raw)})',
        )
    if "v" not in raw:
        raise bad("v", f'is missing; every message carries "v":{PROTOCOL_VERSION}')
    version = raw["v"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise bad("v", f"must be the integer {PROTOCOL_VERSION} (got {json_kind(version)})")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(
            ErrorCode.UNSUPPORTED_VERSION,
            f"protocol version {show(version)} is not supported; this side speaks version "
            f'{PROTOCOL_VERSION}: send "v":{PROTOCOL_VERSION} or update the older program',
        )
    if "type" not in raw:
        raise bad("type", 'is missing; say what the message is, e.g. "type":"join"')
    wire_type = raw["type"]
    if not isinstance(wire_type, str):
        raise bad("type", f"must be a string (got {json_kind(wire_type)})")
    if wire_type not in known_types:
        raise ProtocolError(
            ErrorCode.UNKNOWN_TYPE,
            f"unknown message type {show(wire_type)}; expected one of {', '.join(known_types)}",
        )
    return wire_type, raw


_DATA_FIELDS: Final = {
    "offer": ("kind", "sdp", "tracks"),
    "answer": ("kind", "sdp"),
    "candidate": ("kind", "candidate", "sdpMid", "sdpMLineIndex"),
}


def _read_track(value: object, path: str, *, strict: bool) -> TrackInfo:
    track = JsonObject(value, path, ("track_id", "label", "source"), strict=strict, what="a track")
    return track.build(
        TrackInfo,
        track_id=track.text("track_id"),
        label=track.text("label"),
        source=track.text("source", default=""),
    )


def _read_data(value: object, *, strict: bool) -> SignalData:
    kind = value.get("kind") if isinstance(value, dict) else None
    if kind not in _DATA_FIELDS:
        if not isinstance(value, dict):
            raise bad("data", f"must be a JSON object (got {json_kind(value)})")
        raise bad("data.kind", f"must be offer, answer or candidate (got {json_kind(kind)})")
    data = JsonObject(value, "data", _DATA_FIELDS[kind], strict=strict, what=f"{kind} data")
    if kind == "answer":
        return data.build(Answer, sdp=data.text("sdp"))
    if kind == "candidate":
        return data.build(
            Candidate,
            candidate=data.text("candidate"),
            sdp_mid=data.nullable_text("sdpMid"),
            sdp_mline_index=data.nullable_integer("sdpMLineIndex"),
        )
    sdp = data.text("sdp")
    raw_tracks = data.array("tracks", optional=True)
    if len(raw_tracks) > MAX_TRACKS:  # before reading them one by one
        raise bad("data.tracks", f"lists {len(raw_tracks)} tracks; the limit is {MAX_TRACKS}")
    tracks = tuple(
        _read_track(item, f"data.tracks[{index}]", strict=strict)
        for index, item in enumerate(raw_tracks)
    )
    return data.build(Offer, sdp=sdp, tracks=tracks)


def _read_join(msg: JsonObject) -> Join:
    return msg.build(
        Join,
        room=msg.text("room"),
        name=msg.text("name"),
        role=msg.text("role"),
        id=msg.ref(),
    )


def _read_signal(msg: JsonObject) -> Signal:
    return msg.build(
        Signal,
        to=msg.text("to"),
        data=_read_data(msg.value("data"), strict=True),
        id=msg.ref(),
    )


_CLIENT_TYPES: Final[dict[str, tuple[tuple[str, ...], Callable[[JsonObject], ClientMessage]]]] = {
    "join": (("room", "name", "role"), _read_join),
    "leave": ((), lambda msg: Leave(id=msg.ref())),
    "signal": (("to", "data"), _read_signal),
    "ping": ((), lambda msg: Ping(id=msg.ref())),
}


def _check_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise ProtocolError(
            ErrorCode.TOO_LARGE,
            f"the message is {size} bytes; the limit is {max_bytes} bytes. Send less "
            f"(an SDP may be up to {MAX_SDP_BYTES} bytes)",
        )


def parse_client(raw: str | bytes, *, max_bytes: int = MAX_MESSAGE_BYTES) -> ClientMessage:
    """Parse one frame a client sent; raise ProtocolError (with a wire code) to refuse it.

    ``raw`` is what the websocket delivered: ``str`` for a text frame, ``bytes`` for a
    binary frame, which protocol v1 does not allow. Unknown fields are refused.
    """
    if isinstance(raw, bytes | bytearray | memoryview):
        _check_size(len(raw), max_bytes)
        raise ProtocolError(
            ErrorCode.BAD_MESSAGE,
            "binary frames are not accepted; send each message as a JSON text frame",
        )
    _check_size(len(raw.encode("utf-8", "surrogatepass")), max_bytes)
    wire_type, obj = _envelope(load_json(raw), _CLIENT_TYPES)
    allowed, read = _CLIENT_TYPES[wire_type]
    msg = JsonObject(
        obj, "", ("v", "type", "id", *allowed), strict=True, what=f"a {wire_type!r} message"
    )
    return read(msg)


def message_ref(raw: str | bytes, *, max_bytes: int = MAX_MESSAGE_BYTES) -> MessageRef:
    """The valid ``id`` of a client frame, or None: the ``ref`` of an error reply to it.

    Used when :func:`parse_client` refused the frame, so it tolerates any input.
    """
    if not isinstance(raw, str) or len(raw) > max_bytes:
        return None
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    ref = obj.get("id") if isinstance(obj, dict) else None
    try:
        check_ref(ref)
    except ProtocolError:
        return None
    return ref  # check_ref accepted it


def _read_participant(value: object, path: str) -> ParticipantInfo:
    info = JsonObject(value, path, (), strict=False, what="a participant")
    return info.build(
        ParticipantInfo, id=info.text("id"), name=info.text("name"), role=info.text("role")
    )


def _read_welcome(msg: JsonObject) -> Welcome:
    return Welcome(
        room=msg.text("room"),
        you=_read_participant(msg.value("you"), "you"),
        participants=tuple(
            _read_participant(item, f"participants[{index}]")
            for index, item in enumerate(msg.array("participants"))
        ),
        server_version=msg.text("server_version"),
    )


_SERVER_TYPES: Final[dict[str, Callable[[JsonObject], ServerMessage]]] = {
    "welcome": _read_welcome,
    "joined": lambda msg: Joined(_read_participant(msg.value("participant"), "participant")),
    "left": lambda msg: Left(
        _read_participant(msg.value("participant"), "participant"), msg.text("reason")
    ),
    "signal": lambda msg: Relayed(
        sender=msg.text("from"), data=_read_data(msg.value("data"), strict=False)
    ),
    "pong": lambda msg: Pong(
        server_time=msg.number("server_time"),
        rooms=msg.integer("rooms"),
        participants=msg.integer("participants"),
    ),
    "error": lambda msg: ErrorReply(
        code=msg.text("code"), message=msg.text("message"), ref=msg.ref("ref")
    ),
}


def parse_server(raw: str | bytes) -> ServerMessage:
    """Parse one message from the server; raise ProtocolError like :func:`parse_client`.

    Unknown fields are ignored (forward compatibility); ``bytes`` are decoded as UTF-8.
    """
    if isinstance(raw, bytes | bytearray | memoryview):
        try:
            raw = bytes(raw).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError(
                ErrorCode.BAD_JSON, f"the message is not UTF-8 text ({exc.reason})"
            ) from None
    wire_type, obj = _envelope(load_json(raw), _SERVER_TYPES)
    msg = JsonObject(obj, "", (), strict=False, what=f"a {wire_type!r} message")
    return _SERVER_TYPES[wire_type](msg)
