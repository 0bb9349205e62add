"""Hostile participants against the room rules, without a network: a board filled without
end, undo and redo used to make the server send whole boards, another author's mark ids,
rooms and ghosts piled up from one address, chat that fills the server's memory."""

from __future__ import annotations

import itertools
import json
import random

import pytest

from surgery_teach.annotations import (
    Add,
    Arrow,
    Clear,
    ClearScope,
    Freeze,
    Pen,
    Redo,
    Undo,
    Update,
)
from surgery_teach.annotations.history import History, weight
from surgery_teach.protocol.board_limits import BoardLimits
from surgery_teach.protocol.durable import DurableRooms
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
    Left,
    Publish,
    Publishes,
    Role,
    ServerMessage,
    Updated,
    Welcome,
    serialize,
)
from surgery_teach.protocol.room import CHAT_HISTORY_BYTES, Outbox, Rooms
from surgery_teach.protocol.telestration import Telestration

LAP = "Laparoscope"
ROOM = "chole"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _ids() -> object:
    counter = itertools.count(1)
    return lambda: f"p-{next(counter):08x}"


def room(limits: BoardLimits | None = None, clock: Clock | None = None) -> Rooms[str]:
    rooms: Rooms[str] = Rooms(clock=clock or Clock(), new_id=_ids(),  # type: ignore[arg-type]
                              board_limits=limits)
    return rooms


def join(rooms: Rooms[str], conn: str, role: Role, name: str | None = None,
         room_name: str = ROOM, key: str | None = None) -> str:
    outbox = rooms.handle(conn, Join(room_name, name or conn, role, client_key=key))
    welcome = outbox[0][1]
    assert isinstance(welcome, Welcome), outbox
    return welcome.you.id


def stroke(author: str, n: int, points: int = 2000, *, pinned: bool = True,
           seed: int = 0) -> Pen:
    rng = random.Random(seed * 7919 + n)
    return Pen(id=f"{author}:{n}", author=author, source=LAP, colour="#ff0000", width=0.004,
               pinned=pinned, points=tuple((rng.random(), rng.random()) for _ in range(points)))


def arrow(author: str, n: int, *, pinned: bool = True) -> Arrow:
    return Arrow(id=f"{author}:{n}", author=author, source=LAP, colour="#ffd400",
                 width=0.004, pinned=pinned, start=(0.1, 0.1), end=(0.5, 0.5))


def error_of(outbox: Outbox[str]) -> ErrorReply | None:
    errors = [m for _, m in outbox if isinstance(m, ErrorReply)]
    return errors[0] if errors else None


def send(rooms: Rooms[str], conn: str, op: object, ref: str | None = None) -> Outbox[str]:
    return rooms.handle(conn, Annotate(op, ref))  # type: ignore[arg-type]


# -- the board's limits ---------------------------------------------------------------------


def test_marks_beyond_the_rooms_limit_are_refused_and_faded_ones_make_room() -> None:
    clock = Clock()
    rooms = room(BoardLimits(marks=3), clock)
    mentor = join(rooms, "m", Role.MENTOR)
    for n in (1, 2):
        assert error_of(send(rooms, "m", Add(arrow(mentor, n, pinned=False)))) is None
    assert error_of(send(rooms, "m", Add(arrow(mentor, 3)))) is None
    error = error_of(send(rooms, "m", Add(arrow(mentor, 4)), ref="a-4"))
    assert error is not None and error.code == ErrorCode.BOARD_FULL and error.ref == "a-4"
    assert "3 marks and pointers, its limit" in error.message
    clock.now += 6  # the two live marks have faded away on every board
    assert error_of(send(rooms, "m", Add(arrow(mentor, 4)))) is None
    board = rooms.board(ROOM)
    assert board is not None and board.get(f"{mentor}:1") is None  # forgotten to make room


def test_points_are_limited_per_room_also_when_a_stroke_grows() -> None:
    rooms = room(BoardLimits(points=3000))
    mentor = join(rooms, "m", Role.MENTOR)
    assert error_of(send(rooms, "m", Add(stroke(mentor, 1)))) is None
    small = stroke(mentor, 2, points=500)
    assert error_of(send(rooms, "m", Add(small))) is None
    grown = Update(stroke(mentor, 2, points=1500))
    error = error_of(send(rooms, "m", grown))
    assert error is not None and error.code == ErrorCode.BOARD_FULL
    assert "3500 freehand points; its limit is 3000" in error.message


def test_pinned_marks_are_limited_per_author() -> None:
    rooms = room(BoardLimits(pinned_per_author=2))
    mentor, surgeon = join(rooms, "m", Role.MENTOR), join(rooms, "s", Role.SURGEON)
    for n in (1, 2):
        assert error_of(send(rooms, "m", Add(arrow(mentor, n)))) is None
    error = error_of(send(rooms, "m", Add(arrow(mentor, 3))))
    assert error is not None and error.code == ErrorCode.BOARD_FULL
    assert "2 pinned marks" in error.message
    assert error_of(send(rooms, "m", Add(arrow(mentor, 4, pinned=False)))) is None
    assert error_of(send(rooms, "s", Add(arrow(surgeon, 1)))) is None  # someone else's own


def test_a_late_joiners_snapshot_stays_within_the_byte_limit_whatever_is_sent() -> None:
    limit = 64 * 1024
    rooms = room(BoardLimits(snapshot_bytes=limit))
    mentor = join(rooms, "m", Role.MENTOR)
    refused = 0
    for n in range(1, 40):
        error = error_of(send(rooms, "m", Add(stroke(mentor, n, points=300))))
        refused += error is not None and error.code == ErrorCode.BOARD_FULL
    assert refused > 0
    outbox = rooms.handle("late", Join(ROOM, "Late", Role.STUDENT))
    snapshot = next(m for _, m in outbox if isinstance(m, AnnotationSnapshot))
    assert limit * 0.8 < len(serialize(snapshot).encode()) <= limit + 1024


def test_pictures_held_at_once_are_limited() -> None:
    rooms = room(BoardLimits(held=1))
    surgeon = join(rooms, "s", Role.SURGEON)
    assert error_of(send(rooms, "s", Freeze(LAP, 1.0, author=surgeon))) is None
    assert error_of(send(rooms, "s", Freeze(LAP, 2.0, author=surgeon))) is None  # same one
    error = error_of(send(rooms, "s", Freeze("Room camera", 2.0, author=surgeon)))
    assert error is not None and error.code == ErrorCode.BOARD_FULL


def test_an_undo_of_a_clear_beyond_the_limit_is_refused_and_leaves_the_board_alone() -> None:
    rooms = room(BoardLimits(marks=3))
    mentor, surgeon = join(rooms, "m", Role.MENTOR), join(rooms, "s", Role.SURGEON)
    for n in (1, 2):
        send(rooms, "m", Add(arrow(mentor, n)))
    send(rooms, "m", Clear(ClearScope.MINE, LAP, author=mentor))
    for n in (1, 2):
        send(rooms, "s", Add(arrow(surgeon, n)))
    board = rooms.board(ROOM)
    assert board is not None
    shown = [s.id for s in board.view().marks[LAP]]
    seq = board.last_seq
    outbox = send(rooms, "m", Undo(mentor), ref="u")
    error = error_of(outbox)
    assert error is not None and error.code == ErrorCode.BOARD_FULL and error.ref == "u"
    assert len(outbox) == 1  # to nobody else
    assert [s.id for s in board.view().marks[LAP]] == shown and board.last_seq == seq
    send(rooms, "s", Clear(ClearScope.MINE, LAP, author=surgeon))  # room again
    assert error_of(send(rooms, "m", Undo(mentor))) is None
    assert [s.id for s in board.view().marks[LAP]] == [f"{mentor}:1", f"{mentor}:2"]


def test_undo_and_redo_send_the_change_however_large_the_board() -> None:
    """Twelve undo/redo messages once made the server send the whole board twelve times."""
    rooms = room()
    mentor = join(rooms, "m", Role.MENTOR)
    join(rooms, "v", Role.STUDENT)
    for n in range(1, 8):
        send(rooms, "m", Add(stroke(mentor, n)))
    send(rooms, "m", Add(arrow(mentor, 99)))
    sent = 0
    for _ in range(6):
        for op in (Undo(mentor), Redo(mentor)):
            sent += sum(len(serialize(m)) for c, m in send(rooms, "m", op) if c == "v")
    assert sent < 12 * 1000  # twelve small arrows' worth, not twelve boards (~450 KB each)


def test_the_undo_history_is_bounded_by_what_it_holds() -> None:
    history = History(max_weight=100_000)
    for n in range(60):
        big = stroke("p-1", n, points=2000)
        from surgery_teach.annotations.history import Entry

        history.record((Entry(big.id, None, big, n),))
    assert history.weight <= 100_000 + weight(stroke("p-1", 0))
    assert len(history.undoable) < 60


def test_remembered_op_ids_do_not_hold_every_stroke_ever_sent() -> None:
    telestration = Telestration()
    from surgery_teach.protocol.messages import ParticipantInfo

    mentor = ParticipantInfo("p-1", "Dr Li", Role.MENTOR, Publishes(), True)
    telestration.take(mentor, Annotate(Add(stroke("p-1", 1, points=10)), "a-0"))
    for n in range(200):
        telestration.take(mentor, Annotate(Update(stroke("p-1", 1, seed=n)), f"a-{n + 1}"))
    assert telestration._applied_weight <= 2 * 1024 * 1024 + weight(stroke("p-1", 1))
    assert "a-0" not in telestration._applied and "a-200" in telestration._applied


# -- mark ids --------------------------------------------------------------------------------


def test_a_mark_id_must_begin_with_its_authors_id_so_nobody_squats_anothers() -> None:
    rooms = room()
    surgeon = join(rooms, "s", Role.SURGEON)
    trainee = join(rooms, "t", Role.TRAINEE)
    join(rooms, "m", Role.MENTOR)
    rooms.handle("m", GrantDraw(trainee, True))
    squat = Arrow(id=f"{surgeon}:5", author=trainee, source=LAP, colour="#ffffff",
                  width=0.004, start=(0.1, 0.1), end=(0.2, 0.2))
    error = error_of(send(rooms, "t", Add(squat), ref="x"))
    assert error is not None and error.code == ErrorCode.BAD_ANNOTATION and error.ref == "x"
    assert f"must begin with your participant id and ':', like '{trainee}:17'" in error.message
    outbox = send(rooms, "s", Add(arrow(surgeon, 5)))  # the surgeon's own mark 5
    assert error_of(outbox) is None
    board = rooms.board(ROOM)
    assert board is not None and board.author_of(f"{surgeon}:5") == surgeon


# -- confirmations ---------------------------------------------------------------------------


def test_the_updated_that_answers_grant_draw_or_publish_carries_its_ref() -> None:
    rooms = room()
    join(rooms, "m", Role.MENTOR)
    trainee = join(rooms, "t", Role.TRAINEE)
    outbox = rooms.handle("m", GrantDraw(trainee, True, id="g-1"))
    refs = {conn: m.ref for conn, m in outbox if isinstance(m, Updated)}
    assert refs == {"m": "g-1", "t": None}
    outbox = rooms.handle("t", Publish(Publishes(audio=True), id=7))
    refs = {conn: m.ref for conn, m in outbox if isinstance(m, Updated)}
    assert refs == {"m": None, "t": 7}
    text = serialize(Updated(next(m for _, m in outbox).participant, 7))  # type: ignore[union-attr]
    assert json.loads(text)["ref"] == 7


# -- rooms, ghosts, chat ---------------------------------------------------------------------


def durable(**options: object) -> tuple[DurableRooms[str], dict[str, str]]:
    addresses: dict[str, str] = {}
    rooms: DurableRooms[str] = DurableRooms(
        clock=Clock(), new_id=_ids(),  # type: ignore[arg-type]
        address_of=addresses.get, **options)  # type: ignore[arg-type]
    return rooms, addresses


KEY = "k" * 24


def test_ghosts_from_one_address_are_bounded_and_the_oldest_leaves_first() -> None:
    rooms, addresses = durable(ghosts_per_address=2)
    for n in range(5):
        conn = f"c{n}"
        addresses[conn] = "127.0.0.2"
        join(rooms, conn, Role.STUDENT, room_name=f"r{n}", key=f"{KEY}{n}")
        rooms.disconnect(conn)
    assert rooms.room_count == 2  # the last two wait; the older rooms went with their ghosts
    assert [rooms.is_ghost(f"r{n}", "p-0000000" + str(n + 1)) for n in (3, 4)] == [True, True]
    addresses["honest"] = "127.0.0.1"
    join(rooms, "honest", Role.STUDENT, room_name="r9", key=KEY + "h")
    rooms.disconnect("honest")
    assert rooms.room_count == 3  # another address has its own allowance


def test_ghosts_on_the_whole_server_are_bounded_and_a_full_server_frees_ghost_rooms() -> None:
    rooms, addresses = durable(ghosts_per_address=100, max_ghosts=3, max_rooms=4)
    for n in range(6):
        addresses[f"c{n}"] = f"10.0.0.{n}"
        join(rooms, f"c{n}", Role.STUDENT, room_name=f"r{n}", key=f"{KEY}{n}")
        rooms.disconnect(f"c{n}")
    assert rooms.room_count == 3
    join(rooms, "a", Role.MENTOR, room_name="live-1")  # 4 rooms: the most
    outbox = rooms.handle("b", Join("live-2", "B", Role.MENTOR))  # the oldest ghost room goes
    assert isinstance(outbox[-1][1], Welcome) and rooms.room_count == 4
    rooms.handle("x", Join("live-3", "X", Role.MENTOR))
    rooms.handle("y", Join("live-4", "Y", Role.MENTOR))
    outbox = rooms.handle("z", Join("live-5", "Z", Role.MENTOR), )
    error = outbox[-1][1]
    assert isinstance(error, ErrorReply) and error.code == ErrorCode.SERVER_FULL
    assert "4 rooms" in error.message


def test_a_ghost_that_leaves_for_room_is_seen_leaving_by_the_others() -> None:
    rooms, addresses = durable(ghosts_per_address=1)
    addresses.update(a="127.0.0.2", b="127.0.0.2", watcher="127.0.0.1")
    join(rooms, "watcher", Role.MENTOR, room_name="r")
    join(rooms, "a", Role.STUDENT, room_name="r", key=KEY + "a")
    join(rooms, "b", Role.STUDENT, room_name="r", key=KEY + "b")
    assert rooms.disconnect("a") == []  # a ghost: nobody is told
    outbox = rooms.disconnect("b")  # b waits now; a, the older, leaves
    assert [(c, type(m), m.reason) for c, m in outbox] == [  # type: ignore[union-attr]
        ("watcher", Left, "disconnect")]


def test_chat_history_is_bounded_in_bytes_in_memory_and_for_a_newcomer() -> None:
    rooms = room()
    join(rooms, "m", Role.MENTOR)
    text = "Ж" * 1990
    for n in range(300):
        rooms.handle("m", Chat(f"{n} {text}"))
    outbox = rooms.handle("late", Join(ROOM, "Late", Role.STUDENT))
    history = next(m for _, m in outbox if isinstance(m, ChatHistory))
    size = len(serialize(history).encode())
    assert CHAT_HISTORY_BYTES * 0.9 < size <= CHAT_HISTORY_BYTES + 8192
    assert history.messages[-1].text.startswith("299 ")


def test_remembered_chat_ids_are_bounded_in_bytes() -> None:
    rooms, _ = durable()
    join(rooms, "m", Role.MENTOR, key=KEY)
    for n in range(400):
        rooms.handle("m", Chat("Ж" * 2000, id=f"c-{n}"))
    presence = rooms._presence[ROOM]
    assert presence.chats_bytes <= 2 * CHAT_HISTORY_BYTES
    assert ("p-00000001", "c-399") in presence.chats and ("p-00000001", "c-0") not in presence.chats


def _messages(outbox: Outbox[str], conn: str) -> list[ServerMessage]:
    return [m for c, m in outbox if c == conn]


@pytest.mark.parametrize("op", ["undo", "redo"])
def test_nothing_to_undo_or_redo_is_refused_with_its_own_code(op: str) -> None:
    rooms = room()
    mentor = join(rooms, "m", Role.MENTOR)
    message = Undo(mentor) if op == "undo" else Redo(mentor)
    error = error_of(send(rooms, "m", message))
    assert error is not None and error.code == ErrorCode.NOTHING_TO_UNDO
    assert not [m for m in _messages(send(rooms, "m", Add(arrow(mentor, 1))), "m")
                if not isinstance(m, Annotation)]
