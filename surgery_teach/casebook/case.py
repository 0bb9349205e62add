"""Open a recorded case, including one whose recording was cut short by a crash.

A manifest that still says ``"recording"`` (the process or machine died) or lacks a
source's ``clock_origin`` (the disk filled before the final manifest) is completed from
the event log's ``source-start`` events, which are on disk within 100 ms.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from surgery_teach.casefile.events import (
    EVENTS_FILE,
    Event,
    EventKind,
    parse_event,
    read_events,
)
from surgery_teach.casefile.manifest import Manifest, RecordingState, read_manifest
from surgery_teach.casefile.sealed_folder import read_case_file
from surgery_teach.errors import CaseKeyError, RecordingError


@dataclass(frozen=True)
class RecordedCase:
    """A case folder read back: manifest (completed where a crash left gaps) and events."""

    folder: Path
    manifest: Manifest
    events: list[Event]
    interrupted: bool  # the recording never reached stop(): crash or power loss
    events_truncated: bool  # a half-written last event line was dropped

    def media_time(self, label: str, t: float) -> float | None:
        """Where in ``label``'s file the capture-clock time ``t`` is (seconds)."""
        origin = self.manifest.source(label).clock_origin
        return None if origin is None else t - origin


def open_recording(folder: Path) -> RecordedCase:
    """Read ``folder``'s manifest and event log; :class:`RecordingError` if malformed."""
    manifest = read_manifest(folder)
    log = read_events(folder / EVENTS_FILE) if (folder / EVENTS_FILE).exists() else None
    events = log.events if log is not None else []
    origins = {
        str(e.data.get("file")): float(e.data["clock_origin"])
        for e in events
        if e.kind is EventKind.SOURCE_START and _is_number(e.data.get("clock_origin"))
    }
    sources = tuple(
        replace(s, clock_origin=origins[s.file])
        if s.clock_origin is None and s.file in origins else s
        for s in manifest.sources
    )
    audio = manifest.audio
    if audio is not None and audio.clock_origin is None and audio.file in origins:
        audio = replace(audio, clock_origin=origins[audio.file])
    return RecordedCase(
        folder=folder,
        manifest=replace(manifest, sources=sources, audio=audio),
        events=events,
        interrupted=manifest.state is RecordingState.RECORDING,
        events_truncated=log.truncated if log is not None else False,
    )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def tolerant_events(path: Path) -> tuple[list[Event], bool, int]:
    """The events of the log at ``path`` as far as they can be read: (events, last line
    cut off, damaged lines skipped); never raises (no log, or a locked one: none)."""
    if not path.exists():
        return [], False, 0
    try:
        contents = read_events(path)
        return contents.events, contents.truncated, 0
    except RecordingError:
        pass
    try:
        raw = read_case_file(path)
    except (OSError, CaseKeyError):
        return [], False, 0
    lines = raw.split(b"\n")
    truncated = lines.pop() != b""
    events, skipped = [], 0
    for line in lines:
        if not line.strip():
            continue
        try:
            events.append(parse_event(line.decode("utf-8")))
        except (RecordingError, UnicodeDecodeError):
            skipped += 1
    return events, truncated, skipped
