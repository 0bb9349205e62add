"""The student library: every recorded case under a folder, with a thumbnail each.

:func:`scan_library` lists case folders quickly: for a case seen before it reads one small
cache file (``library.json``, kept in the case folder and redone when any of the case's
files change) and decodes nothing once the case's ``thumbnail.jpg`` exists. A folder
whose recording was interrupted or damaged is still listed, with its problems in plain
words and what can be played (:func:`~.playable.open_case`). :func:`search_library` and
:func:`sort_library` are pure helpers for the list view.

An encrypted case (:mod:`surgery_teach.casefile.sealed_folder`) whose key is not unlocked
is listed as locked (:attr:`LibraryEntry.locked`: its key id, and whether a passphrase
opens it) with nothing read or written; once unlocked, its cache and thumbnail are
written encrypted like the rest of the case (they show the patient's title and picture).
Read a thumbnail with :func:`read_thumbnail`, not as a plain image file.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import cv2

from surgery_teach.casebook.chapters import CHAPTERS_FILE
from surgery_teach.casebook.playable import (
    AUDIO_SUFFIXES,
    VIDEO_SUFFIXES,
    PlayableCase,
    open_case,
)
from surgery_teach.casebook.playback import SourcePlayer
from surgery_teach.casebook.problems import (
    BEING_RECORDED,
    LOCKED,
    MANIFEST_REBUILT,
    Problem,
    problem_from_json,
    problem_to_json,
)
from surgery_teach.casefile.events import EventKind
from surgery_teach.casefile.manifest import MANIFEST_FILE, Participant
from surgery_teach.casefile.sealed_folder import (
    SEAL_FILE,
    read_case_file,
    write_case_file,
)
from surgery_teach.errors import CaseKeyError, CaseLockedError, RecordingError
from surgery_teach.wire.role import Role

logger = logging.getLogger("surgery_teach.recording")

THUMBNAIL_FILE: Final = "thumbnail.jpg"
CACHE_FILE: Final = "library.json"
THUMBNAIL_WIDTH: Final = 320
_CACHE_VERSION: Final = 3  # 2: problems keep their template; 3: cut-short cases' real length
_LIVE_WITHIN: Final = 30.0  # an unfinished case written to this recently is still recording
_NOT_CASE_FILES: Final = frozenset({THUMBNAIL_FILE, CACHE_FILE, CHAPTERS_FILE, SEAL_FILE})


@dataclass(frozen=True)
class LibraryEntry:
    """One case in the library list."""

    folder: Path
    title: str
    date: dt.date | None
    started_at: dt.datetime | None
    duration: float | None  # seconds that play; None if nothing does
    hospital: str
    participants: tuple[Participant, ...]
    sources: tuple[str, ...]  # labels of the sources that play
    thumbnail: Path | None  # a small JPEG, or None if none could be made
    problems: tuple[str, ...]  # plain sentences; empty for a clean recording
    locked: CaseLockedError | None = None  # encrypted, key not unlocked: ask, then rescan

    @property
    def playable(self) -> bool:
        return bool(self.sources)


class SortKey(StrEnum):
    DATE = "date"
    TITLE = "title"
    DURATION = "duration"


def scan_library(root: Path, *, thumbnails: bool = True) -> list[LibraryEntry]:
    """Every case folder directly under ``root``, newest first.

    ``thumbnails=False`` skips making missing thumbnails (no decoding at all); make them
    later with :func:`ensure_thumbnail` on a worker thread. Never raises for one bad
    case (it is listed with its problems); :class:`RecordingError` if ``root`` cannot be
    read.
    """
    try:
        folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError as exc:
        raise RecordingError(
            f"cannot read the library folder {root}: {exc.strerror or exc}. Choose a folder "
            "that holds recorded cases.", str(root),
        ) from exc
    entries = []
    for folder in folders:
        try:
            entry = read_entry(folder, thumbnails=thumbnails)
        except Exception as exc:  # one case's problem must not hide the others
            if not isinstance(exc, RecordingError | OSError):
                logger.exception("cannot list %s", folder)
            entry = LibraryEntry(folder, folder.name, None, None, None, "", (), (), None,
                                 (f"cannot be read: {exc}",))
        if entry is not None:
            entries.append(entry)
    return sort_library(entries, SortKey.DATE)


def read_entry(folder: Path, *, thumbnails: bool = True) -> LibraryEntry | None:
    """The library entry for one case folder; ``None`` if it holds no recording."""
    files = _case_files(folder)
    if not files:
        return None
    key = [[name, stat.st_size, stat.st_mtime_ns] for name, stat in sorted(files.items())]
    try:
        entry = _read_cache(folder, key)
    except CaseLockedError as exc:
        return _locked_entry(folder, exc)
    if entry is None:
        try:
            playable = open_case(folder)
        except CaseLockedError as exc:
            return _locked_entry(folder, exc)
        except RecordingError:
            return None
        entry = _entry(playable)
        newest = max(stat.st_mtime for stat in files.values())
        rebuilt = any(getattr(p, "template", None) == MANIFEST_REBUILT
                      for p in playable.problems)  # a damaged manifest, not a live one
        if (playable.case.interrupted and MANIFEST_FILE in files and not rebuilt
                and time.time() - newest < _LIVE_WITHIN):  # the recorder is still writing
            entry = _replace(entry, problems=(Problem(BEING_RECORDED),))
        else:
            _write_cache(folder, key, entry)
    thumbnail = folder / THUMBNAIL_FILE
    if thumbnail.exists():
        return _replace(entry, thumbnail=thumbnail)
    if thumbnails and entry.playable:
        return _replace(entry, thumbnail=ensure_thumbnail(folder))
    return entry


def ensure_thumbnail(folder: Path, case: PlayableCase | None = None) -> Path | None:
    """``folder/thumbnail.jpg``, made once from a frame about 10% into the case; ``None``
    if no picture plays or the folder is read-only."""
    path = folder / THUMBNAIL_FILE
    if path.exists():
        return path
    try:
        case = case or open_case(folder)
    except RecordingError:  # including a locked case: no thumbnail until it is opened
        return None
    for label in case.playable:
        try:
            with SourcePlayer(case.case, label, start=case.start) as player:
                t = min(max(case.duration * 0.1, player.origin), player.end)
                shown = player.seek(t) or player.next()
        except RecordingError:
            continue
        if shown is None:
            continue
        frame = shown.frame
        height = max(2, round(frame.height * THUMBNAIL_WIDTH / frame.width / 2) * 2)
        bgr = frame.reformat(width=THUMBNAIL_WIDTH, height=height).to_ndarray(format="bgr24")
        ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 80])
        if ok and _write_atomically(path, data.tobytes()):
            return path
        return None
    return None


def read_thumbnail(path: Path) -> bytes | None:
    """The JPEG bytes of a case's thumbnail (decrypted if the case is encrypted);
    ``None`` if it cannot be read or its key is not unlocked."""
    try:
        return read_case_file(path)
    except (OSError, RecordingError):
        return None


def _locked_entry(folder: Path, error: CaseLockedError) -> LibraryEntry:
    """An encrypted case listed without reading it: the folder's name and the lock."""
    return LibraryEntry(folder, folder.name, None, None, None, "", (), (), None,
                        (Problem(LOCKED),), locked=error)


def search_library(entries: Sequence[LibraryEntry], text: str) -> list[LibraryEntry]:
    """Entries whose title, hospital or a participant's name contains every word of
    ``text`` (case-insensitive); all of them for empty ``text``."""
    words = text.casefold().split()
    found = []
    for entry in entries:
        haystack = " ".join(
            [entry.title, entry.hospital, *(p.name for p in entry.participants)]
        ).casefold()
        if all(word in haystack for word in words):
            found.append(entry)
    return found


def sort_library(
    entries: Sequence[LibraryEntry], key: SortKey = SortKey.DATE, *, descending: bool | None = None
) -> list[LibraryEntry]:
    """``entries`` sorted by ``key``; dates and durations default to largest first,
    titles to A-Z. Entries missing the key go last."""
    key = SortKey(key)
    if descending is None:
        descending = key is not SortKey.TITLE

    def value(entry: LibraryEntry) -> Any:
        if key is SortKey.TITLE:
            return entry.title.casefold()
        if key is SortKey.DURATION:
            return entry.duration
        if entry.started_at is not None:
            return entry.started_at.timestamp()
        if entry.date is not None:
            return dt.datetime.combine(entry.date, dt.time()).astimezone().timestamp()
        return None

    known = [e for e in entries if value(e) is not None]
    unknown = [e for e in entries if value(e) is None]
    known.sort(key=lambda e: (value(e), e.title.casefold()), reverse=descending)
    return known + sorted(unknown, key=lambda e: e.folder.name)


# -- entries and their cache -------------------------------------------------------------------


def _case_files(folder: Path) -> dict[str, os.stat_result]:
    """The case's own files (what the cache depends on); empty if not a case folder."""
    try:
        names = os.listdir(folder)
    except OSError:
        return {}
    suffixes = (*VIDEO_SUFFIXES, *AUDIO_SUFFIXES)
    if MANIFEST_FILE not in names and not any(n.lower().endswith(suffixes) for n in names):
        return {}
    files = {}
    for name in names:
        if name.startswith(".") or name in _NOT_CASE_FILES:
            continue
        try:
            stat = os.stat(folder / name)
        except OSError:
            continue
        if not os.path.isdir(folder / name):
            files[name] = stat
    return files


def _entry(playable: PlayableCase) -> LibraryEntry:
    manifest = playable.manifest
    people = list(manifest.participants)
    for event in playable.case.events:
        if event.kind is EventKind.JOIN:
            name, role = event.data.get("name"), event.data.get("role")
            if isinstance(name, str) and name.strip() and role in {r.value for r in Role}:
                person = Participant(Role(role), name.strip()[:64])
                if all(p.name != person.name for p in people):
                    people.append(person)
    return LibraryEntry(
        folder=playable.folder,
        title=manifest.title,
        date=manifest.date,
        started_at=manifest.started_at,
        duration=playable.duration if playable.playable or playable.audio else None,
        hospital=manifest.hospital,
        participants=tuple(people),
        sources=playable.playable,
        thumbnail=None,
        problems=playable.problems,
    )


def _replace(entry: LibraryEntry, **changes: Any) -> LibraryEntry:
    return replace(entry, **changes)


def _read_cache(folder: Path, key: list[list[Any]]) -> LibraryEntry | None:
    """The cached entry; ``None`` to measure again. Raises :class:`CaseLockedError` for
    an encrypted cache whose key is not unlocked."""
    try:
        body = json.loads(read_case_file(folder / CACHE_FILE).decode("utf-8"))
        if body.get("version") != _CACHE_VERSION or body.get("key") != key:
            return None
        e = body["entry"]
        return LibraryEntry(
            folder=folder,
            title=str(e["title"]),
            date=dt.date.fromisoformat(e["date"]) if e["date"] else None,
            started_at=dt.datetime.fromisoformat(e["started_at"]) if e["started_at"] else None,
            duration=None if e["duration"] is None else float(e["duration"]),
            hospital=str(e["hospital"]),
            participants=tuple(Participant(Role(p["role"]), str(p["name"]))
                               for p in e["participants"]),
            sources=tuple(str(s) for s in e["sources"]),
            thumbnail=None,
            problems=tuple(problem_from_json(p) for p in e["problems"]),
        )
    except CaseLockedError:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecordingError):
        return None  # no cache, or one from another version: measure again


def _write_cache(folder: Path, key: list[list[Any]], entry: LibraryEntry) -> None:
    body = {
        "version": _CACHE_VERSION,
        "key": key,
        "entry": {
            "title": entry.title,
            "date": entry.date.isoformat() if entry.date else None,
            "started_at": entry.started_at.isoformat() if entry.started_at else None,
            "duration": entry.duration,
            "hospital": entry.hospital,
            "participants": [{"role": p.role.value, "name": p.name} for p in entry.participants],
            "sources": list(entry.sources),
            "problems": [problem_to_json(p) for p in entry.problems],
        },
    }
    _write_atomically(folder / CACHE_FILE, (json.dumps(body, ensure_ascii=False) + "\n").encode())


def _write_atomically(path: Path, data: bytes) -> bool:
    """Best effort (a read-only library still lists): ``False`` if it could not be
    written. Encrypted in an encrypted case folder."""
    try:
        write_case_file(path, data)
        return True
    except (OSError, CaseKeyError) as exc:
        logger.info("cannot write %s: %s", path, exc)
        return False
