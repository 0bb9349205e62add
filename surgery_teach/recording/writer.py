"""A worker thread per recorded file: the asyncio loop hands over, the thread writes.

:meth:`WriterThread.offer` is called on the loop and never blocks. If the disk falls so
far behind that ``max_queued`` items wait, new video is dropped until the next keyframe
(which is requested at once), so the file shows a short freeze instead of the session
stalling or memory growing. A failed write ends the thread and is reported once through
``on_error``; the file is closed so what reached it stays playable.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from surgery_teach.errors import DiskFullError, RecordingError

logger = logging.getLogger("surgery_teach.recording")

ItemT = TypeVar("ItemT")


class DiskSpaceGuard:
    """Stops a recording *before* the disk is full, while files can still be closed
    cleanly (their index written) and the manifest updated.

    :meth:`check` raises :class:`DiskFullError` when less than ``min_free`` bytes are
    left; it looks at the disk at most every ``interval`` seconds (any thread).
    """

    def __init__(self, folder: Path, min_free: int, *, interval: float = 2.0) -> None:
        self.folder = folder
        self.min_free = min_free
        self.interval = interval
        self._checked_at = -interval
        self._lock = threading.Lock()

    def free(self) -> int | None:
        try:
            return shutil.disk_usage(self.folder).free
        except OSError:
            return None

    def check(self) -> None:
        if self.min_free <= 0:
            return
        now = time.monotonic()
        with self._lock:
            if now - self._checked_at < self.interval:
                return
            self._checked_at = now
        free = self.free()
        if free is not None and free < self.min_free:
            raise DiskFullError(str(self.folder), free)


@dataclass
class WriterCounts:
    written: int = 0
    dropped: int = 0


class WriterThread(Generic[ItemT]):
    """Writes items with ``write(item)`` on its own thread, then ``close()``.

    ``on_error(exc)`` is called once, from this thread, with the ``OSError`` or
    :class:`RecordingError` that stopped it. ``request_keyframe`` is called (from the
    loop) when video had to be dropped.
    """

    def __init__(
        self,
        name: str,
        *,
        write: Callable[[ItemT], object],
        close: Callable[[], None],
        on_error: Callable[[BaseException], None],
        guard: DiskSpaceGuard | None = None,
        max_queued: int = 300,
        request_keyframe: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self.counts = WriterCounts()
        self._write = write
        self._close = close
        self._on_error = on_error
        self._guard = guard
        self._max_queued = max_queued
        self._request_keyframe = request_keyframe
        self._queue: deque[ItemT | None] = deque()
        self._cond = threading.Condition()
        self._skipping = False
        self._done = False
        self._thread = threading.Thread(target=self._run, name=f"recording {name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def offer(self, item: ItemT, *, keyframe: bool = True) -> None:
        """Queue ``item`` (loop thread; never blocks, never raises)."""
        with self._cond:
            if self._done:
                return
            if self._skipping and not keyframe:
                self.counts.dropped += 1
                return
            if len(self._queue) >= self._max_queued:
                self.counts.dropped += 1
                self._skipping = True
                logger.warning("recording %s: disk too slow, dropping until a keyframe",
                               self.name)
                if self._request_keyframe is not None:
                    self._request_keyframe()
                return
            self._skipping = False
            self._queue.append(item)
            self._cond.notify()

    def finish(self) -> None:
        """Write what is queued, close the file and end the thread (any thread)."""
        with self._cond:
            if not self._done:
                self._done = True
                self._queue.append(None)
                self._cond.notify()

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def queued(self) -> int:
        return len(self._queue)

    def _run(self) -> None:
        error: BaseException | None = None
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._queue))
                item = self._queue.popleft()
            if item is None:
                break
            try:
                if self._guard is not None:
                    self._guard.check()
                self._write(item)
                self.counts.written += 1
            except (OSError, RecordingError) as exc:
                error = exc
                break
            except Exception as exc:  # the thread's boundary: report, never die silently
                logger.exception("recording %s failed", self.name)
                error = RecordingError(f"recording {self.name} failed: {exc!r}")
                break
        with self._cond:
            self._done = True
            self._queue.clear()
        try:
            self._close()
        except (OSError, RecordingError) as exc:
            error = error or exc
        except Exception as exc:
            logger.exception("closing %s failed", self.name)
            error = error or RecordingError(f"closing {self.name} failed: {exc!r}")
        if error is not None:
            logger.error("recording %s stopped: %s", self.name, error)
            self._on_error(error)


def join_all(threads: Sequence[WriterThread[Any]], timeout: float) -> None:
    """Wait for each writer thread to finish (at most ``timeout`` each); log the late."""
    for thread in threads:
        if not thread.join(timeout):
            logger.error("recording thread %s did not finish in time", thread.name)
