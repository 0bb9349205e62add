"""Room state on disk (``--state-dir``), so a restarted server gives rooms back.

One append-only journal per room, ``DIR/rooms/room-NAME.jsonl``: a header line, then one
JSON object per change (who joined or changed, chat, annotation ops; the entries of
:mod:`surgery_teach.protocol.room_journal`). Each line is written to the operating system
as it happens, so a crash of the server process loses nothing, and flushed to the disk
(``fsync``) once a second by :meth:`StateDir.sync`, so a power cut loses at most about a
second. A journal that grows past ``max_bytes`` is rewritten compacted (the room as it is
now: members, the last 200 chat messages, the board's marks); a room that closes (its last
participant left) has its file removed, as its memory is. On start the server loads every
journal; a line torn by a crash is dropped, a file that cannot be read is renamed
``*.bad`` and left for a person to look at.

The files hold chat text, display names and drawings: keep the directory private (it is
created readable by its owner only).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
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


class StateDir:
    """The journals of every room in one directory."""

    def __init__(self, path: Path, *, max_bytes: int = MAX_JOURNAL_BYTES) -> None:
        self.path = path
        self.rooms_path = path / "rooms"
        self.max_bytes = max_bytes
        self._fds: dict[str, int] = {}
        self._sizes: dict[str, int] = {}
        self._limits: dict[str, int] = {}
        self._dirty: set[str] = set()
        self._failed = False

    @classmethod
    def open(cls, path: Path, *, max_bytes: int = MAX_JOURNAL_BYTES) -> StateDir:
        """Use ``path`` (created if missing); ConfigError if it cannot be written."""
        state = cls(path, max_bytes=max_bytes)
        try:
            state.rooms_path.mkdir(parents=True, exist_ok=True, mode=0o700)
            probe = state.rooms_path / ".probe"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise ConfigError(
                f"cannot use the state directory {str(path)!r} ({exc.strerror or exc}); give "
                "--state-dir a folder this user may write, or leave it out to keep rooms in "
                "memory only"
            ) from exc
        return state

    def _file(self, room: str) -> Path:
        return self.rooms_path / f"{_PREFIX}{room}{_SUFFIX}"

    # -- reading at start -----------------------------------------------------------------

    def load(self) -> list[RoomState]:
        """Every room journal in the directory, read; unreadable ones are set aside."""
        states = []
        for file in sorted(self.rooms_path.glob(f"{_PREFIX}*{_SUFFIX}")):
            try:
                states.append(room_journal.read_state(_entries(file)))
            except (OSError, ProtocolError, ValueError) as exc:
                aside = file.with_suffix(".bad")
                logger.error("state file %s cannot be read (%s); moved to %s", file, exc, aside)
                with contextlib.suppress(OSError):
                    file.replace(aside)
        return states

    # -- writing --------------------------------------------------------------------------

    def record(self, room: str, entry: Entry) -> None:
        """Append one change of ``room`` (its file starts with a header)."""
        fd = self._fds.get(room)
        if fd is None:
            fd = self._start(room, [room_journal.header(room)])
            if fd is None:
                return
        self._write(room, fd, _line(entry))

    def closed(self, room: str) -> None:
        """``room`` closed: forget it on disk too."""
        fd = self._fds.pop(room, None)
        if fd is not None:
            os.close(fd)
        self._sizes.pop(room, None)
        self._limits.pop(room, None)
        self._dirty.discard(room)
        with contextlib.suppress(FileNotFoundError):
            self._file(room).unlink()

    def oversized(self) -> list[str]:
        """Rooms whose journal should be compacted now."""
        return [r for r, size in self._sizes.items() if size > self._limits.get(r, 0)]

    def rewrite(self, room: str, entries: list[Entry]) -> None:
        """Replace ``room``'s journal by ``entries`` (its state now), atomically."""
        old = self._fds.pop(room, None)
        if old is not None:
            os.close(old)
        self._dirty.discard(room)
        self._start(room, [room_journal.header(room), *entries], replace=True)

    def sync(self) -> None:
        """Flush the journals written since the last call to the disk."""
        for room in list(self._dirty):
            fd = self._fds.get(room)
            if fd is not None:
                try:
                    os.fsync(fd)
                except OSError as exc:
                    self._trouble(exc)
        self._dirty.clear()

    def close(self) -> None:
        self.sync()
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def _start(self, room: str, entries: list[Entry], *, replace: bool = False) -> int | None:
        """Write a new journal for ``room`` and keep it open for appending."""
        file = self._file(room)
        data = "".join(_line(e) for e in entries).encode("utf-8")
        try:
            if replace or not file.exists():
                temporary = file.with_suffix(".tmp")
                with open(temporary, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.chmod(temporary, 0o600)
                os.replace(temporary, file)
                _sync_directory(self.rooms_path)
            fd = os.open(file, os.O_WRONLY | os.O_APPEND)
        except OSError as exc:
            self._trouble(exc)
            return None
        self._fds[room] = fd
        self._sizes[room] = os.fstat(fd).st_size
        self._limits[room] = max(self.max_bytes, 2 * self._sizes[room])
        return fd

    def _write(self, room: str, fd: int, line: str) -> None:
        data = line.encode("utf-8")
        try:
            os.write(fd, data)  # to the operating system now: a crash of ours loses nothing
        except OSError as exc:
            self._trouble(exc)
            return
        self._sizes[room] = self._sizes.get(room, 0) + len(data)
        self._dirty.add(room)

    def _trouble(self, exc: OSError) -> None:
        if not self._failed:  # once: the server goes on with its rooms in memory
            self._failed = True
            logger.error(
                "cannot write room state in %s (%s); rooms are kept in memory only until "
                "this is fixed", self.path, exc.strerror or exc,
            )


def _line(entry: Entry) -> str:
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"


def _entries(file: Path) -> list[Entry]:
    """A journal's entries; a last line cut short by a crash is left out."""
    complete, _, torn = file.read_text(encoding="utf-8").rpartition("\n")
    if torn:  # every line is written with its newline in one go
        logger.warning("state file %s: dropped a last line cut short", file)
    return [json.loads(line) for line in complete.split("\n") if line]


def _sync_directory(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
