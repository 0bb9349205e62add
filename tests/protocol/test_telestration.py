"""Telestration room rules without a network: who may draw, the order of ops, snapshots."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from typing import ClassVar

import pytest

from surgery_teach.annotations import (
    Add,
    Arrow,
    Board,
    Clear,
    ClearScope,
    Freeze,
    Op,
    Pen,
    Pointer,
    Redo,
    Remove,
    Undo,
    Unfreeze,
    Update,
)
from surgery_teach.protocol.messages import (
    Annotate,
    Annotation,
    AnnotationSnapshot,
    Chat,
    ChatHistory,
    ErrorCode,
    ErrorReply,
    GrantDraw,
    Join,
    Joined,
    Leave,
    Publish,
    Publishes,
    Role,
    ServerMessage,
    Updated,
    Welcome,
)
from surgery_teach.protocol.room import Outbox, Rooms

LAP = "Laparoscope"
ROOM = "theatre-1"


class Clock:
    """The server clock, set by the test."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Theatre:
    """A room with a surgeon, a mentor, a trainee and a student, and what each one saw."""

    # Participant ids as short as the mark ids built on them ("m:1" is the mentor's).
    SHORT_IDS: ClassVar[dict[str, str]] = {
        "surgeon": "s", "mentor": "m", "trainee": "t", "student": "x"}

    def __init__(self) -> None:
        self.clock = Clock()
        counter = itertools.count(1)
        self._next_id = ""
        self.rooms: Rooms[str] = Rooms(
            clock=self.clock,
            new_id=lambda: self._next_id or f"p-{next(counter):08x}",
            server_version="9.9.9",
        )
        self.ids: dict[str, str] = {}
        self.seen: dict[str, list[ServerMessage]] = {}
        for conn, role in [
            ("surgeon", Role.SURGEON),
            ("mentor", Role.MENTOR),
            ("trainee", Role.TRAINEE),
            ("student", Role.STUDENT),
        ]:
            self.join(conn, role)

    def join(self, conn: str, role: Role, room: str = ROOM) -> Outbox[str]:
        self._next_id = self.SHORT_IDS.get(conn, "")
        outbox = self.rooms.handle(conn, Join(room, conn.title(), role))
        self._next_id = ""
        welcome = outbox[0][1]
        assert isinstance(welcome, Welcome)
        self.ids[conn] = welcome.you.id
        self.seen[conn] = []
        self.deliver(outbox)
        return outbox

    def deliver(self, outbox: Outbox[str]) -> Outbox[str]:
        for conn, message in outbox:
            self.seen[conn].append(message)
        return outbox

    def send(self, conn: str, op: Op, ref: str | None = None) -> Outbox[str]:
        return self.deliver(self.rooms.handle(conn, Annotate(op, ref)))

    def grant(self, conn: str, to: str, allowed: bool = True) -> Outbox[str]:
        return self.deliver(self.rooms.handle(conn, GrantDraw(self.ids[to], allowed, id="g")))

    def arrow(self, conn: str, shape_id: str, **fields: object) -> Arrow:
        style: dict[str, object] = {"colour": "#ffd400", "width": 0.004, "created": 1.0}
        style.update(fields)
        return Arrow(
            id=shape_id,
            author=self.ids[conn],
            source=LAP,
            start=(0.25, 0.5),
            end=(0.75, 0.5),
            **style,  # type: ignore[arg-type]
        )

    def pointer(self, conn: str, shape_id: str, x: float = 0.5) -> Pointer:
        return Pointer(
            id=shape_id,
            author=self.ids[conn],
            source=LAP,
            colour="#00ff00",
            width=0.01,
            at=(x, 0.5),
        )

    @property
    def board(self) -> Board:
        board = self.rooms.board(ROOM)
        assert board is not None
        return board


def refused(outbox: Outbox[str], conn: str, code: str = ErrorCode.FORBIDDEN) -> ErrorReply:
    """The one error ``conn`` got for its message; nothing went to anyone else."""
    assert len(outbox) == 1
    recipient, reply = outbox[0]
    assert recipient == conn
    assert isinstance(reply, ErrorReply)
    assert reply.code == code, reply
    return reply


def ids_on(board: Board, now: float = 1000.0) -> list[str]:
    return [visible.shape.id for visible in board.shapes(LAP, now)]


@pytest.fixture
def theatre() -> Theatre:
    return Theatre()


# -- ordering and relay -----------------------------------------------------------------------


def test_a_mentors_mark_reaches_everyone_with_increasing_seq_and_the_author_gets_its_ref(
    theatre: Theatre,
) -> None:
    theatre.join("elsewhere", Role.MENTOR, room="theatre-2")
    first = theatre.send("mentor", Add(theatre.arrow("mentor", "m:1")), ref="c-17")
    second = theatre.send("mentor", Add(theatre.arrow("mentor", "m:2")))
    mentor = theatre.ids["mentor"]
    for outbox, seq in [(first, 1), (second, 2)]:
        assert [conn for conn, _ in outbox] == ["surgeon", "mentor", "trainee", "student"]
        for _, message in outbox:
            assert isinstance(message, Annotation)
            assert (message.sender, message.op.seq) == (mentor, seq)
    assert [m.ref for _, m in first] == [None, "c-17", None, None]  # type: ignore[union-attr]
    assert [m.ref for _, m in second] == [None] * 4  # type: ignore[union-attr]
    assert [type(m) for m in theatre.seen["elsewhere"]] == [Welcome]  # and nothing else
    assert theatre.board.last_seq == 2
    assert ids_on(theatre.board) == ["m:1", "m:2"]


def test_an_op_resent_with_the_same_client_id_is_applied_once_and_confirmed_again(
    theatre: Theatre,
) -> None:
    """After a reconnect a client resends ops whose echo it never saw: no second copy."""
    first = theatre.send("mentor", Add(theatre.arrow("mentor", "m:1")), ref="a1b2c3-1")
    again = theatre.send("mentor", Add(theatre.arrow("mentor", "m:1")), ref="a1b2c3-1")
    assert theatre.board.last_seq == 1
    assert ids_on(theatre.board) == ["m:1"]
    # only its author hears back, with the old number (every board skips it) and its ref
    assert again == [("mentor", dict(first)["mentor"])]


def test_the_server_clock_overwrites_created_so_every_client_fades_a_mark_alike(
    theatre: Theatre,
) -> None:
    theatre.clock.now = 1764099000.25
    outbox = theatre.send("surgeon", Add(theatre.arrow("surgeon", "s:1", created=5.0)))
    relayed = outbox[0][1]
    assert isinstance(relayed, Annotation) and isinstance(relayed.op, Add)
    assert relayed.op.shape.created == 1764099000.25
    theatre.clock.now += 3
    update = Update(theatre.arrow("surgeon", "s:1", created=99999.0, colour="#ff0000"))
    relayed = theatre.send("surgeon", update)[0][1]
    assert isinstance(relayed, Annotation) and isinstance(relayed.op, Update)
    assert relayed.op.shape.created == 1764099003.25
    stored = theatre.board.get("s:1")
    assert stored is not None and stored.created == 1764099003.25


def test_a_refused_op_uses_no_seq(theatre: Theatre) -> None:
    theatre.send("mentor", Add(theatre.arrow("mentor", "m:1")))
    refused(theatre.send("student", Add(theatre.arrow("student", "x:1"))), "student")
    outbox = theatre.send("mentor", Add(theatre.arrow("mentor", "m:2")))
    assert outbox[0][1].op.seq == 2  # type: ignore[union-attr]


def test_annotate_before_join_is_not_joined(theatre: Theatre) -> None:
    op = Undo("p-00000001")
    reply = refused(theatre.rooms.handle("nobody", Annotate(op, id=4)), "nobody", "not-joined")
    assert reply.ref == 4


# -- who may draw -----------------------------------------------------------------------------


def test_surgeons_and_mentors_draw_trainees_and_students_start_without(theatre: Theatre) -> None:
    rights = {p.role: p.can_draw for p in theatre.rooms.participants(ROOM)}
    assert rights == {
        Role.SURGEON: True,
        Role.MENTOR: True,
        Role.TRAINEE: False,
        Role.STUDENT: False,
    }


def test_a_trainee_draws_only_while_a_mentor_allows_it(theatre: Theatre) -> None:
    mark = Add(theatre.arrow("trainee", "t:1"))
    reply = refused(theatre.send("trainee", mark, ref="c-1"), "trainee")
    assert reply.message == "a trainee may draw only when a mentor allows it"
    assert reply.ref == "c-1"
    assert ids_on(theatre.board) == []

    outbox = theatre.grant("mentor", "trainee")
    trainee = theatre.rooms.participants(ROOM)[2]
    assert trainee.can_draw is True
    # the mentor's copy answers its grant-draw (id "g"): its confirmation
    assert outbox == [(conn, Updated(trainee, "g" if conn == "mentor" else None))
                      for conn in theatre.seen]
    assert [type(m) for _, m in theatre.send("trainee", mark)] == [Annotation] * 4
    assert ids_on(theatre.board) == ["t:1"]

    outbox = theatre.grant("mentor", "trainee", allowed=False)
    trainee = theatre.rooms.participants(ROOM)[2]
    assert trainee.can_draw is False
    assert {m for _, m in outbox} == {Updated(trainee), Updated(trainee, "g")}
    pointer = Add(theatre.pointer("trainee", "t:ptr"))
    reply = refused(theatre.send("trainee", pointer), "trainee")
    assert reply.message == "a trainee may draw only when a mentor allows it"
    refused(theatre.send("trainee", Remove("t:1", author=theatre.ids["trainee"])), "trainee")
    assert ids_on(theatre.board) == ["t:1"]  # a revoked right takes no marks away


@pytest.mark.parametrize(
    "make",
    [
        lambda t: Add(t.arrow("student", "x:1")),
        lambda t: Add(t.pointer("student", "x:ptr")),
        lambda t: Clear(ClearScope.MINE, LAP, author=t.ids["student"]),
        lambda t: Undo(t.ids["student"]),
        lambda t: Freeze(LAP, 12.5, author=t.ids["student"]),
    ],
    ids=["add", "pointer", "clear-mine", "undo", "freeze"],
)
def test_a_student_is_always_refused(theatre: Theatre, make: Callable[[Theatre], Op]) -> None:
    op = make(theatre)
    for _ in range(2):
        reply = refused(theatre.send("student", op), "student")
        assert reply.message.startswith("a student may not")
        theatre.rooms.handle("mentor", GrantDraw(theatre.ids["student"], True))  # no effect


def test_a_trainee_may_not_clear_everyones_marks_even_when_allowed(theatre: Theatre) -> None:
    theatre.grant("mentor", "trainee")
    theatre.send("mentor", Add(theatre.arrow("mentor", "m:1")))
    theatre.send("trainee", Add(theatre.arrow("trainee", "t:1")))
    trainee = theatre.ids["trainee"]
    reply = refused(theatre.send("trainee", Clear(ClearScope.ALL, LAP, author=trainee)), "trainee")
    assert reply.message.startswith(
        "a trainee may not clear everyone's marks; only the surgeon and mentors may")
    theatre.send("trainee", Clear(ClearScope.MINE, LAP, author=trainee))
    assert ids_on(theatre.board) == ["m:1"]
    theatre.send("mentor", Clear(ClearScope.ALL, LAP, author=theatre.ids["mentor"]))
    assert ids_on(theatre.board) == []


def test_a_mentor_may_remove_a_trainees_mark_and_the_surgeon_may_not(theatre: Theatre) -> None:
    theatre.grant("mentor", "trainee")
    theatre.send("trainee", Add(theatre.arrow("trainee", "t:1")))
    theatre.send("trainee", Add(theatre.arrow("trainee", "t:2")))
    by_surgeon = Remove("t:1", author=theatre.ids["surgeon"])
    reply = refused(theatre.send("surgeon", by_surgeon), "surgeon")
    assert reply.message == (
        "a surgeon may remove only their own marks; only a mentor may remove someone else's "
        "(and the surgeon those of someone who left the room)"
    )
    outbox = theatre.send("mentor", Remove("t:1", author=theatre.ids["mentor"]))
    assert [type(m) for _, m in outbox] == [Annotation] * 4
    theatre.send("trainee", Remove("t:2", author=theatre.ids["trainee"]))
    assert ids_on(theatre.board) == []


def test_nobody_changes_someone_elses_mark(theatre: Theatre) -> None:
    theatre.send("surgeon", Add(theatre.arrow("surgeon", "s:1")))
    moved = theatre.arrow("surgeon", "s:1", colour="#ff0000")
    stolen = Update(replace(moved, author=theatre.ids["mentor"]))
    reply = refused(theatre.send("mentor", stolen), "mentor")
    assert reply.message == "a mentor may change only their own marks; 's:1' is someone else's"


def test_removing_a_mark_that_is_gone_is_explained(theatre: Theatre) -> None:
    theatre.send("surgeon", Remove("never", author=theatre.ids["surgeon"]))
    reply = theatre.seen["surgeon"][-1]
    assert isinstance(reply, ErrorReply)
    assert reply.message.startswith("there is no mark 'never' on the board")


def test_an_op_in_someone_elses_name_is_not_allowed(theatre: Theatre) -> None:
    forged = Add(theatre.arrow("surgeon", "s:1"))  # authored by the surgeon...
    reply = refused(theatre.send("mentor", forged, ref="c-9"), "mentor")  # ...sent by the mentor
    assert reply.ref == "c-9"
    assert theatre.ids["surgeon"] in reply.message and theatre.ids["mentor"] in reply.message
    assert "author" in reply.message
    assert ids_on(theatre.board) == []


def test_surgeon_and_mentors_freeze_the_picture_trainees_do_not(theatre: Theatre) -> None:
    theatre.grant("mentor", "trainee")
    trainee = theatre.ids["trainee"]
    reply = refused(theatre.send("trainee", Freeze(LAP, 12.5, author=trainee)), "trainee")
    assert reply.message == (
        "a trainee may not freeze or unfreeze the picture; only the surgeon and mentors may"
    )
    theatre.send("surgeon", Freeze(LAP, 12.5, author=theatre.ids["surgeon"]))
    assert theatre.board.frozen(LAP) == 12.5
    theatre.send("mentor", Unfreeze(LAP, author=theatre.ids["mentor"]))
    assert theatre.board.frozen(LAP) is None


# -- granting ---------------------------------------------------------------------------------


@pytest.mark.parametrize("granter", ["surgeon", "trainee", "student"])
def test_only_a_mentor_grants_drawing(theatre: Theatre, granter: str) -> None:
    reply = refused(theatre.grant(granter, "trainee"), granter)
    assert reply.message.startswith(f"a {granter} may not let others draw; only a mentor")
    assert reply.ref == "g"
    assert theatre.rooms.participants(ROOM)[2].can_draw is False


@pytest.mark.parametrize("target", ["surgeon", "mentor", "student"])
def test_only_trainees_are_granted_drawing(theatre: Theatre, target: str) -> None:
    reply = refused(theatre.grant("mentor", target), "mentor", ErrorCode.BAD_MESSAGE)
    assert reply.message.startswith(f"field 'to' names a {target}; only trainees")


def test_granting_someone_outside_the_room_is_unknown_participant(theatre: Theatre) -> None:
    theatre.join("outsider", Role.TRAINEE, room="theatre-2")
    refused(theatre.grant("mentor", "outsider"), "mentor", ErrorCode.UNKNOWN_PARTICIPANT)
    unknown = theatre.rooms.handle("mentor", GrantDraw("p-ffffffff", True))
    assert "p-ffffffff" in refused(unknown, "mentor", ErrorCode.UNKNOWN_PARTICIPANT).message
    before_join = theatre.rooms.handle("nobody", GrantDraw(theatre.ids["trainee"], True))
    refused(before_join, "nobody", ErrorCode.NOT_JOINED)


def test_a_granted_trainee_keeps_the_right_when_publishing_and_loses_it_on_rejoin(
    theatre: Theatre,
) -> None:
    theatre.grant("mentor", "trainee")
    theatre.rooms.handle("trainee", Publish(Publishes(audio=True)))
    assert theatre.rooms.participants(ROOM)[2].can_draw is True
    theatre.rooms.handle("trainee", Leave())
    theatre.join("trainee", Role.TRAINEE)
    again = [p for p in theatre.rooms.participants(ROOM) if p.role is Role.TRAINEE]
    assert [p.can_draw for p in again] == [False]


# -- late joiners -----------------------------------------------------------------------------


SESSION_NOW = [1000.0, 1003.9, 1004.5, 1006.0, 2000.0]


def test_a_late_joiner_gets_a_snapshot_that_rebuilds_the_same_board(theatre: Theatre) -> None:
    theatre.grant("mentor", "trainee")
    surgeon, mentor = theatre.ids["surgeon"], theatre.ids["mentor"]
    theatre.send("mentor", Add(theatre.arrow("mentor", "m:1")))
    theatre.clock.now = 1001.0
    stroke = Pen(
        id="t:1",
        author=theatre.ids["trainee"],
        source=LAP,
        colour="#00ff00",
        width=0.004,
        points=((0.1, 0.1), (0.2, 0.2)),
    )
    theatre.send("trainee", Add(stroke))
    theatre.send("trainee", Update(replace(stroke, points=((0.1, 0.1), (0.3, 0.3)))))
    theatre.send("surgeon", Add(theatre.arrow("surgeon", "s:1", pinned=True)))
    theatre.send("surgeon", Freeze(LAP, 12.5, author=surgeon))
    theatre.send("mentor", Add(theatre.arrow("mentor", "m:2")))
    theatre.send("mentor", Remove("m:2", author=mentor))
    theatre.rooms.handle("mentor", Chat("Note the cystic artery"))

    outbox = theatre.join("late", Role.STUDENT)
    assert [(conn, type(m)) for conn, m in outbox] == [
        ("late", Welcome),
        ("late", ChatHistory),
        ("late", AnnotationSnapshot),
        *[(conn, Joined) for conn in ("surgeon", "mentor", "trainee", "student")],
    ]
    snapshot = outbox[2][1]
    assert isinstance(snapshot, AnnotationSnapshot)
    assert snapshot.seq == theatre.board.last_seq == 7
    joiner = Board.from_snapshot(snapshot.ops, last_seq=snapshot.seq)
    for now in SESSION_NOW:
        assert joiner.shapes(LAP, now) == theatre.board.shapes(LAP, now)
    assert ids_on(joiner) == ["m:1", "t:1", "s:1"]
    assert joiner.frozen(LAP) == 12.5

    # The live stream goes on where the snapshot ended, for the joiner as for everyone.
    outbox = theatre.send("mentor", Remove("t:1", author=mentor))
    relayed = dict(outbox)["late"]
    assert isinstance(relayed, Annotation) and relayed.op.seq == 8
    joiner.apply(relayed.op)
    assert ids_on(joiner) == ids_on(theatre.board) == ["m:1", "s:1"]


def test_no_snapshot_when_the_board_is_empty(theatre: Theatre) -> None:
    outbox = theatre.join("early", Role.STUDENT)
    assert [type(m) for conn, m in outbox if conn == "early"] == [Welcome]
    theatre.send("mentor", Add(theatre.arrow("mentor", "m:1")))
    theatre.send("mentor", Remove("m:1", author=theatre.ids["mentor"]))
    outbox = theatre.join("late", Role.STUDENT)
    assert [type(m) for conn, m in outbox if conn == "late"] == [Welcome]


def test_a_pointer_that_no_longer_shows_is_not_in_the_snapshot(theatre: Theatre) -> None:
    theatre.send("mentor", Add(theatre.arrow("mentor", "m:1")))
    theatre.send("surgeon", Add(theatre.pointer("surgeon", "s:ptr")))
    theatre.send("mentor", Add(theatre.pointer("mentor", "m:ptr")))
    theatre.send("mentor", Remove("m:ptr", author=theatre.ids["mentor"]))  # released
    theatre.clock.now += 2.5  # the surgeon's hand went quiet: hidden everywhere

    snapshot = theatre.join("late", Role.STUDENT)[1][1]
    assert isinstance(snapshot, AnnotationSnapshot)
    assert [op.shape.id for op in snapshot.ops if isinstance(op, Add)] == ["m:1"]
    assert theatre.board.get("s:ptr") is not None  # kept only for its owner's next update


def test_a_pointer_held_right_now_is_in_the_snapshot_so_the_joiner_sees_it_move(
    theatre: Theatre,
) -> None:
    theatre.send("surgeon", Add(theatre.pointer("surgeon", "s:ptr")))
    theatre.clock.now += 1.0
    snapshot = theatre.join("late", Role.STUDENT)[1][1]
    assert isinstance(snapshot, AnnotationSnapshot)
    joiner = Board.from_snapshot(snapshot.ops, last_seq=snapshot.seq)
    moved = theatre.send("surgeon", Update(theatre.pointer("surgeon", "s:ptr", x=0.7)))
    joiner.apply(dict(moved)["late"].op)  # type: ignore[union-attr]
    assert joiner.shapes(LAP, theatre.clock.now) == theatre.board.shapes(LAP, theatre.clock.now)
    assert joiner.get("s:ptr").at == (0.7, 0.5)  # type: ignore[union-attr]


def test_the_board_goes_with_the_room(theatre: Theatre) -> None:
    theatre.send("mentor", Add(theatre.arrow("mentor", "m:1", pinned=True)))
    for conn in ("surgeon", "mentor", "trainee"):
        theatre.rooms.handle(conn, Leave())
    assert theatre.rooms.board(ROOM) is not None  # the student is still there
    theatre.rooms.disconnect("student")
    assert theatre.rooms.board(ROOM) is None
    outbox = theatre.join("mentor", Role.MENTOR)
    assert [type(m) for _, m in outbox] == [Welcome]
    relayed = theatre.send("mentor", Add(theatre.arrow("mentor", "m:1")))[0][1]
    assert isinstance(relayed, Annotation) and relayed.op.seq == 1


# -- undo and redo ----------------------------------------------------------------------------


class Viewer:
    """What a client does with what the server sends: the board it draws."""

    def __init__(self) -> None:
        self.board = Board()

    def receive(self, message: ServerMessage) -> None:
        if isinstance(message, Annotation):
            self.board.apply(message.op)
        elif isinstance(message, AnnotationSnapshot):
            self.board = Board.from_snapshot(message.ops, last_seq=message.seq)


def test_undo_and_redo_send_everyone_the_change_they_made_not_the_board(
        theatre: Theatre) -> None:
    mentor = theatre.ids["mentor"]
    theatre.send("mentor", Add(theatre.arrow("mentor", "m:1")))
    theatre.send("mentor", Add(theatre.arrow("mentor", "m:2", pinned=True)))
    outbox = theatre.send("mentor", Undo(mentor), ref="u-1")
    assert [conn for conn, _ in outbox] == ["surgeon", "mentor", "trainee", "student"]
    taken_back = Annotation(mentor, Remove("m:2", author=mentor, seq=3))
    assert {m for conn, m in outbox if conn != "mentor"} == {taken_back}
    assert dict(outbox)["mentor"] == replace(taken_back, ref="u-1")
    outbox = theatre.send("mentor", Redo(mentor))
    relayed = outbox[0][1]
    assert isinstance(relayed, Annotation) and isinstance(relayed.op, Add)
    assert (relayed.op.seq, relayed.op.shape) == (4, theatre.board.get("m:2"))
    assert ids_on(theatre.board) == ["m:1", "m:2"]


def test_an_undo_of_a_clear_sends_each_mark_back_in_drawing_order(theatre: Theatre) -> None:
    mentor = theatre.ids["mentor"]
    for n in (1, 2, 3):
        theatre.send("mentor", Add(theatre.arrow("mentor", f"m:{n}", pinned=True)))
    theatre.send("surgeon", Add(theatre.arrow("surgeon", "s:1", pinned=True)))
    theatre.send("mentor", Clear(ClearScope.MINE, LAP, author=mentor))
    outbox = theatre.send("mentor", Undo(mentor), ref="u-1")
    mine = [m for conn, m in outbox if conn == "mentor"]
    assert [(m.op.seq, m.op.shape.id) for m in mine] == [  # type: ignore[union-attr]
        (6, "m:1"), (7, "m:2"), (8, "m:3")]
    assert [m.ref for m in mine] == [None, None, "u-1"]  # type: ignore[union-attr]
    assert ids_on(theatre.board) == ["s:1", "m:1", "m:2", "m:3"]  # back, on top
    assert theatre.board.last_seq == 8


def test_an_undo_with_nothing_to_undo_is_refused_and_numbers_nothing(theatre: Theatre) -> None:
    reply = refused(theatre.send("mentor", Undo(theatre.ids["mentor"]), ref="u-1"), "mentor",
                    ErrorCode.NOTHING_TO_UNDO)
    assert reply.ref == "u-1" and "nothing of yours to undo" in reply.message
    assert theatre.board.last_seq == 0


def test_every_board_agrees_after_an_undo_that_a_late_joiner_has_no_history_for(
    theatre: Theatre,
) -> None:
    """An undone remove brings a mark back, also for someone who joined after the remove."""
    viewers = {conn: Viewer() for conn in theatre.seen}
    mentor = theatre.ids["mentor"]

    def play(outbox: Outbox[str]) -> None:
        for conn, message in outbox:
            viewers.setdefault(conn, Viewer()).receive(message)

    play(theatre.send("mentor", Add(theatre.arrow("mentor", "m:1", pinned=True))))
    play(theatre.send("mentor", Add(theatre.arrow("mentor", "m:2", pinned=True))))
    play(theatre.send("mentor", Clear(ClearScope.MINE, LAP, author=mentor)))
    play(theatre.join("late", Role.STUDENT))
    play(theatre.send("mentor", Undo(mentor)))  # the clear is taken back
    play(theatre.send("mentor", Add(theatre.arrow("mentor", "m:3", pinned=True))))
    assert ids_on(theatre.board) == ["m:1", "m:2", "m:3"]
    for conn, viewer in viewers.items():
        assert ids_on(viewer.board) == ids_on(theatre.board), conn
        assert viewer.board.last_seq == theatre.board.last_seq
