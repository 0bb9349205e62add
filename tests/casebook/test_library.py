"""The student library: every case listed with its facts, thumbnail and problems, fast on
the second scan, searchable and sortable."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import time
from dataclasses import replace
from pathlib import Path

import cv2
import pytest

from surgery_teach.capture import read_stamp
from surgery_teach.casebook import (
    LibraryEntry,
    SortKey,
    build_timeline,
    open_recording,
    scan_library,
    search_library,
    sort_library,
)
from surgery_teach.casebook.library import CACHE_FILE, THUMBNAIL_FILE, read_entry
from surgery_teach.casefile import Participant, read_manifest, write_manifest
from surgery_teach.errors import RecordingError
from surgery_teach.protocol.messages import Role
from tests.casebook.test_playback import interrupt
from tests.recording.cases import HOSPITAL, TITLE, recorded_case


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """A library folder holding one clean recorded case, ``2025-05-01_1002_chole``."""
    root = tmp_path / "library"
    root.mkdir()
    recorded_case(tmp_path).rename(root / "2025-05-01_1002_chole")
    return root


def age(folder: Path, seconds: float = 3600) -> None:
    """Make every file in ``folder`` look ``seconds`` old (not a recording in progress)."""
    then = time.time() - seconds
    for path in folder.iterdir():
        os.utime(path, (then, then))


def test_a_case_is_listed_with_its_facts_and_a_thumbnail(library: Path) -> None:
    [entry] = scan_library(library)
    folder = library / "2025-05-01_1002_chole"
    manifest = read_manifest(folder)
    assert entry.folder == folder and entry.title == TITLE and entry.hospital == HOSPITAL
    assert entry.date == manifest.date and entry.started_at == manifest.started_at
    assert entry.duration == pytest.approx(manifest.duration)
    assert [p.name for p in entry.participants] == ["Dr Ana Lima", "Sam Okafor"]
    assert entry.sources == ("Endoscope", "Room camera") and entry.playable
    assert entry.problems == ()

    # The thumbnail is a small JPEG of the first source about 10% into the case.
    assert entry.thumbnail == folder / THUMBNAIL_FILE
    picture = cv2.imread(str(entry.thumbnail))
    assert picture.shape == (240, 320, 3)
    stamp = read_stamp(cv2.cvtColor(picture, cv2.COLOR_BGR2GRAY))
    assert stamp is not None
    start = build_timeline(open_recording(folder)).start
    assert stamp.captured_at - start == pytest.approx(0.1 * entry.duration, abs=1 / 30 + 0.002)


def test_a_second_scan_reads_only_the_cache(library: Path) -> None:
    """Once measured, a case is listed from its cache: media that can no longer be read
    (same size and time, so the cache still applies) are never opened again."""
    [first] = scan_library(library)
    folder = first.folder
    assert (folder / CACHE_FILE).exists()
    for name in ("endoscope.mkv", "room-camera.mkv", "audio.mka"):
        path = folder / name
        stat = path.stat()
        path.write_bytes(b"\0" * stat.st_size)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert scan_library(library) == [first]


def test_a_changed_case_is_measured_again(library: Path) -> None:
    [first] = scan_library(library)
    (first.folder / "room-camera.mkv").unlink()
    [second] = scan_library(library)
    assert second.sources == ("Endoscope",)
    assert second.problems == ("Room camera: room-camera.mkv is missing",)


def test_hundreds_of_cases_list_quickly(library: Path) -> None:
    [first] = scan_library(library)
    for n in range(300):
        copy = library / f"2025-06-{n % 28 + 1:02d}_0900_case-{n}"
        copy.mkdir()
        for path in first.folder.iterdir():  # hard links keep size and time: the cache holds
            os.link(path, copy / path.name)
    began = time.perf_counter()
    entries = scan_library(library)
    took = time.perf_counter() - began
    assert len(entries) == 301
    assert all(e.thumbnail is not None and e.problems == () for e in entries)
    assert took < 1.5, f"scanning 301 cached cases took {took:.2f} s"


def test_an_interrupted_case_says_how_far_it_plays(library: Path) -> None:
    folder = library / "2025-05-01_1002_chole"
    interrupt(folder, keep=0.6)
    age(folder)
    [entry] = scan_library(library)
    assert entry.playable and entry.duration is not None and 1.0 < entry.duration < 2.6
    assert re.fullmatch(r"recording was interrupted; plays up to 0:0[12]", entry.problems[0])
    assert any("events log truncated" in p for p in entry.problems)
    assert entry.thumbnail is not None


def test_a_case_still_being_written_is_not_called_interrupted(library: Path) -> None:
    folder = library / "2025-05-01_1002_chole"
    interrupt(folder, keep=0.6)  # files just written: as while recording
    [entry] = scan_library(library, thumbnails=False)
    assert entry.problems == ("being recorded now",)
    assert not (folder / CACHE_FILE).exists()  # measured again next time
    assert entry.thumbnail is None  # not made with thumbnails=False


def test_a_folder_without_a_manifest_is_listed_with_what_plays(library: Path) -> None:
    folder = library / "2025-05-01_1002_chole"
    (folder / "manifest.json").write_text("{ not json")
    age(folder)
    [entry] = scan_library(library)
    assert entry.title == "chole" and entry.date == dt.date(2025, 5, 1)
    assert entry.sources == ("Endoscope", "Room camera")
    assert any(p.startswith("manifest missing or unreadable") for p in entry.problems)
    assert entry.thumbnail is not None and entry.duration is not None


def test_folders_without_a_recording_are_skipped(library: Path) -> None:
    (library / "notes").mkdir()
    (library / "notes" / "todo.txt").write_text("x")
    (library / ".trash").mkdir()
    (library / "readme.txt").write_text("x")
    assert [e.title for e in scan_library(library)] == [TITLE]
    assert read_entry(library / "notes") is None


def test_an_unreadable_library_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="cannot read the library folder"):
        scan_library(tmp_path / "nowhere")


def entry(title: str, *, day: int | None, duration: float | None, hospital: str = "",
          people: tuple[str, ...] = ()) -> LibraryEntry:
    started = None if day is None else dt.datetime(2025, 5, day, 9, tzinfo=dt.UTC)
    return LibraryEntry(
        folder=Path(title), title=title, date=None if started is None else started.date(),
        started_at=started, duration=duration, hospital=hospital,
        participants=tuple(Participant(Role.MENTOR, p) for p in people), sources=("A",),
        thumbnail=None, problems=(),
    )


ENTRIES = [
    entry("Laparoscopic cholecystectomy", day=3, duration=3600, hospital="St Mary's",
          people=("Dr Ana Lima",)),
    entry("Inguinal hernia repair", day=1, duration=1800, hospital="Ruijin Hospital",
          people=("Dr Wang", "Sam Okafor")),
    entry("appendectomy", day=None, duration=None),
    entry("Nissen fundoplication", day=2, duration=5400, hospital="St Mary's"),
]


def titles(entries: list[LibraryEntry]) -> list[str]:
    return [e.title for e in entries]


def test_search_matches_every_word_in_title_hospital_and_people() -> None:
    assert titles(search_library(ENTRIES, "")) == titles(ENTRIES)
    assert titles(search_library(ENTRIES, "st mary")) == [
        "Laparoscopic cholecystectomy", "Nissen fundoplication"]
    assert titles(search_library(ENTRIES, "HERNIA")) == ["Inguinal hernia repair"]
    assert titles(search_library(ENTRIES, "okafor ruijin")) == ["Inguinal hernia repair"]
    assert titles(search_library(ENTRIES, "lima hernia")) == []


def test_sorting_by_date_title_and_duration() -> None:
    assert titles(sort_library(ENTRIES)) == [
        "Laparoscopic cholecystectomy", "Nissen fundoplication", "Inguinal hernia repair",
        "appendectomy"]
    assert titles(sort_library(ENTRIES, SortKey.DATE, descending=False))[:3] == [
        "Inguinal hernia repair", "Nissen fundoplication", "Laparoscopic cholecystectomy"]
    assert titles(sort_library(ENTRIES, SortKey.TITLE)) == [
        "appendectomy", "Inguinal hernia repair", "Laparoscopic cholecystectomy",
        "Nissen fundoplication"]
    assert titles(sort_library(ENTRIES, SortKey.DURATION)) == [
        "Nissen fundoplication", "Laparoscopic cholecystectomy", "Inguinal hernia repair",
        "appendectomy"]  # unknown last, whichever way
    assert titles(sort_library(ENTRIES, "duration", descending=False))[-1] == "appendectomy"


def test_joined_participants_are_searchable(library: Path) -> None:
    folder = library / "2025-05-01_1002_chole"
    manifest = read_manifest(folder)
    write_manifest(folder, replace(manifest, participants=manifest.participants[:1]))
    [found] = search_library(scan_library(library, thumbnails=False), "okafor")
    assert [p.name for p in found.participants] == ["Dr Ana Lima", "Sam Okafor"]  # from join
    shutil.rmtree(folder)
    assert scan_library(library) == []
