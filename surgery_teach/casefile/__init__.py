"""The case folder's file formats, shared by writing (:mod:`surgery_teach.recording`) and
reading (:mod:`surgery_teach.casebook`): where the files go (:mod:`.layout`),
``manifest.json`` (:mod:`.manifest`), ``events.jsonl`` (:mod:`.events`) and the crash-safe
media containers (:mod:`.container`).
"""

from __future__ import annotations

from surgery_teach.casefile.container import (
    AudioFileWriter,
    ContainerFormat,
    ContainerOptions,
    VideoFileWriter,
)
from surgery_teach.casefile.events import (
    EVENTS_FILE,
    Event,
    EventKind,
    EventLog,
    EventLogContents,
    event_to_json,
    parse_event,
    read_events,
)
from surgery_teach.casefile.layout import (
    new_case_folder,
)
from surgery_teach.casefile.manifest import (
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
    "RecordingState",
    "SourceEntry",
    "VideoFileWriter",
    "event_to_json",
    "manifest_to_json",
    "new_case_folder",
    "parse_event",
    "parse_manifest",
    "read_events",
    "read_manifest",
    "write_manifest",
]
