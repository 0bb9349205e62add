"""A case's chapters, and edits made to them after the recording.

Chapters recorded live are ``chapter`` events in the append-only ``events.jsonl``, which
is never rewritten. Edits made afterwards (rename, move, delete, add) are stored as the
whole edited list in ``chapters.json`` beside it, replaced atomically; once that file
exists it *is* the chapter list, and deleting it returns to the recorded chapters::

    {"version": 1, "chapters": [{"id": "e1", "title": "Calot's triangle", "time": 312.5}]}

``time`` is case time (seconds from the recording's start). A recorded chapter's ``id``
is ``e<n>``, its place among the log's chapter events (``e1`` is the first), so it stays
the same whoever reads the log; a chapter added afterwards gets ``c-<random hex>``.
The edit functions are pure: they take a list and return a new sorted one.
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from surgery_teach.casefile.events import Event, EventKind
from surgery_teach.casefile.sealed_folder import read_case_file, write_case_file
from surgery_teach.errors import RecordingError

CHAPTERS_FILE: Final = "chapters.json"
CHAPTERS_VERSION: Final = 1
MAX_TITLE_CHARS: Final = 200
MAX_CHAPTERS: Final = 1000


@dataclass(frozen=True)
class Chapter:
    """A named point in the case: ``time`` in case seconds (0 = recording start)."""

    id: str
    title: str
    time: float


def recorded_chapters(events: Iterable[Event], start: float) -> list[Chapter]:
    """The chapters logged during the recording, ids ``e1``, ``e2``... in log order."""
    found = []
    n = 0
    for event in events:
        if event.kind is not EventKind.CHAPTER:
            continue
        n += 1
        title = event.data.get("title")
        if not isinstance(title, str) or not title.strip():
            title = f"Chapter {n}"
        found.append(Chapter(f"e{n}", title.strip()[:MAX_TITLE_CHARS], event.t - start))
    return _sorted(found)


def read_chapter_edits(folder: Path) -> list[Chapter] | None:
    """The edited chapter list in ``folder/chapters.json``; ``None`` if there is none.

    :class:`RecordingError` naming the file if it is damaged (the recorded chapters still
    show; delete the file with :func:`reset_chapters` to drop the edits).
    """
    path = folder / CHAPTERS_FILE
    try:  # decrypted if the case is encrypted (a locked case raises CaseLockedError)
        text = read_case_file(path).decode("utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise RecordingError(f"cannot read {path}: {exc}", str(folder)) from exc
    try:
        return parse_chapters(text)
    except RecordingError as exc:
        raise RecordingError(
            f"{path} is damaged ({exc}); the chapters recorded live are shown instead. "
            "Edit a chapter to replace the file.", str(folder),
        ) from exc


def parse_chapters(text: str) -> list[Chapter]:
    """The chapters in the text of ``chapters.json``; :class:`RecordingError` if malformed."""
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise RecordingError(f"not JSON: {exc}") from exc
    if not isinstance(body, dict) or body.get("version") != CHAPTERS_VERSION:
        raise RecordingError(f"must be an object with \"version\": {CHAPTERS_VERSION}")
    items = body.get("chapters")
    if not isinstance(items, list) or len(items) > MAX_CHAPTERS:
        raise RecordingError(f"\"chapters\" must be a list of at most {MAX_CHAPTERS}")
    chapters = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or set(item) != {"id", "title", "time"}:
            raise RecordingError(f"chapters[{i}] must have exactly id, title and time")
        chapters.append(_checked(Chapter(item["id"], item["title"], item["time"]), f"[{i}]"))
    if len({c.id for c in chapters}) != len(chapters):
        raise RecordingError("chapter ids repeat")
    return _sorted(chapters)


def chapters_to_json(chapters: Sequence[Chapter]) -> str:
    """The text of ``chapters.json`` for ``chapters``."""
    body = {
        "version": CHAPTERS_VERSION,
        "chapters": [
            {"id": c.id, "title": c.title, "time": round(c.time, 6)} for c in _sorted(chapters)
        ],
    }
    return json.dumps(body, ensure_ascii=False, indent=2) + "\n"


def save_chapters(folder: Path, chapters: Sequence[Chapter]) -> None:
    """Store ``chapters`` as the case's chapter list (atomically: old or new, never half).

    :class:`RecordingError` with the fix if the folder cannot be written.
    """
    for c in chapters:
        _checked(c, f" {c.id!r}")
    path = folder / CHAPTERS_FILE
    try:  # encrypted in an encrypted case (CaseLockedError if its key is not unlocked)
        write_case_file(path, chapters_to_json(chapters).encode("utf-8"))
    except OSError as exc:
        raise RecordingError(
            f"cannot save the chapters in {folder}: {exc.strerror or exc}. The recording is "
            "unchanged; check that the folder is writable and the disk not full.", str(folder),
        ) from exc


def reset_chapters(folder: Path) -> None:
    """Drop every edit: the chapters recorded live show again."""
    try:
        (folder / CHAPTERS_FILE).unlink(missing_ok=True)
    except OSError as exc:
        raise RecordingError(f"cannot remove {folder / CHAPTERS_FILE}: {exc}",
                             str(folder)) from exc


# -- pure edits --------------------------------------------------------------------------------


def add_chapter(chapters: Sequence[Chapter], title: str, time: float) -> list[Chapter]:
    """``chapters`` plus a new chapter ``title`` at case time ``time``."""
    chapter = _checked(Chapter(f"c-{secrets.token_hex(4)}", title.strip(), time), "")
    return _sorted([*chapters, chapter])


def rename_chapter(chapters: Sequence[Chapter], chapter_id: str, title: str) -> list[Chapter]:
    """``chapters`` with ``chapter_id`` called ``title``."""
    return _edit(chapters, chapter_id, lambda c: replace(c, title=title.strip()))


def move_chapter(chapters: Sequence[Chapter], chapter_id: str, time: float) -> list[Chapter]:
    """``chapters`` with ``chapter_id`` starting at case time ``time``."""
    return _edit(chapters, chapter_id, lambda c: replace(c, time=time))


def delete_chapter(chapters: Sequence[Chapter], chapter_id: str) -> list[Chapter]:
    """``chapters`` without ``chapter_id``."""
    _find(chapters, chapter_id)
    return _sorted([c for c in chapters if c.id != chapter_id])


def _edit(
    chapters: Sequence[Chapter], chapter_id: str, change: Callable[[Chapter], Chapter]
) -> list[Chapter]:
    _find(chapters, chapter_id)
    return _sorted([_checked(change(c), "") if c.id == chapter_id else c for c in chapters])


def _find(chapters: Sequence[Chapter], chapter_id: str) -> Chapter:
    for c in chapters:
        if c.id == chapter_id:
            return c
    raise RecordingError(f"there is no chapter {chapter_id!r}")


def _checked(chapter: Chapter, where: str) -> Chapter:
    c = chapter
    if not isinstance(c.id, str) or not 1 <= len(c.id) <= 64 or not c.id.isprintable():
        raise RecordingError(f"chapter{where} id must be 1 to 64 printable characters")
    if (not isinstance(c.title, str) or not c.title.strip()
            or len(c.title) > MAX_TITLE_CHARS or not c.title.isprintable()):
        raise RecordingError(
            f"chapter{where} title must be 1 to {MAX_TITLE_CHARS} characters on one line"
        )
    if (isinstance(c.time, bool) or not isinstance(c.time, int | float)
            or not math.isfinite(c.time) or c.time < 0):
        raise RecordingError(f"chapter{where} time must be a number of seconds, 0 or more")
    return replace(c, time=float(c.time))


def _sorted(chapters: Iterable[Chapter]) -> list[Chapter]:
    return sorted(chapters, key=lambda c: (c.time, c.id))
