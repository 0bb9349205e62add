"""The library's wire objects: one parse and one serialize each, version 1.

A published case is named by its :func:`case_id`, the SHA-256 of its ``manifest.json``
(a finished recording's manifest never changes), so publishing the same case twice names
the same case and it is stored once. A publish declares every file with its size and
SHA-256 (:class:`PublishRequest`); the server answers with how much of each file it
already holds (:class:`UploadStatus`), which is how an interrupted publish resumes. A
listed case is a :class:`CaseSummary`. Unknown fields and malformed values are rejected
with :class:`~surgery_teach.errors.LibraryError` naming the field.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any, Final, TypeVar

from surgery_teach.casefile.events import EVENTS_FILE
from surgery_teach.casefile.layout import is_shared_picture_file
from surgery_teach.casefile.manifest import MANIFEST_FILE, Participant
from surgery_teach.errors import LibraryError
from surgery_teach.wire.role import Role

WIRE_VERSION: Final = 1
API_PREFIX: Final = "/api/v1"
CHAPTERS_FILE: Final = "chapters.json"  # chapter edits (surgery_teach.casebook.chapters)
THUMBNAIL_FILE: Final = "thumbnail.jpg"
MAX_FILES: Final = 64  # besides the shared pictures
MAX_SHARED_PICTURES: Final = 1000
"""Pictures shared during one case that a publish may carry (each at most 16 MiB)."""
MAX_FILE_BYTES: Final = 1 << 42  # 4 TiB: far above a day of 1080p
MAX_COLLECTIONS: Final = 32
EVERYONE: Final = "everyone"
"""The collection every valid library token may watch."""
ALL_COLLECTIONS: Final = "*"
"""In a token: may watch (and, for a mentor, publish to) every collection."""
_COLLECTION: Final = re.compile(r"(hospital|course):[^\W_][\w.-]{0,63}")
_SHA256: Final = re.compile(r"[0-9a-f]{64}")
_CASE_ID: Final = re.compile(r"[0-9a-f]{32}")
_CLIP_NAME: Final = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,95}\.mp4")

T = TypeVar("T")


class UploadState(StrEnum):
    UPLOADING = "uploading"  # files still missing bytes (or waiting for finish)
    STORED = "stored"  # published: listed, and nothing more to send


class SortKey(StrEnum):
    DATE = "date"  # of the procedure (start of recording)
    TITLE = "title"
    DURATION = "duration"
    PUBLISHED = "published"


def case_id(manifest_text: bytes) -> str:
    """The library's name for a case: the first 32 hex digits of its manifest's SHA-256."""
    return hashlib.sha256(manifest_text).hexdigest()[:32]


def check_case_id(value: str) -> str:
    if not isinstance(value, str) or not _CASE_ID.fullmatch(value):
        raise LibraryError(f"{show(value)} is not a case id (32 hex digits)", status=404,
                           code="no-such-case")
    return value


def check_collection(value: object, *, in_token: bool = False) -> str:
    """``hospital:NAME``, ``course:NAME`` or ``everyone`` (``*`` too in a token)."""
    if isinstance(value, str) and (
        value == EVERYONE or _COLLECTION.fullmatch(value) or (in_token and value == "*")
    ):
        return value
    raise LibraryError(
        f"{show(value)} is not a collection; write hospital:NAME, course:NAME or everyone "
        "(NAME: letters, digits, '.', '-', up to 64)", status=400, code="bad-collection",
    )


def check_file_name(value: object, manifest_files: Sequence[str] = ()) -> str:
    """A plain file name a published case may hold: its media (``manifest_files``), the
    event log, chapter edits, thumbnail or a picture shared during it
    (``shared-<32 hex>.png`` or ``.jpg``). Never a path, never the manifest itself."""
    name = _typed(value, str, "files[].name")
    plain = (
        PurePosixPath(name).name == name and PureWindowsPath(name).name == name
        and name not in (".", "..") and not name.startswith(".")
    )
    allowed = {EVENTS_FILE, CHAPTERS_FILE, THUMBNAIL_FILE, *manifest_files}
    if not plain or not (name in allowed or is_shared_picture_file(name)):
        raise LibraryError(
            f"file {show(name)} is not part of a case; a case holds {MANIFEST_FILE} (sent "
            f"inline), {EVENTS_FILE}, {CHAPTERS_FILE}, {THUMBNAIL_FILE}, the media files "
            "its manifest names and the pictures shared during it (shared-<id>.png or "
            ".jpg)", status=400, code="bad-file",
        )
    return name


@dataclass(frozen=True)
class FileEntry:
    """One file of a case: its name in the folder, size in bytes and SHA-256 (hex)."""

    name: str
    size: int
    sha256: str


@dataclass(frozen=True, kw_only=True)
class PublishRequest:
    """``POST /api/v1/publish``: the manifest's text and every other file to send."""

    manifest: str
    files: tuple[FileEntry, ...]
    collections: tuple[str, ...] = ()  # default: the publisher's token's collections
    procedure: str = ""  # default: the title


@dataclass(frozen=True, kw_only=True)
class FileProgress:
    name: str
    size: int
    received: int


@dataclass(frozen=True, kw_only=True)
class UploadStatus:
    """The server's answer to a publish, a chunk or a status request."""

    case: str
    state: UploadState
    files: tuple[FileProgress, ...]

    @property
    def missing(self) -> int:
        """Bytes the server still needs."""
        return sum(f.size - f.received for f in self.files)


@dataclass(frozen=True, kw_only=True)
class CaseSummary:
    """A published case as the list shows it (and the player needs to open it)."""

    id: str
    title: str
    hospital: str
    procedure: str
    date: dt.date | None
    started_at: dt.datetime | None
    duration: float | None
    participants: tuple[Participant, ...]
    chapters: tuple[tuple[str, float], ...]  # (title, case seconds)
    sources: tuple[str, ...]  # labels of the sources that play
    audio: bool
    problems: tuple[str, ...]
    collections: tuple[str, ...]
    files: tuple[FileEntry, ...]
    thumbnail: bool
    published_at: dt.datetime
    publisher: str
    clips: tuple[FileEntry, ...] = ()
    """Clips a mentor exported and added to the case after it was published (MP4s under
    ``/cases/{id}/clips/{name}``); not part of the recording."""


def check_clip_name(value: str) -> str:
    """A clip's file name: letters, digits, ``.``, ``-``, ``_``, ending ``.mp4``; 400
    ``bad-file`` otherwise (never a path)."""
    if not isinstance(value, str) or not _CLIP_NAME.fullmatch(value):
        raise LibraryError(f"a clip is named like clip-12m30s.mp4 (letters, digits, . - _; "
                           f"at most 100 characters), not {show(value)}", status=400,
                           code="bad-file")
    return value


# -- serialize ---------------------------------------------------------------------------------


def publish_request_to_json(request: PublishRequest) -> bytes:
    return _dump({
        "version": WIRE_VERSION,
        "manifest": request.manifest,
        "files": [_file_json(f) for f in request.files],
        "collections": list(request.collections),
        "procedure": request.procedure,
    })


def upload_status_to_json(status: UploadStatus) -> bytes:
    return _dump({
        "version": WIRE_VERSION,
        "case": status.case,
        "state": status.state.value,
        "files": [{"name": f.name, "size": f.size, "received": f.received}
                  for f in status.files],
    })


def case_summary_to_dict(case: CaseSummary) -> dict[str, Any]:
    return {
        "id": case.id,
        "title": case.title,
        "hospital": case.hospital,
        "procedure": case.procedure,
        "date": case.date.isoformat() if case.date else None,
        "started_at": case.started_at.isoformat() if case.started_at else None,
        "duration": case.duration,
        "participants": [{"role": p.role.value, "name": p.name} for p in case.participants],
        "chapters": [{"title": title, "time": time} for title, time in case.chapters],
        "sources": list(case.sources),
        "audio": case.audio,
        "problems": list(case.problems),
        "collections": list(case.collections),
        "files": [_file_json(f) for f in case.files],
        "thumbnail": case.thumbnail,
        "published_at": case.published_at.isoformat(),
        "publisher": case.publisher,
        "clips": [_file_json(f) for f in case.clips],
    }


def case_list_to_json(cases: Sequence[CaseSummary], total: int) -> bytes:
    return _dump({"version": WIRE_VERSION, "total": total,
                  "cases": [case_summary_to_dict(c) for c in cases]})


def error_to_json(code: str, message: str) -> bytes:
    return _dump({"version": WIRE_VERSION, "error": {"code": code, "message": message}})


def _file_json(entry: FileEntry) -> dict[str, Any]:
    return {"name": entry.name, "size": entry.size, "sha256": entry.sha256}


def _dump(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, allow_nan=False).encode()


# -- parse -------------------------------------------------------------------------------------


def parse_publish_request(text: bytes | str) -> PublishRequest:
    obj = _body(text, ("version", "manifest", "files", "collections", "procedure"), "publish")
    files = tuple(_parse_file(item, f"files[{i}]")
                  for i, item in enumerate(_typed(obj.get("files"), list, "files")))
    pictures = sum(is_shared_picture_file(f.name) for f in files)
    if len(files) - pictures > MAX_FILES:
        raise _bad("files", f"must list at most {MAX_FILES} besides the shared pictures")
    if pictures > MAX_SHARED_PICTURES:
        raise _bad("files", f"must list at most {MAX_SHARED_PICTURES} shared pictures")
    if len({f.name for f in files}) != len(files):
        raise _bad("files", "names a file twice")
    collections = tuple(check_collection(c) for c in
                        _typed(obj.get("collections", []), list, "collections"))
    if len(collections) > MAX_COLLECTIONS:
        raise _bad("collections", f"must list at most {MAX_COLLECTIONS}")
    procedure = _typed(obj.get("procedure", ""), str, "procedure").strip()
    if len(procedure) > 200 or any(ord(c) < 32 for c in procedure):
        raise _bad("procedure", "must be at most 200 characters, without control characters")
    return PublishRequest(
        manifest=_typed(obj.get("manifest"), str, "manifest"),
        files=files,
        collections=tuple(dict.fromkeys(collections)),
        procedure=procedure,
    )


def parse_upload_status(text: bytes | str) -> UploadStatus:
    obj = _body(text, ("version", "case", "state", "files"), "upload status")
    files = []
    for i, item in enumerate(_typed(obj.get("files"), list, "files")):
        entry = _object(item, f"files[{i}]")
        _only(entry, ("name", "size", "received"), f"files[{i}]")
        size = _count(entry.get("size"), f"files[{i}].size")
        received = _count(entry.get("received"), f"files[{i}].received")
        if received > size:
            raise _bad(f"files[{i}].received", "is more than the size")
        files.append(FileProgress(name=_typed(entry.get("name"), str, f"files[{i}].name"),
                                  size=size, received=received))
    try:
        state = UploadState(obj.get("state"))
    except ValueError:
        raise _bad("state", f"must be uploading or stored, got {show(obj.get('state'))}") from None
    return UploadStatus(case=check_case_id(_typed(obj.get("case"), str, "case")),
                        state=state, files=tuple(files))


def parse_case_list(text: bytes | str) -> tuple[list[CaseSummary], int]:
    obj = _body(text, ("version", "total", "cases"), "case list")
    cases = [case_summary_from_dict(item, f"cases[{i}]")
             for i, item in enumerate(_typed(obj.get("cases"), list, "cases"))]
    return cases, _count(obj.get("total"), "total")


def parse_case_summary(text: bytes | str) -> CaseSummary:
    obj = _body(text, ("version", "case"), "case")
    return case_summary_from_dict(obj.get("case"), "case")


def case_summary_to_json(case: CaseSummary) -> bytes:
    return _dump({"version": WIRE_VERSION, "case": case_summary_to_dict(case)})


def case_summary_from_dict(value: object, path: str = "case") -> CaseSummary:
    obj = _object(value, path)
    _only(obj, (*_SUMMARY_FIELDS, "clips"), path)  # clips: optional (added later)
    for name in _SUMMARY_FIELDS:
        if name not in obj:
            raise _bad(f"{path}.{name}", "is missing")
    duration = obj["duration"]
    if duration is not None:
        _number(duration, f"{path}.duration")
    return CaseSummary(
        id=check_case_id(_typed(obj["id"], str, f"{path}.id")),
        title=_typed(obj["title"], str, f"{path}.title"),
        hospital=_typed(obj["hospital"], str, f"{path}.hospital"),
        procedure=_typed(obj["procedure"], str, f"{path}.procedure"),
        date=_optional(obj["date"], _date, f"{path}.date"),
        started_at=_optional(obj["started_at"], _time, f"{path}.started_at"),
        duration=None if duration is None else float(duration),
        participants=tuple(_participant(p, f"{path}.participants[{i}]") for i, p in
                           enumerate(_typed(obj["participants"], list, f"{path}.participants"))),
        chapters=tuple(_chapter(c, f"{path}.chapters[{i}]") for i, c in
                       enumerate(_typed(obj["chapters"], list, f"{path}.chapters"))),
        sources=tuple(_typed(s, str, f"{path}.sources[]")
                      for s in _typed(obj["sources"], list, f"{path}.sources")),
        audio=_flag(obj["audio"], f"{path}.audio"),
        problems=tuple(_typed(s, str, f"{path}.problems[]")
                       for s in _typed(obj["problems"], list, f"{path}.problems")),
        collections=tuple(check_collection(c)
                          for c in _typed(obj["collections"], list, f"{path}.collections")),
        files=tuple(_parse_file(f, f"{path}.files[{i}]")
                    for i, f in enumerate(_typed(obj["files"], list, f"{path}.files"))),
        thumbnail=_flag(obj["thumbnail"], f"{path}.thumbnail"),
        published_at=_time(obj["published_at"], f"{path}.published_at"),
        publisher=_typed(obj["publisher"], str, f"{path}.publisher"),
        clips=tuple(_parse_file(f, f"{path}.clips[{i}]")
                    for i, f in enumerate(_typed(obj.get("clips", []), list, f"{path}.clips"))),
    )


def parse_error(text: bytes | str) -> tuple[str, str] | None:
    """``(code, message)`` of an error body; ``None`` if ``text`` is not one."""
    try:
        error = json.loads(text)["error"]
        return str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        return None


_SUMMARY_FIELDS: Final = (
    "id", "title", "hospital", "procedure", "date", "started_at", "duration", "participants",
    "chapters", "sources", "audio", "problems", "collections", "files", "thumbnail",
    "published_at", "publisher",
)


def _parse_file(value: object, path: str) -> FileEntry:
    obj = _object(value, path)
    _only(obj, ("name", "size", "sha256"), path)
    digest = _typed(obj.get("sha256"), str, f"{path}.sha256")
    if not _SHA256.fullmatch(digest):
        raise _bad(f"{path}.sha256", "must be 64 lowercase hex digits")
    size = _count(obj.get("size"), f"{path}.size")
    if size > MAX_FILE_BYTES:
        raise _bad(f"{path}.size", f"must be at most {MAX_FILE_BYTES} bytes")
    return FileEntry(name=_typed(obj.get("name"), str, f"{path}.name"), size=size,
                     sha256=digest)


def _participant(value: object, path: str) -> Participant:
    obj = _object(value, path)
    _only(obj, ("role", "name"), path)
    try:
        role = Role(obj.get("role"))
    except ValueError:
        raise _bad(f"{path}.role", f"is not a role: {show(obj.get('role'))}") from None
    return Participant(role, _typed(obj.get("name"), str, f"{path}.name"))


def _chapter(value: object, path: str) -> tuple[str, float]:
    obj = _object(value, path)
    _only(obj, ("title", "time"), path)
    return (_typed(obj.get("title"), str, f"{path}.title"),
            _number(obj.get("time"), f"{path}.time"))


def _date(value: object, path: str) -> dt.date:
    try:
        return dt.date.fromisoformat(_typed(value, str, path))
    except ValueError:
        raise _bad(path, f"is not a date like 2025-05-01: {show(value)}") from None


def _time(value: object, path: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(_typed(value, str, path))
    except ValueError:
        parsed = None
    if parsed is None or parsed.utcoffset() is None:
        raise _bad(path, f"is not a time with its UTC offset: {show(value)}")
    return parsed


def _body(text: bytes | str, fields: tuple[str, ...], what: str) -> dict[str, Any]:
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise LibraryError(f"the {what} is not JSON: {exc}", status=400,
                           code="bad-request") from None
    obj = _object(body, what)
    version = obj.get("version")
    if version != WIRE_VERSION:
        raise _bad("version", f"must be {WIRE_VERSION}, got {show(version)}; update the app "
                              "or the library server so that both speak the same version")
    _only(obj, fields, what)
    return obj


def _bad(path: str, problem: str) -> LibraryError:
    return LibraryError(f"field {path!r} {problem}", status=400, code="bad-request")


def _object(value: object, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(path, f"must be a JSON object, got {type(value).__name__}")
    return value


def _only(obj: dict[str, Any], allowed: tuple[str, ...], path: str) -> None:
    unknown = sorted(set(obj) - set(allowed))
    if unknown:
        raise _bad(path, f"has unknown field(s) {', '.join(unknown)}")


def _typed(value: object, kind: type[T], path: str) -> T:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise _bad(path, f"must be a {kind.__name__}, got {show(value)}")
    return value


def _flag(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise _bad(path, f"must be true or false, got {show(value)}")
    return value


def _count(value: object, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _bad(path, f"must be a whole number of 0 or more, got {show(value)}")
    return value


def _number(value: object, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad(path, f"must be a number, got {show(value)}")
    return float(value)


def _optional(value: object, parse: Callable[[object, str], T], path: str) -> T | None:
    return None if value is None else parse(value, path)


def show(value: object) -> str:
    """A short, safe rendering of a value from the wire for an error message."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
