"""The case manifest, ``manifest.json``: what was recorded, when, by whom; version 1.

Written atomically when a recording starts (``state: "recording"``) and again when it
stops (``"finished"`` or ``"failed"``, with the end time). A manifest still saying
``"recording"`` means the app or machine died mid-recording; the media and the event log
are still good up to about a second before that (see :func:`load_recording`).

Example (one parse, :func:`parse_manifest`; one serialize, :func:`manifest_to_json`)::

    {
      "version": 1,
      "title": "Laparoscopic cholecystectomy",
      "date": "2025-05-01",
      "hospital": "St Mary's, theatre 3",
      "participants": [{"role": "surgeon", "name": "Dr Ana Lima"}],
      "sources": [{"label": "Endoscope", "file": "endoscope.mkv", "width": 1920,
                   "height": 1080, "fps": 30.0, "clock_origin": 1714550523.401}],
      "audio": null,
      "started_at": "2025-05-01T10:02:03.123456+02:00",
      "ended_at": "2025-05-01T11:30:00.000000+02:00",
      "duration_s": 5276.876544,
      "state": "finished",
      "error": null,
      "app_version": "0.1.0"
    }

Times of day are ISO 8601 with the UTC offset. ``clock_origin`` is on the capture clock
(seconds since the epoch, like the event log's ``t``): the capture time of the file's
media time 0. No patient identifiers are asked for, and unknown fields are rejected, so
none can slip in by accident.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Final, TypeVar

from surgery_teach import __version__
from surgery_teach.casefile.sealed_folder import read_case_file, write_case_file
from surgery_teach.errors import RecordingError
from surgery_teach.wire.role import Role

MANIFEST_VERSION: Final = 1
MANIFEST_FILE: Final = "manifest.json"
MAX_TEXT_CHARS: Final = 200
MAX_NAME_CHARS: Final = 64
MAX_SOURCES: Final = 16
MAX_PARTICIPANTS: Final = 256

T = TypeVar("T")


class RecordingState(StrEnum):
    RECORDING = "recording"  # still running, or the process died before stop
    FINISHED = "finished"
    FAILED = "failed"  # stopped by an error (``error`` says which); the media still plays


@dataclass(frozen=True)
class Participant:
    """Someone in the session, by role and the display name they joined with."""

    role: Role
    name: str


@dataclass(frozen=True, kw_only=True)
class SourceEntry:
    """One recorded video source and its file (in the case folder)."""

    label: str
    file: str
    width: int
    height: int
    fps: float
    clock_origin: float | None = None  # None until the first frame reached the file


@dataclass(frozen=True, kw_only=True)
class AudioEntry:
    file: str
    clock_origin: float | None = None


@dataclass(frozen=True, kw_only=True)
class Manifest:
    """A recorded case. Fill in ``title`` (and the rest you know); the recorder sets the
    sources, times and state."""

    title: str
    hospital: str = ""
    date: dt.date | None = None  # of the procedure; the recorder sets the start's date
    participants: tuple[Participant, ...] = ()
    sources: tuple[SourceEntry, ...] = ()
    audio: AudioEntry | None = None
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    state: RecordingState = RecordingState.RECORDING
    error: str | None = None
    app_version: str = __version__

    def __post_init__(self) -> None:
        # Everything a parsed manifest promises also holds for one built in code.
        check_manifest(self)

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, ``None`` until both are known."""
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()

    def source(self, label: str) -> SourceEntry:
        for entry in self.sources:
            if entry.label == label:
                return entry
        raise KeyError(label)


# -- rules -------------------------------------------------------------------------------------


def _bad(path: str, problem: str) -> RecordingError:
    return RecordingError(f"manifest field {path!r} {problem}")


def _check_text(value: object, path: str, limit: int, *, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise _bad(path, f"must be a string, got {_kind(value)}")
    if not empty and not value.strip():
        raise _bad(path, "must not be empty")
    if len(value) > limit:
        raise _bad(path, f"must be at most {limit} characters, got {len(value)}")
    if any(ord(c) < 32 for c in value):
        raise _bad(path, "must not contain control characters")
    return value


def _check_file_name(value: object, path: str) -> str:
    name = _check_text(value, path, MAX_TEXT_CHARS)
    if (
        PurePosixPath(name).name != name or PureWindowsPath(name).name != name
        or name in (".", "..")
    ):
        raise _bad(path, f"must be a plain file name in the case folder, got {name!r}")
    return name


def _check_number(value: object, path: str, *, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(path, f"must be a number, got {_kind(value)}")
    if not math.isfinite(value) or not low <= value <= high:
        raise _bad(path, f"must be between {low:g} and {high:g}, got {value!r}")
    return float(value)


def _check_time(value: object, path: str) -> dt.datetime:
    if not isinstance(value, dt.datetime) or value.utcoffset() is None:
        raise _bad(path, "must be a date and time with its UTC offset")
    return value


def check_manifest(manifest: Manifest) -> None:
    """Raise :class:`RecordingError` naming the first field that breaks a rule."""
    m = manifest
    _check_text(m.title, "title", MAX_TEXT_CHARS)
    _check_text(m.hospital, "hospital", MAX_TEXT_CHARS, empty=True)
    if m.date is not None and (not isinstance(m.date, dt.date) or isinstance(m.date, dt.datetime)):
        raise _bad("date", "must be a date")
    if len(m.participants) > MAX_PARTICIPANTS:
        raise _bad("participants", f"must list at most {MAX_PARTICIPANTS}")
    for i, person in enumerate(m.participants):
        if not isinstance(person.role, Role):
            raise _bad(f"participants[{i}].role", f"must be one of {_roles()}")
        _check_text(person.name, f"participants[{i}].name", MAX_NAME_CHARS)
    if len(m.sources) > MAX_SOURCES:
        raise _bad("sources", f"must list at most {MAX_SOURCES}")
    labels: set[str] = set()
    files: set[str] = set()
    for i, src in enumerate(m.sources):
        at = f"sources[{i}]"
        _check_text(src.label, f"{at}.label", MAX_NAME_CHARS)
        if src.label in labels:
            raise _bad(f"{at}.label", f"repeats {src.label!r}; labels must be unique")
        labels.add(src.label)
        _check_file_name(src.file, f"{at}.file")
        if src.file in files:
            raise _bad(f"{at}.file", f"repeats {src.file!r}")
        files.add(src.file)
        for name in ("width", "height"):
            size = getattr(src, name)
            if isinstance(size, bool) or not isinstance(size, int) or not 16 <= size <= 16384:
                raise _bad(f"{at}.{name}", f"must be a whole number of pixels, 16 to 16384, "
                                           f"got {size!r}")
        _check_number(src.fps, f"{at}.fps", low=0.1, high=1000)
        if src.clock_origin is not None:
            _check_number(src.clock_origin, f"{at}.clock_origin", low=0, high=1e11)
    if m.audio is not None:
        _check_file_name(m.audio.file, "audio.file")
        if m.audio.file in files:
            raise _bad("audio.file", f"repeats {m.audio.file!r}")
        if m.audio.clock_origin is not None:
            _check_number(m.audio.clock_origin, "audio.clock_origin", low=0, high=1e11)
    if m.started_at is not None:
        _check_time(m.started_at, "started_at")
    if m.ended_at is not None:
        _check_time(m.ended_at, "ended_at")
        if m.started_at is None:
            raise _bad("ended_at", "needs started_at")
        if m.ended_at < m.started_at:
            raise _bad("ended_at", "is before started_at")
    if not isinstance(m.state, RecordingState):
        raise _bad("state", f"must be one of {', '.join(s.value for s in RecordingState)}")
    if m.error is not None:
        _check_text(m.error, "error", 2000)
    _check_text(m.app_version, "app_version", MAX_NAME_CHARS)


# -- serialize ---------------------------------------------------------------------------------


def manifest_to_json(manifest: Manifest) -> str:
    """The text of ``manifest.json`` (keys in a fixed order, UTF-8, newline at the end)."""
    m = manifest
    body: dict[str, Any] = {
        "version": MANIFEST_VERSION,
        "title": m.title,
        "date": m.date.isoformat() if m.date else None,
        "hospital": m.hospital,
        "participants": [{"role": p.role.value, "name": p.name} for p in m.participants],
        "sources": [
            {
                "label": s.label,
                "file": s.file,
                "width": s.width,
                "height": s.height,
                "fps": s.fps,
                "clock_origin": s.clock_origin,
            }
            for s in m.sources
        ],
        "audio": (
            None if m.audio is None
            else {"file": m.audio.file, "clock_origin": m.audio.clock_origin}
        ),
        "started_at": _time_text(m.started_at),
        "ended_at": _time_text(m.ended_at),
        "duration_s": None if m.duration is None else round(m.duration, 6),
        "state": m.state.value,
        "error": m.error,
        "app_version": m.app_version,
    }
    return json.dumps(body, ensure_ascii=False, indent=2, allow_nan=False) + "\n"


def _time_text(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="microseconds")


# -- parse -------------------------------------------------------------------------------------

_FIELDS: Final = (
    "version", "title", "date", "hospital", "participants", "sources", "audio",
    "started_at", "ended_at", "duration_s", "state", "error", "app_version",
)
_REQUIRED: Final = ("version", "title", "sources", "state")


def parse_manifest(text: str | bytes) -> Manifest:
    """The manifest in ``text``; :class:`RecordingError` naming the field if malformed."""
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise RecordingError(f"manifest is not JSON: {exc}") from exc
    obj = _object(body, "manifest")
    version = obj.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > MANIFEST_VERSION:
        raise RecordingError(
            f"manifest version {version} was written by a newer surgery_teach; this one "
            f"reads version {MANIFEST_VERSION}. Update the app to open this recording."
        )
    if version != MANIFEST_VERSION:
        raise _bad("version", f"must be {MANIFEST_VERSION}, got {version!r}")
    _only(obj, _FIELDS, "manifest")
    for name in _REQUIRED:
        if name not in obj:
            raise _bad(name, "is missing")

    duration = obj.get("duration_s")
    if duration is not None:
        _check_number(duration, "duration_s", low=0, high=1e9)
    manifest = Manifest(
        title=_typed(obj["title"], str, "title"),
        hospital=_typed(obj.get("hospital", ""), str, "hospital"),
        date=_optional(obj.get("date"), _parse_date, "date"),
        participants=tuple(
            _parse_participant(item, f"participants[{i}]")
            for i, item in enumerate(_typed(obj.get("participants", []), list, "participants"))
        ),
        sources=tuple(
            _parse_source(item, f"sources[{i}]")
            for i, item in enumerate(_typed(obj["sources"], list, "sources"))
        ),
        audio=_optional(obj.get("audio"), _parse_audio, "audio"),
        started_at=_optional(obj.get("started_at"), _parse_time, "started_at"),
        ended_at=_optional(obj.get("ended_at"), _parse_time, "ended_at"),
        state=_parse_state(obj["state"]),
        error=_optional(obj.get("error"), lambda v, p: _typed(v, str, p), "error"),
        app_version=_typed(obj.get("app_version", "unknown"), str, "app_version"),
    )
    if duration is not None and manifest.duration is None:
        raise _bad("duration_s", "needs started_at and ended_at")
    if duration is not None and manifest.duration is not None and abs(
        duration - manifest.duration
    ) > 0.001:
        raise _bad("duration_s", f"is {duration!r} but ended_at - started_at is "
                                 f"{manifest.duration:.6f}")
    return manifest


def _parse_participant(value: object, path: str) -> Participant:
    obj = _object(value, path)
    _only(obj, ("role", "name"), path)
    role = obj.get("role")
    try:
        parsed = Role(role)  # type: ignore[arg-type]
    except ValueError:
        raise _bad(f"{path}.role", f"must be one of {_roles()}, got {role!r}") from None
    return Participant(parsed, _typed(obj.get("name"), str, f"{path}.name"))


def _parse_source(value: object, path: str) -> SourceEntry:
    obj = _object(value, path)
    _only(obj, ("label", "file", "width", "height", "fps", "clock_origin"), path)
    for name in ("label", "file", "width", "height", "fps"):
        if name not in obj:
            raise _bad(f"{path}.{name}", "is missing")
    return SourceEntry(
        label=_typed(obj["label"], str, f"{path}.label"),
        file=_typed(obj["file"], str, f"{path}.file"),
        width=obj["width"],
        height=obj["height"],
        fps=_check_number(obj["fps"], f"{path}.fps", low=0.1, high=1000),
        clock_origin=obj.get("clock_origin"),
    )


def _parse_audio(value: object, path: str) -> AudioEntry:
    obj = _object(value, path)
    _only(obj, ("file", "clock_origin"), path)
    if "file" not in obj:
        raise _bad(f"{path}.file", "is missing")
    return AudioEntry(file=obj["file"], clock_origin=obj.get("clock_origin"))


def _parse_date(value: object, path: str) -> dt.date:
    text = _typed(value, str, path)
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise _bad(path, f"must be a date like 2025-05-01, got {text!r}") from None


def _parse_time(value: object, path: str) -> dt.datetime:
    text = _typed(value, str, path)
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is None or parsed.utcoffset() is None:
        raise _bad(path, f"must be like 2025-05-01T10:02:03.123456+02:00, got {text!r}")
    return parsed


def _parse_state(value: object) -> RecordingState:
    try:
        return RecordingState(value)  # type: ignore[arg-type]
    except ValueError:
        allowed = ", ".join(s.value for s in RecordingState)
        raise _bad("state", f"must be one of {allowed}, got {value!r}") from None


def _object(value: object, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RecordingError(f"{path} must be a JSON object, got {_kind(value)}")
    return value


def _only(obj: dict[str, Any], allowed: tuple[str, ...], path: str) -> None:
    unknown = sorted(set(obj) - set(allowed))
    if unknown:
        raise RecordingError(
            f"{path} has unknown field(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}"
        )


def _typed(value: object, kind: type[T], path: str) -> T:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise _bad(path, f"must be {_kind_name(kind)}, got {_kind(value)}")
    return value


def _optional(value: object, parse: Callable[[object, str], T], path: str) -> T | None:
    return None if value is None else parse(value, path)


def _kind_name(kind: type) -> str:
    names: dict[type, str] = {str: "a string", list: "a list", dict: "an object"}
    return names.get(kind, kind.__name__)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    return {str: "a string", list: "a list", dict: "an object", int: "a number",
            float: "a number"}.get(type(value), type(value).__name__)


def _roles() -> str:
    return ", ".join(r.value for r in Role)


# -- files -------------------------------------------------------------------------------------


def write_manifest(folder: Path, manifest: Manifest) -> Path:
    """Replace ``folder/manifest.json`` atomically: the old one or the new one, never half.

    Raises ``OSError`` (e.g. ``ENOSPC``); the previous manifest is then left as it was.
    """
    path = folder / MANIFEST_FILE
    # Sealed (encrypted) when the folder is: see surgery_teach.casefile.sealed_folder.
    write_case_file(path, manifest_to_json(manifest).encode())
    _sync_folder(folder)
    return path


def read_manifest(folder: Path) -> Manifest:
    """Parse ``folder/manifest.json``; :class:`RecordingError` names the file and field."""
    path = folder / MANIFEST_FILE
    try:
        text = read_case_file(path)
    except OSError as exc:
        raise RecordingError(f"cannot read {path}: {exc}", str(folder)) from exc
    try:
        return parse_manifest(text)
    except RecordingError as exc:
        raise RecordingError(f"{path}: {exc}", str(folder)) from exc


def _sync_folder(folder: Path) -> None:
    """Make a rename durable (POSIX); folders cannot be opened for fsync on Windows."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
