"""The publisher's side of anchored marks, without a network: board marks become tracker
requests in pixels, and tracker poses become the room's poses in fractions of the picture."""

from __future__ import annotations

import math

import numpy as np
import pytest

from surgery_teach.annotations import Add, Arrow, Board, Ellipse, Pointer
from surgery_teach.rtc.tracking_link import mark_points, place_of, places_of, requests_for
from surgery_teach.tracking.pose import MarkPose, TrackState

W, H = 1280, 720


def test_a_pixel_pose_and_its_fraction_pose_move_a_point_alike() -> None:
    turn = math.radians(12)
    pixels = np.array([[1.1 * math.cos(turn), -1.1 * math.sin(turn), 37.0],
                       [1.1 * math.sin(turn), 1.1 * math.cos(turn), -21.0]])
    place = place_of("m:1", MarkPose(pixels, TrackState.TRACKING, 0.8), (W, H))
    point = np.array([400.0, 300.0])
    moved = pixels[:, :2] @ point + pixels[:, 2]
    x, y = place.apply((point[0] / W, point[1] / H))
    assert (x * W, y * H) == pytest.approx(tuple(moved), abs=0.01)
    assert not place.lost and place.confidence == 0.8


def test_a_lost_pose_is_sent_lost_and_a_wild_one_is_left_out() -> None:
    lost = MarkPose(np.array([[1.0, 0, 5], [0, 1.0, 5]]), TrackState.LOST, 0.0)
    wild = MarkPose(np.array([[1.0, 0, 1e6], [0, 1.0, 0]]), TrackState.TRACKING, 0.9)
    places = places_of({"m:1": lost, "m:2": wild}, (W, H))
    assert [p.id for p in places] == ["m:1"] and places[0].lost


def test_only_anchored_drawn_marks_of_the_source_are_tracked_in_pixels() -> None:
    board = Board()
    style = {"author": "m", "colour": "#ffd400", "width": 0.004, "pinned": True}
    board.apply(Add(Ellipse(id="m:1", source="lap", box=(0.25, 0.5, 0.5, 0.75), anchored=True,
                            frame_time=12.5, **style)))  # type: ignore[arg-type]
    board.apply(Add(Arrow(id="m:2", source="lap", start=(0.1, 0.1), end=(0.2, 0.2),
                          **style)))  # type: ignore[arg-type]
    board.apply(Add(Arrow(id="m:3", source="other", start=(0.1, 0.1), end=(0.2, 0.2),
                          anchored=True, **style)))  # type: ignore[arg-type]
    board.apply(Add(Pointer(id="m:4", source="lap", at=(0.5, 0.5), anchored=True,
                            author="m", colour="#00ff00", width=0.01)))
    wanted = requests_for(board.view(), "lap", (W, H))
    assert set(wanted) == {"m:1"} and wanted["m:1"].frame_time == 12.5
    xs = [x for x, _ in wanted["m:1"].points]
    ys = [y for _, y in wanted["m:1"].points]
    assert min(xs) == pytest.approx(0.25 * W) and max(ys) == pytest.approx(0.75 * H)


def test_an_arrow_is_followed_by_its_two_ends() -> None:
    arrow = Arrow(id="m:2", author="m", source="lap", colour="#ffd400", width=0.004,
                  start=(0.25, 0.5), end=(0.5, 0.25))
    assert mark_points(arrow, W, H) == ((0.25 * W, 0.5 * H), (0.5 * W, 0.25 * H))


def test_faded_marks_are_not_followed_and_no_more_than_a_poses_op_carries() -> None:
    """65 anchored live marks that faded long ago must not make 65 tracker requests (a
    poses op holds 64: none would go out); pinned ones come first, then the newest."""
    from surgery_teach.annotations.poses import MAX_PLACES

    board = Board()
    for k in range(MAX_PLACES + 6):
        board.apply(Add(Arrow(id=f"m:{k}", source="lap", author="m", colour="#ffd400",
                              width=0.004, start=(0.1, 0.1), end=(0.2, 0.2), anchored=True,
                              pinned=k < 3, created=1000.0 + k / 100)))  # type: ignore[call-arg]
    long_after = 1000.0 + 3600
    assert set(requests_for(board.view(), "lap", (W, H), now=long_after)) == {
        "m:0", "m:1", "m:2"}  # the live ones faded; the pinned stay
    cache: dict = {}  # type: ignore[type-arg]
    wanted = requests_for(board.view(), "lap", (W, H), now=1001.0, cache=cache)
    assert len(wanted) == MAX_PLACES and {"m:0", "m:1", "m:2", f"m:{MAX_PLACES + 5}"} <= set(
        wanted)
    again = requests_for(board.view(), "lap", (W, H), now=1001.0, cache=cache)
    assert all(again[k] is wanted[k] for k in wanted)  # unchanged marks are not redone
