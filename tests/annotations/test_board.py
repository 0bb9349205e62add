"""The board applies ops in server order: undo per author, clears, fading, replays, joiners."""

from __future__ import annotations

import itertools

import pytest

from surgery_teach.annotations import (
    Add,
    Arrow,
    Board,
    Clear,
    ClearScope,
    Freeze,
    FreezeChanged,
    Op,
    Pen,
    Pointer,
    Redo,
    Remove,
    ShapeAdded,
    ShapeChanged,
    ShapeRemoved,
    Undo,
    Unfreeze,
    Update,
    with_seq,
)
from surgery_teach.annotations.board import opacity_at

LAP = "Laparoscope"
SURGEON, MENTOR, TRAINEE = "p-surgeon", "p-mentor", "p-trainee"


def arrow(
    shape_id: str,
    author: str = MENTOR,
    *,
    created: float = 0.0,
    x: float = 0.5,
    pinned: bool = False,
    source: str = LAP,
) -> Arrow:
    return Arrow(
        id=shape_id,
        author=author,
        source=source,
        colour="#ff0000",
        width=0.004,
        created=created,
        pinned=pinned,
        start=(0.1, 0.1),
        end=(x, 0.5),
    )


def pen(shape_id: str, n: int, author: str = MENTOR, created: float = 0.0) -> Pen:
    points = tuple((0.1 + i * 0.01, 0.5) for i in range(n))
    return Pen(
        id=shape_id,
        author=author,
        source=LAP,
        colour="#00ff00",
        width=0.004,
        created=created,
        points=points,
    )


def pointer(shape_id: str, author: str = MENTOR, *, created: float, x: float = 0.5) -> Pointer:
    return Pointer(
        id=shape_id,
        author=author,
        source=LAP,
        colour="#ff0000",
        width=0.004,
        created=created,
        at=(x, 0.5),
    )


def ids(board: Board, now: float = 0.0, source: str = LAP) -> list[str]:
    return [visible.shape.id for visible in board.shapes(source, now)]


def play(board: Board, *ops: Op) -> None:
    for op in ops:
        board.apply(op)


def test_add_update_remove_report_what_changed() -> None:
    board = Board()
    first, moved = arrow("a"), arrow("a", x=0.9)
    assert board.apply(Add(first)) == [ShapeAdded(first)]
    assert board.apply(Update(moved)) == [ShapeChanged(moved)]
    assert board.get("a") == moved
    assert board.apply(Remove("a", author=MENTOR)) == [ShapeRemoved(moved)]
    assert board.get("a") is None and ids(board) == []


def test_impossible_ops_change_nothing() -> None:
    board = Board()
    play(board, Add(arrow("a")))
    assert board.apply(Add(arrow("a", x=0.2))) == []  # the id is taken
    assert board.apply(Update(arrow("a", author=SURGEON))) == []  # not the author
    assert board.apply(Update(pen("a", 2))) == []  # not the same kind
    assert board.apply(Update(arrow("a", source="Room camera"))) == []
    assert board.apply(Update(arrow("missing"))) == []
    assert board.apply(Remove("missing", author=MENTOR)) == []
    assert board.get("a") == arrow("a")


def test_undo_and_redo_are_per_author_with_interleaved_authors() -> None:
    board = Board()
    play(
        board,
        Add(arrow("m1")),
        Add(arrow("s1", SURGEON)),
        Add(arrow("m2")),
        Add(arrow("s2", SURGEON)),
    )
    play(board, Undo(SURGEON))
    assert ids(board) == ["m1", "s1", "m2"]
    play(board, Undo(MENTOR))
    assert ids(board) == ["m1", "s1"]
    play(board, Undo(MENTOR))
    assert ids(board) == ["s1"]
    play(board, Undo(MENTOR))  # nothing left to undo
    assert ids(board) == ["s1"]
    play(board, Redo(MENTOR))
    assert ids(board) == ["s1", "m1"]  # a mark brought back goes on top (section 8.4)
    play(board, Redo(SURGEON), Redo(MENTOR))
    assert ids(board) == ["s1", "m1", "s2", "m2"]


def test_a_new_add_clears_only_that_authors_redo() -> None:
    board = Board()
    play(board, Add(arrow("m1")), Add(arrow("s1", SURGEON)), Undo(MENTOR), Undo(SURGEON))
    play(board, Add(arrow("m2")), Add(arrow("t1", TRAINEE)))
    assert not board.can_redo(MENTOR) and board.can_redo(SURGEON)
    play(board, Redo(MENTOR), Redo(SURGEON))
    assert ids(board) == ["m2", "t1", "s1"]  # s1 is back, on top


def test_one_undo_takes_back_a_whole_stroke_with_its_updates() -> None:
    board = Board()
    play(board, Add(arrow("before")), Add(pen("s", 1)))
    play(board, *(Update(pen("s", n)) for n in range(2, 30)))
    changes = board.apply(Undo(MENTOR))
    assert changes == [ShapeRemoved(pen("s", 29))]
    assert ids(board) == ["before"]
    assert board.apply(Redo(MENTOR)) == [ShapeAdded(pen("s", 29))]


def test_a_later_edit_is_its_own_undo_step() -> None:
    board = Board()
    play(
        board,
        Add(arrow("a")),
        Add(arrow("b")),
        Update(arrow("a", x=0.8)),
        Update(arrow("a", x=0.9)),
    )
    play(board, Undo(MENTOR))
    assert board.get("a") == arrow("a") and board.get("b") is not None
    play(board, Undo(MENTOR))
    assert ids(board) == ["a"]


def test_remove_can_be_undone_by_whoever_removed() -> None:
    board = Board()
    play(board, Add(arrow("s1", SURGEON)), Remove("s1", author=MENTOR))
    assert ids(board) == []
    assert board.apply(Undo(MENTOR)) == [ShapeAdded(arrow("s1", SURGEON))]


def test_undo_skips_marks_someone_else_has_since_removed() -> None:
    board = Board()
    play(board, Add(arrow("s1", SURGEON)), Add(arrow("s2", SURGEON)), Remove("s2", author=MENTOR))
    assert board.can_undo(SURGEON)
    play(board, Undo(SURGEON))  # s2 is gone already: the undo takes back s1
    assert ids(board) == []
    assert not board.can_undo(SURGEON)
    play(board, Undo(MENTOR))  # the mentor's remove is still undoable
    assert ids(board) == ["s2"]


def test_clear_mine_removes_only_the_authors_marks_on_that_source_and_can_be_undone() -> None:
    board = Board()
    play(
        board,
        Add(arrow("m1")),
        Add(arrow("s1", SURGEON)),
        Add(arrow("m2")),
        Add(arrow("m3", source="Room camera")),
    )
    changes = board.apply(Clear(ClearScope.MINE, LAP, author=MENTOR))
    assert {c.shape.id for c in changes if isinstance(c, ShapeRemoved)} == {"m1", "m2"}
    assert ids(board) == ["s1"] and ids(board, source="Room camera") == ["m3"]
    play(board, Undo(MENTOR))
    assert ids(board) == ["s1", "m1", "m2"]  # back on top, in the order they were drawn
    play(board, Redo(MENTOR))
    assert ids(board) == ["s1"]


def test_clear_all_removes_everyones_marks_and_pointers_and_is_final() -> None:
    board = Board()
    play(
        board,
        Add(arrow("m1")),
        Add(arrow("s1", SURGEON)),
        Add(pointer("ptr", SURGEON, created=0.0)),
        Add(arrow("other", source="Room camera")),
    )
    play(board, Clear(ClearScope.ALL, LAP, author=MENTOR))
    assert ids(board) == [] and ids(board, source="Room camera") == ["other"]
    play(board, Undo(MENTOR))  # no undo of a clear-all: nothing of the mentor's is left
    assert ids(board) == []
    play(board, Undo(SURGEON))
    assert ids(board) == []


def test_live_marks_show_for_four_seconds_then_fade_over_one() -> None:
    live = arrow("a", created=100.0)
    assert opacity_at(live, 100.0) == 1.0
    assert opacity_at(live, 104.0) == 1.0
    assert opacity_at(live, 104.25) == pytest.approx(0.75)
    assert opacity_at(live, 104.5) == pytest.approx(0.5)
    assert opacity_at(live, 105.0) == 0.0
    assert opacity_at(live, 99.0) == 1.0  # a clock a little behind the author's
    assert opacity_at(live, 110.5, fade_after=10.0) == pytest.approx(0.5)


def test_board_lists_visible_marks_with_opacity_and_drops_faded_ones() -> None:
    board = Board()
    play(board, Add(arrow("live", created=100.0)), Add(arrow("pinned", created=0.0, pinned=True)))
    assert board.shapes(LAP, 104.5) == [
        (arrow("live", created=100.0), pytest.approx(0.5)),
        (arrow("pinned", pinned=True), 1.0),
    ]
    assert [(v.shape.id, v.opacity) for v in board.shapes(LAP, 105.0)] == [("pinned", 1.0)]
    assert [v.opacity for v in board.shapes(LAP, 108.0, fade_after=10.0)] == [1.0, 1.0]


def test_an_update_restarts_the_fade() -> None:
    board = Board()
    play(board, Add(pen("s", 1, created=0.0)), Update(pen("s", 2, created=3.0)))
    assert [v.opacity for v in board.shapes(LAP, 6.0)] == [1.0]


def test_pointer_shows_on_top_until_two_seconds_without_update() -> None:
    board = Board()
    play(board, Add(pointer("ptr", created=10.0)), Add(arrow("a", pinned=True)))
    assert ids(board, 12.0) == ["a", "ptr"]
    assert ids(board, 12.01) == ["a"]
    play(board, Update(pointer("ptr", created=11.5, x=0.6)))
    assert ids(board, 13.4) == ["a", "ptr"]
    removed = board.apply(Remove("ptr", author=MENTOR))
    assert removed == [ShapeRemoved(pointer("ptr", created=11.5, x=0.6))]
    assert ids(board, 11.6) == ["a"]


def test_pointers_never_enter_the_undo_history() -> None:
    board = Board()
    play(
        board,
        Add(arrow("a")),
        Add(pointer("ptr", created=0.0)),
        Update(pointer("ptr", created=0.1, x=0.7)),
        Remove("ptr", author=MENTOR),
    )
    play(board, Undo(MENTOR))
    assert ids(board) == []  # the arrow went; the pointer did not come back
    play(board, Redo(MENTOR))
    assert ids(board) == ["a"]


def test_freeze_and_unfreeze() -> None:
    board = Board()
    assert board.frozen(LAP) is None
    assert board.apply(Freeze(LAP, 12.5, author=SURGEON)) == [FreezeChanged(LAP, 12.5)]
    assert board.apply(Freeze(LAP, 12.5, author=MENTOR)) == []
    assert board.frozen(LAP) == 12.5 and board.frozen("Room camera") is None
    assert board.apply(Unfreeze(LAP, author=MENTOR)) == [FreezeChanged(LAP, None)]
    assert board.apply(Unfreeze(LAP, author=MENTOR)) == []


def numbered(ops: list[Op], start: int = 1) -> list[Op]:
    return [with_seq(op, seq) for seq, op in zip(itertools.count(start), ops, strict=False)]


SESSION: list[Op] = [
    Add(arrow("m1", created=1.0)),
    Add(pen("m2", 1, created=2.0)),
    Update(pen("m2", 5, created=2.5)),
    Add(arrow("s1", SURGEON, created=3.0, pinned=True)),
    Freeze(LAP, 2.9, author=SURGEON),
    Remove("m1", author=MENTOR),
    Add(arrow("t1", TRAINEE, created=4.0)),
    Undo(TRAINEE),
    Add(pointer("ptr", created=4.5)),
    Add(arrow("room", created=4.6, source="Room camera")),
]


def test_replayed_ops_are_applied_exactly_once() -> None:
    ops = numbered(SESSION)
    once, twice = Board(), Board()
    play(once, *ops)
    play(twice, *ops[:6])
    for op in ops:  # a reconnect replays everything
        twice.apply(op)
    assert twice.last_seq == once.last_seq == len(ops)
    assert twice.shapes(LAP, 5.0) == once.shapes(LAP, 5.0)
    assert twice.apply(with_seq(Clear(ClearScope.ALL, LAP, author=MENTOR), 3)) == []
    assert ids(twice, 5.0) == ids(once, 5.0) != []


def test_unsequenced_ops_apply_and_leave_last_seq_alone() -> None:
    board = Board()
    play(board, with_seq(Add(arrow("a")), 5), Add(arrow("b")))
    assert board.last_seq == 5 and ids(board) == ["a", "b"]


@pytest.mark.parametrize("now", [2.0, 4.5, 5.5, 6.4, 100.0])
def test_a_late_joiner_rebuilds_the_same_visible_board_from_a_snapshot(now: float) -> None:
    board = Board()
    play(board, *numbered(SESSION))
    snapshot = board.snapshot()
    assert all(op.seq == board.last_seq for op in snapshot)
    assert [op.shape.id for op in snapshot if isinstance(op, Add)] == ["m2", "s1", "room", "ptr"]
    joiner = Board.from_snapshot(snapshot)
    for source in (LAP, "Room camera"):
        assert joiner.shapes(source, now) == board.shapes(source, now)
    assert joiner.frozen(LAP) == 2.9
    assert joiner.last_seq == board.last_seq
    assert joiner.apply(with_seq(Remove("s1", author=MENTOR), 6)) == []  # already in the snapshot


def test_a_snapshot_keeps_the_drawing_order_and_the_joiner_goes_on_with_the_stream() -> None:
    board = Board()
    play(
        board,
        *numbered(
            [
                Add(arrow("a")),
                Add(arrow("b")),
                Add(arrow("c")),
                Remove("a", author=MENTOR),
                Undo(MENTOR),
            ]
        ),
    )
    joiner = Board.from_snapshot(board.snapshot())
    assert ids(joiner) == ids(board) == ["b", "c", "a"]  # a, brought back, on top
    follow = numbered(
        [Add(arrow("d", SURGEON)), Undo(SURGEON), Clear(ClearScope.MINE, LAP, author=MENTOR)],
        start=6,
    )
    play(board, *follow)
    play(joiner, *follow)
    assert ids(joiner) == ids(board) == []
    assert Board.from_snapshot([], last_seq=9).last_seq == 9
