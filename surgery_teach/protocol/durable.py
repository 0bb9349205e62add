"""Rooms that outlast a dropped connection and a server restart (room rules, no I/O).

:class:`DurableRooms` is :class:`~.room.Rooms` plus two things:

* **Rejoining** (:mod:`.presence`): a participant that joined with a ``client_key`` and
  whose connection drops stays in its room as a ghost for a grace period; a ``join`` with
  the same key takes its seat back (same id, drawing right, role), and a ``chat`` or
  ``annotate`` sent again with the same ``id`` is taken once. A join with the key of a
  participant whose old connection still looks open replaces that connection
  (:meth:`take_replaced` names the ones to close).
* **A journal** (:mod:`.room_journal`): every change of who is in a room, its chat and
  its annotation ops is handed to a :class:`RoomJournal` (the server writes it to disk),
  and :meth:`restore` rebuilds a room from it after a restart, everyone in it a ghost
  until their client comes back.

It works on top of the base rules (it looks at what they did rather than repeating
them), so every rule of :class:`~.room.Rooms` applies unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol, cast

from surgery_teach.annotations.ops import Poses, Unfreeze
from surgery_teach.protocol import room_journal as journal
from surgery_teach.protocol.messages import (
    Annotate,
    Annotation,
    Chat,
    ClientMessage,
    Join,
    ParticipantInfo,
    Relayed,
    RemoveParticipant,
    Updated,
    Welcome,
)
from surgery_teach.protocol.presence import REJOIN_GRACE, Ghost, Presence, Vacant, key_digest
from surgery_teach.protocol.roles import publishing_refusal
from surgery_teach.protocol.room import (
    CHAT_HISTORY_BYTES,
    K,
    Outbox,
    Rooms,
    Seat,
    _new_telestration,
    _Room,
    chat_weight,
)

REMEMBERED_CHATS = 5000
"""Chat message ids remembered per room, so a resend after a reconnect is taken once."""
REMEMBERED_CHAT_BYTES = 2 * CHAT_HISTORY_BYTES
"""What the messages remembered for those ids may weigh (older ids are forgotten first)."""
GHOSTS_PER_ADDRESS = 20
"""Participants from one address that may wait to rejoin at once (the limit of open
connections per address, by default); the oldest leaves when another one drops."""
MAX_GHOSTS = 1000
"""Participants that may wait to rejoin on the whole server; the oldest leaves first."""
COMPACTED_REFS = 100
"""Client op ids a compacted journal keeps (the latest): a client sends again only the few
ops that were on their way when its link dropped."""


class RoomJournal(Protocol):
    """Where a room's changes go (``signaling_server.state.StateDir`` writes them)."""

    def record(self, room: str, entry: journal.Entry) -> None: ...

    def closed(self, room: str) -> None: ...


class DurableRooms(Rooms[K]):
    """:class:`~.room.Rooms` whose participants may come back and whose state may be kept.

    ``grace``: seconds a dropped participant with a client key waits as a ghost (0: leave
    at once, as without a key). ``journal``: receives every change (None: kept in memory
    only). Call :meth:`expire` about once a second to let ghosts go. Ghosts are bounded:
    at most ``ghosts_per_address`` from one client address (``address_of`` tells a
    connection's; None: not known) and ``max_ghosts`` in all; beyond either the oldest
    leaves at once, and when the server holds its most rooms the oldest rooms of ghosts
    only make way for a new one.
    """

    def __init__(self, *, grace: float = REJOIN_GRACE, journal: RoomJournal | None = None,
                 ghosts_per_address: int = GHOSTS_PER_ADDRESS, max_ghosts: int = MAX_GHOSTS,
                 address_of: Callable[[K], str | None] = lambda _: None,
                 **options: Any) -> None:
        super().__init__(**options)
        self.grace = grace
        self.ghosts_per_address = ghosts_per_address
        self.max_ghosts = max_ghosts
        self._address_of = address_of
        self._journal = journal
        self._presence: dict[str, Presence] = {}
        self._ghosts: dict[K, str | None] = {}
        """Each ghost's connection and client address, oldest first."""
        self._replaced: list[K] = []

    # -- reading --------------------------------------------------------------------------

    @property
    def participant_count(self) -> int:
        """Participants connected now (ghosts are not)."""
        return len(self._seats) - len(self._ghosts)

    def member(self, room: str, participant_id: str) -> K | None:
        conn = super().member(room, participant_id)
        return None if conn in self._ghosts else conn

    def is_ghost(self, room: str, participant_id: str) -> bool:
        """Whether ``participant_id`` is in ``room`` waiting for its client to come back."""
        presence = self._presence.get(room)
        return presence is not None and participant_id in presence.ghosts

    def take_replaced(self) -> list[K]:
        """Connections whose participant rejoined on a new one: close them."""
        replaced, self._replaced = self._replaced, []
        return replaced

    # -- changes --------------------------------------------------------------------------

    def handle(self, conn: K, message: ClientMessage) -> Outbox[K]:
        seat = self._seats.get(conn)
        away = set(self._ghosts)  # a ghost removed now gets nothing either
        if isinstance(message, Join):
            outbox = self._resume(conn, message)
            if outbox is None:
                outbox = super().handle(conn, message)
                self._note_join(conn, message)
        elif isinstance(message, Chat) and seat is not None:
            outbox = self._chat_once(conn, seat, message)
        elif isinstance(message, Annotate) and seat is not None:
            outbox = self._annotate_once(conn, seat, message)
        else:
            outbox = super().handle(conn, message)
            if seat is not None and isinstance(message, RemoveParticipant):
                self._note_ops(seat.room, outbox)
        self._note_updates(outbox)
        return self._deliverable(outbox, away)

    def disconnect(self, conn: K) -> Outbox[K]:
        """``conn`` went away: a participant that may come back becomes a ghost."""
        seat = self._seats.get(conn)
        if seat is None or conn in self._ghosts or self.grace <= 0:
            return self._deliverable(super().disconnect(conn))
        presence = self._presence_of(seat.room)
        if not presence.can_return(seat.participant.id):
            return self._deliverable(super().disconnect(conn))
        presence.ghosts[seat.participant.id] = Ghost(until=self._clock() + self.grace)
        address = self._address_of(conn)
        self._ghosts[conn] = address  # keeps its room pass: a mentor's removal still bars it
        return self._deliverable(self._bound_ghosts(address))

    def _bound_ghosts(self, address: str | None) -> Outbox[K]:
        """Let the oldest ghosts go while ``address`` or the server has too many."""
        outbox: Outbox[K] = []
        if address is not None:
            mine = [c for c, a in self._ghosts.items() if a == address]
            for conn in mine[: max(0, len(mine) - self.ghosts_per_address)]:
                outbox += self._remove(conn, reason="disconnect")
        while len(self._ghosts) > self.max_ghosts:
            outbox += self._remove(next(iter(self._ghosts)), reason="disconnect")
        return outbox

    def _make_room_space(self) -> Outbox[K]:
        """The oldest rooms where everyone is a ghost close (their ghosts leave), until
        one room fewer than the most the server may hold is open."""
        outbox: Outbox[K] = []
        for conn in list(self._ghosts):
            if len(self._rooms) < self.max_rooms:
                break
            seat = self._seats.get(conn)
            if seat is None or conn not in self._ghosts:
                continue
            members = list(self._rooms[seat.room].members.values())
            if all(m in self._ghosts for m in members):
                for member in members:
                    outbox += self._remove(member, reason="disconnect")
        return self._deliverable(outbox)

    def expire(self, now: float | None = None) -> Outbox[K]:
        """Ghosts whose grace is over leave their rooms (``left``, reason ``disconnect``)."""
        now = self._clock() if now is None else now
        outbox: Outbox[K] = []
        for name, presence in list(self._presence.items()):
            for participant_id in presence.expired(now):
                room = self._rooms.get(name)
                conn = room.members.get(participant_id) if room is not None else None
                if conn is not None:
                    outbox += self._remove(conn, reason="disconnect")
        return self._deliverable(outbox)

    def _remove(self, conn: K, *, reason: str) -> Outbox[K]:
        seat = self._seats[conn]
        outbox = super()._remove(conn, reason=reason)
        if conn in self._ghosts:
            del self._ghosts[conn]
            self._passes.pop(conn, None)
        if seat.room in self._rooms:
            self._presence_of(seat.room).forget(seat.participant.id)
            self._note_ops(seat.room, outbox, released=True)
            self._log(seat.room, journal.departure(seat.participant.id))
        else:  # the room closed: its state is forgotten, on disk too
            self._presence.pop(seat.room, None)
            if self._journal is not None:
                self._journal.closed(seat.room)
        return outbox

    # -- rejoining ------------------------------------------------------------------------

    def _resume(self, conn: K, join: Join) -> Outbox[K] | None:
        """Give ``conn`` back the seat its client key holds, or None for a normal join."""
        room = self._rooms.get(join.room)
        if join.client_key is None or conn in self._seats or room is None:
            return None
        if self._pass_refusal(conn, join) or publishing_refusal(join.role, join.publishes):
            return None  # the normal join refuses it, with the reason
        presence = self._presence_of(join.room)
        room_pass = self._passes.get(conn)
        participant_id = presence.who(key_digest(join.client_key),
                                      room_pass.user if room_pass else None)
        old = room.members.get(participant_id) if participant_id is not None else None
        if old is None:
            return None
        before = self._seats[old].participant
        if (before.name, before.role) != (join.name, join.role):
            return None  # someone else now: a new participant
        participant = replace(before, publishes=join.publishes)
        del self._seats[old]
        self._seats[conn] = Seat(join.room, participant)
        room.members[participant.id] = conn  # same place in the joining order
        ghost = presence.ghosts.pop(participant.id, None)
        if old in self._ghosts:
            del self._ghosts[old]
            self._passes.pop(old, None)
        elif not isinstance(old, Vacant):
            self._replaced.append(old)  # its old connection still looked open
        others = tuple(p for p in self.participants(join.room) if p.id != participant.id)
        outbox: Outbox[K] = [(conn, Welcome(join.room, participant, others, self.server_version))]
        outbox += self._catch_up(conn, room)
        if ghost is not None:
            outbox += [(conn, signal) for signal in ghost.mailbox]
        if participant.publishes != before.publishes:
            outbox += [(m, Updated(participant)) for m in room.members.values() if m != conn]
        self._log_member(join.room, participant)
        return outbox

    def _note_join(self, conn: K, join: Join) -> None:
        seat = self._seats.get(conn)
        if seat is None or seat.room != join.room:
            return  # refused
        digest = key_digest(join.client_key) if join.client_key is not None else None
        room_pass = self._passes.get(conn)
        presence = self._presence_of(join.room)
        presence.remember(seat.participant.id, digest, room_pass.user if room_pass else None)
        self._log_member(join.room, seat.participant)

    def _deliverable(self, outbox: Outbox[K], away: set[K] | None = None) -> Outbox[K]:
        """``outbox`` without what goes to ghosts; signals for them wait in their mailbox."""
        if not self._ghosts and not away:
            return outbox
        kept: Outbox[K] = []
        for conn, message in outbox:
            if conn not in self._ghosts and (away is None or conn not in away):
                kept.append((conn, message))
            elif isinstance(message, Relayed) and conn in self._ghosts:
                seat = self._seats[conn]
                ghost = self._presence_of(seat.room).ghosts.get(seat.participant.id)
                if ghost is not None:
                    ghost.mailbox.append(message)
        return kept

    # -- exactly once ---------------------------------------------------------------------

    def _chat_once(self, conn: K, seat: Seat, chat: Chat) -> Outbox[K]:
        presence = self._presence_of(seat.room)
        key = (seat.participant.id, chat.id)
        done = presence.chats.get(key) if chat.id is not None else None
        if done is not None:  # a resend: confirm it to its sender again, and only that
            return [(conn, replace(done, ref=chat.id))]
        room = self._rooms[seat.room]
        count = room.chat_count
        outbox = super().handle(conn, chat)
        if room.chat_count == count:
            return outbox  # refused
        message = room.chat[-1]
        if chat.id is not None:
            presence.remember_chat(key, message, chat_weight(message))
            while len(presence.chats) > REMEMBERED_CHATS or (
                    presence.chats_bytes > REMEMBERED_CHAT_BYTES and len(presence.chats) > 1):
                presence.forget_chat(next(iter(presence.chats)))
            outbox = [(c, replace(m, ref=chat.id) if c == conn and m is message else m)
                      for c, m in outbox]
        self._log(seat.room, journal.chat(message, chat.id))
        return outbox

    def _annotate_once(self, conn: K, seat: Seat, annotate: Annotate) -> Outbox[K]:
        telestration = self._rooms[seat.room].telestration
        before = telestration.board.last_seq
        outbox = super().handle(conn, annotate)
        after = telestration.board.last_seq
        if after == before:  # refused, or a resend: only its author hears back
            return [(c, m) for c, m in outbox if c == conn]
        mine = [m for c, m in outbox if c == conn and isinstance(m, Annotation)]
        for numbered in mine:  # an undo or redo may have changed several marks
            if isinstance(numbered.op, Poses):
                continue  # ten a second and stale in a moment: the board's snapshot keeps
                # the last, and a restarted room's clients start over from a snapshot
            self._log(seat.room, journal.op(numbered, numbered.ref))
        return outbox

    # -- journal --------------------------------------------------------------------------

    def _note_updates(self, outbox: Outbox[K]) -> None:
        """Journal each participant an ``updated`` changed (publishes, drawing right)."""
        seen: set[str] = set()
        for conn, message in outbox:
            if isinstance(message, Updated) and message.participant.id not in seen:
                seen.add(message.participant.id)
                seat = self._seats.get(conn)
                if seat is not None:
                    self._log_member(seat.room, message.participant)

    def _note_ops(self, room: str, outbox: Outbox[K], *, released: bool = False) -> None:
        """Journal the ops a removal made: the removed participant's marks taken off, or
        with ``released`` the freezes of one who left released (:meth:`_remove` journals
        those, each once, whatever made the participant leave)."""
        seen: set[int] = set()
        for _, message in outbox:
            if not isinstance(message, Annotation) or message.op.seq in seen:
                continue
            if isinstance(message.op, Unfreeze) == released:
                seen.add(message.op.seq)
                self._log(room, journal.op(message, None))

    def _log_member(self, room: str, participant: ParticipantInfo) -> None:
        if self._journal is None:
            return
        presence = self._presence_of(room)
        digest = presence.digest_of(participant.id)
        self._log(room, journal.arrival(participant, digest, presence.users.get(participant.id)))

    def _log(self, room: str, entry: journal.Entry) -> None:
        if self._journal is not None:
            self._journal.record(room, entry)

    def _presence_of(self, room: str) -> Presence:
        return self._presence.setdefault(room, Presence())

    def state_entries(self, room: str) -> list[journal.Entry]:
        """``room`` as a compact journal (a fresh file's lines after its header)."""
        presence = self._presence_of(room)
        entries = [
            journal.arrival(p, presence.digest_of(p.id), presence.users.get(p.id))
            for p in self.participants(room)
        ]
        refs = {id(message): ref for (_, ref), message in presence.chats.items()}
        entries += [journal.chat(m, refs.get(id(m))) for m in self._rooms[room].chat]
        snapshot, applied = self._rooms[room].telestration.state()
        entries.append(journal.board(snapshot))
        entries += [journal.applied(ref, a) for ref, a in applied[-COMPACTED_REFS:]]
        return entries

    def restore(self, state: journal.RoomState, *, now: float | None = None) -> bool:
        """Rebuild a room from its journal, everyone in it a ghost for the grace period.

        Participants without a client key cannot come back and are left out. Returns
        False (and restores nothing) when nobody could come back: the room is over.
        """
        members = {pid: m for pid, m in state.members.items() if m.digest is not None}
        if not members or state.room in self._rooms:
            return False
        now = self._clock() if now is None else now
        room: _Room[K] = _Room(_new_telestration(self._clock, self.board_limits))
        self._rooms[state.room] = room
        presence = self._presence_of(state.room)
        for participant_id, member in members.items():
            conn = cast(K, Vacant(participant_id))
            room.members[participant_id] = conn
            self._seats[conn] = Seat(state.room, member.info)
            self._ids.add(participant_id)
            self._ghosts[conn] = None
            presence.remember(participant_id, member.digest, member.user)
            presence.ghosts[participant_id] = Ghost(until=now + self.grace)
        for message, ref in state.chat:
            room.keep_chat(message)
            if ref is not None:
                presence.remember_chat((message.sender, ref), message, chat_weight(message))
        room.chat_count = state.chat[-1][0].seq if state.chat else 0
        room.telestration.restore(state.board, state.ops, state.refs)
        return True

