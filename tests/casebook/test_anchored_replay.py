"""Anchored marks in a recording: the poses logged live move the marks on replay exactly as
they moved live, and an exported clip burns them in there."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from surgery_teach.annotations import Add, MarkPlace, Poses
from surgery_teach.annotations.render import render_marks
from surgery_teach.casebook import open_recording
from surgery_teach.casebook.timeline import build_timeline
from tests.casebook.test_timeline import START, arrow, marks, write_case


def poses(at: float, frame: int, dx: float, *, lost: bool = False) -> Poses:
    place = MarkPlace("a1", (1.0, 0.0, dx, 0.0, 1.0, 0.0), lost=lost, confidence=0.9)
    return Poses("Endoscope", frame, START + at, (place,), author="surgeon")


def test_replay_moves_an_anchored_mark_as_its_live_poses_did(tmp_path: Path) -> None:
    anchored = replace(arrow("a1", 10.0, pinned=True), anchored=True)
    case = open_recording(write_case(tmp_path, marks([
        (10.0, Add(anchored, seq=1)),
        (10.5, poses(10.5, 300, 0.0)),
        (10.6, poses(10.6, 303, 0.1)),
        (10.7, poses(10.7, 306, 0.2, lost=True)),
    ])))
    timeline = build_timeline(case)
    assert timeline.places_at(9.0, "Endoscope") == {}  # not drawn yet
    between = timeline.places_at(10.55, "Endoscope")["a1"]
    assert between.transform[2] == pytest.approx(0.05) and not between.lost
    assert timeline.places_at(10.7, "Endoscope")["a1"].lost
    # a player going back in time finds the earlier pose again
    assert timeline.places_at(10.5, "Endoscope")["a1"].transform[2] == pytest.approx(0.0)


def test_an_exported_frame_shows_the_mark_on_its_tissue(tmp_path: Path) -> None:
    anchored = replace(arrow("a1", 10.0, pinned=True), anchored=True)
    case = open_recording(write_case(tmp_path, marks([
        (10.0, Add(anchored, seq=1)), (10.5, poses(10.5, 300, 0.4))])))
    replay = build_timeline(case).mark_replay()
    picture = np.zeros((90, 160, 3), np.uint8)
    render_marks(picture, replay.shapes(10.5, "Endoscope"), replay.places(10.5, "Endoscope"))
    columns = np.nonzero(picture.max(axis=(0, 2)) > 100)[0]
    assert columns.min() >= int(0.5 * 160) - 2  # drawn from x 0.1 + 0.4, not from 0.1


def test_a_recorded_picture_names_its_capture_time_for_the_poses(tmp_path: Path) -> None:
    """The surgeon's pictures carry their capture time inside the video (SEI), into the
    recording: the player and the export place anchored marks through the pose of the very
    picture shown (poses are tagged with it live), not the case clock's guess."""
    from surgery_teach.casebook import SourcePlayer
    from tests.recording.cases import recorded_case

    case = open_recording(recorded_case(tmp_path, audio=False))
    timeline = build_timeline(case)
    named = []
    with SourcePlayer(case, "Endoscope", start=timeline.start) as player:
        while (frame := player.next()) is not None:
            named.append((frame.time, frame.frame_time))
    assert len(named) > 30 and all(at is not None for _, at in named)
    times = [at for _, at in named]
    assert times == sorted(set(times))  # one capture time per picture, in order
    # the same machine's clock: each picture's capture time is where the case shows it
    offsets = [at - timeline.clock_time(t) for t, at in named]  # type: ignore[operator]
    assert max(offsets) - min(offsets) < 0.1 and abs(float(np.median(offsets))) < 0.5

    # poses logged late (arrival) are found by the picture's own time
    anchored = replace(arrow("a1", 10.0, pinned=True), anchored=True)
    (tmp_path / "late").mkdir()
    late = build_timeline(open_recording(write_case(tmp_path / "late", marks([
        (10.0, Add(anchored, seq=1)),
        (10.9, poses(10.5, 300, 0.0)),  # the pose of the frame captured at 10.5 s
        (11.0, poses(10.6, 303, 0.3)),
    ]))))
    by_picture = late.places_at(11.0, "Endoscope", frame_time=START + 10.5)["a1"]
    assert by_picture.transform[2] == pytest.approx(0.0)
    assert late.places_at(11.0, "Endoscope")["a1"].transform[2] != pytest.approx(0.0)
