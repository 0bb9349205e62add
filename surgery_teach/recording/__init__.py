"""Crash-safe case recording: every source's video, an event log and a manifest.

A case folder (:func:`new_case_folder`) holds ``manifest.json`` (:mod:`.manifest`),
``events.jsonl`` (:mod:`.events`) and one Matroska file per video source
(:mod:`.container`), written by :class:`Recorder` from the live shared encoders without
re-encoding. Killed at any moment, the files play to within about a second of the kill
and the event log is complete to within 100 ms; :func:`open_recording` reads it back.

Playback (no Qt): :func:`scan_library` lists cases, :func:`open_case` opens one whatever
its state, :func:`build_timeline` lays out its events and marks, :class:`SourcePlayer`
and :class:`RecordedAudio` decode it, :func:`export_clip` writes an MP4, and
:mod:`.chapters` edits chapters afterwards.
"""

from __future__ import annotations

from surgery_teach.recording.audio_playback import AudioChunk, RecordedAudio
from surgery_teach.recording.case import RecordedCase, open_recording
from surgery_teach.recording.chapters import (
    Chapter,
    add_chapter,
    delete_chapter,
    move_chapter,
    rename_chapter,
    reset_chapters,
    save_chapters,
)
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
from surgery_teach.recording.export import ExportOptions, export_clip
from surgery_teach.recording.layout import new_case_folder
from surgery_teach.recording.library import (
    LibraryEntry,
    SortKey,
    ensure_thumbnail,
    scan_library,
    search_library,
    sort_library,
)
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
from surgery_teach.recording.playable import PlayableCase, open_case
from surgery_teach.recording.playback import PlaybackFrame, SourcePlayer
from surgery_teach.recording.recorder import (
    Recorder,
    RecorderOptions,
    RecorderState,
    RecorderStatus,
)
from surgery_teach.recording.timeline import (
    ChatLine,
    FreezeInterval,
    MarkTick,
    Presence,
    Timeline,
    build_timeline,
)

__all__ = [
    "EVENTS_FILE",
    "MANIFEST_FILE",
    "MANIFEST_VERSION",
    "AudioChunk",
    "AudioEntry",
    "AudioFileWriter",
    "Chapter",
    "ChatLine",
    "ContainerFormat",
    "ContainerOptions",
    "Event",
    "EventKind",
    "EventLog",
    "EventLogContents",
    "ExportOptions",
    "FreezeInterval",
    "LibraryEntry",
    "Manifest",
    "MarkTick",
    "Participant",
    "PlayableCase",
    "PlaybackFrame",
    "Presence",
    "RecordedAudio",
    "RecordedCase",
    "Recorder",
    "RecorderOptions",
    "RecorderState",
    "RecorderStatus",
    "RecordingState",
    "SortKey",
    "SourceEntry",
    "SourcePlayer",
    "Timeline",
    "VideoFileWriter",
    "add_chapter",
    "build_timeline",
    "delete_chapter",
    "ensure_thumbnail",
    "event_to_json",
    "export_clip",
    "manifest_to_json",
    "move_chapter",
    "new_case_folder",
    "open_case",
    "open_recording",
    "parse_event",
    "parse_manifest",
    "read_events",
    "read_manifest",
    "rename_chapter",
    "reset_chapters",
    "save_chapters",
    "scan_library",
    "search_library",
    "sort_library",
    "write_manifest",
]
