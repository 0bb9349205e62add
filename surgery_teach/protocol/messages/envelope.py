"""The envelope every message travels in, and the one parse and serialize for them all.

Every message is a JSON object in one websocket text frame, ``"v"`` and ``"type"``
first. This module checks what all messages share (size, JSON, an object, the version,
a known type), then hands the object to the :class:`~.common.WireForm` of its type.
The tables here list every message type in wire order, and are the only place that
does: adding a message is its class and form in a concept module plus one line in a
table below (and in :data:`ClientMessage` or :data:`ServerMessage`). The concept
modules never import this one.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any, Final, TypeAlias

from surgery_teach.errors import ProtocolError
from surgery_teach.protocol.messages import (
    chat,
    classes,
    privacy,
    recording,
    session,
    shares,
    signaling,
    telestration,
)
from surgery_teach.protocol.messages.chat import Chat, ChatHistory, ChatMessage
from surgery_teach.protocol.messages.classes import ClassMode, MediaRoute
from surgery_teach.protocol.messages.common import WireForm
from surgery_teach.protocol.messages.privacy import PrivacyNotice, PrivacyPause
from surgery_teach.protocol.messages.recording import (
    ChapterMessage,
    ChapterStart,
    Record,
    RoomRecording,
)
from surgery_teach.protocol.messages.session import (
    ErrorReply,
    Join,
    Joined,
    Leave,
    Left,
    Ping,
    Pong,
    Publish,
    RemoveParticipant,
    Updated,
    Welcome,
)
from surgery_teach.protocol.messages.shares import (
    CHUNK_MAGIC,
    ShareChunk,
    ShareEnded,
    ShareNotice,
    ShareOffer,
    ShareResume,
    ShareStop,
    ShareStored,
    ShareUpload,
    parse_chunk,
)
from surgery_teach.protocol.messages.signaling import Relayed, Signal
from surgery_teach.protocol.messages.telestration import (
    Annotate,
    Annotation,
    AnnotationSnapshot,
    GrantDraw,
)
from surgery_teach.wire.fields import (
    MAX_MESSAGE_BYTES,
    MAX_SDP_BYTES,
    ErrorCode,
    JsonObject,
    MessageRef,
    bad,
    check_ref,
    json_kind,
    load_json,
    show,
)

PROTOCOL_VERSION: Final = 1

ClientMessage: TypeAlias = (
    Join | Leave | Signal | Ping | Publish | Chat | Annotate | GrantDraw | RemoveParticipant
    | Record | ChapterStart | PrivacyPause | ClassMode | ShareOffer | ShareResume | ShareStop
)
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
    | PrivacyNotice
    | MediaRoute
    | ShareUpload
    | ShareStored
    | ShareNotice
    | ShareEnded
)

# In this order in the "unknown message type" error.
_CLIENT_TYPES: Final[dict[str, WireForm[Any]]] = {
    form.wire_type: form
    for form in (
        session.JOIN_FORM,
        session.LEAVE_FORM,
        signaling.SIGNAL_FORM,
        session.PING_FORM,
        session.PUBLISH_FORM,
        chat.CHAT_FORM,
        telestration.ANNOTATE_FORM,
        telestration.GRANT_DRAW_FORM,
        session.REMOVE_PARTICIPANT_FORM,
        recording.RECORD_FORM,
        recording.CHAPTER_START_FORM,
        privacy.PRIVACY_PAUSE_FORM,
        classes.CLASS_MODE_FORM,
        shares.SHARE_OFFER_FORM,
        shares.SHARE_RESUME_FORM,
        shares.SHARE_STOP_FORM,
    )
}
_SERVER_TYPES: Final[dict[str, WireForm[Any]]] = {
    form.wire_type: form
    for form in (
        session.WELCOME_FORM,
        session.JOINED_FORM,
        session.LEFT_FORM,
        signaling.RELAYED_FORM,
        session.PONG_FORM,
        session.ERROR_REPLY_FORM,
        session.UPDATED_FORM,
        chat.CHAT_MESSAGE_FORM,
        chat.CHAT_HISTORY_FORM,
        telestration.ANNOTATION_FORM,
        telestration.ANNOTATION_SNAPSHOT_FORM,
        recording.ROOM_RECORDING_FORM,
        recording.CHAPTER_MESSAGE_FORM,
        privacy.PRIVACY_NOTICE_FORM,
        classes.MEDIA_ROUTE_FORM,
        shares.SHARE_UPLOAD_FORM,
        shares.SHARE_STORED_FORM,
        shares.SHARE_NOTICE_FORM,
        shares.SHARE_ENDED_FORM,
    )
}
_FORMS: Final[dict[type, WireForm[Any]]] = {
    form.cls: form for form in (*_CLIENT_TYPES.values(), *_SERVER_TYPES.values())
}
_CLIENT_CLASSES: Final = tuple(form.cls for form in _CLIENT_TYPES.values())


# -- serialize --------------------------------------------------------------------------------


def serialize(msg: ClientMessage | ServerMessage) -> str:
    """Compact JSON text for one message, ``"v"`` and ``"type"`` first, UTF-8 unescaped."""
    form = _form(msg)
    if form.text is not None:
        return form.text(msg)
    wire_type, body = form.wire_type, form.body(msg)
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


def _body(msg: object) -> tuple[str, dict[str, Any]]:
    """The wire type and the fields after it, from the form of ``msg``'s class (or a base)."""
    form = _form(msg)
    return form.wire_type, form.body(msg)


def _form(msg: object) -> WireForm[Any]:
    form = _FORMS.get(type(msg))
    if form is not None:
        return form
    for cls in type(msg).__mro__:
        form = _FORMS.get(cls)
        if form is not None:
            return form
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


def _check_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise ProtocolError(
            ErrorCode.TOO_LARGE,
            f"the message is {size} bytes; the limit is {max_bytes} bytes. Send less "
            f"(an SDP may be up to {MAX_SDP_BYTES} bytes)",
        )


def parse_client(
    raw: str | bytes, *, max_bytes: int = MAX_MESSAGE_BYTES
) -> ClientMessage | ShareChunk:
    """Parse one frame a client sent; raise ProtocolError (with a wire code) to refuse it.

    ``raw`` is what the websocket delivered: ``str`` for a text frame, ``bytes`` for a
    binary frame, which only a share chunk may be. Unknown fields are refused.
    """
    if isinstance(raw, bytes | bytearray | memoryview):
        return parse_chunk(raw)
    _check_size(len(raw.encode("utf-8", "surrogatepass")), max_bytes)
    wire_type, obj = _envelope(load_json(raw), _CLIENT_TYPES)
    form = _CLIENT_TYPES[wire_type]
    msg = JsonObject(
        obj, "", ("v", "type", "id", *form.fields), strict=True, what=f"a {wire_type!r} message"
    )
    return form.read(msg)


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


def parse_server(raw: str | bytes) -> ServerMessage | ShareChunk:
    """Parse one message from the server; raise ProtocolError like :func:`parse_client`.

    Unknown fields are ignored (forward compatibility); a binary frame is a share chunk
    when it begins with ``STS1``, other ``bytes`` are decoded as UTF-8.
    """
    if isinstance(raw, bytes | bytearray | memoryview) and bytes(raw[:4]) == CHUNK_MAGIC:
        return parse_chunk(raw)
    if isinstance(raw, bytes | bytearray | memoryview):
        try:
            raw = bytes(raw).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError(
                ErrorCode.BAD_JSON, f"the message is not UTF-8 text ({exc.reason})"
            ) from None
    wire_type, obj = _envelope(load_json(raw), _SERVER_TYPES)
    msg = JsonObject(obj, "", (), strict=False, what=f"a {wire_type!r} message")
    return _SERVER_TYPES[wire_type].read(msg)
