"""Reading a case back, including one a crash cut short."""

from __future__ import annotations

from pathlib import Path

import pytest

from surgery_teach.casebook import open_recording
from surgery_teach.casefile import EventKind, RecordingState

CRASHED_MANIFEST = """{
  "version": 1,
  "title": "Hernia repair",
  "date": "2025-05-01",
  "hospital": "",
  "participants": [],
  "sources": [
    {"label": "Endoscope", "file": "endoscope.mkv", "width": 1280, "height": 720,
     "fps": 30.0, "clock_origin": null},
    {"label": "Room", "file": "room.mkv", "width": 640, "height": 360, "fps": 25.0,
     "clock_origin": null}
  ],
  "audio": null,
  "started_at": "2025-05-01T10:02:03.000000+00:00",
  "ended_at": null,
  "duration_s": null,
  "state": "recording",
  "error": null,
  "app_version": "0.1.0"
}
"""
CRASHED_EVENTS = (
    '{"t":1746093723.0,"kind":"recording-start","folder":"x","sources":["Endoscope","Room"]}\n'
    '{"t":1746093722.99,"kind":"source-start","source":"Endoscope","file":"endoscope.mkv",'
    '"clock_origin":1746093722.99}\n'
    '{"t":1746093730.5,"kind":"chat","text":"look"}\n'
    '{"t":1746093731.2,"kind":"ch'
)


def test_a_crashed_case_gets_its_clock_origins_from_the_event_log(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(CRASHED_MANIFEST)
    (tmp_path / "events.jsonl").write_text(CRASHED_EVENTS)
    case = open_recording(tmp_path)
    assert case.interrupted and case.manifest.state is RecordingState.RECORDING
    assert case.events_truncated
    assert [e.kind for e in case.events][-1] is EventKind.CHAT
    assert case.manifest.source("Endoscope").clock_origin == 1746093722.99
    assert case.manifest.source("Room").clock_origin is None  # it never sent a frame
    assert case.media_time("Endoscope", 1746093730.5) == pytest.approx(7.51)
    assert case.media_time("Room", 1746093730.5) is None
