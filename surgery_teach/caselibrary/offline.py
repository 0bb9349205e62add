"""Keeping a case from the hospital library on this computer, to watch without the link.

:func:`keep_case` downloads every file of a library case (its media, event log, the
pictures shared during it, chapters and thumbnail) into its cache folder
(``<cache>/<case id>/``), checks each against the SHA-256 the library lists, and marks the
folder kept (``kept.json``: the case's summary as the library listed it). The copy is
encrypted at rest with ``key`` (this computer's recording key: the keyring's, or the
hospital passphrase's), like a case recorded here; ``key=None`` keeps it plain (a
computer whose user turned encryption off). The copy is made in a hidden folder beside
and swapped in only when complete, so a dropped link leaves either the old cache or the
whole copy, never half a case; running it again sends again only the files not yet kept.
A shared picture changed on the library's disk is kept as it came (the player says that
picture changed and the video plays in its stretch) rather than losing the whole case.

A kept case plays from its own files (no streaming), and is listed by :func:`kept_cases`
when the library cannot be reached. Blocking: call from a worker thread.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Final

from surgery_teach.casebook.library import LibraryEntry
from surgery_teach.casefile.keys import CaseKey, unlocked
from surgery_teach.casefile.layout import is_shared_picture_file
from surgery_teach.casefile.sealed_folder import (
    create_case_file,
    folder_seal,
    read_case_file,
    seal_folder,
    write_case_file,
)
from surgery_teach.caselibrary.connection import LibraryConnection
from surgery_teach.caselibrary.wire import (
    THUMBNAIL_FILE,
    CaseSummary,
    FileEntry,
    case_summary_to_json,
    parse_case_summary,
)
from surgery_teach.errors import CaseKeyError, LibraryError, RecordingError

logger = logging.getLogger("surgery_teach.caselibrary")

KEPT_FILE: Final = "kept.json"
_BLOCK: Final = 8 << 20

KeepProgress = Callable[[int, int], None]  # (bytes kept, bytes in all)


def is_kept(folder: Path, case: CaseSummary | None = None) -> bool:
    """Whether ``folder`` holds a whole kept copy (of ``case``'s files, if given)."""
    if not (folder / KEPT_FILE).exists():
        return False
    return case is None or all((folder / f.name).exists() for f in case.files)


def keep_case(connection: LibraryConnection, case: CaseSummary, folder: Path, *,
              key: CaseKey | None, progress: KeepProgress | None = None) -> Path:
    """Keep library case ``case`` in ``folder`` (replaced when whole); ``folder``.

    :class:`LibraryError` when the library cannot be reached or a file arrives corrupt
    (``corrupt-file``); nothing already kept is lost, and running it again resumes.
    """
    if is_kept(folder, case):
        return folder
    building = folder.with_name(f".keeping-{folder.name}")
    _start(building, key)
    total = sum(f.size for f in case.files) or 1
    done = 0
    for entry in case.files:
        target = building / entry.name
        if not target.exists():
            _keep_file(connection, case.id, entry, target,
                       lambda n, base=done: progress(base + n, total) if progress else None)
        done += entry.size
        if progress is not None:
            progress(done, total)
    manifest = connection.request("GET", f"/cases/{case.id}/files/manifest.json")[2]
    write_case_file(building / "manifest.json", manifest)
    write_case_file(building / KEPT_FILE, case_summary_to_json(case))
    if folder.exists():
        shutil.rmtree(folder)
    os.rename(building, folder)
    return folder


def _start(building: Path, key: CaseKey | None) -> None:
    """The hidden folder the copy is made in: resumed (with the key it was begun with) if
    it is encrypted or plain as asked and this computer can still write it."""
    if building.exists():
        try:
            seal = folder_seal(building)
        except RecordingError:
            seal = ("damaged", None)
        if (seal is None and key is None) or (
                seal is not None and key is not None and seal[0] != "damaged"
                and unlocked().find(*seal) is not None):
            return
        shutil.rmtree(building)
    building.mkdir(parents=True)
    if key is not None:
        seal_folder(building, key)


def _keep_file(connection: LibraryConnection, case: str, entry: FileEntry, target: Path,
               progress: Callable[[int], None]) -> None:
    """``entry`` of ``case`` into ``target``. A shared picture that is not the one the
    library lists (changed on its disk: the same bytes came twice) is kept as it came, so
    that the rest of the case is kept and the player says that picture changed, as it
    does when it streams the case; any other file must be the one listed."""
    args = (connection, case, entry.name, entry.size, entry.sha256, target, progress)
    if not is_shared_picture_file(entry.name):
        _download(*args)
        return
    try:
        _download(*args)
    except LibraryError as exc:
        if exc.code != "corrupt-file":
            raise
        first = _download(*args, keep_corrupt=True)  # a fault on the way does not repeat
        logger.warning("%s of library case %s is not the picture the library lists "
                       "(SHA-256 %s...); kept as it came, the player will say it changed",
                       entry.name, case, first[:16])


def _download(connection: LibraryConnection, case: str, name: str, size: int, sha256: str,
              target: Path, progress: Callable[[int], None], *,
              keep_corrupt: bool = False) -> str:
    """``name`` of ``case`` into ``target`` (encrypted if its folder is), checked against
    ``sha256`` (kept even if it differs with ``keep_corrupt``); its SHA-256."""
    partial = target.with_name(f".{name}.part")
    partial.unlink(missing_ok=True)
    digest = hashlib.sha256()
    offset = 0
    try:
        with create_case_file(partial) as file:
            while offset < size:
                end = min(size, offset + _BLOCK) - 1
                _, _, data = connection.request(
                    "GET", f"/cases/{case}/files/{name}",
                    headers={"Range": f"bytes={offset}-{end}"}, ok=(206,))
                if len(data) != end - offset + 1:
                    raise LibraryError(f"the library sent {len(data)} bytes of {name} for "
                                       f"{end - offset + 1} asked", code="short-read")
                file.write(data)
                digest.update(data)
                offset = end + 1
                progress(offset)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    if digest.hexdigest() != sha256 and not keep_corrupt:
        partial.unlink(missing_ok=True)
        raise LibraryError(f"{name} arrived corrupt (its SHA-256 is not the one the library "
                           "lists); keep the case again", code="corrupt-file")
    os.replace(partial, target)
    return digest.hexdigest()


def kept_summary(folder: Path) -> CaseSummary | None:
    """The summary a kept copy was kept with; ``None`` if ``folder`` is not one, or its key
    is not unlocked here."""
    try:
        return parse_case_summary(read_case_file(folder / KEPT_FILE))
    except (OSError, CaseKeyError, LibraryError, RecordingError):
        return None


def kept_cases(cache: Path) -> list[tuple[LibraryEntry, CaseSummary]]:
    """The cases kept under ``cache``, as the library listed them (newest kept first)."""
    found = []
    folders = sorted((p for p in cache.iterdir() if p.is_dir() and (p / KEPT_FILE).exists()),
                     key=lambda p: (p / KEPT_FILE).stat().st_mtime, reverse=True) \
        if cache.is_dir() else []
    for folder in folders:
        summary = kept_summary(folder)
        if summary is None:
            continue
        thumbnail = folder / THUMBNAIL_FILE
        found.append((LibraryEntry(
            folder=folder, title=summary.title, date=summary.date,
            started_at=summary.started_at, duration=summary.duration,
            hospital=summary.hospital, participants=summary.participants,
            sources=summary.sources, thumbnail=thumbnail if thumbnail.exists() else None,
            problems=summary.problems), summary))
    return found
