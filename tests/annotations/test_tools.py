"""Drawing tools turn synthetic pointer events into ops, and the ops into the expected marks."""

from __future__ import annotations

import pytest

from surgery_teach.annotations import (
    Add,
    Arrow,
    Board,
    Ellipse,
    Line,
    Op,
    Pen,
    Pointer,
    Rect,
    Remove,
    Text,
    ToolSession,
    Undo,
    Update,
    id_sequence,
)
from surgery_teach.errors import ProtocolError

ME = "p-1a2b3c4d"
LAP = "Laparoscope"
FRAME = 1764099000.5  # capture time of the frame under the cursor at press


def session(tool: str, **options: object) -> ToolSession:
    settings: dict[str, object] = {
        "author": ME,
        "colour": "#FF0000",
        "width": 0.004,
        "source": LAP,
        "id_factory": id_sequence(ME),
        **options,
    }
    return ToolSession(tool, **settings)  # type: ignore[arg-type]


def shapes_of(ops: list[Op]) -> list[object]:
    return [op.shape if isinstance(op, Add | Update) else op for op in ops]


def final_board(ops: list[Op]) -> Board:
    board = Board()
    for op in ops:
        board.apply(op)
    return board


def test_pen_adds_on_press_updates_on_move_and_finishes_on_release() -> None:
    pen = session("pen")
    ops = pen.press(0.1, 0.1, FRAME, t=10.0)
    assert len(ops) == 1 and isinstance(ops[0], Add)
    first = ops[0].shape
    assert isinstance(first, Pen) and first.points == ((0.1, 0.1),)
    assert (first.id, first.author, first.colour, first.frame_time, first.created) == (
        f"{ME}:1",
        ME,
        "#ff0000",
        FRAME,
        10.0,
    )
    assert pen.move(0.1015, 0.1, t=10.04) == []  # closer than 0.002: skipped
    moved = pen.move(0.11, 0.1, t=10.05)
    assert len(moved) == 1 and isinstance(moved[0], Update)
    assert moved[0].shape.points == ((0.1, 0.1), (0.11, 0.1))  # type: ignore[union-attr]
    assert moved[0].shape.created == 10.05
    done = pen.release(0.12, 0.1, t=10.06)  # within the rate limit, yet the end is sent
    assert [op.shape.points for op in done] == [((0.1, 0.1), (0.11, 0.1), (0.12, 0.1))]  # type: ignore[union-attr]
    assert pen.move(0.5, 0.5, t=11.0) == [] and not pen.drawing


def test_pen_updates_at_most_thirty_times_a_second_and_tick_sends_the_rest() -> None:
    pen = session("pen")
    ops = pen.press(0.0, 0.5, FRAME, t=0.0)
    for i in range(1, 103):  # a drag reported at 100 Hz for just over 1 s
        ops += pen.move(i * 0.005, 0.5, t=i / 100)
    updates = [op for op in ops if isinstance(op, Update)]
    assert len(updates) == 25  # every fourth move: 0.04 s apart, the first 1/30 s gap
    assert len(updates[-1].shape.points) == 101  # type: ignore[union-attr]
    assert pen.tick(t=1.025) == []  # too soon after the last update
    flushed = pen.tick(t=1.1)
    assert len(flushed) == 1 and len(flushed[0].shape.points) == 103  # type: ignore[union-attr]
    assert pen.tick(t=1.2) == [] and pen.release(0.51, 0.5, t=1.3) == []


def test_a_stroke_of_more_than_2000_points_goes_on_as_a_new_stroke() -> None:
    pen = session("pen")
    ops = pen.press(0.0, 0.0, FRAME, t=0.0)
    for i in range(1, 2100):
        ops += pen.move((i % 400) * 0.0025, (i // 400) * 0.01, t=i * 0.001)
    ops += pen.release(0.99, 0.99, t=3.0)
    adds = [op.shape for op in ops if isinstance(op, Add)]
    assert [s.id for s in adds] == [f"{ME}:1", f"{ME}:2"]
    board = final_board(ops)
    strokes = [v.shape for v in board.shapes(LAP, 3.0)]
    # 2100 points from the moves and 1 from the release, the joint point twice.
    assert [len(s.points) for s in strokes] == [2000, 102]  # type: ignore[union-attr]
    assert strokes[1].points[0] == strokes[0].points[-1]  # type: ignore[union-attr]


@pytest.mark.parametrize("tool", ["arrow", "line", "ellipse", "rect"])
def test_a_click_without_a_drag_draws_nothing(tool: str) -> None:
    drawing = session(tool)
    ops = drawing.press(0.5, 0.5, FRAME, t=0.0)
    ops += drawing.move(0.503, 0.502, t=0.05)  # 0.0036 from the press: still too small
    ops += drawing.release(0.503, 0.502, t=0.1)
    assert ops == []


def test_arrow_appears_once_dragged_follows_the_hand_and_ends_at_release() -> None:
    arrow = session("arrow")
    assert arrow.press(0.25, 0.5, FRAME, t=0.0) == []
    (added,) = arrow.move(0.3, 0.5, t=0.1)
    assert isinstance(added, Add) and added.shape == Arrow(
        id=f"{ME}:1",
        author=ME,
        source=LAP,
        colour="#ff0000",
        width=0.004,
        frame_time=FRAME,
        created=0.1,
        start=(0.25, 0.5),
        end=(0.3, 0.5),
    )
    assert arrow.move(0.4, 0.5, t=0.11) == []  # held back by the rate limit
    (moved,) = arrow.move(0.5, 0.5, t=0.2)
    assert isinstance(moved, Update) and moved.shape.end == (0.5, 0.5)  # type: ignore[union-attr]
    (done,) = arrow.release(0.75, 0.5, t=0.21)
    assert isinstance(done, Update) and done.shape.end == (0.75, 0.5)  # type: ignore[union-attr]
    board = final_board([added, moved, done])
    assert [v.shape for v in board.shapes(LAP, 0.5)] == [done.shape]
    board.apply(Undo(ME))  # the whole drag is one undo step
    assert board.shapes(LAP, 0.5) == []


def test_a_fast_drag_without_moves_still_draws() -> None:
    line = session("line")
    line.press(0.1, 0.1, FRAME, t=0.0)
    (added,) = line.release(0.9, 0.9, t=0.05)
    assert isinstance(added, Add) and isinstance(added.shape, Line)
    assert (added.shape.start, added.shape.end) == ((0.1, 0.1), (0.9, 0.9))


@pytest.mark.parametrize(("tool", "kind"), [("ellipse", Ellipse), ("rect", Rect)])
def test_boxes_are_dragged_corner_to_corner_in_any_direction(tool: str, kind: type) -> None:
    drawing = session(tool, pinned=True)
    drawing.press(0.6, 0.7, FRAME, t=0.0)
    (added,) = drawing.release(0.2, 0.3, t=0.5)
    assert isinstance(added.shape, kind)  # type: ignore[union-attr]
    assert added.shape.box == (0.2, 0.3, 0.6, 0.7)  # type: ignore[union-attr]
    assert added.shape.pinned  # type: ignore[union-attr]


def test_drags_past_the_edge_of_the_video_are_clamped() -> None:
    line = session("line")
    line.press(-0.2, 0.5, FRAME, t=0.0)
    (added,) = line.release(1.3, 1.0000001, t=0.1)
    assert (added.shape.start, added.shape.end) == ((0.0, 0.5), (1.0, 1.0))  # type: ignore[union-attr]


def test_text_is_placed_by_a_press_and_written_as_the_user_types() -> None:
    text = session("text")
    assert text.press(0.3, 0.4, FRAME, t=0.0) == []
    assert text.release(0.3, 0.4, t=0.1) == []
    (added,) = text.type_text("C", t=1.0)
    assert isinstance(added, Add) and isinstance(added.shape, Text)
    assert (added.shape.anchor, added.shape.text) == ((0.3, 0.4), "C")
    (edited,) = text.type_text("Calot's triangle", t=2.0)
    assert isinstance(edited, Update) and edited.shape.text == "Calot's triangle"  # type: ignore[union-attr]
    assert edited.shape.id == added.shape.id and edited.shape.created == 2.0
    assert text.type_text("Calot's triangle", t=2.5) == []
    assert text.type_text("", t=3.0) == [Remove(added.shape.id, author=ME)]
    (again,) = text.type_text("胆囊三角", t=4.0)
    assert isinstance(again, Add) and again.shape.id == f"{ME}:2"
    text.press(0.6, 0.6, FRAME, t=5.0)  # a new press starts a new label
    (other,) = text.type_text("B", t=5.5)
    assert isinstance(other, Add) and other.shape.id == f"{ME}:3"
    with pytest.raises(ProtocolError, match="'text' is 201 characters"):
        text.type_text("x" * 201, t=6.0)


def test_typing_needs_the_text_tool_and_a_placed_label() -> None:
    with pytest.raises(ValueError, match="press"):
        session("text").type_text("x", t=0.0)
    arrow = session("arrow")
    arrow.press(0.5, 0.5, FRAME, t=0.0)
    with pytest.raises(ValueError, match="text tool"):
        arrow.type_text("x", t=0.1)


def test_pointer_shows_moves_at_thirty_per_second_and_goes_on_release() -> None:
    laser = session("pointer", pinned=True)
    (shown,) = laser.press(0.5, 0.5, FRAME, t=0.0)
    assert isinstance(shown, Add) and isinstance(shown.shape, Pointer)
    assert not shown.shape.pinned  # a pointer never stays
    moves: list[Op] = []
    for i in range(1, 121):  # 1 s at 120 Hz
        moves += laser.move(0.5 + i * 0.001, 0.5, t=i / 120)
    assert all(isinstance(op, Update) for op in moves)
    assert 28 <= len(moves) <= 31
    gone = laser.release(0.7, 0.5, t=1.05)
    assert gone == [Remove(shown.shape.id, author=ME)]
    board = final_board([shown, *moves, *gone])
    assert board.shapes(LAP, 1.05) == []
    assert not board.can_undo(ME)


def test_a_held_pointer_is_kept_alive_by_tick() -> None:
    laser = session("pointer")
    ops = laser.press(0.5, 0.5, FRAME, t=0.0)
    assert laser.tick(0.5) == []
    ops += laser.tick(1.0)
    assert len(ops) == 2 and isinstance(ops[1], Update) and ops[1].shape.created == 1.0
    ops += laser.tick(1.6) + laser.tick(2.0)
    board = final_board(ops)
    assert [v.shape.id for v in board.shapes(LAP, 3.5)] == [f"{ME}:1"]


def test_hover_moves_and_stray_releases_give_nothing() -> None:
    for tool in ("pen", "arrow", "pointer", "text"):
        drawing = session(tool)
        assert drawing.move(0.5, 0.5, t=0.0) == []
        assert drawing.release(0.5, 0.5, t=0.0) == []
        assert drawing.tick(0.0) == []


def test_a_press_without_a_release_finishes_the_previous_gesture() -> None:
    laser = session("pointer")
    (first,) = laser.press(0.1, 0.1, FRAME, t=0.0)
    ops = laser.press(0.9, 0.9, FRAME, t=1.0)
    assert ops[0] == Remove(first.shape.id, author=ME)  # type: ignore[union-attr]
    assert isinstance(ops[1], Add) and ops[1].shape.id != first.shape.id  # type: ignore[union-attr]


def test_the_session_checks_its_tool_and_style_up_front() -> None:
    with pytest.raises(ValueError):
        session("laser")
    with pytest.raises(ProtocolError, match="'colour'"):
        session("pen", colour="red")
    with pytest.raises(ProtocolError, match="'width'"):
        session("pen", width=0.5)
    with pytest.raises(ValueError, match="max_rate"):
        session("pen", max_rate=0)
    with pytest.raises(ValueError, match="finite"):
        session("pen").press(float("nan"), 0.5, FRAME, t=0.0)


def test_id_sequence_counts_from_one() -> None:
    ids = id_sequence("p-9")
    assert [ids(), ids(), ids()] == ["p-9:1", "p-9:2", "p-9:3"]
