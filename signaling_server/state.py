"""Room state on disk (``--state-dir``), so a restarted server gives rooms back.

One append-only journal per room, ``DIR/rooms/room-NAME.jsonl``: a header line, then one
JSON object per change (who joined or changed, chat, annotation ops; the entries of
:mod:`surgery_teach.protocol.room_journal`), and ``DIR/bars.jsonl``, who a mentor removed
from which room until when (:class:`~surgery_teach.protocol.passes.Bars`).

The event loop never touches the disk while the server runs: it hands each line to one
writer thread, in order, and goes on. That thread writes each line to the operating
system as it comes (whole: a short write is continued), so a crash of the server process
loses at most the lines still queued (a few milliseconds' worth), and flushes the
journals to the disk (``fsync``) once a second when :meth:`StateDir.save` asks, so a power
cut loses at most about a second. A file system that stalls (an ``fsync`` can hold up
writes for seconds) then delays only that thread, never another room's messages. A
journal that grows past ``max_bytes`` is rewritten compacted (the room as it is now); one
whose append failed (disk full), or whose lines could not be queued because the disk fell
far behind, is written no further and rewritten from memory as soon as the disk allows,
so a half line or a lost entry never stays in it. A room that closes has its file
removed. On start the server loads every journal; a line torn by a crash or not
understood is skipped (and logged), a file without a valid header is renamed ``*.bad``.

Only one server may use a directory: :meth:`StateDir.open` locks ``DIR/server.lock``.
The files hold chat text, display names and drawings: keep the directory private (it is
created readable by its owner only).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import json
import logging
import os
import queue
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from surgery_teach.errors import ConfigError, ProtocolError
from surgery_teach.protocol import room_journal
from surgery_teach.protocol.room_journal import Entry, RoomState

logger = logging.getLogger("signaling_server")

MAX_JOURNAL_BYTES: Final = 4 * 1024 * 1024
"""A room's journal is compacted when it grows past this."""
MAX_QUEUED_BYTES: Final = 64 * 1024 * 1024
"""Lines waiting for the writer thread; beyond this a journal is rewritten later instead."""
SYNC_INTERVAL: Final = 1.0
"""Seconds between flushes of the journals to the disk."""
_PREFIX, _SUFFIX = "room-", ".jsonl"
BARS_HEADER: Final[Entry] = {"k": "bars", "v": 1}
Bar = tuple[str, str, float]
"""A removal: room, what is barred (``sub:...`` or ``jti:...``), until (Unix time)."""


class StateDirInUse(ConfigError):
    """Another server holds the state directory."""


@dataclass(eq=False)
class _Journal:
    """One journal file. The writer thread owns ``fd``, ``size`` and ``dirty``."""

    room: str | None  # None: the bars file
    path: Path
    limit: int
    fd: int | None = None
    size: int = 0
    dirty: bool = False
    stale: bool = False
    """An append failed (or was not queued): nothing more is appended until the file is
    rewritten."""
    rewriting: bool = False
    """A rewrite is queued: do not queue another."""
    closed: bool = False


@dataclass(eq=False)
class _Rewrite:
    journal: _Journal
    entries: list[Entry]


class StateDir:
    """The journals of every room in one directory, written by one thread of its own."""

    def __init__(self, path: Path, *, max_bytes: int = MAX_JOURNAL_BYTES) -> None:
        self.path = path
        self.rooms_path = path / "rooms"
        self.max_bytes = max_bytes
        self._journals: dict[str, _Journal] = {}
        self._bars: _Journal | None = None
        self._directory_dirty = False
        self._lock: int | None = None
        self._saving: asyncio.Future[None] | None = None
        self._jobs: queue.SimpleQueue[tuple[Callable[[], None], int] | None] = (
            queue.SimpleQueue())
        self._writer: threading.Thread | None = None
        self._queued = 0
        self._queued_lock = threading.Lock()

    @classmethod
    def open(cls, path: Path, *, max_bytes: int = MAX_JOURNAL_BYTES) -> StateDir:
        """Use and lock ``path`` (created if missing); ConfigError if it cannot be written,
        StateDirInUse if another server uses it."""
        state = cls(path, max_bytes=max_bytes)
        try:
            state.rooms_path.mkdir(parents=True, exist_ok=True, mode=0o700)
            state._lock = _take_lock(path / "server.lock")
            for temp in state.rooms_path.glob("*.tmp"):  # a rewrite cut short
                temp.unlink()
        except OSError as exc:
            raise ConfigError(
                f"cannot use the state directory {str(path)!r} ({exc.strerror or exc}); give "
                "--state-dir a folder this user may write, or leave it out to keep rooms in "
                "memory only"
            ) from exc
        return state

    # -- reading at start -----------------------------------------------------------------

    def load(self) -> list[RoomState]:
        """Every room journal in the directory, read; unreadable ones are set aside."""
        states = []
        for file in sorted(self.rooms_path.glob(f"{_PREFIX}*{_SUFFIX}")):
            try:
                states.append(room_journal.read_state(_entries(file), skip=_skipper(file)))
            except (OSError, ProtocolError, ValueError) as exc:
                aside = file.with_suffix(".bad")
                logger.error("state file %s cannot be read (%s); moved to %s", file, exc, aside)
                with contextlib.suppress(OSError):
                    file.replace(aside)
        return states

    def load_bars(self) -> list[Bar]:
        """The removals recorded in ``bars.jsonl`` (expired ones included)."""
        file = self.path / "bars.jsonl"
        bars: list[Bar] = []
        with contextlib.suppress(FileNotFoundError):
            for number, entry in enumerate(_entries(file), 1):
                try:
                    if entry.get("k") == "bar":
                        bars.append((str(entry["room"]), str(entry["key"]),
                                     float(entry["until"])))
                except (AttributeError, KeyError, TypeError, ValueError):
                    logger.warning("state file %s: skipped entry %d (not a bar)", file, number)
        return bars

    # -- recording (on the event loop: queued for the writer thread) ----------------------

    def record(self, room: str, entry: Entry) -> None:
        """Append one change of ``room`` (its file starts with a header)."""
        journal = self._journals.get(room)
        if journal is None:
            journal = self._journals[room] = _Journal(room, self._file(room), self.max_bytes)
            header = room_journal.encode(room_journal.header(room))
            self._submit(lambda: self._create(journal, header), len(header))
        self._queue_line(journal, room_journal.encode(entry))

    def bar(self, room: str, key: str, until: float) -> None:
        """Append one removal to ``bars.jsonl``."""
        if self._bars is None:
            bars = self._bars = _Journal(None, self.path / "bars.jsonl", self.max_bytes)
            header = room_journal.encode(BARS_HEADER)
            self._submit(lambda: self._create(bars, header), len(header))
        entry = {"k": "bar", "room": room, "key": key, "until": until}
        self._queue_line(self._bars, room_journal.encode(entry))

    def closed(self, room: str) -> None:
        """``room`` closed: forget it on disk too."""
        journal = self._journals.pop(room, None) or _Journal(room, self._file(room),
                                                             self.max_bytes)
        self._submit(lambda: self._remove(journal), 0)

    def due(self) -> list[str]:
        """Rooms whose journal should be rewritten now (too long, or an append failed)."""
        return [room for room, j in self._journals.items() if _due(j)]

    oversized = due

    def rewrite(self, room: str, entries: list[Entry]) -> None:
        """Replace ``room``'s journal by ``entries`` (its state now), and wait for it."""
        journal = self._journals.get(room)
        if journal is None:
            journal = self._journals[room] = _Journal(room, self._file(room), self.max_bytes)
        job = _Rewrite(journal, [room_journal.header(room), *entries])
        self._wait(lambda: self._work([job], flush=False))

    def rewrite_bars(self, bars: list[Bar]) -> None:
        """Replace ``bars.jsonl`` by ``bars``, and wait for it."""
        if self._bars is None:
            self._bars = _Journal(None, self.path / "bars.jsonl", self.max_bytes)
        job = _Rewrite(self._bars, [BARS_HEADER, *_bar_entries(bars)])
        self._wait(lambda: self._work([job], flush=False))

    # -- to the disk ----------------------------------------------------------------------

    async def save(self, room_entries: Callable[[str], list[Entry]],
                   bars: Callable[[], list[Bar]]) -> None:
        """Rewrite the journals that are due and flush all to the disk, in the writer
        thread. Cancelling the caller does not cut it short."""
        if self._saving is None or self._saving.done():
            self._saving = asyncio.ensure_future(self._save(room_entries, bars))
        await asyncio.shield(self._saving)

    async def _save(self, room_entries: Callable[[str], list[Entry]],
                    bars: Callable[[], list[Bar]]) -> None:
        jobs = []
        for room in self.due():  # the state now; what changes later is queued after it
            try:
                entries = room_entries(room)
            except Exception:
                logger.exception("cannot compact the state of room=%s", room)
                continue
            journal = self._journals[room]
            journal.rewriting = True
            jobs.append(_Rewrite(journal, [room_journal.header(room), *entries]))
        if self._bars is not None and _due(self._bars):
            self._bars.rewriting = True
            jobs.append(_Rewrite(self._bars, [BARS_HEADER, *_bar_entries(bars())]))
        done: Future[None] = Future()
        self._submit(lambda: _settle(done, lambda: self._work(jobs, flush=True)), 0)
        await asyncio.wrap_future(done)

    def sync(self) -> None:
        """Flush the journals written so far to the disk, and wait for it."""
        self._wait(lambda: self._work([], flush=True))

    def drain(self) -> None:
        """Wait until the writer thread has written everything recorded so far."""
        self._wait(lambda: None)

    async def aclose(self) -> None:
        """Wait for a save under way, then :meth:`close` (the waiting in a worker thread)."""
        if self._saving is not None:
            await asyncio.gather(self._saving, return_exceptions=True)
        await asyncio.to_thread(self.close)

    def close(self) -> None:
        self.sync()
        if self._writer is not None:
            self._jobs.put(None)
            self._writer.join()
            self._writer = None
        for journal in [*self._journals.values(), self._bars]:
            if journal is not None and journal.fd is not None:
                os.close(journal.fd)
                journal.fd = None
        self._journals.clear()
        self._bars = None
        if self._lock is not None:
            os.close(self._lock)  # releases the lock
            self._lock = None

    # -- the writer thread ----------------------------------------------------------------

    def _submit(self, job: Callable[[], None], size: int) -> None:
        if self._writer is None:
            self._writer = threading.Thread(target=self._write_jobs, name="state-dir",
                                            daemon=True)
            self._writer.start()
        with self._queued_lock:
            self._queued += size
        self._jobs.put((job, size))

    def _queue_line(self, journal: _Journal, data: bytes) -> None:
        if journal.stale:
            return  # rewritten from memory by the next save
        if self._queued > MAX_QUEUED_BYTES:
            if not journal.stale:
                logger.error("the disk is far behind (%d bytes waiting); state file %s will "
                             "be rewritten from memory", self._queued, journal.path)
            journal.stale = True
            return
        self._submit(lambda: self._append(journal, data), len(data))

    def _wait(self, job: Callable[[], None]) -> None:
        done: Future[None] = Future()
        self._submit(lambda: _settle(done, job), 0)
        done.result()

    def _write_jobs(self) -> None:
        while (item := self._jobs.get()) is not None:
            job, size = item
            try:
                job()
            except Exception:
                logger.exception("state directory: a write failed")
            finally:
                with self._queued_lock:
                    self._queued -= size

    def _file(self, room: str) -> Path:
        return self.rooms_path / f"{_PREFIX}{room}{_SUFFIX}"

    def _create(self, journal: _Journal, header: bytes) -> None:
        try:
            journal.fd = os.open(journal.path,
                                 os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
        except OSError as exc:
            self._failed(journal, exc)
            return
        self._directory_dirty = True
        self._append(journal, header)

    def _remove(self, journal: _Journal) -> None:
        journal.closed = True
        if journal.fd is not None:
            os.close(journal.fd)
            journal.fd = None
        with contextlib.suppress(FileNotFoundError):
            journal.path.unlink()

    def _append(self, journal: _Journal, data: bytes) -> None:
        if journal.stale or journal.fd is None or journal.closed:
            return  # rewritten from memory by the next save
        try:
            self._write_all(journal.fd, data)  # to the operating system: a crash loses nothing
        except OSError as exc:
            self._failed(journal, exc)
            return
        journal.size += len(data)
        journal.dirty = True

    def _write_all(self, fd: int, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            written = self._os_write(fd, view)
            if written <= 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            view = view[written:]

    def _os_write(self, fd: int, data: memoryview) -> int:
        """``os.write`` (a seam for tests)."""
        return os.write(fd, data)

    def _fsync(self, fd: int) -> None:
        """``os.fsync`` (a seam for tests)."""
        os.fsync(fd)

    def _failed(self, journal: _Journal, exc: OSError) -> None:
        if not journal.stale:
            logger.error(
                "cannot write state file %s (%s); its state is kept in memory and the file "
                "rewritten once the disk allows", journal.path, exc.strerror or exc,
            )
        journal.stale = True

    def _work(self, jobs: list[_Rewrite], *, flush: bool) -> None:
        """Rewrite ``jobs`` and, with ``flush``, flush every journal written since the
        last flush (the writer thread)."""
        for job in jobs:
            self._rewrite(job)
        if flush:
            # list() takes the loop's dict in one step (the loop may add to it meanwhile)
            for journal in [*list(self._journals.values()), self._bars]:
                if journal is None or not journal.dirty or journal.fd is None:
                    continue
                journal.dirty = False
                try:
                    self._fsync(journal.fd)
                except OSError as exc:
                    self._failed(journal, exc)  # what reached the disk is unknown: rewrite
        if self._directory_dirty:
            self._directory_dirty = False
            _sync_directory(self.rooms_path)
            _sync_directory(self.path)

    def _rewrite(self, job: _Rewrite) -> None:
        journal = job.journal
        journal.rewriting = False
        if journal.closed:
            return
        data = b"".join(room_journal.encode(e) for e in job.entries)
        temp = journal.path.with_name(f"{journal.path.name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                self._write_all(fd, data)
                self._fsync(fd)
            finally:
                os.close(fd)
            fd = os.open(temp, os.O_WRONLY | os.O_APPEND)
            try:
                os.replace(temp, journal.path)
            except OSError:
                os.close(fd)
                raise
        except OSError as exc:
            with contextlib.suppress(OSError):
                temp.unlink()
            self._failed(journal, exc)
            return
        if journal.fd is not None:
            os.close(journal.fd)
        if journal.stale:
            logger.info("state file %s written again", journal.path)
        journal.fd, journal.size, journal.stale, journal.dirty = fd, len(data), False, False
        journal.limit = max(self.max_bytes, 2 * journal.size)
        self._directory_dirty = True


def _settle(done: Future[None], job: Callable[[], None]) -> None:
    try:
        job()
    except BaseException as exc:
        done.set_exception(exc)
        raise
    done.set_result(None)


def _due(journal: _Journal) -> bool:
    return not journal.rewriting and (journal.stale or journal.size > journal.limit)


def _take_lock(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise StateDirInUse(
            f"--state-dir {str(path.parent)!r} is in use by another server (pid {holder}); "
            "stop that server, or give this one another folder"
        ) from None
    except OSError:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    return fd


def _bar_entries(bars: list[Bar]) -> list[Entry]:
    return [{"k": "bar", "room": room, "key": key, "until": until} for room, key, until in bars]


def _entries(file: Path) -> list[Entry]:
    """A journal's entries; a line cut short or garbled is skipped (and logged)."""
    complete, _, torn = file.read_bytes().rpartition(b"\n")
    if torn:
        logger.warning("state file %s: dropped a last line cut short", file)
    entries = []
    for number, line in enumerate(complete.split(b"\n"), 1):
        if not line:
            continue
        try:
            entries.append(json.loads(line))
        except ValueError:  # UnicodeDecodeError included
            if not entries:
                raise  # no header: not a journal of ours
            logger.warning("state file %s: skipped line %d (not JSON)", file, number)
    return entries


def _skipper(file: Path) -> Callable[[ProtocolError], None]:
    def skip(problem: ProtocolError) -> None:
        logger.warning("state file %s: skipped %s", file, problem.message)
    return skip


def _sync_directory(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
