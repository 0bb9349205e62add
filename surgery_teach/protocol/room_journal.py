"""A room's state as journal entries, and back: what a restarted server restores.

The server can keep, per room, an append-only journal of JSON objects (one per line, see
``signaling_server/state.py`` for the files): who is in the room, its chat and its
annotation ops, each in the protocol's own wire form (:func:`~.messages.serialize`), so
there is one way to write and read them. :func:`read_state` folds a journal into a
:class:`RoomState`; :meth:`.room.Rooms.restore` rebuilds the room from it. Pure.

Entry kinds (``"k"``):

=========  ================================================================================
``room``   first line: ``{"k":"room","v":1,"room":NAME}``
``in``     a participant joined or changed: ``m`` (an ``updated`` message), ``key`` (the
           SHA-256 of its client key, or null), ``user`` (its token's ``sub``, or null)
``out``    participant ``id`` left for good
``chat``   ``m``: a server ``chat`` message; ``ref``: the sender's message id, or null
``op``     ``m``: an ``annotation`` message (numbered op); ``ref``: its ``annotate`` id
``board``  ``m``: an ``annotations`` snapshot (written by compaction, before any ``op``)
``ref``    ``m``: an ``annotation`` already in the board, kept so a resend of ``ref`` is
           recognised (written by compaction)
=========  ================================================================================
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Final

from surgery_teach.errors import ProtocolError
from surgery_teach.protocol.messages import (
    Annotation,
    AnnotationSnapshot,
    ChatMessage,
    MessageRef,
    ParticipantInfo,
    Updated,
    parse_server,
    serialize,
)
from surgery_teach.wire.fields import ErrorCode

JOURNAL_VERSION: Final = 1

Entry = dict[str, Any]


def encode(entry: Entry) -> bytes:
    """One journal line: the entry as compact JSON and a newline.

    An entry made here carries its message (``m``) as the message itself, written out
    only now with :func:`~.messages.serialize` (which writes each mark once), so that
    recording a change costs the event loop next to nothing and the writing can happen
    on another thread; ``m`` keeps its place among the keys.
    """
    message = entry.get("m")
    if message is None or isinstance(message, dict):
        return (json.dumps(entry, ensure_ascii=False, separators=_SEPARATORS,
                           allow_nan=False) + "\n").encode()
    parts = [
        f'"{key}":{serialize(value) if key == "m" else _json(value)}'
        for key, value in entry.items()
    ]
    return ("{" + ",".join(parts) + "}\n").encode()


_SEPARATORS: Final = (",", ":")


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=_SEPARATORS, allow_nan=False)


def header(room: str) -> Entry:
    return {"k": "room", "v": JOURNAL_VERSION, "room": room}


def arrival(participant: ParticipantInfo, digest: str | None, user: str | None) -> Entry:
    """A participant joined, came back, or changed what it publishes or may draw."""
    return {"k": "in", "m": Updated(participant), "key": digest, "user": user}


def departure(participant_id: str) -> Entry:
    return {"k": "out", "id": participant_id}


def chat(message: ChatMessage, ref: MessageRef) -> Entry:
    return {"k": "chat", "m": replace(message, ref=None), "ref": ref}


def op(annotation: Annotation, ref: MessageRef) -> Entry:
    return {"k": "op", "m": replace(annotation, ref=None), "ref": ref}


def board(snapshot: AnnotationSnapshot) -> Entry:
    return {"k": "board", "m": replace(snapshot, ref=None)}


def applied(ref: MessageRef, annotation: Annotation) -> Entry:
    return {"k": "ref", "m": replace(annotation, ref=None), "ref": ref}


@dataclass
class Member:
    """A participant of a restored room: how the room saw it, and how it may come back."""

    info: ParticipantInfo
    digest: str | None
    user: str | None


@dataclass
class RoomState:
    """Everything a journal says about one room."""

    room: str
    members: dict[str, Member] = field(default_factory=dict)
    """Participant id -> member, in joining order."""
    chat: list[tuple[ChatMessage, MessageRef]] = field(default_factory=list)
    board: AnnotationSnapshot | None = None
    ops: list[tuple[Annotation, MessageRef]] = field(default_factory=list)
    """Ops after ``board``, in ``seq`` order."""
    refs: list[tuple[MessageRef, Annotation]] = field(default_factory=list)
    """Client op ids already applied within ``board``."""


def read_state(entries: Iterable[Entry],
               skip: Callable[[ProtocolError], None] | None = None) -> RoomState:
    """Fold journal entries into a room's state; raise ProtocolError if they are not one.

    With ``skip``, an entry after the header that is not understood is handed to it and
    left out (one garbled line costs that change, not the room) instead of raising.
    """
    state: RoomState | None = None
    for number, entry in enumerate(entries, 1):
        if state is None:
            if not isinstance(entry, dict) or entry.get("k") != "room" or (
                    entry.get("v") != JOURNAL_VERSION):
                raise _bad(number, f"the first entry must be a version {JOURNAL_VERSION} header")
            state = RoomState(str(entry.get("room")))
            continue
        try:
            if not isinstance(entry, dict):
                raise _bad(number, "not a JSON object")
            _apply(state, entry.get("k"), entry, number)
        except ProtocolError as problem:
            if skip is None:
                raise
            skip(problem)
    if state is None:
        raise _bad(0, "empty")
    return state


def _apply(state: RoomState, kind: object, entry: Entry, number: int) -> None:
    if kind == "in":
        info = _message(entry, number, Updated).participant
        state.members[info.id] = Member(info, entry.get("key"), entry.get("user"))
    elif kind == "out":
        state.members.pop(str(entry.get("id")), None)
    elif kind == "chat":
        state.chat.append((_message(entry, number, ChatMessage), entry.get("ref")))
    elif kind == "op":
        state.ops.append((_message(entry, number, Annotation), entry.get("ref")))
    elif kind == "board":
        state.board = _message(entry, number, AnnotationSnapshot)
        state.ops.clear()
    elif kind == "ref":
        state.refs.append((entry.get("ref"), _message(entry, number, Annotation)))
    else:
        raise _bad(number, f"unknown kind {kind!r}")


def _message(entry: Entry, number: int, kind: type[Any]) -> Any:
    try:
        message = parse_server(json.dumps(entry.get("m")))
    except ProtocolError as exc:
        raise _bad(number, exc.message) from None
    if not isinstance(message, kind):
        raise _bad(number, f"expected {kind.__name__}")
    return message


def _bad(number: int, problem: str) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_MESSAGE, f"room journal entry {number}: {problem}")
