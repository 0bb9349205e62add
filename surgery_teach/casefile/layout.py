"""Where a case's files go: one folder per case, ``<root>/<YYYY-MM-DD_HHMM>_<slug>/``.

Inside: ``manifest.json``, ``events.jsonl``, one video file per source named after its
label (``endoscope.mkv``, ``room-camera.mkv``) and ``audio.mka`` when audio is recorded;
``shared-<id>.png`` (or ``.jpg``) for each picture shared in the session, as it was sent;
``sealed.json`` when the case is encrypted (:mod:`.sealed_folder`).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Collection
from pathlib import Path
from typing import Final

from surgery_teach.casefile.keys import CaseKey
from surgery_teach.casefile.sealed_folder import seal_folder
from surgery_teach.errors import RecordingError

_MAX_SLUG = 48
# Characters no file system likes, plus whitespace and punctuation runs.
_NOT_WORD = re.compile(r"[\W_]+")
SHARED_PICTURE_FILE: Final = re.compile(r"shared-[0-9a-f]{32}\.(png|jpg)")
"""The name of a picture shared in the session, kept as it was sent (``shared-<id>.png``)."""


def slug(text: str, fallback: str = "case") -> str:
    """A file-name-safe form of ``text``: lowercase words joined by ``-`` (keeps non-Latin
    letters, so a Chinese or Russian title still names its folder)."""
    words = _NOT_WORD.sub("-", unicodedata.normalize("NFKC", text).lower()).strip("-")
    return words[:_MAX_SLUG].rstrip("-") or fallback


def case_folder_name(title: str, started: dt.datetime) -> str:
    return f"{started:%Y-%m-%d_%H%M}_{slug(title)}"


def new_case_folder(root: Path, title: str, when: dt.datetime | None = None, *,
                    key: CaseKey | None = None) -> Path:
    """Create and return a new, empty case folder under ``root`` (``-2``, ``-3``... if the
    name is taken); :class:`RecordingError` with the fix if ``root`` is not writable.

    With ``key`` the folder is encrypted: every file the recorder writes into it is
    sealed with that key (:mod:`.sealed_folder`)."""
    when = when or dt.datetime.now().astimezone()
    base = case_folder_name(title, when)
    try:
        root.mkdir(parents=True, exist_ok=True)
        for n in range(1, 1000):
            folder = root / (base if n == 1 else f"{base}-{n}")
            try:
                folder.mkdir()
            except FileExistsError:
                continue
            if key is not None:
                try:
                    seal_folder(folder, key)
                except BaseException:
                    (folder / "sealed.json").unlink(missing_ok=True)
                    folder.rmdir()
                    raise
            return folder
    except OSError as exc:
        raise RecordingError(
            f"cannot create a recording folder in {root}: {exc.strerror or exc}. Choose a "
            "recording folder you can write to.", str(root),
        ) from exc
    raise RecordingError(f"too many recordings named {base!r} in {root}", str(root))


def media_file_name(label: str, suffix: str, taken: Collection[str]) -> str:
    """``<slug(label)>.<suffix>``, numbered if another source already has that name."""
    stem = slug(label, fallback="source")
    name = f"{stem}.{suffix}"
    n = 2
    while name in taken or name.startswith(("manifest.", "events.")):
        name = f"{stem}-{n}.{suffix}"
        n += 1
    return name


def is_shared_picture_file(name: str) -> bool:
    """Whether ``name`` is a shared picture's file name (:data:`SHARED_PICTURE_FILE`)."""
    return SHARED_PICTURE_FILE.fullmatch(name) is not None
