"""Damaged cases are described truthfully: a corrupt manifest is not a recording in
progress, a copy cut short is listed at the length that plays, and a case whose video is
damaged still opens with its chat, marks and chapters."""

from __future__ import annotations

from pathlib import Path

import pytest

from surgery_teach.casebook import build_timeline, scan_library
from surgery_teach.casebook.playable import open_case
from surgery_teach.casefile import read_manifest
from tests.casebook.test_library import age
from tests.recording.cases import recorded_case


@pytest.fixture
def library(tmp_path: Path) -> Path:
    root = tmp_path / "library"
    root.mkdir()
    recorded_case(tmp_path).rename(root / "2025-05-01_1002_chole")
    return root


def cut(path: Path, keep: float) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def test_a_corrupt_manifest_just_copied_is_not_called_a_recording_in_progress(
        library: Path) -> None:
    folder = library / "2025-05-01_1002_chole"
    (folder / "manifest.json").write_text("{ not json")  # written this very second
    [entry] = scan_library(library, thumbnails=False)
    assert "being recorded now" not in entry.problems
    assert any(p.startswith("manifest missing or unreadable") for p in entry.problems)


def test_a_finished_case_whose_files_were_cut_short_is_listed_at_the_length_that_plays(
        library: Path) -> None:
    folder = library / "2025-05-01_1002_chole"
    recorded = read_manifest(folder).duration
    assert recorded is not None and recorded > 2.0  # about 3 s of test case
    for name in ("endoscope.mkv", "room-camera.mkv"):  # a copy that stopped half way
        cut(folder / name, 0.3)
    age(folder)
    [entry] = scan_library(library, thumbnails=False)
    assert entry.duration is not None and entry.duration < recorded - 1.0
    opened = open_case(folder)
    assert opened.duration == pytest.approx(entry.duration)
    assert any("the video ends at" in p for p in entry.problems)


def test_a_case_whose_video_is_damaged_keeps_its_chat_marks_and_chapters(
        library: Path) -> None:
    folder = library / "2025-05-01_1002_chole"
    recorded = read_manifest(folder).duration
    assert recorded is not None and recorded > 2.0  # about 3 s of test case
    for name in ("endoscope.mkv", "room-camera.mkv"):
        (folder / name).write_bytes(b"\x00" * 4096)  # nothing of the picture is left
    age(folder)
    opened = open_case(folder)
    assert opened.playable == ()
    assert sum("is damaged and cannot be played" in p for p in opened.problems) == 2
    # the recording's length, not the pictures' (none): chat and marks keep their times
    assert opened.duration == pytest.approx(recorded, abs=0.05)
    timeline = build_timeline(opened.case, duration=opened.duration)
    assert [c.title for c in timeline.chapters] == ["Exposure", "Dissection"]
    assert any("clip here" in line.text for line in timeline.chat)
    assert timeline.mark_ticks
