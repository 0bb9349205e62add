"""Cases on disk: ``DATA/cases/<id>/`` for published cases, ``DATA/uploads/<id>/`` for
publishes on their way in.

A publish writes into its upload folder, one file per case file, appended at the offset
the server last confirmed, so that a dropped link (or a restarted server) resumes where
the bytes on disk end. ``finish`` checks every file's size and SHA-256 (and that each
shared picture, ``shared-<id>.png`` or ``.jpg``, is one the event log names), makes the
thumbnail, then renames the whole folder into ``cases/``: a case folder is complete or
absent, never half there. The index is written after the rename, and :meth:`CaseStore.
unindexed` lets the server catch up after a kill between the two. Stored cases are never
changed or removed by a publish; a full disk refuses new bytes, nothing else.

Edits after the case, by a mentor, change only what lies beside the recording:
:meth:`CaseStore.save_chapters` replaces ``chapters.json``, :meth:`CaseStore.begin_clip`
and :meth:`CaseStore.end_clip` add an exported clip under ``clips/``. The manifest, event
log and media as recorded are never modified.

Blocking methods: call them from a worker thread.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final

from surgery_teach.casebook.case import tolerant_events
from surgery_teach.casebook.chapters import chapters_to_json, parse_chapters
from surgery_teach.casebook.shared_pictures import logged_pictures
from surgery_teach.casefile.events import EVENTS_FILE
from surgery_teach.casefile.layout import is_shared_picture_file
from surgery_teach.casefile.manifest import MANIFEST_FILE, parse_manifest
from surgery_teach.caselibrary.wire import (
    CHAPTERS_FILE,
    THUMBNAIL_FILE,
    FileEntry,
    FileProgress,
    PublishRequest,
    UploadState,
    UploadStatus,
    case_id,
    check_file_name,
)
from surgery_teach.errors import LibraryError, RecordingError

logger = logging.getLogger("library_server")

PUBLICATION_FILE: Final = ".publication.json"
"""Who published the case, when, into which collections (never served)."""
CLIPS_DIR: Final = "clips"
_HASH_BLOCK: Final = 4 << 20


@dataclass(frozen=True, kw_only=True)
class Publication:
    """What the library knows about a case beyond its own files."""

    case: str
    files: tuple[FileEntry, ...]
    collections: tuple[str, ...]
    procedure: str
    publisher: str
    publisher_user: str
    created: dt.datetime
    published_at: dt.datetime | None = None
    clips: tuple[FileEntry, ...] = ()  # exported clips a mentor added afterwards

    def file(self, name: str) -> FileEntry:
        for entry in self.files:
            if entry.name == name:
                return entry
        raise LibraryError(f"this case has no file {name!r}", status=404, code="no-such-file")


class _RunningHash:
    """The SHA-256 of a file being appended to, so ``finish`` need not read it again."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.position = 0


class CaseStore:
    """The published cases and the publishes in progress under one data folder."""

    def __init__(self, data_dir: Path, *, min_free_bytes: int) -> None:
        self.data_dir = data_dir
        self.cases_dir = data_dir / "cases"
        self.uploads_dir = data_dir / "uploads"
        self.min_free_bytes = min_free_bytes
        self._hashes: dict[tuple[str, str], _RunningHash] = {}
        self._lock = threading.Lock()
        try:
            self.cases_dir.mkdir(parents=True, exist_ok=True)
            self.uploads_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LibraryError(
                f"cannot use the data folder {data_dir}: {exc.strerror or exc}. Give "
                "--data-dir a folder this user may write to.") from exc

    # -- published cases ---------------------------------------------------------------------

    def case_folder(self, case: str) -> Path:
        return self.cases_dir / case

    def stored_ids(self) -> set[str]:
        return {p.name for p in self.cases_dir.iterdir()
                if p.is_dir() and (p / PUBLICATION_FILE).exists()}

    def publication(self, case: str, *, upload: bool = False) -> Publication:
        folder = (self.uploads_dir if upload else self.cases_dir) / case
        try:
            return _parse_publication(json.loads((folder / PUBLICATION_FILE).read_text("utf-8")))
        except FileNotFoundError:
            raise LibraryError("no such case in this library", status=404,
                               code="no-such-case") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise LibraryError(f"the library's record of case {case} is damaged: {exc}",
                               status=500, code="damaged") from exc

    # -- publishing ----------------------------------------------------------------------------

    def begin(self, request: PublishRequest, *, collections: tuple[str, ...], publisher: str,
              publisher_user: str) -> UploadStatus:
        """Start (or find again) the upload of ``request``'s case; its status. A case
        already stored gets any new collections and state ``stored``."""
        manifest_bytes = request.manifest.encode()
        try:
            manifest = parse_manifest(manifest_bytes)
        except RecordingError as exc:
            raise LibraryError(f"the case's manifest.json is not valid: {exc}", status=400,
                               code="bad-manifest") from None
        media = [s.file for s in manifest.sources]
        if manifest.audio is not None:
            media.append(manifest.audio.file)
        for entry in request.files:
            check_file_name(entry.name, media)
        if not any(f.name in media for f in request.files):
            raise LibraryError("the publish sends none of the media files the manifest names; "
                               "nothing would play", status=400, code="no-media")
        case = case_id(manifest_bytes)
        with self._lock:
            stored = self.case_folder(case)
            if (stored / PUBLICATION_FILE).exists():
                return self._republish(case, request, collections)
            folder = self.uploads_dir / case
            if (folder / PUBLICATION_FILE).exists():
                known = self.publication(case, upload=True)
                if {(f.name, f.size, f.sha256) for f in known.files} != {
                        (f.name, f.size, f.sha256) for f in request.files}:
                    # The same case with other files (chapters edited meanwhile): start
                    # again, keeping the bytes of files that did not change.
                    for old in known.files:
                        if old not in request.files:
                            (folder / old.name).unlink(missing_ok=True)
                            self._hashes.pop((case, old.name), None)
            else:
                self._check_room(sum(f.size for f in request.files) + len(manifest_bytes))
                folder.mkdir(exist_ok=True)
                _write_atomically(folder / MANIFEST_FILE, manifest_bytes)
            publication = Publication(
                case=case, files=request.files, collections=collections,
                procedure=request.procedure or manifest.title, publisher=publisher,
                publisher_user=publisher_user, created=_now(),
            )
            _write_atomically(folder / PUBLICATION_FILE, _publication_json(publication))
            status = self.status(case)
            self._check_room(status.missing)
            return status

    def _republish(self, case: str, request: PublishRequest,
                   collections: tuple[str, ...]) -> UploadStatus:
        known = self.publication(case)
        media_now = {f for f in request.files if _recorded(f.name)}
        media_then = {f for f in known.files if _recorded(f.name)}
        # A shared picture both hold must be the same; one that only one of them holds (a
        # case stored before the library kept pictures) changes nothing.
        pictures_then = {f.name: f for f in known.files if is_shared_picture_file(f.name)}
        changed = sorted({f.name for f in media_now ^ media_then} | {
            f.name for f in request.files
            if f.name in pictures_then and pictures_then[f.name] != f})
        if changed:
            raise LibraryError(
                f"this case is already in the library with other contents for "
                f"{', '.join(changed)}; a published recording is never replaced",
                status=409, code="different-case")
        added = tuple(c for c in collections if c not in known.collections)
        if added:
            updated = Publication(**{**known.__dict__,
                                     "collections": known.collections + added})
            _write_atomically(self.case_folder(case) / PUBLICATION_FILE,
                              _publication_json(updated))
        return self.stored_status(case)

    def save_chapters(self, case: str, text: str) -> Publication:
        """Replace the stored ``case``'s chapter list with the ``chapters.json`` text
        ``text`` (checked first: 400 ``bad-chapters``); its publication record, updated.
        Only that file changes, atomically; the recording stays as it was published."""
        try:
            chapters = parse_chapters(text)
        except RecordingError as exc:
            raise LibraryError(f"the chapters are not valid: {exc}", status=400,
                               code="bad-chapters") from None
        data = chapters_to_json(chapters).encode("utf-8")
        entry = FileEntry(CHAPTERS_FILE, len(data), hashlib.sha256(data).hexdigest())
        folder = self.case_folder(case)
        with self._lock:
            known = self.publication(case)
            self._check_room(len(data))
            _write_atomically(folder / CHAPTERS_FILE, data)
            files = (*(f for f in known.files if f.name != CHAPTERS_FILE), entry)
            updated = Publication(**{**known.__dict__, "files": files})
            _write_atomically(folder / PUBLICATION_FILE, _publication_json(updated))
        return updated

    def add_picture(self, case: str, name: str, data: bytes) -> Publication | None:
        """Add shared picture ``name`` (``data``) to stored ``case``, published before it
        carried its pictures; its publication record, updated (``None``: it held that
        picture already). Only a picture the case's event log names, with the SHA-256 it
        names (422 ``bad-file`` / ``corrupt-file`` otherwise); one already stored is never
        replaced (409 ``different-case`` if ``data`` differs)."""
        if not is_shared_picture_file(name):
            raise LibraryError(f"{name!r} is not a shared picture's file name", status=400,
                               code="bad-file")
        folder = self.case_folder(case)
        digest = hashlib.sha256(data).hexdigest()
        with self._lock:
            known = self.publication(case)
            held = next((f for f in known.files if f.name == name), None)
            if held is not None:
                if held.sha256 != digest:
                    raise LibraryError(
                        f"{name}: the library holds another picture of that name for this "
                        "case and never replaces it", status=409, code="different-case")
                return None
            named = logged_pictures(tolerant_events(folder / EVENTS_FILE)[0])
            if name not in named:
                raise LibraryError(
                    f"{name}: the case's {EVENTS_FILE} names no such shared picture, and a "
                    "case holds only the pictures shared during it", status=422,
                    code="bad-file")
            if named[name] != digest:
                raise LibraryError(
                    f"{name} is not the picture the case shared (its SHA-256 is "
                    f"{digest[:16]}..., the case's events name {named[name][:16]}...); it "
                    "was not added", status=422, code="corrupt-file")
            self._check_room(len(data))
            _write_atomically(folder / name, data)
            files = (*known.files, FileEntry(name, len(data), digest))
            updated = Publication(**{**known.__dict__, "files": files})
            _write_atomically(folder / PUBLICATION_FILE, _publication_json(updated))
        return updated

    def clip_path(self, case: str, name: str) -> Path:
        return self.case_folder(case) / CLIPS_DIR / name

    def begin_clip(self, case: str, name: str, size: int) -> tuple[Path, BinaryIO]:
        """A hidden file to receive clip ``name`` of stored ``case`` (``size`` bytes), and
        its path; 507 ``disk-full`` if it would not fit."""
        self.publication(case)  # 404 if the case is not stored
        self._check_room(size)
        partial = self.clip_path(case, f".{name}.part")
        partial.parent.mkdir(exist_ok=True)
        return partial, open(partial, "wb")

    def end_clip(self, case: str, name: str, partial: Path, entry: FileEntry,
                 received: int, digest: str) -> Publication:
        """Keep the clip received into ``partial`` if it is ``entry`` (size, SHA-256;
        422 ``corrupt-file`` and nothing kept if not); the updated publication record."""
        if received != entry.size or digest != entry.sha256:
            partial.unlink(missing_ok=True)
            raise LibraryError(f"the clip {name} arrived corrupt or cut short ({received} of "
                               f"{entry.size} bytes, SHA-256 {digest[:16]}...); it was not "
                               "kept, send it again", status=422, code="corrupt-file")
        with self._lock:
            known = self.publication(case)
            os.replace(partial, self.clip_path(case, name))
            _sync_folder(partial.parent)
            clips = (*(c for c in known.clips if c.name != name), entry)
            updated = Publication(**{**known.__dict__, "clips": clips})
            _write_atomically(self.case_folder(case) / PUBLICATION_FILE,
                              _publication_json(updated))
        return updated

    def stored_status(self, case: str) -> UploadStatus:
        known = self.publication(case)
        return UploadStatus(case=case, state=UploadState.STORED, files=tuple(
            FileProgress(name=f.name, size=f.size, received=f.size) for f in known.files))

    def status(self, case: str) -> UploadStatus:
        """How much of each file of ``case``'s upload is on disk (or ``stored``)."""
        if (self.case_folder(case) / PUBLICATION_FILE).exists():
            return self.stored_status(case)
        publication = self.publication(case, upload=True)
        folder = self.uploads_dir / case
        files = []
        for entry in publication.files:
            try:
                received = min((folder / entry.name).stat().st_size, entry.size)
            except FileNotFoundError:
                received = 0
            files.append(FileProgress(name=entry.name, size=entry.size, received=received))
        return UploadStatus(case=case, state=UploadState.UPLOADING, files=tuple(files))

    def open_chunk(self, case: str, name: str, offset: int, length: int) -> BinaryIO:
        """The upload file ``name`` opened at ``offset`` for ``length`` more bytes;
        409 ``wrong-offset`` if the server holds another amount (the client resumes from
        the status), 507 ``disk-full`` if the bytes would not fit."""
        if (self.case_folder(case) / PUBLICATION_FILE).exists():
            raise LibraryError("this case is already published", status=409, code="stored")
        entry = self.publication(case, upload=True).file(name)
        path = self.uploads_dir / case / name
        try:
            have = path.stat().st_size
        except FileNotFoundError:
            have = 0
        if offset != have:
            raise LibraryError(
                f"{name}: the library holds {have} bytes, the chunk starts at {offset}; "
                "resume from the upload's status", status=409, code="wrong-offset")
        if offset + length > entry.size:
            raise LibraryError(
                f"{name}: the chunk ends at byte {offset + length}, beyond the file's declared "
                f"size {entry.size}", status=400, code="too-long")
        self._check_room(length)
        file = open(path, "ab")
        if offset == 0:
            self._hashes[(case, name)] = _RunningHash()
        return file

    def write(self, case: str, name: str, file: BinaryIO, data: bytes | memoryview) -> None:
        """Append ``data``; :class:`LibraryError` 507 on a full disk (what was written of
        this chunk is cut off again by :meth:`cut_back`)."""
        try:
            file.write(data)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise LibraryError(_full_message(self.data_dir, len(data), self.min_free_bytes),
                                   status=507, code="disk-full") from exc
            raise
        running = self._hashes.get((case, name))
        if running is not None:
            running.digest.update(data)
            running.position += len(data)

    def cut_back(self, case: str, name: str, file: BinaryIO, offset: int) -> None:
        """Undo a chunk that failed (corrupt or disk full): the file ends at ``offset``."""
        try:
            file.flush()
        except OSError:
            pass
        try:
            os.truncate(file.fileno(), offset)
        except OSError:  # pragma: no cover - truncation to a smaller size does not fail
            logger.exception("cannot cut back %s of case %s", name, case)
        self._hashes.pop((case, name), None)

    def finish(self, case: str) -> Path:
        """Check every file, then move the case into ``cases/``; its folder. 409
        ``incomplete`` while bytes are missing, 422 ``corrupt-file`` (the file is dropped,
        so that a resumed publish sends it again) if a checksum does not match."""
        if (self.case_folder(case) / PUBLICATION_FILE).exists():
            return self.case_folder(case)
        publication = self.publication(case, upload=True)
        folder = self.uploads_dir / case
        status = self.status(case)
        short = [f"{f.name} ({f.size - f.received} bytes)" for f in status.files
                 if f.received < f.size]
        if short:
            raise LibraryError(f"the upload is missing bytes of {', '.join(short)}; send them "
                               "and finish again", status=409, code="incomplete")
        for entry in publication.files:
            digest = self._digest(case, folder / entry.name)
            if digest != entry.sha256:
                (folder / entry.name).unlink(missing_ok=True)
                raise LibraryError(
                    f"{entry.name} arrived corrupt: its SHA-256 is {digest[:16]}..., the "
                    f"publisher declared {entry.sha256[:16]}...; it was dropped, publish "
                    "again to send it anew", status=422, code="corrupt-file")
        named = logged_pictures(tolerant_events(folder / EVENTS_FILE)[0])
        unnamed = [f.name for f in publication.files
                   if is_shared_picture_file(f.name) and f.name not in named]
        if unnamed:
            raise LibraryError(
                f"{', '.join(unnamed)}: the case's {EVENTS_FILE} names no such shared "
                "picture, and a case holds only the pictures shared during it; it was not "
                "published", status=422, code="bad-file")
        return folder

    def store(self, case: str, publication: Publication) -> Path:
        """Record when ``case`` was published and move it into ``cases/`` (one rename)."""
        folder = self.uploads_dir / case
        _write_atomically(folder / PUBLICATION_FILE, _publication_json(publication))
        target = self.case_folder(case)
        with self._lock:
            if not target.exists():
                os.rename(folder, target)
                _sync_folder(self.cases_dir)
                _sync_folder(self.uploads_dir)
            else:
                shutil.rmtree(folder, ignore_errors=True)
            for key in [k for k in self._hashes if k[0] == case]:
                del self._hashes[key]
        return target

    def _digest(self, case: str, path: Path) -> str:
        running = self._hashes.pop((case, path.name), None)
        if running is not None and running.position == path.stat().st_size:
            return running.digest.hexdigest()
        return file_sha256(path)

    def drop_stale_uploads(self, older_than: float) -> list[str]:
        """Remove uploads nobody has added to for ``older_than`` seconds; their ids."""
        dropped = []
        cutoff = time.time() - older_than
        for folder in self.uploads_dir.iterdir():
            try:
                newest = max((p.stat().st_mtime for p in folder.iterdir()),
                             default=folder.stat().st_mtime)
            except OSError:
                continue
            if newest < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                dropped.append(folder.name)
        return dropped

    def _check_room(self, needed: int) -> None:
        free = shutil.disk_usage(self.data_dir).free
        if free - needed < self.min_free_bytes:
            raise LibraryError(_full_message(self.data_dir, needed, self.min_free_bytes, free),
                               status=507, code="disk-full")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while block := file.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _full_message(data_dir: Path, needed: int, keep: int, free: int | None = None) -> str:
    if free is None:
        free = shutil.disk_usage(data_dir).free
    return (
        f"the library's disk is full: {free / 1e6:.0f} MB free, this publish needs "
        f"{needed / 1e6:.0f} MB more and {keep / 1e6:.0f} MB are kept free. Every stored case "
        "is kept; ask the library's administrator to add space, then publish again (it "
        "resumes)."
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _publication_json(p: Publication) -> bytes:
    body: dict[str, Any] = {
        "version": 1,
        "case": p.case,
        "files": [{"name": f.name, "size": f.size, "sha256": f.sha256} for f in p.files],
        "collections": list(p.collections),
        "procedure": p.procedure,
        "publisher": p.publisher,
        "publisher_user": p.publisher_user,
        "created": p.created.isoformat(),
        "published_at": p.published_at.isoformat() if p.published_at else None,
        "clips": [{"name": f.name, "size": f.size, "sha256": f.sha256} for f in p.clips],
    }
    return (json.dumps(body, ensure_ascii=False, indent=1) + "\n").encode()


def _parse_publication(body: dict[str, Any]) -> Publication:
    return Publication(
        case=str(body["case"]),
        files=tuple(FileEntry(str(f["name"]), int(f["size"]), str(f["sha256"]))
                    for f in body["files"]),
        collections=tuple(str(c) for c in body["collections"]),
        procedure=str(body["procedure"]),
        publisher=str(body["publisher"]),
        publisher_user=str(body["publisher_user"]),
        created=dt.datetime.fromisoformat(body["created"]),
        published_at=(dt.datetime.fromisoformat(body["published_at"])
                      if body.get("published_at") else None),
        clips=tuple(FileEntry(str(f["name"]), int(f["size"]), str(f["sha256"]))
                    for f in body.get("clips", [])),
    )


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        with open(temporary, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise LibraryError(_full_message(path.parent, len(data), 0), status=507,
                               code="disk-full") from exc
        raise


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _recorded(name: str) -> bool:
    """Whether the file ``name`` is the recording itself (media, events), which a
    publish never replaces (chapters and thumbnail are beside it; pictures apart)."""
    return name not in (CHAPTERS_FILE, THUMBNAIL_FILE) and not is_shared_picture_file(name)


def names_served(publication: Publication, folder: Path) -> Iterable[str]:
    """The files of a stored case a watcher may fetch."""
    yield MANIFEST_FILE
    yield from (f.name for f in publication.files)
    if (folder / "thumbnail.jpg").exists() and all(
            f.name != "thumbnail.jpg" for f in publication.files):
        yield "thumbnail.jpg"
