"""Signaling wire format, version 1: one parse and one serialize for every message.

Every message is a JSON object sent as one websocket text frame, with ``"v": 1`` and a
``"type"``. Clients send :data:`ClientMessage`; the server sends :data:`ServerMessage`.
:func:`parse_client` is strict (unknown fields are rejected so mistakes surface at once);
:func:`parse_server` ignores unknown fields so that older clients keep working against a
newer server. Every rejection is a :class:`~surgery_teach.errors.ProtocolError` whose
``code`` goes on the wire and whose message names the problem and the fix.
Telestration messages carry annotation ops in the format of
:mod:`surgery_teach.annotations.wire`; a malformed op is ``bad-annotation``.
docs/protocol.md is the written form of this package.

The messages live by concept, each with its reader and writer: :mod:`.session` (join,
leave, publish, ping, remove; welcome, joined, left, updated, pong, error) with the
:mod:`.participants` they carry, :mod:`.signaling` (offers, answers, candidates),
:mod:`.chat`, :mod:`.telestration` (annotations, drawing rights), :mod:`.recording`
(who records, chapters), :mod:`.privacy` (privacy pauses), :mod:`.classes` (class
mode: the media server) and :mod:`.shares` (shared pictures through the server).
:mod:`.envelope` checks what all messages share and lists them all; :mod:`.common`
holds the little the others need. Import from here: these names are the public surface.
"""

from __future__ import annotations

from surgery_teach.protocol.messages.chat import Chat, ChatHistory, ChatMessage
from surgery_teach.protocol.messages.classes import ClassMode, MediaRoute
from surgery_teach.protocol.messages.envelope import (
    PROTOCOL_VERSION,
    ClientMessage,
    ServerMessage,
    message_ref,
    parse_client,
    parse_server,
    serialize,
    wire_type,
)
from surgery_teach.protocol.messages.participants import ParticipantInfo, Publishes
from surgery_teach.protocol.messages.privacy import PrivacyNotice, PrivacyPause
from surgery_teach.protocol.messages.recording import (
    ChapterMessage,
    ChapterStart,
    Record,
    RecorderInfo,
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
    ShareChunk,
    ShareEnded,
    ShareHead,
    ShareNotice,
    ShareOffer,
    ShareResume,
    ShareStop,
    ShareStored,
    ShareUpload,
)
from surgery_teach.protocol.messages.signaling import (
    Answer,
    Candidate,
    Offer,
    Relayed,
    Signal,
    SignalData,
    TrackInfo,
)
from surgery_teach.protocol.messages.telestration import (
    Annotate,
    Annotation,
    AnnotationSnapshot,
    GrantDraw,
)
from surgery_teach.wire.fields import (
    MAX_CHAT_CHARS,
    MAX_MESSAGE_BYTES,
    MAX_SDP_BYTES,
    MAX_TRACKS,
    MAX_VIDEO_TRACKS,
    ErrorCode,
    MessageRef,
)
from surgery_teach.wire.role import Role

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
    "ClassMode",
    "ClientMessage",
    "ErrorCode",
    "ErrorReply",
    "GrantDraw",
    "Join",
    "Joined",
    "Leave",
    "Left",
    "MediaRoute",
    "MessageRef",
    "Offer",
    "ParticipantInfo",
    "Ping",
    "Pong",
    "PrivacyNotice",
    "PrivacyPause",
    "Publish",
    "Publishes",
    "Record",
    "RecorderInfo",
    "Relayed",
    "RemoveParticipant",
    "Role",
    "RoomRecording",
    "ServerMessage",
    "ShareChunk",
    "ShareEnded",
    "ShareHead",
    "ShareNotice",
    "ShareOffer",
    "ShareResume",
    "ShareStop",
    "ShareStored",
    "ShareUpload",
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
