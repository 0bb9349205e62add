"""Open a case folder for the player and the library, whatever state it is in.

:func:`~.case.open_recording` refuses a folder whose manifest is missing or damaged; the
player must not. :func:`open_case` reads what it can: a missing or damaged manifest is
rebuilt from the media files themselves (their ``CLOCK_ORIGIN`` and title tags, which the
recorder writes into every file), damaged event lines are skipped, and each problem is
named in plain words with what still plays. It probes every media file (the tail of a
finished file; all of a file a crash left without an index), so the library caches its
result.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

import av

from surgery_teach.casebook.case import RecordedCase, open_recording, tolerant_events
from surgery_teach.casebook.media import media_exists, open_media
from surgery_teach.casebook.playback import media_end
from surgery_teach.casebook.problems import (
    AUDIO_DAMAGED,
    AUDIO_EMPTY,
    AUDIO_MISSING,
    CHUNKS_TAMPERED,
    EVENTS_DAMAGED,
    EVENTS_TRUNCATED,
    FILE_CUT,
    INTERRUPTED,
    MANIFEST_REBUILT,
    NO_PICTURE,
    NO_SOUND,
    STOPPED_EARLY,
    VIDEO_DAMAGED,
    VIDEO_ENDS_EARLY,
    VIDEO_MISSING,
    Problem,
)
from surgery_teach.casebook.shared_pictures import shared_stretches
from surgery_teach.casebook.timeline import case_start
from surgery_teach.casefile.container import CLOCK_ORIGIN_TAG
from surgery_teach.casefile.events import (
    EVENTS_FILE,
    Event,
    EventKind,
)
from surgery_teach.casefile.manifest import (
    MANIFEST_FILE,
    AudioEntry,
    Manifest,
    RecordingState,
    SourceEntry,
    read_manifest,
)
from surgery_teach.casefile.sealed_folder import is_sealed_file
from surgery_teach.casefile.sealing import SealedReader
from surgery_teach.errors import CaseKeyError, RecordingError

logger = logging.getLogger("surgery_teach.recording")

VIDEO_SUFFIXES: Final = (".mkv", ".mp4")
AUDIO_SUFFIXES: Final = (".mka", ".m4a")
_SHORT_BY: Final = 1.0  # a file ending this much before the case's end is worth saying
_FOLDER_NAME: Final = re.compile(r"(\d{4}-\d{2}-\d{2})_(\d{4})_(.+?)(?:-\d+)?$")


@dataclass(frozen=True)
class PlayableCase:
    """A case as the player sees it.

    ``start`` is the capture-clock time of case time 0; ``duration`` how many case
    seconds play (for an interrupted recording: up to where its media ends);
    ``playable`` the source labels whose files open; ``audio`` whether audio plays;
    ``problems`` plain sentences for the user ("recording was interrupted; plays up to
    12:31").
    """

    case: RecordedCase
    start: float
    duration: float
    playable: tuple[str, ...]
    audio: bool
    problems: tuple[str, ...]

    @property
    def folder(self) -> Path:
        return self.case.folder

    @property
    def manifest(self) -> Manifest:
        return self.case.manifest


def clock_text(seconds: float) -> str:
    """``12:31`` or ``1:02:03`` for a number of seconds."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def open_case(folder: Path) -> PlayableCase:
    """Read ``folder`` tolerantly and say what plays; :class:`RecordingError` only if the
    folder holds no recording at all (no manifest and no media files)."""
    problems: list[str] = []
    try:
        case = open_recording(folder)
    except CaseKeyError:
        raise  # locked, not damaged: the library asks for the passphrase
    except RecordingError as exc:
        case = _salvage(folder, exc, problems)
    start = case_start(case)

    playable: list[str] = []
    ends: list[float] = []
    for source in case.manifest.sources:
        end, problem = _probe_video(case, source, start)
        if problem is not None:
            problems.append(problem)
        else:
            assert end is not None
            playable.append(source.label)
            ends.append(end)
    audio = False
    entry = case.manifest.audio
    if entry is not None:
        problem = _probe_audio(case, entry)
        if problem is None:
            audio = True
        else:
            problems.append(problem)

    recorded = case.manifest.duration if case.manifest.state is RecordingState.FINISHED else None
    media = max(ends, default=0.0)
    duration = recorded if recorded is not None else media
    if ends and recorded is not None and media < recorded - _SHORT_BY:
        duration = media  # every video was cut short (a truncated copy): its real length
    elif not ends and recorded is None:  # no picture plays: the chat and marks still do
        duration = max((e.t - start for e in case.events), default=0.0)
    if case.interrupted:
        problems.insert(0, Problem(INTERRUPTED, time=clock_text(duration)))
    elif case.manifest.state is RecordingState.FAILED:
        problems.insert(0, Problem(STOPPED_EARLY, reason=case.manifest.error or "an error",
                                   time=clock_text(duration)))
    if case.events_truncated:
        problems.append(Problem(EVENTS_TRUNCATED))
    problems.extend(_integrity(case))
    for label, end in zip(playable, ends, strict=True):
        if recorded is not None and end < recorded - _SHORT_BY:
            problems.append(Problem(VIDEO_ENDS_EARLY, source=label, end=clock_text(end),
                                    time=clock_text(recorded)))
    return PlayableCase(case, start, duration, tuple(playable), audio, tuple(problems))


# -- probing -----------------------------------------------------------------------------------


def _probe_video(
    case: RecordedCase, source: SourceEntry, start: float
) -> tuple[float | None, str | None]:
    """(case time where the file's picture ends, None) or (None, what is wrong)."""
    path = case.folder / source.file
    if source.clock_origin is None:
        return None, Problem(NO_PICTURE, source=source.label)
    if not media_exists(path):
        return None, Problem(VIDEO_MISSING, source=source.label, file=source.file)
    last = media_end(path)
    if last is None:
        return None, Problem(VIDEO_DAMAGED, source=source.label, file=source.file)
    return source.clock_origin - start + last + 1 / source.fps, None


def _probe_audio(case: RecordedCase, entry: AudioEntry) -> str | None:
    path = case.folder / entry.file
    if entry.clock_origin is None:
        return Problem(NO_SOUND)
    if not media_exists(path):
        return Problem(AUDIO_MISSING, file=entry.file)
    try:
        with open_media(path) as container:
            if not container.streams.audio:
                return Problem(AUDIO_EMPTY, file=entry.file)
    except (av.FFmpegError, OSError):
        return Problem(AUDIO_DAMAGED, file=entry.file)
    return None


def _integrity(case: RecordedCase) -> list[str]:
    """Problems of an encrypted case's files: blocks changed on disk (each is skipped,
    the rest plays), and files that lost their end although the recording finished (a
    killed recording's files lack it too; that is the interrupted problem already).
    Reads every encrypted file once; the library caches the result."""
    manifest = case.manifest
    names = [MANIFEST_FILE, EVENTS_FILE, *(s.file for s in manifest.sources)]
    if manifest.audio is not None:
        names.append(manifest.audio.file)
    names.extend(dict.fromkeys(s.file for s in shared_stretches(case.events, 0.0)))
    problems: list[str] = []
    for name in names:
        path = case.folder / name
        if not is_sealed_file(path):
            continue
        try:
            with SealedReader(path) as reader:
                check = reader.verify()
        except (OSError, RecordingError) as exc:
            logger.warning("cannot check %s: %s", name, exc)
            continue
        if check.damaged:
            problems.append(Problem(CHUNKS_TAMPERED, file=name, count=len(check.damaged)))
        elif check.complete is False and manifest.state is not RecordingState.RECORDING \
                and name != MANIFEST_FILE:
            problems.append(Problem(FILE_CUT, file=name))
    return problems


# -- salvage -----------------------------------------------------------------------------------


def _salvage(folder: Path, error: RecordingError, problems: list[str]) -> RecordedCase:
    """A case rebuilt from what is in ``folder`` when :func:`open_recording` failed."""
    events, truncated, skipped = tolerant_events(folder / EVENTS_FILE)
    if skipped:
        problems.append(Problem(EVENTS_DAMAGED, count=skipped))
    try:
        manifest: Manifest | None = _read_manifest_only(folder)
    except RecordingError:
        manifest = None
    if manifest is None:
        manifest = _manifest_from_media(folder, events)
        if manifest is None:
            raise RecordingError(f"{folder} holds no recording: {error}", str(folder)) from error
        problems.append(Problem(MANIFEST_REBUILT))
    origins = {
        str(e.data.get("file")): float(e.data["clock_origin"])
        for e in events
        if e.kind is EventKind.SOURCE_START and isinstance(e.data.get("clock_origin"), int | float)
    }
    sources = tuple(
        replace(s, clock_origin=origins.get(s.file, s.clock_origin))
        if s.clock_origin is None else s for s in manifest.sources
    )
    audio = manifest.audio
    if audio is not None and audio.clock_origin is None and audio.file in origins:
        audio = replace(audio, clock_origin=origins[audio.file])
    manifest = replace(manifest, sources=sources, audio=audio)
    return RecordedCase(
        folder=folder, manifest=manifest, events=events,
        interrupted=manifest.state is RecordingState.RECORDING, events_truncated=truncated,
    )


def _read_manifest_only(folder: Path) -> Manifest | None:
    if not (folder / MANIFEST_FILE).exists():
        return None
    return read_manifest(folder)


def _manifest_from_media(folder: Path, events: list[Event]) -> Manifest | None:
    """A manifest describing the media files in ``folder``; ``None`` if there are none."""
    named = {
        str(e.data.get("file")): str(e.data.get("source"))
        for e in events if e.kind is EventKind.SOURCE_START
    }
    sources: list[SourceEntry] = []
    audio: AudioEntry | None = None
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        suffix = path.suffix.lower()
        if suffix in VIDEO_SUFFIXES and len(sources) < 16:
            entry = _video_entry(path, named.get(path.name), {s.label for s in sources})
            if entry is not None:
                sources.append(entry)
        elif suffix in AUDIO_SUFFIXES and audio is None:
            audio = _audio_entry(path)
    if not sources and audio is None:
        return None
    starts = [e.t for e in events if e.kind is EventKind.RECORDING_START]
    origins = [s.clock_origin for s in sources if s.clock_origin is not None]
    began = starts[0] if starts else min(origins) if origins else None
    started_at = None if began is None else dt.datetime.fromtimestamp(began).astimezone()
    title, date = _title_from_folder(folder.name)
    return Manifest(
        title=title, date=date or (started_at.date() if started_at else None),
        sources=tuple(sources), audio=audio, started_at=started_at,
        state=RecordingState.RECORDING,
    )


def _video_entry(path: Path, label: str | None, taken: set[str]) -> SourceEntry | None:
    try:
        with open_media(path) as container:
            origin = _origin(container.metadata)
            if origin is None or not container.streams.video:
                return None  # not a recorded source (an exported clip, say)
            stream = container.streams.video[0]
            label = label or container.metadata.get("title") or path.stem
            rate = stream.guessed_rate or stream.average_rate
            fps = float(rate) if rate else 30.0
            width = stream.codec_context.width or 16
            height = stream.codec_context.height or 16
    except (av.FFmpegError, OSError):
        return None
    label = label[:64]
    while label in taken:
        label = f"{label[:60]} ({len(taken) + 1})"
    return SourceEntry(
        label=label, file=path.name, width=max(16, width), height=max(16, height),
        fps=min(1000.0, max(0.1, fps)), clock_origin=origin,
    )


def _audio_entry(path: Path) -> AudioEntry | None:
    try:
        with open_media(path) as container:
            origin = _origin(container.metadata)
            if origin is None or not container.streams.audio:
                return None
    except (av.FFmpegError, OSError):
        return None
    return AudioEntry(file=path.name, clock_origin=origin)


def _origin(metadata: dict[str, str]) -> float | None:
    for key, value in metadata.items():
        if key.upper() == CLOCK_ORIGIN_TAG:
            try:
                return float(value)
            except ValueError:
                return None
    return None


def _title_from_folder(name: str) -> tuple[str, dt.date | None]:
    """("laparoscopic cholecystectomy", 2025-05-01) from ``2025-05-01_1002_laparoscopic-...``."""
    match = _FOLDER_NAME.match(name)
    if match is None:
        return name[:200] or "Untitled case", None
    try:
        date = dt.date.fromisoformat(match.group(1))
    except ValueError:
        date = None
    return match.group(3).replace("-", " ")[:200], date
