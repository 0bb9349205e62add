"""Anchored marks in recordings and clips: drawn on their tissue, dashed and faded when lost."""

from __future__ import annotations

import numpy as np

from surgery_teach.annotations import Line, Rect
from surgery_teach.annotations.placing import dashed
from surgery_teach.annotations.poses import MarkPlace
from surgery_teach.annotations.render import render_marks

W, H = 320, 180


def line(anchored: bool = True) -> Line:
    return Line(id="m:1", author="m", source="lap", colour="#ffffff", width=0.02,
                start=(0.2, 0.3), end=(0.6, 0.3), pinned=True, anchored=anchored)


def painted_rows(frame: np.ndarray) -> set[int]:
    return {int(r) for r in np.nonzero(frame.max(axis=(1, 2)) > 100)[0]}


def test_an_anchored_mark_is_drawn_where_its_pose_puts_it() -> None:
    frame = np.zeros((H, W, 3), np.uint8)
    down = MarkPlace("m:1", (1.0, 0.0, 0.0, 0.0, 1.0, 0.25))  # a quarter of the height lower
    render_marks(frame, [(line(), 1.0)], {"m:1": down})
    rows = painted_rows(frame)
    assert rows and min(rows) > 0.5 * H and max(rows) < 0.6 * H  # around y = 0.55
    assert min(rows) <= round(0.55 * H) <= max(rows)


def test_a_fixed_mark_ignores_poses() -> None:
    frame = np.zeros((H, W, 3), np.uint8)
    down = MarkPlace("m:1", (1.0, 0.0, 0.0, 0.0, 1.0, 0.25))
    render_marks(frame, [(line(anchored=False), 1.0)], {"m:1": down})
    assert max(painted_rows(frame)) < 0.35 * H


def test_a_lost_mark_is_dashed_and_faded_at_its_last_trusted_place() -> None:
    sure = np.zeros((H, W, 3), np.uint8)
    lost = np.zeros((H, W, 3), np.uint8)
    place = MarkPlace("m:1", (1.0, 0.0, 0.0, 0.0, 1.0, 0.25))
    render_marks(sure, [(line(), 1.0)], {"m:1": place})
    render_marks(lost, [(line(), 1.0)], {"m:1": MarkPlace("m:1", place.transform, lost=True)})
    row = int(0.55 * H)
    assert lost.max() < 0.6 * sure.max()  # faded
    along_sure = sure[row, int(0.2 * W) + 4:int(0.6 * W) - 4, 0] > 50
    along_lost = lost[row, int(0.2 * W) + 4:int(0.6 * W) - 4, 0] > 50
    assert along_sure.all() and 0.3 < along_lost.mean() < 0.9  # gaps: dashed


def test_a_turned_rectangle_is_drawn_turned() -> None:
    frame = np.zeros((H, H, 3), np.uint8)
    rect = Rect(id="m:2", author="m", source="lap", colour="#ffffff", width=0.01,
                box=(0.3, 0.3, 0.7, 0.7), anchored=True)
    c, s = np.cos(np.pi / 4), np.sin(np.pi / 4)
    turn = MarkPlace("m:2", (c, -s, 0.5 - 0.5 * c + 0.5 * s, s, c, 0.5 - 0.5 * s - 0.5 * c))
    render_marks(frame, [(rect, 1.0)], {"m:2": turn})
    # a diamond: its corners on the axes through the centre, nothing at the square's corners
    assert frame[int(0.5 * H), int(0.5 * H + 0.2 * np.sqrt(2) * H) - 1].max() > 100
    assert frame[int(0.3 * H), int(0.3 * H)].max() == 0


def test_dashes_cover_about_their_share_of_a_line() -> None:
    pieces = dashed([(0.0, 0.0), (100.0, 0.0)], False, 6.0, 4.0)
    drawn = sum(p[-1][0] - p[0][0] for p in pieces)
    assert len(pieces) == 10 and abs(drawn - 60.0) < 1e-6
