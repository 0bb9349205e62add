"""Capture threads: the lifecycle every source shares, and reconnecting after a loss.

:class:`ThreadedSource` owns the thread, the frame counter and the stop signal.
:class:`ReconnectingSource` adds what live devices (camera, RTSP, file) need: when the
device stops delivering, publish "source lost" placeholders at a low rate, retry the
device every ``retry_interval`` seconds, and resume real frames when it is back. Nothing a
device does may kill the thread; only :meth:`stop` ends it.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import abstractmethod

import av

from surgery_teach.capture.base import CapturedFrame, VideoSource
from surgery_teach.capture.lost import LostPicture
from surgery_teach.capture.pacing import Pacer
from surgery_teach.errors import CaptureError

logger = logging.getLogger("surgery_teach.capture")


class ThreadedSource(VideoSource):
    """A source whose frames come from one daemon thread running :meth:`_run`.

    Subclasses implement :meth:`_prepare` (runs in :meth:`start`, raises
    :class:`CaptureError`), :meth:`_run` (the thread body; return when
    :attr:`stopping`) and :meth:`_release` (runs on the thread as it ends).
    """

    #: How long :meth:`stop` waits for the thread (a blocked device read may hold it).
    join_timeout = 5.0

    def __init__(self, spec: str, label: str) -> None:
        super().__init__(spec, label)
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._seq = 0

    @property
    def stopping(self) -> bool:
        return self._stop_event.is_set()

    @property
    def running(self) -> bool:
        """Whether the capture thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Open the device and start the capture thread; raises :class:`CaptureError`."""
        if self.stopping:
            raise CaptureError(f"{self.spec} was stopped; open a new source instead")
        if self._thread is not None:
            raise CaptureError(f"{self.spec} is already started")
        self._prepare()
        self._thread = threading.Thread(
            target=self._thread_main, name=f"capture {self.spec}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """End the thread and close the slot; safe to call twice or before start."""
        self._stop_event.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.join_timeout)
            if thread.is_alive():
                logger.warning("capture thread for %s did not stop in time", self.spec)
        self.slot.close()

    def _wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; ``False`` if :meth:`stop` was called meanwhile."""
        return not self._stop_event.wait(max(0.0, seconds))

    def _publish(
        self, image: av.VideoFrame, captured_at: float, *, lost: bool = False
    ) -> CapturedFrame:
        self._seq += 1
        frame = CapturedFrame(image=image, seq=self._seq, captured_at=captured_at, lost=lost)
        self.slot.put(frame)
        return frame

    def _thread_main(self) -> None:
        try:
            self._run()
        except Exception:
            logger.exception("capture thread for %s failed", self.spec)
        finally:
            try:
                self._release()
            except Exception:
                logger.exception("releasing %s failed", self.spec)
            self.slot.close()

    @abstractmethod
    def _prepare(self) -> None: ...

    @abstractmethod
    def _run(self) -> None: ...

    def _release(self) -> None:
        """Free the device; called once on the capture thread as it ends."""


class ReconnectingSource(ThreadedSource):
    """A device that may disappear and come back (camera, RTSP stream, file on a share).

    Subclasses implement :meth:`_connect` (open the device, learn its size; raise
    :class:`CaptureError`), :meth:`_stream` (publish frames until the device fails, then
    return or raise) and :meth:`_disconnect` (release it; never raises).
    """

    #: Pixel format of the placeholder frames, to match the source's real frames.
    lost_format = "yuv420p"

    def __init__(
        self, spec: str, label: str, *, retry_interval: float = 1.0, lost_fps: float = 5.0
    ) -> None:
        super().__init__(spec, label)
        self.retry_interval = retry_interval
        self.lost_fps = lost_fps

    def _prepare(self) -> None:
        self._connect()

    def _run(self) -> None:
        while not self.stopping:
            reason = "the device stopped delivering pictures"
            try:
                self._stream()
            except CaptureError as exc:
                reason = str(exc)
            except Exception as exc:
                logger.exception("reading %s failed unexpectedly", self.spec)
                reason = f"unexpected {type(exc).__name__}"
            self._disconnect()
            if self.stopping:
                return
            logger.warning("%s lost (%s); reconnecting", self.spec, reason)
            if not self._reconnect():
                return
            logger.info("%s is back", self.spec)

    def _release(self) -> None:
        self._disconnect()

    def _reconnect(self) -> bool:
        """Show the placeholder and retry until the device is back (``True``) or stop."""
        width, height = self.size
        picture = LostPicture(width, height, self.spec, self.label)
        pacer = Pacer(self.lost_fps)
        lost_since = time.monotonic()
        next_try = lost_since + self.retry_interval
        while self._wait(pacer.next_delay(time.monotonic())):
            now = time.monotonic()
            self._publish(picture.frame(now - lost_since, self.lost_format), time.time(), lost=True)
            if now < next_try:
                continue
            try:
                self._connect()
                return True
            except CaptureError as exc:
                logger.debug("%s still unavailable: %s", self.spec, exc)
            except Exception:
                logger.exception("reconnecting %s failed unexpectedly", self.spec)
            next_try = time.monotonic() + self.retry_interval
        return False

    @abstractmethod
    def _connect(self) -> None: ...

    @abstractmethod
    def _stream(self) -> None: ...

    @abstractmethod
    def _disconnect(self) -> None: ...
