"""Room state on disk (``--state-dir``), so a restarted server gives rooms back.

One append-only journal per room, ``DIR/rooms/room-NAME.jsonl``: a header line, then one
JSON object per change (who joined or changed, chat, annotation ops; the entries of
:mod:`surgery_teach.protocol.room_journal`), and ``DIR/bars.jsonl``, who a mentor removed
from which room until when (:class:`~surgery_teach.protocol.passes.Bars`). Each line is
written to the operating system as it happens (whole: a short write is continued), so a
crash of the server process loses nothing, and flushed to the disk (``fsync``) once a
second by :meth:`StateDir.save` in a worker thread, so a power cut loses at most about a
second and the event loop (in the desktop app, the GUI's) never waits on the disk. A
journal that grows past ``max_bytes`` is rewritten compacted (the room as it is now); one
whose append failed (disk full) is written no further and rewritten from memory as soon
as the disk allows, so a half line or a lost entry never stays in it. A room that closes
has its file removed. On start the server loads every journal; a line torn by a crash or
not understood is skipped (and logged), a file without a valid header is renamed ``*.bad``.

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
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from surgery_teach.errors import ConfigError, ProtocolError
from surgery_teach.protocol import room_journal
from surgery_teach.protocol.room_journal import Entry, RoomState

logger = logging.getLogger("signaling_server")

MAX_JOURNAL_BYTES: Final = 4 * 1024 * 1024
"""A room's journal is compacted when it grows past this."""
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
    """One open journal file."""

    room: str | None  # None: the bars file
    path: Path
    limit: int
    fd: int | None = None
    size: int = 0
    dirty: bool = False
    stale: bool = False
    """An append failed: nothing more is appended until the file is rewritten."""
    held: list[bytes] | None = None
    """Lines recorded while a rewrite is under way, appended after it."""


@dataclass(eq=False)
class _Rewrite:
    journal: _Journal
    data: bytes
    temp: Path
    error: OSError | None = None


@dataclass
class _Flush:
    fds: list[tuple[_Journal, int]] = field(default_factory=list)
    directory: bool = False
    failed: list[tuple[_Journal, OSError]] = field(default_factory=list)


class StateDir:
    """The journals of every room in one directory."""

    def __init__(self, path: Path, *, max_bytes: int = MAX_JOURNAL_BYTES) -> None:
        self.path = path
        self.rooms_path = path / "rooms"
        self.max_bytes = max_bytes
        self._journals: dict[str, _Journal] = {}
        self._bars: _Journal | None = None
        self._directory_dirty = False
        self._lock: int | None = None
        self._saving: asyncio.Future[None] | None = None

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

    # -- writing (on the event loop: to the operating system only) ------------------------

    def record(self, room: str, entry: Entry) -> None:
        """Append one change of ``room`` (its file starts with a header)."""
        journal = self._journals.get(room)
        if journal is None:
            journal = self._journals[room] = self._create(
                room, self._file(room), room_journal.header(room))
        self._append(journal, _line(entry))

    def bar(self, room: str, key: str, until: float) -> None:
        """Append one removal to ``bars.jsonl``."""
        if self._bars is None:
            self._bars = self._create(None, self.path / "bars.jsonl", BARS_HEADER)
        self._append(self._bars, _line({"k": "bar", "room": room, "key": key, "until": until}))

    def closed(self, room: str) -> None:
        """``room`` closed: forget it on disk too."""
        journal = self._journals.pop(room, None)
        if journal is not None and journal.fd is not None:
            os.close(journal.fd)
        with contextlib.suppress(FileNotFoundError):
            self._file(room).unlink()

    def due(self) -> list[str]:
        """Rooms whose journal should be rewritten now (too long, or an append failed)."""
        return [room for room, j in self._journals.items() if _due(j)]

    oversized = due

    def rewrite(self, room: str, entries: list[Entry]) -> None:
        """Replace ``room``'s journal by ``entries`` (its state now), atomically, now."""
        journal = self._journals.get(room)
        if journal is None:
            journal = self._journals[room] = _Journal(room, self._file(room), self.max_bytes)
        job = self._begin(journal, [room_journal.header(room), *entries])
        self._work([job], _Flush())
        self._finish([job])

    def rewrite_bars(self, bars: list[Bar]) -> None:
        """Replace ``bars.jsonl`` by ``bars``, now."""
        if self._bars is None:
            self._bars = _Journal(None, self.path / "bars.jsonl", self.max_bytes)
        job = self._begin(self._bars, [BARS_HEADER, *_bar_entries(bars)])
        self._work([job], _Flush())
        self._finish([job])

    # -- to the disk (in a worker thread) -------------------------------------------------

    async def save(self, room_entries: Callable[[str], list[Entry]],
                   bars: Callable[[], list[Bar]]) -> None:
        """Rewrite the journals that are due and flush all to the disk; the disk work runs
        in a worker thread. Cancelling the caller does not cut it short."""
        if self._saving is None or self._saving.done():
            self._saving = asyncio.ensure_future(self._save(room_entries, bars))
        await asyncio.shield(self._saving)

    async def _save(self, room_entries: Callable[[str], list[Entry]],
                    bars: Callable[[], list[Bar]]) -> None:
        jobs = []
        for room in self.due():
            try:
                entries = room_entries(room)
            except Exception:
                logger.exception("cannot compact the state of room=%s", room)
                continue
            jobs.append(self._begin(self._journals[room], [room_journal.header(room), *entries]))
        if self._bars is not None and _due(self._bars):
            jobs.append(self._begin(self._bars, [BARS_HEADER, *_bar_entries(bars())]))
        flush = self._to_flush()
        try:
            await asyncio.to_thread(self._work, jobs, flush)
        finally:
            self._finish(jobs)
            self._flushed(flush)

    def sync(self) -> None:
        """Flush the journals written since the last call to the disk, now."""
        flush = self._to_flush()
        self._work([], flush)
        self._flushed(flush)

    async def aclose(self) -> None:
        """Wait for a save under way, then :meth:`close`."""
        if self._saving is not None:
            await asyncio.gather(self._saving, return_exceptions=True)
        self.close()

    def close(self) -> None:
        self.sync()
        for journal in [*self._journals.values(), self._bars]:
            if journal is not None and journal.fd is not None:
                os.close(journal.fd)
                journal.fd = None
        self._journals.clear()
        self._bars = None
        if self._lock is not None:
            os.close(self._lock)  # releases the lock
            self._lock = None

    # -- inside ---------------------------------------------------------------------------

    def _file(self, room: str) -> Path:
        return self.rooms_path / f"{_PREFIX}{room}{_SUFFIX}"

    def _create(self, room: str | None, path: Path, header: Entry) -> _Journal:
        journal = _Journal(room, path, self.max_bytes)
        try:
            journal.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND,
                                 0o600)
        except OSError as exc:
            self._failed(journal, exc)
            return journal
        self._directory_dirty = True
        self._append(journal, _line(header))
        return journal

    def _append(self, journal: _Journal, data: bytes) -> None:
        if journal.held is not None:
            journal.held.append(data)
            return
        if journal.stale or journal.fd is None:
            return  # rewritten from memory by the next save
        try:
            self._write_all(journal.fd, data)  # to the operating system: a crash loses nothing
        except OSError as exc:
            self._failed(journal, exc)
            return
        journal.size += len(data)
        journal.dirty = True

    def _write_all(self, fd: int, data: bytes) -> None:
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

    def _begin(self, journal: _Journal, entries: list[Entry]) -> _Rewrite:
        """Start rewriting ``journal`` (on the loop): lines recorded meanwhile are held."""
        journal.held = []
        data = b"".join(_line(e) for e in entries)
        temp = journal.path.with_name(f"{journal.path.name}.{secrets.token_hex(4)}.tmp")
        return _Rewrite(journal, data, temp)

    def _work(self, jobs: list[_Rewrite], flush: _Flush) -> None:
        """The disk work of a save: any thread; touches no state but the jobs and flush."""
        for job in jobs:
            try:
                fd = os.open(job.temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                try:
                    self._write_all(fd, job.data)
                    self._fsync(fd)
                finally:
                    os.close(fd)
            except OSError as exc:
                job.error = exc
                with contextlib.suppress(OSError):
                    job.temp.unlink()
        for journal, fd in flush.fds:
            try:
                self._fsync(fd)
            except OSError as exc:
                flush.failed.append((journal, exc))
            finally:
                os.close(fd)
        if flush.directory:
            _sync_directory(self.rooms_path)
            _sync_directory(self.path)

    def _finish(self, jobs: list[_Rewrite]) -> None:
        """Put rewritten files in place (on the loop) and append what was held."""
        for job in jobs:
            journal = job.journal
            held, journal.held = journal.held or [], None
            current = self._bars if journal.room is None else self._journals.get(journal.room)
            if current is not journal:  # the room closed meanwhile
                with contextlib.suppress(OSError):
                    job.temp.unlink()
                continue
            try:
                if job.error is not None:
                    raise job.error
                fd = os.open(job.temp, os.O_WRONLY | os.O_APPEND)
                try:
                    os.replace(job.temp, journal.path)
                except OSError:
                    os.close(fd)
                    raise
            except OSError as exc:
                with contextlib.suppress(OSError):
                    job.temp.unlink()
                self._failed(journal, exc)
                continue
            if journal.fd is not None:
                os.close(journal.fd)
            if journal.stale:
                logger.info("state file %s written again", journal.path)
            journal.fd, journal.size, journal.stale = fd, len(job.data), False
            journal.limit = max(self.max_bytes, 2 * journal.size)
            self._directory_dirty = True
            for data in held:
                self._append(journal, data)

    def _to_flush(self) -> _Flush:
        """Duplicates of the descriptors written since the last flush: the loop may close
        its own meanwhile."""
        flush = _Flush(directory=self._directory_dirty)
        self._directory_dirty = False
        for journal in [*self._journals.values(), self._bars]:
            if journal is not None and journal.dirty and journal.fd is not None:
                try:
                    flush.fds.append((journal, os.dup(journal.fd)))
                    journal.dirty = False
                except OSError:
                    pass  # no descriptor to spare now: next time
        return flush

    def _flushed(self, flush: _Flush) -> None:
        for journal, exc in flush.failed:
            self._failed(journal, exc)  # what reached the disk is unknown: rewrite it


def _due(journal: _Journal) -> bool:
    return journal.held is None and (journal.stale or journal.size > journal.limit)


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


def _line(entry: Entry) -> bytes:
    text = json.dumps(entry, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return f"{text}\n".encode()


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
