"""The video source contract: a capture thread that always offers its newest frame.

Every source (camera, file, RTSP, synthetic) runs its own thread and publishes into a
:class:`FrameSlot`. Consumers (encoder, preview, recorder) never queue: they ask for the
newest frame after the one they last saw, so a slow consumer skips frames instead of
falling behind.
"""

from __future__ import annotations

import asyncio
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass

import av


@dataclass(frozen=True)
class CapturedFrame:
    """One captured picture.

    ``seq`` counts frames from 1 for this source; ``captured_at`` is wall-clock time
    (``time.time()``) at capture, used for end-to-end latency; ``lost`` marks the
    placeholder pictures a source shows while its device is gone.
    """

    image: av.VideoFrame
    seq: int
    captured_at: float
    lost: bool = False


class FrameSlot:
    """Holds only the newest frame; threads and asyncio tasks can wait for the next one."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: CapturedFrame | None = None
        self._closed = False
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    @property
    def closed(self) -> bool:
        return self._closed

    def latest(self) -> CapturedFrame | None:
        return self._frame

    def put(self, frame: CapturedFrame) -> None:
        """Replace the held frame and wake every waiter (called from the capture thread)."""
        with self._cond:
            self._frame = frame
            waiters, self._waiters = self._waiters, []
            self._cond.notify_all()
        _wake(waiters)

    def close(self) -> None:
        """Wake everyone for good; ``wait_after``/``next_after`` then return ``None``."""
        with self._cond:
            self._closed = True
            waiters, self._waiters = self._waiters, []
            self._cond.notify_all()
        _wake(waiters)

    def wait_after(self, seq: int, timeout: float | None = None) -> CapturedFrame | None:
        """Block until a frame newer than ``seq`` exists; ``None`` on timeout or close."""
        with self._cond:
            ok = self._cond.wait_for(
                lambda: self._closed or (self._frame is not None and self._frame.seq > seq),
                timeout,
            )
            if not ok or self._closed:
                return None
            return self._frame

    async def next_after(self, seq: int, loop: asyncio.AbstractEventLoop | None = None
                         ) -> CapturedFrame | None:
        """Await a frame newer than ``seq``; ``None`` once the slot is closed. ``loop``:
        the loop the awaiting task runs on (by default the running one)."""
        loop = loop or asyncio.get_running_loop()
        while True:
            with self._cond:
                if self._closed:
                    return None
                if self._frame is not None and self._frame.seq > seq:
                    return self._frame
                fut: asyncio.Future[None] = loop.create_future()
                self._waiters.append((loop, fut))
            await fut


def _wake(waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]]) -> None:
    """Resolve awaiting consumers' futures on their own loops.

    A consumer that gave up (its future cancelled) or whose event loop has closed must not
    break the capture thread that calls this, nor stop the other consumers being woken.
    """
    for loop, fut in waiters:
        if fut.done():
            continue
        try:
            loop.call_soon_threadsafe(_resolve, fut)
        except RuntimeError:  # that consumer's event loop is closed
            pass


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class VideoSource(ABC):
    """A video source running on its own capture thread.

    ``start()`` opens the device and starts the thread, raising a :class:`CaptureError`
    subclass (never a library error) when it cannot. Frames then appear in ``slot``.
    ``stop()`` ends the thread and closes the slot; it is safe to call twice.
    """

    def __init__(self, spec: str, label: str) -> None:
        self.spec = spec
        self.label = label
        self.slot = FrameSlot()

    @property
    @abstractmethod
    def size(self) -> tuple[int, int]:
        """Width and height of the frames this source produces."""

    @property
    @abstractmethod
    def fps(self) -> float:
        """Nominal frame rate."""

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...
