"""A picture frozen by someone who leaves plays again for those still in the room
(docs/protocol.md 8.3): leaving, being removed, or a dropped connection whose wait to
rejoin is over; a restarted server's journal keeps it released."""

from __future__ import annotations

import json

from surgery_teach.annotations import Freeze, Unfreeze
from surgery_teach.protocol import room_journal as journal
from surgery_teach.protocol.durable import DurableRooms
from surgery_teach.protocol.messages import (
    Annotate,
    Annotation,
    Join,
    Leave,
    Left,
    RemoveParticipant,
    Role,
)
from tests.protocol.test_marks_of_those_gone import Memory
from tests.protocol.test_telestration import LAP, ROOM, Theatre

OVERVIEW = "Overview"


def test_leaving_releases_the_pictures_you_froze_before_the_others_hear_you_left() -> None:
    theatre = Theatre()
    mentor, surgeon = theatre.ids["mentor"], theatre.ids["surgeon"]
    theatre.send("mentor", Freeze(LAP, 1000.25, author=mentor))
    theatre.send("surgeon", Freeze(OVERVIEW, 1000.5, author=surgeon))
    outbox = theatre.deliver(theatre.rooms.handle("mentor", Leave()))
    for conn in ("surgeon", "trainee", "student"):
        mine = [m for c, m in outbox if c == conn]
        assert [type(m) for m in mine] == [Annotation, Left]
        release = mine[0]
        assert isinstance(release, Annotation)
        assert release.sender == mentor
        assert isinstance(release.op, Unfreeze) and release.op.source == LAP
        assert release.op.author == mentor and release.op.seq == theatre.board.last_seq
    assert theatre.board.frozen(LAP) is None
    assert theatre.board.frozen(OVERVIEW) == 1000.5  # the surgeon's own freeze stays


def test_a_picture_someone_froze_again_after_you_stays_when_you_leave() -> None:
    theatre = Theatre()
    mentor, surgeon = theatre.ids["mentor"], theatre.ids["surgeon"]
    theatre.send("mentor", Freeze(LAP, 1000.25, author=mentor))
    theatre.send("surgeon", Freeze(LAP, 1000.75, author=surgeon))  # the surgeon's now
    outbox = theatre.deliver(theatre.rooms.handle("mentor", Leave()))
    assert not [m for _, m in outbox if isinstance(m, Annotation)]
    assert theatre.board.frozen(LAP) == 1000.75


def test_a_removed_mentors_freeze_is_released_too() -> None:
    theatre = Theatre()
    theatre.join("mentor2", Role.MENTOR)
    mentor2 = theatre.ids["mentor2"]
    theatre.send("mentor2", Freeze(LAP, 1000.25, author=mentor2))
    outbox = theatre.deliver(theatre.rooms.handle("mentor", RemoveParticipant(mentor2)))
    released = [m.op for c, m in outbox if c == "trainee" and isinstance(m, Annotation)]
    assert [type(op) for op in released] == [Unfreeze]
    assert theatre.board.frozen(LAP) is None


def _durable(memory: Memory | None = None, now: float = 1000.0) -> DurableRooms[str]:
    rooms: DurableRooms[str] = DurableRooms(journal=memory, grace=60.0, clock=lambda: now)
    for conn, role in (("mentor", Role.MENTOR), ("trainee", Role.TRAINEE)):
        rooms.handle(conn, Join(ROOM, conn.title(), role,
                                client_key=f"key-of-{conn}-0123456789"))
    return rooms


def test_a_dropped_connection_keeps_the_freeze_while_it_may_rejoin_then_releases_it() -> None:
    rooms = _durable(now=1000.0)
    mentor = rooms.seat("mentor").participant.id  # type: ignore[union-attr]
    rooms.handle("mentor", Annotate(Freeze(LAP, 999.0, author=mentor)))
    assert rooms.disconnect("mentor") == []  # a ghost: a short drop does not end the teaching
    board = rooms.board(ROOM)
    assert board is not None and board.frozen(LAP) == 999.0
    outbox = rooms.expire(now=1061.0)
    assert [type(m) for c, m in outbox if c == "trainee"] == [Annotation, Left]
    assert board.frozen(LAP) is None


def test_a_restarted_server_does_not_freeze_a_picture_again_whose_author_left() -> None:
    memory = Memory()
    rooms = _durable(memory)
    mentor = rooms.seat("mentor").participant.id  # type: ignore[union-attr]
    rooms.handle("mentor", Annotate(Freeze(LAP, 999.0, author=mentor)))
    rooms.handle("mentor", Leave())
    lines = [journal.header(ROOM), *memory.entries[ROOM]]  # as the server writes them
    ops = [e for e in lines if e["k"] == "op"]
    assert len(ops) == 2, ops  # the freeze and its release, each once
    state = journal.read_state(json.loads(journal.encode(entry)) for entry in lines)
    restored: DurableRooms[str] = DurableRooms(grace=60.0)
    assert restored.restore(state)
    board = restored.board(ROOM)
    assert board is not None and board.frozen(LAP) is None and board.last_seq == 2
