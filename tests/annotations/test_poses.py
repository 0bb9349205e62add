"""Anchored marks on the wire and on the board: one parse and serialize, the pose of a frame."""

from __future__ import annotations

import json
import re

import pytest

from surgery_teach.annotations import Add, Arrow, Board, Undo
from surgery_teach.annotations.poses import (
    IDENTITY,
    MAX_AHEAD,
    MAX_GAP,
    Anchor,
    MarkPlace,
    Poses,
    place_at,
)
from surgery_teach.annotations.wire import op_text, op_to_json, parse_op, shape_to_json
from surgery_teach.errors import ProtocolError

POSES = (
    '{"v":1,"op":"poses","seq":0,"author":"p-1","source":"lap","frame":12,'
    '"frame_time":1700000000.5,"marks":[{"id":"p-2:1","transform":[1.0,0.0,0.25,0.0,1.0,'
    '-0.125],"lost":false,"confidence":0.75}]}'
)


def arrow(**fields: object) -> Arrow:
    return Arrow(id="p-2:1", author="p-2", source="lap", colour="#ffd400", width=0.004,
                 start=(0.25, 0.5), end=(0.5, 0.5), pinned=True, **fields)  # type: ignore[arg-type]


def shifted(frame: int, dx: float, *, lost: bool = False, mark: str = "p-2:1") -> Poses:
    place = MarkPlace(mark, (1.0, 0.0, dx, 0.0, 1.0, 0.0), lost=lost, confidence=0.8)
    return Poses("lap", frame, frame / 30, (place,), author="p-1")


def test_poses_parse_from_a_literal_and_write_back_the_same_text() -> None:
    op = parse_op(POSES)
    assert isinstance(op, Poses)
    assert op.frame == 12 and op.places[0].apply((0.5, 0.5)) == (0.75, 0.375)
    assert op_text(op) == POSES
    assert parse_op(json.dumps(op_to_json(op))) == op


def test_anchor_parses_from_a_literal() -> None:
    op = parse_op('{"op":"anchor","author":"p-1","id":"p-1:3","anchored":true}')
    assert op == Anchor("p-1:3", True, author="p-1")


@pytest.mark.parametrize(("change", "field"), [
    (('"transform":[1.0,0.0,0.25,0.0,1.0,-0.125]', '"transform":[1,0,0,0,1]'),
     "marks[0].transform"),
    (('"transform":[1.0,0.0,0.25,0.0,1.0,-0.125]', '"transform":[0,0,0,0,0,0]'),
     "marks[0].transform"),
    (('"transform":[1.0,0.0,0.25,0.0,1.0,-0.125]', '"transform":[1,0,40,0,1,0]'),
     "marks[0].transform[2]"),
    (('"confidence":0.75', '"confidence":1.5'), "marks[0].confidence"),
    (('"frame":12', '"frame":-1'), "frame"),
    (('"lost":false', '"lost":false,"colour":"#fff"'), "marks[0].colour"),
])
def test_malformed_poses_are_refused_naming_the_field(change: tuple[str, str],
                                                      field: str) -> None:
    with pytest.raises(ProtocolError, match=re.escape(f"field '{field}'")) as caught:
        parse_op(POSES.replace(*change))
    assert caught.value.code == "bad-annotation"


def test_a_shape_says_anchored_only_when_it_is() -> None:
    assert "anchored" not in shape_to_json(arrow())
    body = shape_to_json(arrow(anchored=True))
    assert body["anchored"] is True
    op = parse_op({"op": "add", "shape": body})
    assert isinstance(op, Add) and op.shape.anchored


def test_the_pose_of_a_frame_between_two_batches_is_interpolated() -> None:
    batches = [shifted(10, 0.0), shifted(13, 0.3)]
    place = place_at(batches, "p-2:1", 12)
    assert place is not None and place.transform[2] == pytest.approx(0.2)
    assert place_at(batches, "p-2:1", 5).transform[2] == 0.0  # type: ignore[union-attr]
    # past the newest: carried on at its last speed, for at most MAX_AHEAD frames
    assert place_at(batches, "p-2:1", 16).transform[2] == pytest.approx(0.6)  # type: ignore[union-attr]
    assert place_at(batches, "p-2:1", 90).transform[2] == pytest.approx(  # type: ignore[union-attr]
        0.3 + 0.1 * MAX_AHEAD)
    assert place_at(batches, "p-2:1").transform[2] == 0.3  # type: ignore[union-attr]
    assert place_at(batches, "p-9:9", 12) is None


def test_next_to_a_lost_pose_the_mark_is_lost_at_its_last_trusted_place() -> None:
    batches = [shifted(10, 0.1), shifted(13, 0.1, lost=True)]
    place = place_at(batches, "p-2:1", 12)
    assert place is not None and place.lost and place.transform[2] == 0.1


def test_across_a_gap_in_the_poses_the_mark_is_lost_not_guessed() -> None:
    """A busy tracking computer sent no pose for a second: in between the tissue may have
    moved anywhere, so the mark is shown lost at the nearer pose, by number and by time;
    nor is the speed across such a gap used to carry it on."""
    batches = [shifted(10, 0.0), shifted(10 + MAX_GAP + 1, 0.3)]
    for place in (place_at(batches, "p-2:1", 14),
                  place_at(batches, "p-2:1", 14, frame_time=14 / 30)):
        assert place is not None and place.lost and place.transform[2] == 0.0
    late = place_at(batches, "p-2:1", 24, frame_time=24 / 30)
    assert late is not None and late.lost and late.transform[2] == 0.3
    ahead = place_at(batches, "p-2:1", 30)
    assert ahead is not None and ahead.transform[2] == 0.3  # held, not flung on
    close = [shifted(10, 0.0), shifted(10 + MAX_GAP, 0.3)]  # half a second: interpolated
    between = place_at(close, "p-2:1", 12)
    assert between is not None and not between.lost
    assert between.transform[2] == pytest.approx(0.3 * 2 / MAX_GAP)


def test_before_its_first_pose_a_mark_goes_from_where_it_was_drawn_to_that_pose() -> None:
    """Drawn on the frame captured at 10/30 s, its tissue first tracked at frame 13 (0.3
    to the right): frames 11 and 12 show it on its way there, not already there (a
    trainee's video behind the surgeon's tracker showed marks up to 120 px off)."""
    batches = [shifted(13, 0.3), shifted(16, 0.6)]
    drawn = 10 / 30
    on_its_way = place_at(batches, "p-2:1", 12, 12 / 30, drawn_at=drawn)
    assert on_its_way is not None and not on_its_way.lost
    assert on_its_way.transform[2] == pytest.approx(0.2)
    assert on_its_way.confidence == 0.8
    for frame in (10, 8):  # the drawn frame, and one captured before the drawing
        place = place_at(batches, "p-2:1", frame, frame / 30, drawn_at=drawn)
        assert place is not None and place.transform == IDENTITY and not place.lost
    # without the drawing's time (a mark from before frame_time was sent) the pose holds
    assert place_at(batches, "p-2:1", 12, 12 / 30).transform[2] == 0.3  # type: ignore[union-attr]
    # a first pose long after the drawing: lost at the nearer, as across any gap
    late = [shifted(12 + MAX_GAP + 1, 0.3)]
    near_drawing = place_at(late, "p-2:1", 12, 12 / 30, drawn_at=drawn)
    assert near_drawing is not None and near_drawing.lost
    assert near_drawing.transform == IDENTITY
    near_pose = place_at(late, "p-2:1", 10 + MAX_GAP, (10 + MAX_GAP) / 30, drawn_at=drawn)
    assert near_pose is not None and near_pose.lost and near_pose.transform[2] == 0.3


def test_the_board_places_a_mark_from_where_it_was_drawn_until_its_first_pose() -> None:
    board = Board()
    board.apply(Add(arrow(anchored=True, frame_time=10 / 30), seq=1))
    board.apply(Poses("lap", 13, 13 / 30, (MarkPlace("p-2:1", (1.0, 0.0, 0.3, 0.0, 1.0,
                                                                0.0)),), author="p-1", seq=2))
    for places in (board.places("lap", 11, 11 / 30), board.view().places("lap", 11, 11 / 30)):
        assert places["p-2:1"].transform[2] == pytest.approx(0.1)
    shape = arrow(anchored=True, frame_time=10 / 30)
    for place in (board.place(shape, 11, 11 / 30), board.view().place(shape, 11, 11 / 30)):
        assert place is not None and place.transform[2] == pytest.approx(0.1)


def test_the_board_places_anchored_marks_only_and_keeps_poses_in_its_snapshot() -> None:
    board = Board()
    board.apply(Add(arrow(anchored=True), seq=1))
    board.apply(Add(Arrow(id="p-2:2", author="p-2", source="lap", colour="#ffd400",
                          width=0.004, start=(0.1, 0.1), end=(0.2, 0.2)), seq=2))
    both = MarkPlace("p-2:1", (1.0, 0.0, 0.1, 0.0, 1.0, 0.0))
    other = MarkPlace("p-2:2", (1.0, 0.0, 0.1, 0.0, 1.0, 0.0))
    board.apply(Poses("lap", 5, 0.2, (both, other), author="p-1", seq=3))
    assert set(board.places("lap")) == {"p-2:1"}  # the fixed mark stays on the screen
    assert set(board.view().places("lap", 5)) == {"p-2:1"}
    again = Board.from_snapshot(board.snapshot())
    assert again.places("lap") == board.places("lap")


def test_anchoring_is_undone_like_an_edit() -> None:
    board = Board()
    board.apply(Add(arrow(), seq=1))
    board.apply(Anchor("p-2:1", True, author="p-2", seq=2))
    assert board.get("p-2:1").anchored  # type: ignore[union-attr]
    board.apply(Undo("p-2", seq=3))
    assert not board.get("p-2:1").anchored  # type: ignore[union-attr]


def test_late_poses_are_kept_in_frame_order() -> None:
    board = Board()
    board.apply(Add(arrow(anchored=True), seq=1))
    board.apply(shifted(20, 0.2))
    board.apply(shifted(10, 0.1))
    assert board.view().poses["lap"][0].frame == 10
    assert board.place(board.get("p-2:1")).transform[2] == 0.2  # type: ignore[arg-type,union-attr]


def test_poses_a_peer_sends_too_close_or_turned_half_round_never_break_painting() -> None:
    """A modified client sends two poses 1 ms apart, or a pose turned by 180 degrees:
    placing a mark between or beyond them must never raise (it runs while painting)."""
    from surgery_teach.annotations.poses import MarkPlace, _blend

    still = MarkPlace("m:1", (1.0, 0.0, 0.05, 0.0, 1.0, 0.0))
    moved = MarkPlace("m:1", (1.0, 0.0, 0.06, 0.0, 1.0, 0.0))
    far = _blend("m:1", still, moved, 300.0)  # extrapolated 300 intervals on: clamped
    assert not far.lost and far.transform[2] < 0.2
    turned = MarkPlace("m:1", (-1.0, 0.0, 1.0, 0.0, -1.0, 1.0))
    flat = _blend("m:1", still, turned, 0.5)  # half way: no area at all
    assert flat.lost and flat.transform == turned.transform
    assert _blend("m:1", still, moved, float("nan")).transform == moved.transform


def test_two_poses_a_millisecond_apart_carry_nothing_on_and_raise_nothing() -> None:
    first = Poses("lap", 10, 1.000, (MarkPlace("p-2:1", (1.0, 0.0, 0.05, 0.0, 1.0, 0.0)),),
                  author="p-1")
    second = Poses("lap", 11, 1.001, (MarkPlace("p-2:1", (1.0, 0.0, 0.06, 0.0, 1.0, 0.0)),),
                   author="p-1")
    place = place_at([first, second], "p-2:1", frame_time=1.2)
    assert place is not None and place.transform[2] == 0.06  # the newest, not flung away


def test_poses_after_the_publisher_restarts_its_frame_count_replace_the_old_ones() -> None:
    """A restarted surgeon's program (or a replaced camera) counts frames from 1 again,
    later in time: its poses must not be sorted in front of the old ones and dropped."""
    board = Board()
    board.apply(Add(arrow(anchored=True), seq=1))
    for n, frame in enumerate(range(1000, 1000 + 3 * 48, 3)):
        board.apply(Poses("lap", frame, frame / 30, (MarkPlace(
            "p-2:1", (1.0, 0.0, 0.1, 0.0, 1.0, 0.0)),), author="p-1", seq=2 + n))
    board.apply(Poses("lap", 3, 2000.0, (MarkPlace("p-2:1", (1.0, 0.0, 0.3, 0.0, 1.0, 0.0)),),
                      author="p-1", seq=100))
    assert board.places("lap")["p-2:1"].transform[2] == 0.3
