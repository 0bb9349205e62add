"""The manifest: one parse and one serialize, from literal text; clear errors; atomic writes."""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
from pathlib import Path

import pytest

from surgery_teach.casefile.layout import media_file_name, new_case_folder, slug
from surgery_teach.casefile.manifest import (
    MANIFEST_FILE,
    Manifest,
    Participant,
    RecordingState,
    SourceEntry,
    manifest_to_json,
    parse_manifest,
    read_manifest,
    write_manifest,
)
from surgery_teach.errors import RecordingError
from surgery_teach.protocol.messages import Role

FINISHED = """{
  "version": 1,
  "title": "Laparoscopic cholecystectomy",
  "date": "2025-05-01",
  "hospital": "St Mary's, theatre 3",
  "participants": [
    {
      "role": "surgeon",
      "name": "Dr Ana Lima"
    },
    {
      "role": "trainee",
      "name": "Иван Петров"
    }
  ],
  "sources": [
    {
      "label": "Endoscope",
      "file": "endoscope.mkv",
      "width": 1920,
      "height": 1080,
      "fps": 30.0,
      "clock_origin": 1746086523.401
    },
    {
      "label": "Room camera",
      "file": "room-camera.mkv",
      "width": 1280,
      "height": 720,
      "fps": 25.0,
      "clock_origin": null
    }
  ],
  "audio": {
    "file": "audio.mka",
    "clock_origin": 1746086523.5
  },
  "started_at": "2025-05-01T10:02:03.123456+02:00",
  "ended_at": "2025-05-01T11:30:00.000000+02:00",
  "duration_s": 5276.876544,
  "state": "finished",
  "error": null,
  "app_version": "0.1.0"
}
"""


def test_a_manifest_round_trips_through_its_literal_text() -> None:
    manifest = parse_manifest(FINISHED)
    assert manifest.title == "Laparoscopic cholecystectomy"
    assert manifest.participants == (
        Participant(Role.SURGEON, "Dr Ana Lima"), Participant(Role.TRAINEE, "Иван Петров"))
    assert manifest.source("Endoscope").clock_origin == 1746086523.401
    assert manifest.source("Room camera").clock_origin is None
    assert manifest.started_at == dt.datetime(
        2025, 5, 1, 10, 2, 3, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert manifest.duration == pytest.approx(5276.876544)
    assert manifest.state is RecordingState.FINISHED
    assert manifest_to_json(manifest) == FINISHED


def test_a_recording_in_progress_has_no_end() -> None:
    text = manifest_to_json(Manifest(
        title="Hernia repair",
        sources=(SourceEntry(label="Endoscope", file="endoscope.mkv", width=1280,
                             height=720, fps=30),),
        started_at=dt.datetime(2025, 5, 1, 23, 59, tzinfo=dt.UTC),
    ))
    body = json.loads(text)
    assert (body["ended_at"], body["duration_s"], body["state"]) == (None, None, "recording")
    assert body["date"] is None
    assert parse_manifest(text).duration is None


def edited(**changes: object) -> str:
    body = json.loads(FINISHED)
    for path, value in changes.items():
        target = body
        *parents, last = path.split("__")
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if value is KeyError:
            del target[last]
        else:
            target[last] = value
    return json.dumps(body)


@pytest.mark.parametrize(("text", "message"), [
    ("", "not JSON"),
    ("[]", "manifest must be a JSON object, got a list"),
    (edited(version=2), "written by a newer surgery_teach.*Update the app"),
    (edited(version="1"), "'version' must be 1"),
    (edited(version=KeyError), "'version' must be 1, got None"),
    (edited(title=KeyError), "'title' is missing"),
    (edited(title="  "), "'title' must not be empty"),
    (edited(title=42), "'title' must be a string, got a number"),
    (edited(patient_name="Jane Doe"), "unknown field.*patient_name"),
    (edited(date="01/05/2025"), "'date' must be a date like 2025-05-01"),
    (edited(participants__0__role="anaesthetist"),
     r"'participants\[0\].role' must be one of surgeon, mentor, trainee, student"),
    (edited(participants__1__name=""), r"'participants\[1\].name' must not be empty"),
    (edited(participants__0__mrn="123"), r"participants\[0\] has unknown field.*mrn"),
    (edited(sources="endoscope.mkv"), "'sources' must be a list"),
    (edited(sources__0__width=1919.5), r"'sources\[0\].width' must be a whole number"),
    (edited(sources__0__height=True), r"'sources\[0\].height' must be a whole number"),
    (edited(sources__0__fps=0), r"'sources\[0\].fps' must be between"),
    (edited(sources__0__file="../../etc/passwd"), r"'sources\[0\].file' must be a plain"),
    (edited(sources__1__file="endoscope.mkv"), r"'sources\[1\].file' repeats"),
    (edited(sources__1__label="Endoscope"), r"'sources\[1\].label' repeats"),
    (edited(sources__0__label=KeyError), r"'sources\[0\].label' is missing"),
    (edited(sources__0__clock_origin="now"), r"'sources\[0\].clock_origin' must be a number"),
    (edited(audio__file="endoscope.mkv"), "'audio.file' repeats"),
    (edited(started_at="2025-05-01T10:02:03"), "'started_at' must be like"),
    (edited(ended_at="2025-05-01T09:00:00+02:00"), "'ended_at' is before started_at"),
    (edited(started_at=None), "'ended_at' needs started_at"),
    (edited(duration_s=12.0), "'duration_s' is 12.0 but ended_at - started_at is"),
    (edited(state="paused"), "'state' must be one of recording, finished, failed"),
])
def test_malformed_manifests_are_rejected_naming_the_field(text: str, message: str) -> None:
    with pytest.raises(RecordingError, match=message):
        parse_manifest(text)


def test_manifests_built_in_code_follow_the_same_rules() -> None:
    with pytest.raises(RecordingError, match="'title' must not be empty"):
        Manifest(title="")
    with pytest.raises(RecordingError, match="'started_at' must be a date and time with its"):
        Manifest(title="x", started_at=dt.datetime(2025, 5, 1))  # no UTC offset


def test_writing_replaces_the_manifest_atomically(tmp_path: Path) -> None:
    first = parse_manifest(FINISHED)
    write_manifest(tmp_path, first)
    assert read_manifest(tmp_path) == first
    second = Manifest(title="Second")
    write_manifest(tmp_path, second)
    assert read_manifest(tmp_path) == second
    assert sorted(p.name for p in tmp_path.iterdir()) == [MANIFEST_FILE]


def test_a_failed_write_leaves_the_old_manifest(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    write_manifest(tmp_path, parse_manifest(FINISHED))

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError):
        write_manifest(tmp_path, Manifest(title="Never lands"))
    monkeypatch.undo()
    assert read_manifest(tmp_path).title == "Laparoscopic cholecystectomy"
    assert sorted(p.name for p in tmp_path.iterdir()) == [MANIFEST_FILE]


def test_reading_a_broken_manifest_names_the_file(tmp_path: Path) -> None:
    (tmp_path / MANIFEST_FILE).write_text('{"version": 1}')
    with pytest.raises(RecordingError, match=f"{MANIFEST_FILE}: manifest field 'title'"):
        read_manifest(tmp_path)


def test_each_case_gets_its_own_dated_folder(tmp_path: Path) -> None:
    when = dt.datetime(2025, 5, 1, 10, 2, tzinfo=dt.UTC)
    first = new_case_folder(tmp_path, "Lap. Cholecystectomy (Dr Lima)", when)
    second = new_case_folder(tmp_path, "Lap. Cholecystectomy (Dr Lima)", when)
    assert first.name == "2025-05-01_1002_lap-cholecystectomy-dr-lima"
    assert second.name == "2025-05-01_1002_lap-cholecystectomy-dr-lima-2"
    assert slug("胆囊切除术") == "胆囊切除术"
    assert slug("../..") == "case"
    assert media_file_name("Endoscope", "mkv", {"endoscope.mkv"}) == "endoscope-2.mkv"
    assert media_file_name("Events", "mkv", set()) == "events-2.mkv"


def test_an_unwritable_root_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(RecordingError, match="cannot create a recording folder"):
        new_case_folder(blocker / "sub", "x")
