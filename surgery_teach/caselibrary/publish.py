"""Publish a finished case folder to the hospital library, resuming after a dropped link.

:func:`publish_case` reads the folder's manifest, measures every file (size and SHA-256),
asks the library what it already holds of this case, and sends the rest in chunks, each
with its own SHA-256 so a chunk damaged on the way is refused at once. When the link
drops (or the server restarts) it asks again and carries on from the byte the server
last kept, for up to ``give_up_after`` seconds of trying. A case already in the library
is not sent again. The pictures shared during the case go with it (each
``shared-<id>.png`` or ``.jpg`` its event log names), so that students see them in their
stretches. Blocking: call from a worker thread; ``progress`` is called on it.

An encrypted case folder (:mod:`surgery_teach.casefile.sealed_folder`) is decrypted as it
is read and sent as plaintext over TLS: the library streams its cases to students, so it
keeps them readable (its disk is the hospital's to protect). Sizes and checksums are of
the plaintext. Without the case's key unlocked (:func:`unlock_case`) nothing is sent and
:class:`~surgery_teach.errors.CaseLockedError` says what is missing.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

from surgery_teach.casebook.case import tolerant_events
from surgery_teach.casebook.chapters import chapters_to_json, read_chapter_edits
from surgery_teach.casebook.shared_pictures import logged_pictures
from surgery_teach.casefile.events import EVENTS_FILE
from surgery_teach.casefile.keys import unlocked
from surgery_teach.casefile.layout import is_shared_picture_file
from surgery_teach.casefile.manifest import MANIFEST_FILE, RecordingState, parse_manifest
from surgery_teach.casefile.sealed_folder import folder_seal, open_case_file, read_case_file
from surgery_teach.casefile.sealing import SealedReader
from surgery_teach.caselibrary.connection import LibraryConnection
from surgery_teach.caselibrary.wire import (
    CHAPTERS_FILE,
    MAX_SHARED_PICTURES,
    THUMBNAIL_FILE,
    CaseSummary,
    FileEntry,
    PublishRequest,
    UploadState,
    UploadStatus,
    parse_case_summary,
    parse_upload_status,
    publish_request_to_json,
)
from surgery_teach.errors import CaseKeyError, LibraryError, RecordingError

CHUNK_BYTES: Final = 32 << 20
CHUNK_HEADER: Final = "X-Chunk-SHA256"
STILL_RECORDING_WITHIN: Final = 30.0  # a manifest saying "recording" this fresh is live
_READ_BLOCK: Final = 4 << 20
_MAX_CORRUPT: Final = 3
_RETRY_CODES: Final = frozenset({"unreachable", "wrong-offset", "corrupt-chunk",
                                 "corrupt-file"})


class Phase(StrEnum):
    CHECKING = "checking"  # reading the files for their checksums
    SENDING = "sending"
    WAITING = "waiting"  # the link dropped; trying again
    FINISHING = "finishing"  # the library checks and indexes the case
    DONE = "done"


@dataclass(frozen=True)
class PublishProgress:
    phase: Phase
    done: int  # bytes checked or held by the library
    total: int
    file: str = ""
    note: str = ""  # why we wait, in plain words


@dataclass(frozen=True)
class PublishResult:
    case: CaseSummary
    sent: int  # bytes sent by this run (0 when the library had it all)
    already_stored: bool
    seconds: float
    resumed: int  # times the link dropped and the publish carried on
    chapters_updated: bool = False  # already stored, and its chapters now are this copy's
    pictures_added: int = 0  # already stored without pictures shared during it: now with


Progress = Callable[[PublishProgress], None]


def unlock_case(folder: Path, passphrase: str | None = None) -> bool:
    """Make sure this process can decrypt the case in ``folder``; whether it is encrypted.

    With ``passphrase`` it is tried on the case
    (:class:`~surgery_teach.errors.WrongPassphraseError` if it does not open it); without,
    the keys already unlocked, ``SURGERY_TEACH_CASE_PASSPHRASE`` and the keyring are
    looked in (:class:`~surgery_teach.errors.CaseLockedError` if none has the key). Either
    error comes before anything is read or sent.
    """
    try:
        seal = folder_seal(folder)
    except RecordingError as exc:
        raise LibraryError(f"cannot tell whether {folder} is encrypted: {exc}",
                           code="not-a-case") from exc
    if seal is None:
        return False
    key_id, kdf = seal
    if passphrase and kdf is not None and unlocked().find(key_id, kdf) is None:
        unlocked().unlock(passphrase, key_id, kdf, str(folder))
    unlocked().require(key_id, kdf, str(folder))
    return True


def case_files(folder: Path) -> tuple[str, list[Path]]:
    """The manifest's text and the other files a publish sends (the event log, media,
    each picture shared during the case that its event log names and the folder holds,
    chapter edits, thumbnail); :class:`LibraryError` with the fix if ``folder`` is not a
    case that can be published (:class:`~surgery_teach.errors.CaseKeyError` if it is
    encrypted and locked)."""
    try:
        text = read_case_file(folder / MANIFEST_FILE).decode("utf-8")
        manifest = parse_manifest(text)
    except FileNotFoundError:
        raise LibraryError(f"{folder} holds no {MANIFEST_FILE}: choose a case folder made by "
                           "the recorder", code="not-a-case") from None
    except CaseKeyError:
        raise
    except (OSError, UnicodeDecodeError, RecordingError) as exc:
        raise LibraryError(f"cannot read the case in {folder}: {exc}", code="not-a-case") from exc
    media = [s.file for s in manifest.sources]
    if manifest.audio is not None:
        media.append(manifest.audio.file)
    pictures = list(logged_pictures(tolerant_events(folder / EVENTS_FILE)[0]))
    paths = [folder / name for name in (EVENTS_FILE, *media, *pictures, CHAPTERS_FILE,
                                        THUMBNAIL_FILE)]
    paths = [p for p in paths if p.is_file()]
    if not any(p.name in media for p in paths):
        raise LibraryError(f"{folder}: none of the media files its manifest names is there; "
                           "nothing would play", code="no-media")
    if len(pictures) > MAX_SHARED_PICTURES:
        raise LibraryError(f"{folder}: {len(pictures)} pictures were shared during this "
                           f"case; the library takes at most {MAX_SHARED_PICTURES}",
                           code="too-many-pictures")
    if manifest.state is RecordingState.RECORDING:
        newest = max(p.stat().st_mtime for p in [folder / MANIFEST_FILE, *paths])
        if time.time() - newest < STILL_RECORDING_WITHIN:
            raise LibraryError(f"{folder} is still being recorded; publish it once the "
                               "recording has stopped", code="still-recording")
    return text, paths


def measure(paths: Sequence[Path], progress: Progress | None = None) -> list[FileEntry]:
    """Size and SHA-256 of each file's plaintext (reads them once; an encrypted file's
    size on disk is a little larger, so ``total`` is an estimate until the end)."""
    total = sum(p.stat().st_size for p in paths)
    done = 0
    entries = []
    for path in paths:
        digest = hashlib.sha256()
        size = 0
        with open_case_file(path) as file:
            while block := file.read(_READ_BLOCK):
                digest.update(block)
                size += len(block)
                done += len(block)
                if progress:
                    progress(PublishProgress(Phase.CHECKING, done, total, path.name))
            _refuse_damaged(file, path)
        entries.append(FileEntry(path.name, size, digest.hexdigest()))
    return entries


def publish_case(
    folder: Path, connection: LibraryConnection, *, collections: Sequence[str] = (),
    procedure: str = "", progress: Progress | None = None, give_up_after: float = 300.0,
    chunk_bytes: int = CHUNK_BYTES, sleep: Callable[[float], None] = time.sleep,
    passphrase: str | None = None,
) -> PublishResult:
    """Publish the case in ``folder``; its summary as the library lists it.

    Raises :class:`LibraryError` when the library refuses (no right to publish, a damaged
    manifest, a full disk: the message says which) or stays unreachable for
    ``give_up_after`` seconds; running it again resumes. An encrypted case needs its key
    (``passphrase``, or one already unlocked): :class:`~surgery_teach.errors.CaseKeyError`
    otherwise, before anything is sent.
    """
    started = time.monotonic()
    unlock_case(folder, passphrase)
    manifest_text, paths = case_files(folder)
    entries = measure(paths, progress)
    body = publish_request_to_json(PublishRequest(
        manifest=manifest_text, files=tuple(entries), collections=tuple(collections),
        procedure=procedure))
    run = _Run(folder, connection, sum(e.size for e in entries), chunk_bytes, progress)
    corrupt = 0
    trying_since: float | None = None
    with run.chunks:
        while True:
            try:
                status = parse_upload_status(connection.request(
                    "POST", "/publish", body=body,
                    headers={"Content-Type": "application/json"})[2])
                if status.state is UploadState.STORED:
                    summary = _summary(connection, status.case)
                    with_pictures, added = _carry_pictures(folder, connection, summary,
                                                           entries)
                    updated = _carry_chapters(folder, connection, with_pictures)
                    return PublishResult(updated or with_pictures, run.sent,
                                         already_stored=run.sent == 0 and run.resumed == 0,
                                         seconds=time.monotonic() - started,
                                         resumed=run.resumed,
                                         chapters_updated=updated is not None,
                                         pictures_added=added)
                run.send_missing(status)
                run.report(Phase.FINISHING, run.total)
                _, _, answer = connection.request("POST", f"/uploads/{status.case}/finish")
                run.report(Phase.DONE, run.total)
                return PublishResult(parse_case_summary(answer), run.sent,
                                     already_stored=False, seconds=time.monotonic() - started,
                                     resumed=run.resumed)
            except LibraryError as exc:
                if exc.code not in _RETRY_CODES:
                    raise
                corrupt += exc.code in ("corrupt-chunk", "corrupt-file")
                if corrupt > _MAX_CORRUPT:
                    raise LibraryError(f"{exc} (again and again: is the disk or the link "
                                       "damaging data?)", status=exc.status,
                                       code=exc.code) from exc
                now = time.monotonic()
                if run.progressed:
                    trying_since, run.progressed = None, False
                trying_since = trying_since or now
                if now - trying_since > give_up_after:
                    raise LibraryError(f"{exc} (gave up after {give_up_after:.0f} s; publish "
                                       "again later, it resumes)", status=exc.status,
                                       code=exc.code) from exc
                run.resumed += 1
                run.report(Phase.WAITING, 0, note=str(exc))
                if exc.code == "unreachable":
                    sleep(min(5.0, 0.25 * 2 ** min(run.resumed, 5)))
                # then ask the library what it holds, and carry on from there


class _Run:
    """One publish's sending: what was sent, how often it resumed, the progress calls."""

    def __init__(self, folder: Path, connection: LibraryConnection, total: int,
                 chunk_bytes: int, progress: Progress | None) -> None:
        self.folder, self.connection, self.total = folder, connection, total
        self.chunk_bytes, self.progress = chunk_bytes, progress
        self.chunks = _Chunks()
        self.sent = 0  # bytes of chunks the library confirmed
        self.resumed = 0
        self.progressed = False  # a chunk went through since the last failure

    def report(self, phase: Phase, done: int, file: str = "", note: str = "") -> None:
        if self.progress is not None:
            self.progress(PublishProgress(phase, done, self.total, file, note))

    def send_missing(self, status: UploadStatus) -> None:
        """Send every byte the library lacks, file by file, chunk by chunk."""
        held = {f.name: f.received for f in status.files}
        for item in status.files:
            path = self.folder / item.name
            offset = item.received
            while offset < item.size:
                self.report(Phase.SENDING, sum(held.values()), item.name)
                length = min(self.chunk_bytes, item.size - offset)
                after = offset + length
                data, digest = self.chunks.get(path, offset, length, following=(
                    (path, after, min(self.chunk_bytes, item.size - after))
                    if after < item.size else None))
                self.connection.request(
                    "PUT", f"/uploads/{status.case}/files/{path.name}?offset={offset}",
                    body=data, headers={"Content-Type": "application/octet-stream",
                                        CHUNK_HEADER: digest})
                offset = held[item.name] = after
                self.sent += length
                self.progressed = True


def _read_chunk(path: Path, offset: int, length: int) -> tuple[bytes, str]:
    """``length`` plaintext bytes of ``path`` from ``offset`` (decrypted if sealed)."""
    with open_case_file(path) as file:
        file.seek(offset)
        data = file.read(length)
        while data is not None and 0 < len(data) < length:
            more = file.read(length - len(data))
            if not more:
                break
            data += more
        _refuse_damaged(file, path)
    if data is None or len(data) != length:
        raise LibraryError(f"{path} changed while it was published (it is shorter now); "
                           "publish a finished case", code="changed")
    return data, hashlib.sha256(data).hexdigest()


def _refuse_damaged(file: object, path: Path) -> None:
    """An encrypted file reads a damaged chunk as zeros (so the player skips it): the
    library must not keep those zeros as if they were the recording."""
    if not isinstance(file, SealedReader) or not file.check.damaged:
        return
    damaged = file.check.damaged
    at_mb = damaged[0] * file.header.chunk_size // (1 << 20)
    raise LibraryError(
        f"{path.name} of the case in {path.parent} is damaged on this computer's disk "
        f"({len(damaged)} part(s) failed their integrity check, the first at {at_mb} MB); "
        "it is not published, so the library holds no damaged copy. Restore the case "
        "folder from a backup and publish it again", code="damaged-file")


class _Chunks:
    """Chunks read and hashed on a thread of their own, the next while this one is sent."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="publish-read")
        self._next: tuple[tuple[Path, int, int], Future[tuple[bytes, str]]] | None = None

    def get(self, path: Path, offset: int, length: int,
            following: tuple[Path, int, int] | None) -> tuple[bytes, str]:
        ahead, self._next = self._next, None
        if ahead is not None and ahead[0] == (path, offset, length):
            chunk = ahead[1].result()
        else:
            chunk = _read_chunk(path, offset, length)
        if following is not None:
            self._next = (following, self._pool.submit(_read_chunk, *following))
        return chunk

    def __enter__(self) -> _Chunks:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _carry_pictures(folder: Path, connection: LibraryConnection, stored: CaseSummary,
                    entries: Sequence[FileEntry]) -> tuple[CaseSummary, int]:
    """A case published before it carried the pictures shared during it (or from a copy
    that lacked some): the library's copy gets each one this copy holds and it lacks, so
    students see them. Its summary then, and how many were added."""
    held = {f.name for f in stored.files}
    added = 0
    for entry in entries:
        if not is_shared_picture_file(entry.name) or entry.name in held:
            continue
        data = read_case_file(folder / entry.name)
        _, _, answer = connection.request(
            "PUT", f"/cases/{stored.id}/pictures/{entry.name}", body=data,
            headers={"Content-Type": "application/octet-stream"})
        stored, added = parse_case_summary(answer), added + 1
    return stored, added


def _carry_chapters(folder: Path, connection: LibraryConnection,
                    stored: CaseSummary) -> CaseSummary | None:
    """A case published before whose chapters were edited here since: the library's copy
    gets this copy's chapter list (the recording itself is never replaced); its summary
    then, or None when the chapters were the same (or never edited here)."""
    try:
        edits = read_chapter_edits(folder)
    except RecordingError:
        return None  # a damaged chapters.json was measured and sent as it is
    if edits is None:
        return None
    if [(c.title, round(c.time, 3)) for c in edits] == [
            (title, round(time_, 3)) for title, time_ in stored.chapters]:
        return None
    _, _, answer = connection.request(
        "PUT", f"/cases/{stored.id}/chapters", body=chapters_to_json(edits).encode("utf-8"),
        headers={"Content-Type": "application/json"})
    return parse_case_summary(answer)


def _summary(connection: LibraryConnection, case: str) -> CaseSummary:
    return parse_case_summary(connection.request("GET", f"/cases/{case}")[2])

