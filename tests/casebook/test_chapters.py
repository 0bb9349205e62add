"""Chapters: read from the event log, edited afterwards in chapters.json, never in the log."""

from __future__ import annotations

from pathlib import Path

import pytest

from surgery_teach.casebook import open_recording
from surgery_teach.casebook.chapters import (
    CHAPTERS_FILE,
    Chapter,
    add_chapter,
    chapters_to_json,
    delete_chapter,
    move_chapter,
    parse_chapters,
    read_chapter_edits,
    rename_chapter,
    reset_chapters,
    save_chapters,
)
from surgery_teach.casebook.timeline import build_timeline
from surgery_teach.errors import RecordingError

START = 1746093720.0
MANIFEST = """{
  "version": 1, "title": "Hernia repair", "date": "2025-05-01", "hospital": "",
  "participants": [],
  "sources": [{"label": "Endoscope", "file": "endoscope.mkv", "width": 640, "height": 360,
               "fps": 30.0, "clock_origin": 1746093720.02}],
  "audio": null,
  "started_at": "2025-05-01T10:02:00.000000+00:00",
  "ended_at": "2025-05-01T10:12:00.000000+00:00",
  "duration_s": 600.0, "state": "finished", "error": null, "app_version": "0.1.0"
}
"""
EVENTS = (
    '{"t":1746093720.0,"kind":"recording-start","folder":"x","sources":["Endoscope"]}\n'
    '{"t":1746093750.5,"kind":"chapter","title":"Port placement"}\n'
    '{"t":1746093900.0,"kind":"chapter","title":"Calot\'s triangle"}\n'
    '{"t":1746094200.25,"kind":"chapter","title":"Clipping"}\n'
    '{"t":1746094320.0,"kind":"recording-stop"}\n'
)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "manifest.json").write_text(MANIFEST)
    (tmp_path / "events.jsonl").write_text(EVENTS)
    return tmp_path


def titles(chapters: object) -> list[tuple[str, float]]:
    return [(c.title, round(c.time, 3)) for c in chapters]  # type: ignore[attr-defined]


def test_recorded_chapters_come_from_the_log_in_case_time(folder: Path) -> None:
    timeline = build_timeline(open_recording(folder))
    assert titles(timeline.chapters) == [
        ("Port placement", 30.5), ("Calot's triangle", 180.0), ("Clipping", 480.25)]
    assert [c.id for c in timeline.chapters] == ["e1", "e2", "e3"]
    assert timeline.chapter_at(200.0) == timeline.chapters[1]
    assert timeline.chapter_at(10.0) is None


def test_edits_are_saved_beside_the_log_and_the_timeline_shows_them(folder: Path) -> None:
    log_before = (folder / "events.jsonl").read_bytes()
    chapters = list(build_timeline(open_recording(folder)).chapters)
    chapters = rename_chapter(chapters, "e2", "  Critical view of safety ")
    chapters = move_chapter(chapters, "e3", 20.0)  # now the first
    chapters = delete_chapter(chapters, "e1")
    chapters = add_chapter(chapters, "Closure", 550.0)
    save_chapters(folder, chapters)

    assert (folder / "events.jsonl").read_bytes() == log_before  # append-only log untouched
    assert not list(folder.glob(".*.tmp"))
    timeline = build_timeline(open_recording(folder))
    assert titles(timeline.chapters) == [
        ("Clipping", 20.0), ("Critical view of safety", 180.0), ("Closure", 550.0)]
    added = timeline.chapters[-1]
    assert added.id.startswith("c-")
    assert read_chapter_edits(folder) == list(timeline.chapters)

    # A timeline already on screen takes the edit without re-reading the case.
    edited = timeline.with_chapters(delete_chapter(timeline.chapters, added.id))
    assert titles(edited.chapters) == [("Clipping", 20.0), ("Critical view of safety", 180.0)]
    assert titles(timeline.chapters)[-1] == ("Closure", 550.0)

    reset_chapters(folder)
    assert [c.id for c in build_timeline(open_recording(folder)).chapters] == ["e1", "e2", "e3"]


def test_chapters_json_parses_from_literal_text() -> None:
    text = '{"version": 1, "chapters": [{"id": "e2", "title": "B", "time": 9},' \
           ' {"id": "c-1", "title": "A", "time": 1.5}]}'
    assert parse_chapters(text) == [Chapter("c-1", "A", 1.5), Chapter("e2", "B", 9.0)]
    assert parse_chapters(chapters_to_json(parse_chapters(text))) == parse_chapters(text)


@pytest.mark.parametrize(("text", "problem"), [
    ("[]", "version"),
    ('{"version": 2, "chapters": []}', "version"),
    ('{"version": 1, "chapters": [{"id": "a", "title": "x"}]}', "exactly id, title and time"),
    ('{"version": 1, "chapters": [{"id": "a", "title": "x", "time": -1}]}', "time"),
    ('{"version": 1, "chapters": [{"id": "a", "title": "  ", "time": 1}]}', "title"),
    ('{"version": 1, "chapters": [{"id": "a", "title": "x\\ny", "time": 1}]}', "one line"),
    ('{"version": 1, "chapters": [{"id": "a", "title": "x", "time": 1, "by": "me"}]}',
     "exactly"),
    ('{"version": 1, "chapters": [{"id": "a", "title": "x", "time": 1},'
     ' {"id": "a", "title": "y", "time": 2}]}', "repeat"),
])
def test_malformed_chapters_json_is_refused(text: str, problem: str) -> None:
    with pytest.raises(RecordingError, match=problem):
        parse_chapters(text)


def test_a_damaged_edit_file_falls_back_to_the_recorded_chapters(folder: Path) -> None:
    (folder / CHAPTERS_FILE).write_text('{"version": 1, "chapters": [')
    timeline = build_timeline(open_recording(folder))
    assert [c.id for c in timeline.chapters] == ["e1", "e2", "e3"]
    assert timeline.chapter_problem is not None and CHAPTERS_FILE in timeline.chapter_problem


def test_bad_edits_are_refused_with_a_reason(folder: Path) -> None:
    chapters = list(build_timeline(open_recording(folder)).chapters)
    with pytest.raises(RecordingError, match="no chapter 'e9'"):
        rename_chapter(chapters, "e9", "x")
    with pytest.raises(RecordingError, match="title"):
        add_chapter(chapters, "   ", 3.0)
    with pytest.raises(RecordingError, match="time"):
        move_chapter(chapters, "e1", -2.0)
    with pytest.raises(RecordingError, match="title"):
        rename_chapter(chapters, "e1", "x" * 201)


def test_saving_into_a_folder_that_cannot_be_written_says_so(tmp_path: Path) -> None:
    missing = tmp_path / "gone"
    with pytest.raises(RecordingError, match="cannot save the chapters"):
        save_chapters(missing, [Chapter("e1", "A", 1.0)])
