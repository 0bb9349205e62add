"""The case's event log: one JSON object per line in ``events.jsonl``, append-only.

Every event has ``t``, capture-clock seconds (``time.time()``, the clock the sources stamp
``captured_at`` with, so an event lines up with the frame captured at the same moment),
and ``kind``; the rest of the object is the kind's data::

    {"t": 1714550523.418231, "kind": "chat", "author": "Dr Ana Lima", "text": "clip here"}

:class:`EventLog` never makes its caller wait for the disk. :meth:`EventLog.log` queues
the line; the log's thread writes it to the file at once (so a killed process loses no
logged event once the thread has run) and ``fsync`` s in batches, every ``sync_interval``
and immediately after chapters and the end of the recording (so a power loss loses at
most ``sync_interval``). :meth:`EventLog.flush` waits until everything logged so far is
on disk. :func:`read_events` reads a log back and tolerates the half-written last line a
crash can leave.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from surgery_teach.casefile.sealed_folder import folder_key, read_case_file
from surgery_teach.casefile.sealing import EVENTS_CHUNK_SHIFT, PlainSink, SealedFile
from surgery_teach.errors import RecordingError

logger = logging.getLogger("surgery_teach.recording")

EVENTS_FILE = "events.jsonl"
MAX_EVENT_BYTES = 256 * 1024


class EventKind(StrEnum):
    """What happened. Data fields by kind are documented on :class:`Recorder` methods."""

    RECORDING_START = "recording-start"
    RECORDING_STOP = "recording-stop"
    RECORDING_FAILED = "recording-failed"
    SOURCE_START = "source-start"  # a source's file got its first frame: file, clock_origin
    CHAPTER = "chapter"
    MARK = "mark"  # an annotation op: {"op": op_to_json(op)}
    BOARD = "board"  # the whole board replaced (undo/redo, rejoin, start): {"ops": [...], "seq"}
    FREEZE = "freeze"
    UNFREEZE = "unfreeze"
    CHAT = "chat"
    JOIN = "join"
    LEAVE = "leave"
    PRIVACY_PAUSE = "privacy-pause"  # the video was paused for privacy: by (name), who (id)
    PRIVACY_RESUME = "privacy-resume"  # and resumed: by, who
    # A picture was shared into the session (its bytes kept in the case folder as
    # ``file``): share (id), file, sha256, participant, name, role, description.
    SHARE_START = "share-start"
    SHARE_STOP = "share-stop"  # and no longer: share, participant, name


# Kinds after which the log is synced at once rather than with the next batch.
URGENT_KINDS = frozenset(
    {EventKind.CHAPTER, EventKind.RECORDING_STOP, EventKind.RECORDING_FAILED}
)
_RESERVED = frozenset({"t", "kind"})


@dataclass(frozen=True)
class Event:
    """One line of the log: when (capture clock, seconds), what, and the kind's data."""

    t: float
    kind: EventKind
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.t, int | float) or isinstance(self.t, bool) or not math.isfinite(
            self.t
        ):
            raise RecordingError(f"event time must be a finite number, got {self.t!r}")
        object.__setattr__(self, "t", float(self.t))
        try:
            object.__setattr__(self, "kind", EventKind(self.kind))
        except ValueError:
            allowed = ", ".join(k.value for k in EventKind)
            raise RecordingError(
                f"unknown event kind {self.kind!r}; use one of {allowed}"
            ) from None
        clash = _RESERVED & set(self.data)
        if clash:
            raise RecordingError(f"event data may not use the names {sorted(clash)}")


# -- one serialize, one parse ------------------------------------------------------------------


def event_to_json(event: Event) -> str:
    """One line of ``events.jsonl`` (without the newline): ``t`` and ``kind`` first."""
    body = {"t": round(event.t, 6), "kind": event.kind.value, **event.data}
    try:
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise RecordingError(f"{event.kind} event data is not plain JSON: {exc}") from exc
    if "\n" in text:  # json.dumps escapes newlines in strings; this is a guard
        raise RecordingError("an event line may not contain a newline")
    if len(text.encode()) > MAX_EVENT_BYTES:
        raise RecordingError(f"{event.kind} event is larger than {MAX_EVENT_BYTES} bytes")
    return text


def parse_event(line: str) -> Event:
    """The event on one line of ``events.jsonl``; :class:`RecordingError` if malformed."""
    try:
        body = json.loads(line)
    except ValueError as exc:
        raise RecordingError(f"not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise RecordingError(f"an event must be a JSON object, got {type(body).__name__}")
    for name in ("t", "kind"):
        if name not in body:
            raise RecordingError(f"event has no {name!r}")
    t, kind = body.pop("t"), body.pop("kind")
    if not isinstance(kind, str):
        raise RecordingError(f"event 'kind' must be a string, got {kind!r}")
    return Event(t, kind, body)  # type: ignore[arg-type]  # checked in __post_init__


@dataclass(frozen=True)
class EventLogContents:
    """What :func:`read_events` found; ``truncated`` if a half-written last line was dropped."""

    events: list[Event]
    truncated: bool = False


def read_events(path: Path) -> EventLogContents:
    """Read ``events.jsonl``; a damaged *last* line (a crash mid-write) is dropped.

    A damaged line anywhere else means the file was edited or the disk is failing: that
    raises :class:`RecordingError` naming the line.
    """
    try:
        raw = read_case_file(path)  # decrypted if the case is encrypted
    except OSError as exc:
        raise RecordingError(f"cannot read {path}: {exc}", str(path.parent)) from exc
    lines = raw.split(b"\n")
    # A complete log ends with a newline, so the last piece is empty; anything else is a
    # line the crash cut short (or NUL bytes: after a power loss the size can grow before
    # the data lands). An event counts once its newline is on disk.
    truncated = lines.pop() != b""
    events = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            events.append(parse_event(line.decode("utf-8")))
        except (RecordingError, UnicodeDecodeError) as exc:
            if number == len(lines) and line.strip(b"\0") == b"":
                truncated = True
                break
            raise RecordingError(f"{path}, line {number}: {exc}", str(path.parent)) from exc
    return EventLogContents(events, truncated)


# -- the writer --------------------------------------------------------------------------------


class EventLog:
    """Appends events to ``path`` from a thread of its own; never blocks the caller.

    Open with :meth:`open`, log from any thread, :meth:`close` at the end. A disk error
    stops the log and is handed once to ``on_error`` (from the log's thread); later
    events are dropped, so a full disk never raises into the live session.
    """

    def __init__(
        self,
        path: Path,
        *,
        sync_interval: float = 0.1,
        on_error: Callable[[OSError], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.sync_interval = sync_interval
        self.clock = clock
        self._on_error = on_error
        self._cond = threading.Condition()
        self._pending: list[str] = []
        self._urgent = False
        self._logged = 0  # lines accepted
        self._synced = 0  # lines on disk
        self._closing = False
        self._failed: OSError | None = None
        self._fd: int | None = None
        self._sealed: SealedFile | None = None  # in an encrypted case folder
        self._thread: threading.Thread | None = None

    @property
    def failed(self) -> OSError | None:
        return self._failed

    def open(self) -> None:
        """Create or append to the file and start the thread; raises ``OSError``.

        In an encrypted case folder the log is sealed as it is written (4 KiB chunks,
        each event on disk at once as before) and must be new; a locked folder raises
        :class:`~surgery_teach.errors.CaseLockedError`.
        """
        key = folder_key(self.path.parent)
        if key is not None:
            self._sealed = SealedFile(PlainSink(self.path), key,
                                      chunk_shift=EVENTS_CHUNK_SHIFT, name=self.path.name)
        else:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._thread = threading.Thread(target=self._run, name="recording events", daemon=True)
        self._thread.start()

    def log(self, kind: EventKind | str, *, t: float | None = None, **data: Any) -> Event:
        """Record that ``kind`` happened at ``t`` (default: now on the capture clock).

        Raises :class:`RecordingError` only for a programming error (unknown kind, data
        that is not plain JSON); never for the disk.
        """
        event = Event(self.clock() if t is None else t, kind, data)  # type: ignore[arg-type]
        self.append(event)
        return event

    def append(self, event: Event) -> None:
        line = event_to_json(event) + "\n"
        with self._cond:
            if self._closing or self._failed is not None:
                logger.debug("event log closed; dropped a %s event", event.kind)
                return
            self._pending.append(line)
            self._logged += 1
            self._urgent = self._urgent or event.kind in URGENT_KINDS
            self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Block until every event logged so far is on disk; ``False`` on timeout or error."""
        with self._cond:
            target = self._logged
            self._urgent = True
            self._cond.notify_all()
            self._cond.wait_for(
                lambda: self._synced >= target or self._failed is not None
                or self._thread is None or not self._thread.is_alive(),
                timeout,
            )
            return self._synced >= target

    def close(self, timeout: float | None = 5.0) -> None:
        """Write and sync what is pending, then stop the thread and close the file."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._sealed is not None:
            sealed, self._sealed = self._sealed, None
            sealed.close()  # the final chunk: a closed log is told from a cut one

    def _run(self) -> None:
        written = 0
        synced_at = time.monotonic()
        while True:
            with self._cond:
                due = None if written == self._synced else max(
                    0.0, synced_at + self.sync_interval - time.monotonic()
                )
                self._cond.wait_for(
                    lambda: bool(self._pending) or self._closing or self._urgent, due
                )
                lines, self._pending = self._pending, []
                urgent, self._urgent = self._urgent, False
                closing = self._closing
            try:
                if lines:  # written at once, so a killed process loses nothing logged
                    self._write("".join(lines).encode())
                    written += len(lines)
                now = time.monotonic()
                if written > self._synced and (
                    urgent or closing or now - synced_at >= self.sync_interval
                ):
                    self._sync()
                    synced_at = now
                    with self._cond:
                        self._synced = written
                        self._cond.notify_all()
            except OSError as exc:
                self._fail(exc)
                return
            if closing:
                with self._cond:
                    if not self._pending:
                        self._cond.notify_all()
                        return

    def _sync(self) -> None:
        if self._sealed is not None:
            self._sealed.sync()
        else:
            assert self._fd is not None
            os.fsync(self._fd)

    def _write(self, data: bytes) -> None:
        if self._sealed is not None:
            self._sealed.write(data)
            return
        assert self._fd is not None
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]

    def _fail(self, exc: OSError) -> None:
        logger.error("event log %s stopped: %s", self.path, exc)
        with self._cond:
            self._failed = exc
            self._pending.clear()
            self._cond.notify_all()
        if self._on_error is not None:
            self._on_error(exc)
