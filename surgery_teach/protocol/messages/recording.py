"""Recording: who records the session, and the chapters everyone's recordings share.

A surgeon or mentor says they start or stop recording with ``record`` (:class:`Record`);
the room learns who records as ``recording`` (:class:`RoomRecording` of
:class:`RecorderInfo`), so every participant can show that the session is recorded and
by whom. ``chapter`` from a client (:class:`ChapterStart`) comes back to the room
numbered, as ``chapter`` from the server (:class:`ChapterMessage`). Each message is
followed by its reader and writer and the :class:`~.common.WireForm` the envelope lists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

from surgery_teach.protocol.messages.common import (
    WireForm,
    check_boolean,
    normalise,
    with_ref,
)
from surgery_teach.wire.fields import (
    MAX_ID_CHARS,
    MAX_NAME_CHARS,
    MAX_SAFE_INTEGER,
    JsonObject,
    MessageRef,
    bad,
    check_ref,
    check_text,
    clean_label,
    json_kind,
    show,
)
from surgery_teach.wire.role import Role, as_role

MAX_CHAPTER_TITLE_CHARS: Final = 200
"""Longest chapter title, in characters after trimming (one line)."""


def _check_time(obj: object, field: str, value: object) -> None:
    """A time field: a finite number of Unix seconds, at least 0 (stored as a float)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise bad(field, f"must be a finite number of seconds (got {json_kind(value)})")
    if value < 0:
        raise bad(field, f"must be 0 or more (got {show(value)})")
    normalise(obj, field, float(value))


# -- client -> server -------------------------------------------------------------------------


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
        check_boolean(self.on, "state")
        check_ref(self.id)


def _read_record(msg: JsonObject) -> Record:
    state = msg.text("state")
    if state not in ("on", "off"):
        raise bad("state", f'must be "on" or "off" (got {show(state)})')
    return msg.build(Record, on=state == "on", id=msg.ref())


RECORD_FORM: Final = WireForm(
    "record",
    Record,
    _read_record,
    lambda msg: {"state": "on" if msg.on else "off"},
    fields=("state",),
)


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
        normalise(self, "title", clean_label(self.title, "title", MAX_CHAPTER_TITLE_CHARS))
        _check_time(self, "time", self.time)
        check_ref(self.id)


def _read_chapter(msg: JsonObject) -> ChapterStart:
    return msg.build(ChapterStart, title=msg.text("title"), time=msg.number("time"), id=msg.ref())


CHAPTER_START_FORM: Final = WireForm(
    "chapter",
    ChapterStart,
    _read_chapter,
    lambda msg: {"title": msg.title, "time": msg.time},
    fields=("title", "time"),
)


# -- server -> client -------------------------------------------------------------------------


@dataclass(frozen=True)
class RecorderInfo:
    """Someone recording the session: who, and since when (server clock, Unix seconds)."""

    id: str
    name: str
    role: Role
    since: float

    def __post_init__(self) -> None:
        check_text(self.id, "id", MAX_ID_CHARS)
        normalise(self, "name", clean_label(self.name, "name", MAX_NAME_CHARS))
        normalise(self, "role", as_role(self.role))
        _check_time(self, "since", self.since)


def _read_recorder(value: object, path: str) -> RecorderInfo:
    info = JsonObject(value, path, (), strict=False, what="a recorder")
    return info.build(
        RecorderInfo,
        id=info.text("id"),
        name=info.text("name"),
        role=info.text("role"),
        since=info.number("since"),
    )


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
        normalise(self, "recorders", tuple(self.recorders))
        check_ref(self.ref, "ref")

    def records(self, participant_id: str) -> bool:
        """Whether ``participant_id`` is recording."""
        return any(r.id == participant_id for r in self.recorders)


def _read_room_recording(msg: JsonObject) -> RoomRecording:
    return RoomRecording(
        recorders=tuple(
            _read_recorder(item, f"recorders[{index}]")
            for index, item in enumerate(msg.array("recorders"))
        ),
        ref=msg.ref("ref"),
    )


def _body_room_recording(msg: RoomRecording) -> dict[str, Any]:
    recorders = [
        {"id": r.id, "name": r.name, "role": r.role.value, "since": r.since}
        for r in msg.recorders
    ]
    return with_ref({"recorders": recorders}, msg.ref)


ROOM_RECORDING_FORM: Final = WireForm(
    "recording", RoomRecording, _read_room_recording, _body_room_recording
)


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
        normalise(self, "name", clean_label(self.name, "name", MAX_NAME_CHARS))
        normalise(self, "role", as_role(self.role))
        normalise(self, "title", clean_label(self.title, "title", MAX_CHAPTER_TITLE_CHARS))
        _check_time(self, "time", self.time)
        _check_time(self, "server_time", self.server_time)
        seq = self.seq
        if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq <= MAX_SAFE_INTEGER:
            raise bad("seq", f"must be an integer from 1 (got {json_kind(seq)})")


CHAPTER_MESSAGE_FORM: Final = WireForm(
    "chapter",
    ChapterMessage,
    lambda msg: msg.build(
        ChapterMessage,
        sender=msg.text("from"),
        name=msg.text("name"),
        role=msg.text("role"),
        title=msg.text("title"),
        time=msg.number("time"),
        server_time=msg.number("server_time"),
        seq=msg.integer("seq"),
    ),
    lambda msg: {
        "from": msg.sender,
        "name": msg.name,
        "role": msg.role.value,
        "title": msg.title,
        "time": msg.time,
        "server_time": msg.server_time,
        "seq": msg.seq,
    },
)
