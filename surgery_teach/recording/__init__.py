"""Crash-safe case recording: every source's video, an event log and a manifest.

A case folder (:func:`new_case_folder`) holds ``manifest.json`` (:mod:`.manifest`),
``events.jsonl`` (:mod:`.events`) and one Matroska file per video source
(:mod:`.container`), written by :class:`Recorder` from the live shared encoders without
re-encoding. Killed at any moment, the files play to within about a second of the kill
and the event log is complete to within 100 ms; :func:`open_recording` reads it back.
"""

from __future__ import annotations

from surgery_teach.recording.case import RecordedCase, open_recording
from surgery_teach.recording.container import (
    AudioFileWriter,
    ContainerFormat,
    ContainerOptions,
    VideoFileWriter,
)
from surgery_teach.recording.events import (
    EVENTS_FILE,
    Event,
    EventKind,
    EventLog,
    EventLogContents,
    event_to_json,
    parse_event,
    read_events,
)
from surgery_teach.recording.layout import new_case_folder
from surgery_teach.recording.manifest import (
    MANIFEST_FILE,
    MANIFEST_VERSION,
    AudioEntry,
    Manifest,
    Participant,
    RecordingState,
    SourceEntry,
    manifest_to_json,
    parse_manifest,
    read_manifest,
    write_manifest,
)
from surgery_teach.recording.recorder import (
    Recorder,
    RecorderOptions,
    RecorderState,
    RecorderStatus,
)

__all__ = [
    "EVENTS_FILE",
    "MANIFEST_FILE",
    "MANIFEST_VERSION",
    "AudioEntry",
    "AudioFileWriter",
    "ContainerFormat",
    "ContainerOptions",
    "Event",
    "EventKind",
    "EventLog",
    "EventLogContents",
    "Manifest",
    "Participant",
    "RecordedCase",
    "Recorder",
    "RecorderOptions",
    "RecorderState",
    "RecorderStatus",
    "RecordingState",
    "SourceEntry",
    "VideoFileWriter",
    "event_to_json",
    "manifest_to_json",
    "new_case_folder",
    "open_recording",
    "parse_event",
    "parse_manifest",
    "read_events",
    "read_manifest",
    "write_manifest",
]
