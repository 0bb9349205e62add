"""Signaling wire format, version 1: one parse and one serialize for every message.

Every message is a JSON object sent as one websocket text frame, with ``"v": 1`` and a
``"type"``. Clients send :data:`ClientMessage`; the server sends :data:`ServerMessage`.
:func:`parse_client` is strict (unknown fields are rejected so mistakes surface at once);
:func:`parse_server` ignores unknown fields so that older clients keep working against a
newer server. Every rejection is a :class:`~surgery_teach.errors.ProtocolError` whose
``code`` goes on the wire and whose message names the problem and the fix.
Telestration messages carry annotation ops in the format of
:mod:`surgery_teach.annotations.wire`; a malformed op is ``bad-annotation``.
docs/protocol.md is the written form of this module.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from surgery_teach.annotations.ops import Op
from surgery_teach.annotations.wire import op_to_json, parse_op
from surgery_teach.errors import ProtocolError
from surgery_teach.wire.fields import (
    MAX_CANDIDATE_CHARS,
    MAX_CHAT_CHARS,
    MAX_ID_CHARS,
    MAX_LABEL_CHARS,
    MAX_MESSAGE_BYTES,
    MAX_MLINE_INDEX,
    MAX_NAME_CHARS,
    MAX_SAFE_INTEGER,
    MAX_SDP_BYTES,
    MAX_SOURCE_CHARS,
    MAX_TRACKS,
    MAX_USERNAME_FRAGMENT_CHARS,
    MAX_VIDEO_TRACKS,
    ErrorCode,
    JsonObject,
    MessageRef,
    bad,
    check_client_key,
    check_ref,
    check_room,
    check_sdp,
    check_text,
    clean_chat_text,
    clean_label,
    json_kind,
    load_json,
    show,
)
from surgery_teach.wire.role import Role
from surgery_teach.wire.role import as_role as _as_role

__all__ = [
    "MAX_CHAT_CHARS",
    "MAX_MESSAGE_BYTES",
    "MAX_SDP_BYTES",
    "MAX_TRACKS",
    "MAX_VIDEO_TRACKS",
    "PROTOCOL_VERSION",
    "Annotate",
    "Annotation",
    "AnnotationSnapshot",
    "Answer",
    "Candidate",
    "ChapterMessage",
    "ChapterStart",
    "Chat",
    "ChatHistory",
    "ChatMessage",
    "ClientMessage",
    "ErrorCode",
    "ErrorReply",
    "GrantDraw",
    "Join",
    "Joined",
    "Leave",
    "Left",
    "MessageRef",
    "Offer",
    "ParticipantInfo",
    "Ping",
    "Pong",
    "Publish",
    "Publishes",
    "Record",
    "RecorderInfo",
    "Relayed",
    "RemoveParticipant",
    "Role",
    "RoomRecording",
    "ServerMessage",
    "Signal",
    "SignalData",
    "TrackInfo",
    "Updated",
    "Welcome",
    "message_ref",
    "parse_client",
    "parse_server",
    "serialize",
    "wire_type",
]

PROTOCOL_VERSION: Final = 1


def _normalise(obj: object, name: str, value: object) -> None:
    """Replace a field of a frozen dataclass from its ``__post_init__``."""
    object.__setattr__(obj, name, value)


def _check_boolean(value: object, field: str) -> None:
    if not isinstance(value, bool):
        raise bad(field, f"must be true or false (got {json_kind(value)})")


# -- what participants and tracks look like ---------------------------------------------------


@dataclass(frozen=True)
class Publishes:
    """What a participant sends: how many video tracks (0-8) and whether audio.

    Announced in ``join`` and ``publish`` so that every participant can tell, from the
    participant lists alone, who offers to whom (docs/protocol.md, offer rules).
    """

    video: int = 0
    audio: bool = False

    def __post_init__(self) -> None:
        video = self.video
        if isinstance(video, bool) or not isinstance(video, int):
            raise bad("video", f"must be an integer (got {json_kind(video)})")
        if not 0 <= video <= MAX_VIDEO_TRACKS:
            raise bad(
                "video",
                f"must be a number of video tracks from 0 to {MAX_VIDEO_TRACKS} "
                f"(got {show(video)})",
            )
        _check_boolean(self.audio, "audio")

    @property
    def any(self) -> bool:
        """True if this publishes any media at all."""
        return self.video > 0 or self.audio


@dataclass(frozen=True)
class ParticipantInfo:
    """A participant as others see them: server-assigned ``id``, name, role, media sent.

    ``can_draw`` says whether they may annotate the video now: always for surgeons and
    mentors, for a trainee while a mentor allows it, never for students.
    """

    id: str
    name: str
    role: Role
    publishes: Publishes = Publishes()
    can_draw: bool = False

    def __post_init__(self) -> None:
        check_text(self.id, "id", MAX_ID_CHARS)
        _normalise(self, "name", clean_label(self.name, "name", MAX_NAME_CHARS))
        _normalise(self, "role", _as_role(self.role))
        _check_boolean(self.can_draw, "can_draw")


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
        _check_tracks(self)


@dataclass(frozen=True)
class Answer:
    """An SDP answer, sent back to the participant that made the offer.

    ``tracks`` labels what the answerer sends back, when both sides publish.
    """

    sdp: str
    tracks: tuple[TrackInfo, ...] = ()

    def __post_init__(self) -> None:
        check_sdp(self.sdp)
        _check_tracks(self)


def _check_tracks(data: Offer | Answer) -> None:
    _normalise(data, "tracks", tuple(data.tracks))
    if len(data.tracks) > MAX_TRACKS:
        raise bad("tracks", f"lists {len(data.tracks)} tracks; the limit is {MAX_TRACKS}")
    seen: set[str] = set()
    for track in data.tracks:
        if track.track_id in seen:
            raise bad("tracks", f"names track_id {show(track.track_id)} twice")
        seen.add(track.track_id)


@dataclass(frozen=True)
class Candidate:
    """One trickled ICE candidate (browsers); an empty ``candidate`` ends the candidates.

    The fields are those of a browser's ``RTCIceCandidate.toJSON()``.
    """

    candidate: str
    sdp_mid: str | None = None
    sdp_mline_index: int | None = None
    username_fragment: str | None = None

    def __post_init__(self) -> None:
        check_text(self.candidate, "candidate", MAX_CANDIDATE_CHARS, allow_empty=True)
        if self.sdp_mid is not None:
            check_text(self.sdp_mid, "sdpMid", MAX_ID_CHARS, allow_empty=True)
        if self.username_fragment is not None:
            check_text(
                self.username_fragment,
                "usernameFragment",
                MAX_USERNAME_FRAGMENT_CHARS,
                allow_empty=True,
            )
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
    """Enter ``room`` under a display name and role, announcing the media you will send."""

    room: str
    name: str
    role: Role
    publishes: Publishes = Publishes()
    id: MessageRef = None
    client_key: str | None = None
    """A random key the client made once for this session and sends with every join of
    it, so that a rejoin gets the same participant id back (docs/protocol.md, 4.1)."""

    def __post_init__(self) -> None:
        check_room(self.room)
        _normalise(self, "name", clean_label(self.name, "name", MAX_NAME_CHARS))
        _normalise(self, "role", _as_role(self.role))
        check_ref(self.id)
        if self.client_key is not None:
            check_client_key(self.client_key)


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


@dataclass(frozen=True)
class Publish:
    """Change what you send; everyone in the room (you too) gets ``updated``."""

    publishes: Publishes
    id: MessageRef = None

    def __post_init__(self) -> None:
        check_ref(self.id)


@dataclass(frozen=True)
class Chat:
    """Say something to everyone in your room: 1-2000 characters, line breaks allowed."""

    text: str
    id: MessageRef = None

    def __post_init__(self) -> None:
        _normalise(self, "text", clean_chat_text(self.text, "text", MAX_CHAT_CHARS))
        check_ref(self.id)


@dataclass(frozen=True)
class Annotate:
    """Draw, point, edit, undo or freeze: one annotation op for the server to order.

    ``op`` is as :func:`~surgery_teach.annotations.wire.op_to_json` writes it, with
    ``seq`` 0 (the server numbers it) and your participant id as its author. Everyone in
    the room, you included, gets it back as an :class:`Annotation` once it is accepted.
    """

    op: Op
    id: MessageRef = None

    def __post_init__(self) -> None:
        if self.op.seq != 0:
            raise ProtocolError(
                ErrorCode.BAD_ANNOTATION,
                f"field 'op.seq' must be 0 in an annotate message (got {show(self.op.seq)}); "
                "the server numbers the ops of a room",
            )
        check_ref(self.id)


@dataclass(frozen=True)
class GrantDraw:
    """A mentor lets trainee ``to`` draw (``allowed`` true) or stops them (false)."""

    to: str
    allowed: bool
    id: MessageRef = None

    def __post_init__(self) -> None:
        check_text(self.to, "to", MAX_ID_CHARS)
        _check_boolean(self.allowed, "allowed")
        check_ref(self.id)


@dataclass(frozen=True)
class RemoveParticipant:
    """A mentor sends ``participant`` out of the room (wire type ``remove``).

    They are told (``error`` ``removed``) and disconnected; a server with room tokens
    keeps them out of that room for as long as their token would have lasted.
    """

    participant: str
    id: MessageRef = None

    def __post_init__(self) -> None:
        check_text(self.participant, "participant", MAX_ID_CHARS)
        check_ref(self.id)


MAX_CHAPTER_TITLE_CHARS: Final = 200
"""Longest chapter title, in characters after trimming (one line)."""


def _check_time(obj: object, field: str, value: object) -> None:
    """A time field: a finite number of Unix seconds, at least 0 (stored as a float)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise bad(field, f"must be a finite number of seconds (got {json_kind(value)})")
    if value < 0:
        raise bad(field, f"must be 0 or more (got {show(value)})")
    _normalise(obj, field, float(value))


@dataclass(frozen=True)
class Record:
    """Say that you start (``on`` true) or stop (false) recording the session.

    Wire type ``record`` with ``"state":"on"`` or ``"off"``. Everyone in the room, you
    included, gets the room's :class:`RoomRecording`, so every participant can show that
    the session is being recorded and by whom. Surgeons and mentors only.
    """

    on: bool
    id: MessageRef = None

    def __post_init__(self) -> None:
        _check_boolean(self.on, "state")
        check_ref(self.id)


@dataclass(frozen=True)
class ChapterStart:
    """Start a chapter in everyone's recordings (wire type ``chapter``).

    ``title`` is 1-200 printable characters on one line; ``time`` the moment it starts
    on the sender's clock (Unix seconds, e.g. the capture time of the frame on screen).
    The room gets it back numbered, as a :class:`ChapterMessage`. Surgeons and mentors only.
    """

    title: str
    time: float
    id: MessageRef = None

    def __post_init__(self) -> None:
        _normalise(self, "title", clean_label(self.title, "title", MAX_CHAPTER_TITLE_CHARS))
        _check_time(self, "time", self.time)
        check_ref(self.id)


ClientMessage: TypeAlias = (
    Join | Leave | Signal | Ping | Publish | Chat | Annotate | GrantDraw | RemoveParticipant
    | Record | ChapterStart
)
_CLIENT_CLASSES: Final = (
    Join, Leave, Signal, Ping, Publish, Chat, Annotate, GrantDraw, RemoveParticipant,
    Record, ChapterStart,
)


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
    """Someone left your room; ``reason`` is ``"leave"``, ``"disconnect"`` or ``"removed"``."""

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


@dataclass(frozen=True)
class Updated:
    """A participant in your room (perhaps you) changed what they publish."""

    participant: ParticipantInfo


@dataclass(frozen=True)
class ChatMessage:
    """A chat message as the room sees it (wire type ``chat``, field ``from``).

    ``name`` and ``role`` are the sender's when they wrote it, so the history still reads
    well after they leave. ``time`` is the server clock (Unix seconds); ``seq`` counts the
    room's chat messages from 1.
    """

    sender: str
    name: str
    role: Role
    text: str
    time: float
    seq: int
    ref: MessageRef = None
    """The ``id`` of the sender's ``chat``, in the sender's own copy only."""

    def __post_init__(self) -> None:
        check_ref(self.ref, "ref")
        check_text(self.sender, "from", MAX_ID_CHARS)
        _normalise(self, "name", clean_label(self.name, "name", MAX_NAME_CHARS))
        _normalise(self, "role", _as_role(self.role))
        _normalise(self, "text", clean_chat_text(self.text, "text", MAX_CHAT_CHARS))
        time = self.time
        if isinstance(time, bool) or not isinstance(time, int | float) or not math.isfinite(time):
            raise bad("time", f"must be a finite number (got {json_kind(time)})")
        _normalise(self, "time", float(time))
        seq = self.seq
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
            raise bad("seq", f"must be an integer from 1 (got {json_kind(seq)})")


@dataclass(frozen=True)
class ChatHistory:
    """The room's recent chat, oldest first, sent to a newcomer right after ``welcome``."""

    messages: tuple[ChatMessage, ...]

    def __post_init__(self) -> None:
        _normalise(self, "messages", tuple(self.messages))


@dataclass(frozen=True)
class Annotation:
    """An annotation op as the room applies it, numbered (``op.seq``), from ``sender``.

    Wire type ``annotation``, field ``from``. ``ref`` is the ``id`` of the ``annotate``
    it answers, in the author's own copy only, so the author knows which op was accepted.
    The server has stamped a mark's ``created`` with its own clock.
    """

    sender: str
    op: Op
    ref: MessageRef = None

    def __post_init__(self) -> None:
        check_text(self.sender, "from", MAX_ID_CHARS)
        check_ref(self.ref, "ref")


@dataclass(frozen=True)
class AnnotationSnapshot:
    """The whole annotation board as ops (wire type ``annotations``): replace yours with it.

    Sent to a newcomer right after ``welcome`` (and ``chat-history``) when the room has
    marks, and to everyone after an undo or redo. ``seq`` is the last op it includes: drop
    any ``annotation`` numbered at or below it. ``ref`` is as for :class:`Annotation`.
    """

    ops: tuple[Op, ...]
    seq: int
    ref: MessageRef = None

    def __post_init__(self) -> None:
        _normalise(self, "ops", tuple(self.ops))
        seq = self.seq
        if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= MAX_SAFE_INTEGER:
            raise bad("seq", f"must be an integer from 0 to {MAX_SAFE_INTEGER} (got {show(seq)})")
        check_ref(self.ref, "ref")


@dataclass(frozen=True)
class RecorderInfo:
    """Someone recording the session: who, and since when (server clock, Unix seconds)."""

    id: str
    name: str
    role: Role
    since: float

    def __post_init__(self) -> None:
        check_text(self.id, "id", MAX_ID_CHARS)
        _normalise(self, "name", clean_label(self.name, "name", MAX_NAME_CHARS))
        _normalise(self, "role", _as_role(self.role))
        _check_time(self, "since", self.since)


@dataclass(frozen=True)
class RoomRecording:
    """Who records the room now, in the order they started (wire type ``recording``).

    Sent to everyone when it changes (a ``record``, or a recorder leaving) and to a
    newcomer after ``welcome`` while anyone records. Empty ``recorders``: nobody records.
    ``ref`` is the ``id`` of the ``record`` it answers, in the sender's copy only.
    """

    recorders: tuple[RecorderInfo, ...]
    ref: MessageRef = None

    def __post_init__(self) -> None:
        _normalise(self, "recorders", tuple(self.recorders))
        check_ref(self.ref, "ref")

    def records(self, participant_id: str) -> bool:
        """Whether ``participant_id`` is recording."""
        return any(r.id == participant_id for r in self.recorders)


@dataclass(frozen=True)
class ChapterMessage:
    """A chapter as the room numbers it (wire type ``chapter``, field ``from``).

    ``time`` is as the sender gave it (their clock); ``server_time`` when the server
    relayed it; ``seq`` counts the room's chapters from 1. ``name`` and ``role`` are the
    sender's.
    """

    sender: str
    name: str
    role: Role
    title: str
    time: float
    server_time: float
    seq: int

    def __post_init__(self) -> None:
        check_text(self.sender, "from", MAX_ID_CHARS)
        _normalise(self, "name", clean_label(self.name, "name", MAX_NAME_CHARS))
        _normalise(self, "role", _as_role(self.role))
        _normalise(self, "title", clean_label(self.title, "title", MAX_CHAPTER_TITLE_CHARS))
        _check_time(self, "time", self.time)
        _check_time(self, "server_time", self.server_time)
        seq = self.seq
        if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq <= MAX_SAFE_INTEGER:
            raise bad("seq", f"must be an integer from 1 (got {json_kind(seq)})")


ServerMessage: TypeAlias = (
    Welcome
    | Joined
    | Left
    | Relayed
    | Pong
    | ErrorReply
    | Updated
    | ChatMessage
    | ChatHistory
    | Annotation
    | AnnotationSnapshot
    | RoomRecording
    | ChapterMessage
)


# -- serialize --------------------------------------------------------------------------------


def serialize(msg: ClientMessage | ServerMessage) -> str:
    """Compact JSON text for one message, ``"v"`` and ``"type"`` first, UTF-8 unescaped."""
    wire_type, body = _body(msg)
    if isinstance(msg, _CLIENT_CLASSES) and msg.id is not None:
        body["id"] = msg.id
    return json.dumps(
        {"v": PROTOCOL_VERSION, "type": wire_type, **body},
        ensure_ascii=False,
        separators=(",", ":"),
        allow_nan=False,
    )


def wire_type(msg: ClientMessage | ServerMessage) -> str:
    """The ``type`` a message goes on the wire with, e.g. ``"grant-draw"`` (for logs)."""
    return _body(msg)[0]


def _publishes(publishes: Publishes) -> dict[str, Any]:
    return {"video": publishes.video, "audio": publishes.audio}


def _participant(info: ParticipantInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "role": info.role.value,
        "publishes": _publishes(info.publishes),
        "can_draw": info.can_draw,
    }


def _op(op: Op) -> dict[str, Any]:
    # Imported here: surgery_teach.annotations builds on this package (its field rules
    # and Role), so importing it at the top would make the two import each other.

    return op_to_json(op)


def _with_ref(body: dict[str, Any], ref: MessageRef) -> dict[str, Any]:
    """``body`` with ``ref`` last, left out when there is none (only the author has one)."""
    return body if ref is None else {**body, "ref": ref}


def _chat_message(msg: ChatMessage) -> dict[str, Any]:
    return {
        "from": msg.sender,
        "name": msg.name,
        "role": msg.role.value,
        "text": msg.text,
        "time": msg.time,
        "seq": msg.seq,
    }


def _data(data: SignalData) -> dict[str, Any]:
    match data:
        case Offer(sdp=sdp, tracks=tracks) | Answer(sdp=sdp, tracks=tracks):
            body: dict[str, Any] = {"kind": "offer" if isinstance(data, Offer) else "answer",
                                    "sdp": sdp}
            if tracks:
                body["tracks"] = [
                    {"track_id": t.track_id, "label": t.label, "source": t.source} for t in tracks
                ]
            return body
        case Candidate():
            body = {
                "kind": "candidate",
                "candidate": data.candidate,
                "sdpMid": data.sdp_mid,
                "sdpMLineIndex": data.sdp_mline_index,
            }
            # Left out when absent: a server or client from before it was added refuses it.
            if data.username_fragment is not None:
                body["usernameFragment"] = data.username_fragment
            return body
    raise TypeError(f"not signal data: {data!r}")


def _body(msg: ClientMessage | ServerMessage) -> tuple[str, dict[str, Any]]:
    match msg:
        case Join():
            body: dict[str, Any] = {"room": msg.room, "name": msg.name, "role": msg.role.value}
            # Left out when nothing is published, so such a join still suits older servers.
            if msg.publishes != Publishes():
                body["publishes"] = _publishes(msg.publishes)
            if msg.client_key is not None:
                body["client_key"] = msg.client_key
            return "join", body
        case Leave():
            return "leave", {}
        case Signal():
            return "signal", {"to": msg.to, "data": _data(msg.data)}
        case Ping():
            return "ping", {}
        case Publish():
            return "publish", {"publishes": _publishes(msg.publishes)}
        case Chat():
            return "chat", {"text": msg.text}
        case Annotate():
            return "annotate", {"op": _op(msg.op)}
        case GrantDraw():
            return "grant-draw", {"to": msg.to, "allowed": msg.allowed}
        case RemoveParticipant():
            return "remove", {"participant": msg.participant}
        case Record():
            return "record", {"state": "on" if msg.on else "off"}
        case ChapterStart():
            return "chapter", {"title": msg.title, "time": msg.time}
        case RoomRecording():
            recorders = [
                {"id": r.id, "name": r.name, "role": r.role.value, "since": r.since}
                for r in msg.recorders
            ]
            return "recording", _with_ref({"recorders": recorders}, msg.ref)
        case ChapterMessage():
            return "chapter", {
                "from": msg.sender,
                "name": msg.name,
                "role": msg.role.value,
                "title": msg.title,
                "time": msg.time,
                "server_time": msg.server_time,
                "seq": msg.seq,
            }
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
        case Updated():
            return "updated", {"participant": _participant(msg.participant)}
        case ChatMessage():
            return "chat", _with_ref(_chat_message(msg), msg.ref)
        case ChatHistory():
            return "chat-history", {"messages": [_chat_message(m) for m in msg.messages]}
        case Annotation():
            return "annotation", _with_ref({"from": msg.sender, "op": _op(msg.op)}, msg.ref)
        case AnnotationSnapshot():
            body = {"ops": [_op(op) for op in msg.ops], "seq": msg.seq}
            return "annotations", _with_ref(body, msg.ref)
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
    "answer": ("kind", "sdp", "tracks"),
    "candidate": ("kind", "candidate", "sdpMid", "sdpMLineIndex", "usernameFragment"),
}


def _read_publishes(value: object, path: str, *, strict: bool) -> Publishes:
    publishes = JsonObject(
        value, path, ("video", "audio"), strict=strict, what="a publishes object"
    )
    return publishes.build(
        Publishes,
        video=publishes.integer("video", default=0),
        audio=publishes.boolean("audio", default=False),
    )


def _optional_publishes(obj: JsonObject, *, strict: bool) -> Publishes:
    """``obj.publishes``, or nothing published when it is absent (older peers omit it)."""
    if "publishes" not in obj.raw:
        return Publishes()
    return _read_publishes(obj.raw["publishes"], obj.path("publishes"), strict=strict)


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
    if not isinstance(kind, str) or kind not in _DATA_FIELDS:  # [] or {} are unhashable
        if not isinstance(value, dict):
            raise bad("data", f"must be a JSON object (got {json_kind(value)})")
        raise bad("data.kind", f"must be offer, answer or candidate (got {json_kind(kind)})")
    data = JsonObject(value, "data", _DATA_FIELDS[kind], strict=strict, what=f"{kind} data")
    if kind == "candidate":
        return data.build(
            Candidate,
            candidate=data.text("candidate"),
            sdp_mid=data.nullable_text("sdpMid"),
            sdp_mline_index=data.nullable_integer("sdpMLineIndex"),
            username_fragment=data.nullable_text("usernameFragment"),
        )
    sdp = data.text("sdp")
    raw_tracks = data.array("tracks", optional=True)
    if len(raw_tracks) > MAX_TRACKS:  # before reading them one by one
        raise bad("data.tracks", f"lists {len(raw_tracks)} tracks; the limit is {MAX_TRACKS}")
    tracks = tuple(
        _read_track(item, f"data.tracks[{index}]", strict=strict)
        for index, item in enumerate(raw_tracks)
    )
    return data.build(Offer if kind == "offer" else Answer, sdp=sdp, tracks=tracks)


def _read_join(msg: JsonObject) -> Join:
    return msg.build(
        Join,
        room=msg.text("room"),
        name=msg.text("name"),
        role=msg.text("role"),
        publishes=_optional_publishes(msg, strict=True),
        id=msg.ref(),
        client_key=msg.nullable_text("client_key"),
    )


def _read_signal(msg: JsonObject) -> Signal:
    return msg.build(
        Signal,
        to=msg.text("to"),
        data=_read_data(msg.value("data"), strict=True),
        id=msg.ref(),
    )


def _read_publish(msg: JsonObject) -> Publish:
    return Publish(_read_publishes(msg.value("publishes"), "publishes", strict=True), msg.ref())


def _read_chat(msg: JsonObject) -> Chat:
    return msg.build(Chat, text=msg.text("text"), id=msg.ref())


def _read_op(value: object, path: str, *, strict: bool) -> Op:
    """One annotation op inside a message; errors name the field from ``path`` on."""
    # Imported here for the reason given in _op.

    if not isinstance(value, dict):  # parse_op would read a string as JSON text
        raise ProtocolError(
            ErrorCode.BAD_ANNOTATION,
            f"field '{path}' must be an annotation op, a JSON object like "
            f'{{"v":1,"op":"undo","seq":0,"author":"p-..."}} (got {json_kind(value)})',
        )
    try:
        return parse_op(value, strict=strict)
    except ProtocolError as exc:
        # "field 'shape.points[3][1]' ..." -> "field 'op.shape.points[3][1]' ..."
        message = exc.message.replace("field '", f"field '{path}.", 1)
        raise ProtocolError(exc.code, message) from None


def _read_annotate(msg: JsonObject) -> Annotate:
    return msg.build(Annotate, op=_read_op(msg.value("op"), "op", strict=True), id=msg.ref())


def _read_grant_draw(msg: JsonObject) -> GrantDraw:
    return msg.build(GrantDraw, to=msg.text("to"), allowed=msg.boolean("allowed"), id=msg.ref())



def _read_remove(msg: JsonObject) -> RemoveParticipant:
    return msg.build(RemoveParticipant, participant=msg.text("participant"), id=msg.ref())


def _read_record(msg: JsonObject) -> Record:
    state = msg.text("state")
    if state not in ("on", "off"):
        raise bad("state", f'must be "on" or "off" (got {show(state)})')
    return msg.build(Record, on=state == "on", id=msg.ref())


def _read_chapter(msg: JsonObject) -> ChapterStart:
    return msg.build(ChapterStart, title=msg.text("title"), time=msg.number("time"), id=msg.ref())


_CLIENT_TYPES: Final[dict[str, tuple[tuple[str, ...], Callable[[JsonObject], ClientMessage]]]] = {
    "join": (("room", "name", "role", "publishes", "client_key"), _read_join),
    "leave": ((), lambda msg: Leave(id=msg.ref())),
    "signal": (("to", "data"), _read_signal),
    "ping": ((), lambda msg: Ping(id=msg.ref())),
    "publish": (("publishes",), _read_publish),
    "chat": (("text",), _read_chat),
    "annotate": (("op",), _read_annotate),
    "grant-draw": (("to", "allowed"), _read_grant_draw),
    "remove": (("participant",), _read_remove),
    "record": (("state",), _read_record),
    "chapter": (("title", "time"), _read_chapter),
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
        ParticipantInfo,
        id=info.text("id"),
        name=info.text("name"),
        role=info.text("role"),
        publishes=_optional_publishes(info, strict=False),
        can_draw=info.boolean("can_draw", default=False),  # older servers leave it out
    )


def _read_recorder(value: object, path: str) -> RecorderInfo:
    info = JsonObject(value, path, (), strict=False, what="a recorder")
    return info.build(
        RecorderInfo,
        id=info.text("id"),
        name=info.text("name"),
        role=info.text("role"),
        since=info.number("since"),
    )


def _read_chat_message(msg: JsonObject) -> ChatMessage:
    return msg.build(
        ChatMessage,
        sender=msg.text("from"),
        name=msg.text("name"),
        role=msg.text("role"),
        text=msg.text("text"),
        time=msg.number("time"),
        seq=msg.integer("seq"),
        ref=msg.ref("ref"),
    )


def _read_chat_history(msg: JsonObject) -> ChatHistory:
    return ChatHistory(
        tuple(
            _read_chat_message(
                JsonObject(item, f"messages[{index}]", (), strict=False, what="a chat message")
            )
            for index, item in enumerate(msg.array("messages"))
        )
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
    "updated": lambda msg: Updated(_read_participant(msg.value("participant"), "participant")),
    "chat": _read_chat_message,
    "chat-history": _read_chat_history,
    "annotation": lambda msg: Annotation(
        sender=msg.text("from"),
        op=_read_op(msg.value("op"), "op", strict=False),
        ref=msg.ref("ref"),
    ),
    "annotations": lambda msg: AnnotationSnapshot(
        ops=tuple(
            _read_op(item, f"ops[{index}]", strict=False)
            for index, item in enumerate(msg.array("ops"))
        ),
        seq=msg.integer("seq"),
        ref=msg.ref("ref"),
    ),
    "recording": lambda msg: RoomRecording(
        recorders=tuple(
            _read_recorder(item, f"recorders[{index}]")
            for index, item in enumerate(msg.array("recorders"))
        ),
        ref=msg.ref("ref"),
    ),
    "chapter": lambda msg: msg.build(
        ChapterMessage,
        sender=msg.text("from"),
        name=msg.text("name"),
        role=msg.text("role"),
        title=msg.text("title"),
        time=msg.number("time"),
        server_time=msg.number("server_time"),
        seq=msg.integer("seq"),
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
