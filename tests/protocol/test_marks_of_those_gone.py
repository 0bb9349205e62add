"""Marks of participants who are gone: the surgeon clears everyone's; the surgeon and
mentors may remove the marks of someone who left; a removed participant's marks, pinned
ones too, leave the board with them (docs/protocol.md 8.3)."""

from __future__ import annotations

import json

from surgery_teach.annotations import Add, Clear, ClearScope, Remove, Undo
from surgery_teach.protocol import room_journal as journal
from surgery_teach.protocol.durable import DurableRooms
from surgery_teach.protocol.messages import (
    Annotate,
    Annotation,
    Join,
    Leave,
    RemoveParticipant,
    Role,
)
from tests.protocol.test_telestration import LAP, ROOM, Theatre, ids_on, refused


def test_the_surgeon_may_clear_everyones_marks() -> None:
    theatre = Theatre()
    theatre.send("mentor", Add(theatre.arrow("mentor", "m:1", pinned=True)))
    theatre.send("surgeon", Add(theatre.arrow("surgeon", "s:1", pinned=True)))
    outbox = theatre.send("surgeon", Clear(ClearScope.ALL, LAP, author=theatre.ids["surgeon"]))
    assert {conn for conn, m in outbox if isinstance(m, Annotation)} == {
        "surgeon", "mentor", "trainee", "student"}
    assert ids_on(theatre.board) == []


def test_the_surgeon_may_remove_the_pinned_marks_of_a_mentor_who_left_not_of_one_present(
) -> None:
    theatre = Theatre()
    theatre.join("mentor2", Role.MENTOR)
    theatre.send("mentor", Add(theatre.arrow("mentor", "m:1", pinned=True)))
    mentor2 = theatre.ids["mentor2"]
    theatre.send("mentor2", Add(theatre.arrow("mentor2", f"{mentor2}:1", pinned=True)))
    surgeon = theatre.ids["surgeon"]
    refused(theatre.send("surgeon", Remove("m:1", author=surgeon)), "surgeon")  # still here
    theatre.deliver(theatre.rooms.handle("mentor", Leave()))
    outbox = theatre.send("surgeon", Remove("m:1", author=surgeon))
    assert {conn for conn, m in outbox if isinstance(m, Annotation)} == {
        "surgeon", "mentor2", "trainee", "student"}
    assert ids_on(theatre.board) == [f"{mentor2}:1"]
    # a trainee allowed to draw still may not
    theatre.deliver(theatre.rooms.handle("mentor2", Leave()))
    theatre.grant("surgeon", "trainee")  # (refused: only mentors grant)
    trainee = theatre.ids["trainee"]
    refused(theatre.send("trainee", Remove(f"{mentor2}:1", author=trainee)), "trainee")


def test_a_removed_participants_marks_pinned_too_leave_with_them_for_good() -> None:
    theatre = Theatre()
    theatre.grant("mentor", "trainee")
    trainee = theatre.ids["trainee"]
    theatre.send("trainee", Add(theatre.arrow("trainee", "t:1", pinned=True)))
    theatre.send("trainee", Add(theatre.pointer("trainee", "t:2")))
    theatre.send("mentor", Add(theatre.arrow("mentor", "m:1", pinned=True)))
    theatre.clock.now = 1000.5  # the pointer still shows
    assert sorted(ids_on(theatre.board)) == ["m:1", "t:1", "t:2"]
    outbox = theatre.deliver(theatre.rooms.handle("mentor", RemoveParticipant(trainee)))
    removes = [(conn, m) for conn, m in outbox if isinstance(m, Annotation)]
    assert {conn for conn, _ in removes} == {"surgeon", "mentor", "student"}  # not the trainee
    ops = [m.op for conn, m in removes if conn == "surgeon"]
    assert sorted(op.id for op in ops if isinstance(op, Remove)) == ["t:1", "t:2"]
    assert [op.seq for op in ops] == sorted({op.seq for op in ops})  # numbered like any op
    assert ids_on(theatre.board) == ["m:1"]
    # Final: the mentor's undo takes back the mentor's own arrow, not the removal.
    theatre.send("mentor", Undo(theatre.ids["mentor"]))
    assert ids_on(theatre.board) == []
    # Every client that applied the ops holds the server's board.
    from surgery_teach.annotations import Board

    board = Board()
    for message in theatre.seen["student"]:
        if isinstance(message, Annotation):
            board.apply(message.op)
    assert ids_on(board) == ids_on(theatre.board) == []


class Memory:
    """A journal kept in memory."""

    def __init__(self) -> None:
        self.entries: dict[str, list[journal.Entry]] = {}

    def record(self, room: str, entry: journal.Entry) -> None:
        self.entries.setdefault(room, []).append(entry)

    def closed(self, room: str) -> None:
        self.entries.pop(room, None)


def test_a_restarted_server_does_not_bring_a_removed_participants_marks_back() -> None:
    memory = Memory()
    rooms: DurableRooms[str] = DurableRooms(journal=memory, grace=60.0)
    for conn, role in (("mentor", Role.MENTOR), ("surgeon", Role.SURGEON)):
        rooms.handle(conn, Join(ROOM, conn.title(), role, client_key=f"key-of-{conn}-0123456789"))
    mentor = rooms.seat("mentor").participant.id  # type: ignore[union-attr]
    surgeon = rooms.seat("surgeon").participant.id  # type: ignore[union-attr]
    theatre = Theatre()
    theatre.ids["mentor"] = mentor
    shape = theatre.arrow("mentor", f"{mentor}:1", pinned=True)
    rooms.handle("mentor", Annotate(Add(shape)))
    rooms.handle("surgeon", RemoveParticipant(mentor))
    lines = [journal.header(ROOM), *memory.entries[ROOM]]  # as the server writes them
    state = journal.read_state(json.loads(journal.encode(entry)) for entry in lines)
    restored: DurableRooms[str] = DurableRooms(grace=60.0)
    assert restored.restore(state)
    board = restored.board(ROOM)
    assert board is not None and board.shapes(LAP, 0) == [] and board.last_seq == 2
    assert surgeon in state.members and mentor not in state.members
