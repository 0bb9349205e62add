"""Chat: what a participant says to the room, and the room's recent chat for newcomers.

A client sends ``chat`` (:class:`Chat`); the server numbers it and sends it to everyone
as a ``chat`` with the sender's name and role (:class:`ChatMessage`), and sends a
newcomer the recent ones as ``chat-history`` (:class:`ChatHistory`). Chat may hold
patient details, so errors about its text never quote it. Each message is followed by
its reader and writer and the :class:`~.common.WireForm` the envelope lists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

from surgery_teach.protocol.messages.common import WireForm, normalise, with_ref
from surgery_teach.wire.fields import (
    MAX_CHAT_CHARS,
    MAX_ID_CHARS,
    MAX_NAME_CHARS,
    JsonObject,
    MessageRef,
    bad,
    check_ref,
    check_text,
    clean_chat_text,
    clean_label,
    json_kind,
)
from surgery_teach.wire.role import Role, as_role

# -- client -> server -------------------------------------------------------------------------


@dataclass(frozen=True)
class Chat:
    """Say something to everyone in your room: 1-2000 characters, line breaks allowed."""

    text: str
    id: MessageRef = None

    def __post_init__(self) -> None:
        normalise(self, "text", clean_chat_text(self.text, "text", MAX_CHAT_CHARS))
        check_ref(self.id)


def _read_chat(msg: JsonObject) -> Chat:
    return msg.build(Chat, text=msg.text("text"), id=msg.ref())


CHAT_FORM: Final = WireForm(
    "chat", Chat, _read_chat, lambda msg: {"text": msg.text}, fields=("text",)
)


# -- server -> client -------------------------------------------------------------------------


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
        normalise(self, "name", clean_label(self.name, "name", MAX_NAME_CHARS))
        normalise(self, "role", as_role(self.role))
        normalise(self, "text", clean_chat_text(self.text, "text", MAX_CHAT_CHARS))
        time = self.time
        if isinstance(time, bool) or not isinstance(time, int | float) or not math.isfinite(time):
            raise bad("time", f"must be a finite number (got {json_kind(time)})")
        normalise(self, "time", float(time))
        seq = self.seq
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
            raise bad("seq", f"must be an integer from 1 (got {json_kind(seq)})")


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


def _chat_message(msg: ChatMessage) -> dict[str, Any]:
    return {
        "from": msg.sender,
        "name": msg.name,
        "role": msg.role.value,
        "text": msg.text,
        "time": msg.time,
        "seq": msg.seq,
    }


CHAT_MESSAGE_FORM: Final = WireForm(
    "chat",
    ChatMessage,
    _read_chat_message,
    lambda msg: with_ref(_chat_message(msg), msg.ref),
)


@dataclass(frozen=True)
class ChatHistory:
    """The room's recent chat, oldest first, sent to a newcomer right after ``welcome``."""

    messages: tuple[ChatMessage, ...]

    def __post_init__(self) -> None:
        normalise(self, "messages", tuple(self.messages))


def _read_chat_history(msg: JsonObject) -> ChatHistory:
    return ChatHistory(
        tuple(
            _read_chat_message(
                JsonObject(item, f"messages[{index}]", (), strict=False, what="a chat message")
            )
            for index, item in enumerate(msg.array("messages"))
        )
    )


CHAT_HISTORY_FORM: Final = WireForm(
    "chat-history",
    ChatHistory,
    _read_chat_history,
    lambda msg: {"messages": [_chat_message(m) for m in msg.messages]},
)
