"""Room rules of the signaling server, free of I/O.

:class:`Rooms` takes what happened on a connection (a parsed client message, or the
connection going away) and returns what to send to whom. It never awaits anything, so the
websocket shell stays thin and every rule is tested without a network. Connections are
identified by any hashable key the caller chooses (the server uses the connection object).
Each room's annotations follow the rules of :mod:`.telestration`. On a server with room
tokens, a connection joins only as its token says (:meth:`Rooms.admit`), and whoever a
mentor or the surgeon removes stays out while their token lasts (:class:`~.passes.Bars`).
What each role may do is :mod:`.roles`; a message the sender's role may not send is
refused with ``forbidden``.
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Final, Generic, TypeAlias, TypeVar

from surgery_teach import __version__
from surgery_teach.errors import ConfigError
from surgery_teach.protocol.messages import (
    Annotate,
    ChapterStart,
    Chat,
    ChatHistory,
    ChatMessage,
    ClientMessage,
    ErrorCode,
    ErrorReply,
    GrantDraw,
    Join,
    Joined,
    Leave,
    Left,
    ParticipantInfo,
    Ping,
    Pong,
    PrivacyPause,
    Publish,
    Record,
    Relayed,
    RemoveParticipant,
    Role,
    ServerMessage,
    Signal,
    Updated,
    Welcome,
    serialize,
)
from surgery_teach.protocol.passes import Bars, RoomPass
from surgery_teach.protocol.privacy import RoomPrivacy, privacy_refusal
from surgery_teach.protocol.recording import RoomRecorders, chapter_refusal, record_refusal
from surgery_teach.protocol.roles import (
    grant_refusal,
    publishing_refusal,
    removal_refusal,
    signal_refusal,
)

if TYPE_CHECKING:
    from surgery_teach.annotations.board import Board
    from surgery_teach.protocol.board_limits import BoardLimits
    from surgery_teach.protocol.telestration import Telestration

DEFAULT_MAX_ROOM_SIZE = 50
CHAT_HISTORY_LENGTH: Final = 200
"""How many of a room's latest chat messages the room keeps and a newcomer receives."""
CHAT_HISTORY_BYTES: Final = 512 * 1024
"""What those messages may weigh together (their JSON); older ones go first."""
MAX_ROOMS: Final = 1000
"""Rooms one server holds at once; a join that would open another gets ``server-full``."""

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


def _new_telestration(clock: Callable[[], float],
                      limits: BoardLimits | None = None) -> Telestration:
    # Imported here: surgery_teach.annotations builds on this package (its field rules
    # and Role), so importing it at the top would make the two import each other.
    from surgery_teach.protocol.telestration import Telestration

    return Telestration(clock, limits)


@dataclass
class _Room(Generic[K]):
    """One room: who is in it (participant id -> connection, in joining order), its chat
    and its annotations."""

    telestration: Telestration
    members: dict[str, K] = field(default_factory=dict)
    chat: deque[ChatMessage] = field(default_factory=deque)
    chat_bytes: int = 0
    """What the messages in ``chat`` weigh (their JSON)."""
    chat_count: int = 0
    """Chat messages ever sent here: the ``seq`` of the latest."""
    recording: RoomRecorders = field(default_factory=RoomRecorders)
    """Who records the room now, and its chapters."""
    privacy: RoomPrivacy = field(default_factory=RoomPrivacy)
    """Whose video is paused for privacy now."""

    def keep_chat(self, message: ChatMessage) -> None:
        """Add ``message`` to the history, forgetting the oldest beyond 200 messages or
        512 KiB, so that a room's chat costs the server (and a newcomer) a bounded amount."""
        self.chat.append(message)
        self.chat_bytes += chat_weight(message)
        while len(self.chat) > CHAT_HISTORY_LENGTH or (
                self.chat_bytes > CHAT_HISTORY_BYTES and len(self.chat) > 1):
            self.chat_bytes -= chat_weight(self.chat.popleft())


def chat_weight(message: ChatMessage) -> int:
    """A chat message's bytes in a ``chat-history`` (its JSON, about)."""
    return len(serialize(message).encode()) - 20  # without "v" and "type"


class Rooms(Generic[K]):
    """Every room on one server: who is where, who may signal, publish and draw what, the
    chat and the annotations.

    ``clock`` gives ``pong.server_time``, chat times, the ``created`` time of marks and
    the time against which removals expire; ``new_id`` makes participant ids (tests pass
    deterministic ones). ``bars`` records removals (the server shares it with its
    handshake rules). ``max_rooms`` bounds the rooms held at once, ``board_limits`` each
    room's board (:mod:`.board_limits`; None: the defaults). Rooms exist while someone is
    in them: a room's chat history and annotations are forgotten when its last
    participant leaves; removals are not.
    """

    def __init__(
        self,
        *,
        max_room_size: int = DEFAULT_MAX_ROOM_SIZE,
        server_version: str = __version__,
        clock: Callable[[], float] = time.time,
        new_id: Callable[[], str] = new_participant_id,
        bars: Bars | None = None,
        max_rooms: int = MAX_ROOMS,
        board_limits: BoardLimits | None = None,
    ) -> None:
        if max_room_size < 1:
            raise ConfigError(f"max_room_size must be at least 1, got {max_room_size}")
        if max_rooms < 1:
            raise ConfigError(f"max_rooms must be at least 1, got {max_rooms}")
        self.max_room_size = max_room_size
        self.max_rooms = max_rooms
        self.board_limits = board_limits
        self.server_version = server_version
        self._clock = clock
        self._new_id = new_id
        self.bars = Bars() if bars is None else bars
        self._seats: dict[K, Seat] = {}
        self._rooms: dict[str, _Room[K]] = {}
        self._ids: set[str] = set()
        self._passes: dict[K, RoomPass] = {}

    @property
    def room_count(self) -> int:
        return len(self._rooms)

    @property
    def participant_count(self) -> int:
        return len(self._seats)

    def seat(self, conn: K) -> Seat | None:
        """Where ``conn`` sits, or None if it has not joined a room."""
        return self._seats.get(conn)

    def member(self, room: str, participant_id: str) -> K | None:
        """The connection of participant ``participant_id`` in ``room``, or None."""
        return self._rooms[room].members.get(participant_id) if room in self._rooms else None

    def admit(self, conn: K, room_pass: RoomPass) -> None:
        """Let ``conn`` join only as ``room_pass`` says: its room, role and name.

        A server with room tokens calls this when the websocket opens; without it a
        connection may join any room in any role (an open server).
        """
        self._passes[conn] = room_pass

    def participants(self, room: str) -> tuple[ParticipantInfo, ...]:
        """Who is in ``room``, in joining order (empty if the room does not exist)."""
        members = self._rooms[room].members if room in self._rooms else {}
        return tuple(self._seats[conn].participant for conn in members.values())

    def board(self, room: str) -> Board | None:
        """The annotation board of ``room`` as the server holds it (None: no such room).

        For reading: every change goes through :meth:`handle`.
        """
        return self._rooms[room].telestration.board if room in self._rooms else None

    def handle(self, conn: K, message: ClientMessage) -> Outbox[K]:
        """Apply one client message from ``conn``; return the messages it causes."""
        match message:
            case Join():
                return self._join(conn, message)
            case Ping():
                pong = Pong(self._clock(), self.room_count, self.participant_count)
                return [(conn, pong)]
        seat = self._seats.get(conn)  # everything else needs a seat in a room
        if seat is None:
            return self._refuse(conn, message, ErrorCode.NOT_JOINED, _NOT_JOINED)
        match message:
            case Leave():
                return self._remove(conn, reason="leave")
            case Signal():
                return self._relay(conn, seat, message)
            case Publish():
                return self._publish(conn, seat, message)
            case Chat():
                return self._chat(conn, seat, message)
            case Annotate():
                return self._annotate(conn, seat, message)
            case GrantDraw():
                return self._grant_draw(conn, seat, message)
            case RemoveParticipant():
                return self._remove_participant(conn, seat, message)
            case Record():
                return self._record(conn, seat, message)
            case ChapterStart():
                return self._chapter(conn, seat, message)
            case PrivacyPause():
                return self._privacy(conn, seat, message)
        raise TypeError(f"not a client message: {message!r}")

    def disconnect(self, conn: K) -> Outbox[K]:
        """``conn`` went away: tell its room, forget it. Harmless if it never joined."""
        self._passes.pop(conn, None)
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
        refusal = self._pass_refusal(conn, join)
        if refusal is not None:
            return self._refuse(conn, join, ErrorCode.NOT_ALLOWED, refusal)
        refusal = publishing_refusal(join.role, join.publishes)
        if refusal is not None:
            return self._refuse(conn, join, ErrorCode.FORBIDDEN, refusal)
        others = self.participants(join.room)
        if len(others) >= self.max_room_size:
            return self._refuse(
                conn,
                join,
                ErrorCode.ROOM_FULL,
                f"room {join.room!r} is full ({self.max_room_size} participants); try again "
                "when someone leaves, use another room, or ask the operator to raise "
                "--max-room-size",
            )
        room = self._rooms.get(join.room)
        outbox: Outbox[K] = []
        if room is None:
            if len(self._rooms) >= self.max_rooms:
                outbox = self._make_room_space()
            if len(self._rooms) >= self.max_rooms:
                return outbox + self._refuse(
                    conn,
                    join,
                    ErrorCode.SERVER_FULL,
                    f"the server holds {self.max_rooms} rooms, as many as it may, so room "
                    f"{join.room!r} cannot be opened now; join a room that is open, try again "
                    "later, or ask the operator to raise the limit",
                )
            room = self._rooms[join.room] = _Room(
                _new_telestration(self._clock, self.board_limits))
        can_draw = room.telestration.can_draw(join.role)
        participant = ParticipantInfo(
            self._unique_id(), join.name, join.role, join.publishes, can_draw
        )
        room.members[participant.id] = conn
        self._seats[conn] = Seat(join.room, participant)
        self._ids.add(participant.id)
        outbox += [(conn, Welcome(join.room, participant, others, self.server_version))]
        outbox += self._catch_up(conn, room)
        outbox += [(other, Joined(participant)) for other in self._others(join.room, conn)]
        return outbox

    def _make_room_space(self) -> Outbox[K]:
        """Free room for a new room if rooms can be freed (participants waiting to rejoin
        can, :class:`~.durable.DurableRooms`); what that causes."""
        return []

    @staticmethod
    def _catch_up(conn: K, room: _Room[K]) -> Outbox[K]:
        """What a participant receives right after ``welcome``: the room's state."""
        outbox: Outbox[K] = []
        if room.chat:
            outbox.append((conn, ChatHistory(tuple(room.chat))))
        marks = room.telestration.snapshot()
        if marks is not None:
            outbox.append((conn, marks))
        if room.recording.active:  # a newcomer sees at once that the session is recorded
            outbox.append((conn, room.recording.state()))
        outbox += [(conn, notice) for notice in room.privacy.paused()]
        return outbox

    def _pass_refusal(self, conn: K, join: Join) -> str | None:
        """Why ``conn``'s token does not let it make this ``join``, or None."""
        room_pass = self._passes.get(conn)
        if room_pass is None:
            return None
        if self.bars.barred(room_pass, now=self._clock()):
            return (
                f"you were removed from room {room_pass.room!r}; you may not join it "
                "again while your token lasts"
            )
        if (join.room, join.role, join.name) == (room_pass.room, room_pass.role, room_pass.name):
            return None
        return (
            f"your token admits you to room {room_pass.room!r} as {room_pass.role.value} "
            f"{room_pass.name!r}, but you asked for room {join.room!r} as {join.role.value} "
            f"{join.name!r}; join with the room, role and name of your token"
        )

    def _remove_participant(self, conn: K, seat: Seat, remove: RemoveParticipant) -> Outbox[K]:
        refusal = removal_refusal(seat.participant.role)
        if refusal is not None:
            return self._refuse(conn, remove, ErrorCode.FORBIDDEN, refusal)
        target = self._rooms[seat.room].members.get(remove.participant)
        if target is None:
            return self._refuse_unknown(conn, remove, remove.participant, seat.room)
        if target == conn:
            return self._refuse(
                conn,
                remove,
                ErrorCode.BAD_MESSAGE,
                "field 'participant' is your own participant id; send "
                '{"v":1,"type":"leave"} to leave the room',
            )
        refusal = removal_refusal(seat.participant.role, self._seats[target].participant.role)
        if refusal is not None:
            return self._refuse(conn, remove, ErrorCode.FORBIDDEN, refusal)
        room_pass = self._passes.get(target)
        if room_pass is not None:
            self.bars.bar(room_pass, now=self._clock())
        kept_out = "; you may not join it again while your token lasts" if room_pass else ""
        removed = ErrorReply(
            ErrorCode.REMOVED,
            f"{seat.participant.role.value} {seat.participant.name!r} removed you from room "
            f"{seat.room!r}{kept_out}",
        )
        outbox: Outbox[K] = [(target, removed), *self._remove(target, reason="removed")]
        return outbox + self._take_marks(seat, remove.participant)

    def _take_marks(self, seat: Seat, gone: str) -> Outbox[K]:
        """A removed participant's marks and pointers, pinned ones too, leave the board
        with them (docs/protocol.md 8.3): the room was kept from them for a reason."""
        room = self._rooms.get(seat.room)
        if room is None:
            return []
        taken = room.telestration.take_marks_of(gone, seat.participant)
        return [(member, op) for op in taken for member in room.members.values()]

    def _publish(self, conn: K, seat: Seat, publish: Publish) -> Outbox[K]:
        refusal = publishing_refusal(seat.participant.role, publish.publishes)
        if refusal is not None:
            return self._refuse(conn, publish, ErrorCode.FORBIDDEN, refusal)
        participant = replace(seat.participant, publishes=publish.publishes)
        self._seats[conn] = Seat(seat.room, participant)
        updated = Updated(participant)  # the sender's copy (with ref) is its confirmation
        mine = Updated(participant, publish.id)
        members = self._rooms[seat.room].members.values()
        return [(member, mine if member == conn else updated) for member in members]

    def _chat(self, conn: K, seat: Seat, chat: Chat) -> Outbox[K]:
        room = self._rooms[seat.room]
        room.chat_count += 1
        sender = seat.participant
        message = ChatMessage(
            sender.id, sender.name, sender.role, chat.text, self._clock(), room.chat_count
        )
        room.keep_chat(message)
        return [(member, message) for member in room.members.values()]  # sender included

    def _annotate(self, conn: K, seat: Seat, annotate: Annotate) -> Outbox[K]:
        room = self._rooms[seat.room]
        telestration = room.telestration
        taken = telestration.refusal(seat.participant, annotate.op,
                                     room.members) or telestration.take(
            seat.participant, annotate)
        if not isinstance(taken, tuple):
            return self._refuse(conn, annotate, taken.code, taken.text)
        theirs, mine = taken
        outbox: Outbox[K] = []
        for member in self._rooms[seat.room].members.values():
            outbox += [(member, m) for m in (mine if member == conn else theirs)]
        return outbox

    def _grant_draw(self, conn: K, seat: Seat, grant: GrantDraw) -> Outbox[K]:
        refusal = grant_refusal(seat.participant.role)
        if refusal is not None:
            return self._refuse(conn, grant, ErrorCode.FORBIDDEN, refusal)
        members = self._rooms[seat.room].members
        target_conn = members.get(grant.to)
        if target_conn is None:
            return self._refuse_unknown(conn, grant, grant.to, seat.room)
        target = self._seats[target_conn]
        if target.participant.role is not Role.TRAINEE:
            role = target.participant.role.value
            return self._refuse(
                conn,
                grant,
                ErrorCode.BAD_MESSAGE,
                f"field 'to' names a {role}; only trainees are granted drawing "
                "(surgeons and mentors always draw, students never do)",
            )
        participant = replace(target.participant, can_draw=grant.allowed)
        self._seats[target_conn] = Seat(target.room, participant)
        updated = Updated(participant)  # the trainee's tools follow their own copy
        mine = Updated(participant, grant.id)  # the mentor's, with ref, confirms it
        return [(member, mine if member == conn else updated) for member in members.values()]

    def _relay(self, conn: K, seat: Seat, signal: Signal) -> Outbox[K]:
        refusal = signal_refusal(seat.participant, signal.data)
        if refusal is not None:
            return self._refuse(conn, signal, ErrorCode.FORBIDDEN, refusal)
        if signal.to == seat.participant.id:
            return self._refuse(
                conn,
                signal,
                ErrorCode.BAD_MESSAGE,
                "field 'to' is your own participant id; signal another participant",
            )
        target = self._rooms[seat.room].members.get(signal.to)
        if target is None:
            return self._refuse_unknown(conn, signal, signal.to, seat.room)
        return [(target, Relayed(seat.participant.id, signal.data))]

    def _remove(self, conn: K, *, reason: str) -> Outbox[K]:
        seat = self._seats.pop(conn)
        self._ids.discard(seat.participant.id)
        members = self._rooms[seat.room].members
        del members[seat.participant.id]
        recording = self._rooms[seat.room].recording
        stopped = recording.drop(seat.participant.id)  # a recorder who leaves stops recording
        self._rooms[seat.room].privacy.drop(seat.participant.id)
        if not members:
            del self._rooms[seat.room]  # and its chat history and annotations with it
        # a picture they froze plays again for those still here (before ``left``, so the
        # others still know whose freeze it was)
        released = self._rooms[seat.room].telestration.release_freezes_of(
            seat.participant.id) if members else []
        outbox: Outbox[K] = [(other, op) for op in released for other in members.values()]
        left = Left(seat.participant, reason)
        outbox += [(other, left) for other in members.values()]
        if stopped and members:
            state = recording.state()
            outbox += [(other, state) for other in members.values()]
        return outbox

    def records(self, conn: K) -> bool:
        """Whether the participant on ``conn`` is recording (announced with ``record``)."""
        seat = self._seats.get(conn)
        return seat is not None and self._rooms[seat.room].recording.records(
            seat.participant.id
        )

    def _record(self, conn: K, seat: Seat, record: Record) -> Outbox[K]:
        refusal = record_refusal(seat.participant.role)
        if refusal is not None:
            return self._refuse(conn, record, ErrorCode.FORBIDDEN, refusal)
        room = self._rooms[seat.room]
        room.recording.set(seat.participant, record.on, now=self._clock())
        theirs, mine = room.recording.state(), room.recording.state(record.id)
        # Sent even when nothing changed: the sender's copy (with ``ref``) confirms it.
        return [(member, mine if member == conn else theirs) for member in room.members.values()]

    def _chapter(self, conn: K, seat: Seat, start: ChapterStart) -> Outbox[K]:
        refusal = chapter_refusal(seat.participant.role)
        if refusal is not None:
            return self._refuse(conn, start, ErrorCode.FORBIDDEN, refusal)
        room = self._rooms[seat.room]
        chapter = room.recording.chapter(seat.participant, start, now=self._clock())
        return [(member, chapter) for member in room.members.values()]  # sender included

    def _privacy(self, conn: K, seat: Seat, pause: PrivacyPause) -> Outbox[K]:
        refusal = privacy_refusal(seat.participant.role)
        if refusal is not None:
            return self._refuse(conn, pause, ErrorCode.FORBIDDEN, refusal)
        room = self._rooms[seat.room]
        theirs, mine = room.privacy.set(seat.participant, pause.paused, now=self._clock(),
                                        ref=pause.id)
        return [(member, mine if member == conn else theirs) for member in room.members.values()]

    def _others(self, room: str, conn: K) -> list[K]:
        return [other for other in self._rooms[room].members.values() if other != conn]

    def _unique_id(self) -> str:
        while True:
            participant_id = self._new_id()
            if participant_id not in self._ids:
                return participant_id

    @staticmethod
    def _refuse(conn: K, message: ClientMessage, code: ErrorCode, text: str) -> Outbox[K]:
        return [(conn, ErrorReply(code, text, message.id))]

    @staticmethod
    def _refuse_unknown(
        conn: K, message: Signal | GrantDraw | RemoveParticipant, participant_id: str, room: str
    ) -> Outbox[K]:
        return Rooms._refuse(
            conn,
            message,
            ErrorCode.UNKNOWN_PARTICIPANT,
            f"no participant {participant_id!r} in room {room!r}; they may have left. "
            "Use ids from welcome/joined and stop addressing a participant after 'left'",
        )


_NOT_JOINED = (
    "this connection has not joined a room; send "
    '{"v":1,"type":"join","room":"...","name":"...","role":"..."} first'
)
