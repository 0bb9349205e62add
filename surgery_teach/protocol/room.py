"""Room rules of the signaling server, free of I/O.

:class:`Rooms` takes what happened on a connection (a parsed client message, or the
connection going away) and returns what to send to whom. It never awaits anything, so the
websocket shell stays thin and every rule is tested without a network. Connections are
identified by any hashable key the caller chooses (the server uses the connection object).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeAlias, TypeVar

from surgery_teach import __version__
from surgery_teach.errors import ConfigError
from surgery_teach.protocol.messages import (
    ClientMessage,
    ErrorCode,
    ErrorReply,
    Join,
    Joined,
    Leave,
    Left,
    ParticipantInfo,
    Ping,
    Pong,
    Relayed,
    ServerMessage,
    Signal,
    Welcome,
)

DEFAULT_MAX_ROOM_SIZE = 50

K = TypeVar("K", bound=Hashable)
Outbox: TypeAlias = list[tuple[K, ServerMessage]]
"""What to send: ``(recipient connection key, message)`` in order."""


def new_participant_id() -> str:
    """A fresh, hard-to-guess participant id: ``p-`` and 8 hex digits."""
    return f"p-{secrets.token_hex(4)}"


@dataclass(frozen=True)
class Seat:
    """Where a joined connection sits: its room and how others see it."""

    room: str
    participant: ParticipantInfo


class Rooms(Generic[K]):
    """Every room on one server: who is where, and who may signal whom.

    ``clock`` gives ``pong.server_time``; ``new_id`` makes participant ids (tests pass
    deterministic ones). Rooms exist while someone is in them.
    """

    def __init__(
        self,
        *,
        max_room_size: int = DEFAULT_MAX_ROOM_SIZE,
        server_version: str = __version__,
        clock: Callable[[], float] = time.time,
        new_id: Callable[[], str] = new_participant_id,
    ) -> None:
        if max_room_size < 1:
            raise ConfigError(f"max_room_size must be at least 1, got {max_room_size}")
        self.max_room_size = max_room_size
        self.server_version = server_version
        self._clock = clock
        self._new_id = new_id
        self._seats: dict[K, Seat] = {}
        # room name -> participant id -> connection key, in joining order
        self._rooms: dict[str, dict[str, K]] = {}
        self._ids: set[str] = set()

    @property
    def room_count(self) -> int:
        return len(self._rooms)

    @property
    def participant_count(self) -> int:
        return len(self._seats)

    def seat(self, conn: K) -> Seat | None:
        """Where ``conn`` sits, or None if it has not joined a room."""
        return self._seats.get(conn)

    def participants(self, room: str) -> tuple[ParticipantInfo, ...]:
        """Who is in ``room``, in joining order (empty if the room does not exist)."""
        members = self._rooms.get(room, {})
        return tuple(self._seats[conn].participant for conn in members.values())

    def handle(self, conn: K, message: ClientMessage) -> Outbox[K]:
        """Apply one client message from ``conn``; return the messages it causes."""
        match message:
            case Join():
                return self._join(conn, message)
            case Leave():
                if conn not in self._seats:
                    return self._refuse(conn, message, ErrorCode.NOT_JOINED, _NOT_JOINED)
                return self._remove(conn, reason="leave")
            case Signal():
                return self._relay(conn, message)
            case Ping():
                pong = Pong(self._clock(), self.room_count, self.participant_count)
                return [(conn, pong)]
        raise TypeError(f"not a client message: {message!r}")

    def disconnect(self, conn: K) -> Outbox[K]:
        """``conn`` went away: tell its room, forget it. Harmless if it never joined."""
        if conn not in self._seats:
            return []
        return self._remove(conn, reason="disconnect")

    def _join(self, conn: K, join: Join) -> Outbox[K]:
        seat = self._seats.get(conn)
        if seat is not None:
            return self._refuse(
                conn,
                join,
                ErrorCode.ALREADY_JOINED,
                f"this connection is already in room {seat.room!r} as {seat.participant.id}; "
                'send {"v":1,"type":"leave"} first to change room or name',
            )
        members = self._rooms.get(join.room, {})
        if len(members) >= self.max_room_size:
            return self._refuse(
                conn,
                join,
                ErrorCode.ROOM_FULL,
                f"room {join.room!r} is full ({self.max_room_size} participants); try again "
                "when someone leaves, use another room, or ask the operator to raise "
                "--max-room-size",
            )
        participant = ParticipantInfo(self._unique_id(), join.name, join.role)
        others = self.participants(join.room)
        self._rooms.setdefault(join.room, {})[participant.id] = conn
        self._seats[conn] = Seat(join.room, participant)
        self._ids.add(participant.id)
        outbox: Outbox[K] = [(conn, Welcome(join.room, participant, others, self.server_version))]
        outbox += [(other, Joined(participant)) for other in self._others(join.room, conn)]
        return outbox

    def _relay(self, conn: K, signal: Signal) -> Outbox[K]:
        seat = self._seats.get(conn)
        if seat is None:
            return self._refuse(conn, signal, ErrorCode.NOT_JOINED, _NOT_JOINED)
        if signal.to == seat.participant.id:
            return self._refuse(
                conn,
                signal,
                ErrorCode.BAD_MESSAGE,
                "field 'to' is your own participant id; signal another participant",
            )
        target = self._rooms[seat.room].get(signal.to)
        if target is None:
            return self._refuse(
                conn,
                signal,
                ErrorCode.UNKNOWN_PARTICIPANT,
                f"no participant {signal.to!r} in room {seat.room!r}; they may have left. "
                "Use ids from welcome/joined and stop signalling a participant after 'left'",
            )
        return [(target, Relayed(seat.participant.id, signal.data))]

    def _remove(self, conn: K, *, reason: str) -> Outbox[K]:
        seat = self._seats.pop(conn)
        self._ids.discard(seat.participant.id)
        members = self._rooms[seat.room]
        del members[seat.participant.id]
        if not members:
            del self._rooms[seat.room]
        left = Left(seat.participant, reason)
        return [(other, left) for other in members.values()]

    def _others(self, room: str, conn: K) -> list[K]:
        return [other for other in self._rooms[room].values() if other != conn]

    def _unique_id(self) -> str:
        while True:
            participant_id = self._new_id()
            if participant_id not in self._ids:
                return participant_id

    @staticmethod
    def _refuse(conn: K, message: ClientMessage, code: ErrorCode, text: str) -> Outbox[K]:
        return [(conn, ErrorReply(code, text, message.id))]


_NOT_JOINED = (
    "this connection has not joined a room; send "
    '{"v":1,"type":"join","room":"...","name":"...","role":"..."} first'
)
