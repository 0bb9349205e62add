"""Video files and network cameras (RTSP) through PyAV.

A file plays in a loop at its own frame rate, as if it were a live camera; an RTSP
stream is published as fast as it decodes. Both reconnect like a camera when the source
goes away. Frames are ``yuv420p`` at the size of the first picture; PyAV errors are
translated into :class:`CaptureError` here.
"""

from __future__ import annotations

import logging
import time
from abc import abstractmethod
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from urllib.parse import urlsplit

import av
import av.container

from surgery_teach.capture.spec import redact_url
from surgery_teach.capture.threaded import ReconnectingSource
from surgery_teach.errors import CaptureError

logger = logging.getLogger("surgery_teach.capture")

DEFAULT_FPS = 30.0
#: How far behind its schedule a file may fall before the schedule is reset.
MAX_LAG = 1.0


class _PyAVSource(ReconnectingSource):
    """What file and RTSP sources share: a container, its video stream, fixed output size."""

    lost_format = "yuv420p"

    def __init__(self, spec: str, label: str, *, retry_interval: float, lost_fps: float) -> None:
        super().__init__(spec, label, retry_interval=retry_interval, lost_fps=lost_fps)
        self._container: av.container.InputContainer | None = None
        self._frames: Iterator[av.VideoFrame] | None = None
        self._first: av.VideoFrame | None = None
        self._size: tuple[int, int] | None = None
        self._fps: float | None = None

    @property
    def size(self) -> tuple[int, int]:
        """The picture size; ``(0, 0)`` before :meth:`start`."""
        return self._size or (0, 0)

    @property
    def fps(self) -> float:
        return self._fps or DEFAULT_FPS

    def _open_container(self) -> None:
        """Open the container, find its video, decode the first picture; or raise."""
        container = self._open()
        try:
            if not container.streams.video:
                raise CaptureError(f"{self.spec} has no video stream")
            stream = container.streams.video[0]
            self._tune(stream)
            frames = container.decode(stream)
            first = next(frames, None)
            if first is None:
                raise CaptureError(f"{self.spec} contains no decodable picture")
        except av.FFmpegError as exc:
            container.close()
            raise CaptureError(f"cannot decode {self.spec}: {self._describe(exc)}") from exc
        except BaseException:
            container.close()
            raise
        if self._size is None:
            self._size = (first.width, first.height)
            rate = stream.average_rate or stream.guessed_rate
            # Variable-rate files can report nonsense; fall back to DEFAULT_FPS then.
            self._fps = float(rate) if rate and 1 <= rate <= 240 else None
            logger.info("%s opened at %dx%d", self.spec, *self._size)
        self._container, self._frames, self._first = container, frames, first

    def _next_frame(self) -> av.VideoFrame | None:
        """The next decoded picture, ``None`` at the end; raises :class:`CaptureError`."""
        if self._first is not None:
            frame, self._first = self._first, None
            return frame
        if self._frames is None:
            return None
        try:
            return next(self._frames, None)
        except av.FFmpegError as exc:
            raise CaptureError(f"reading {self.spec} failed: {self._describe(exc)}") from exc

    def _output(self, frame: av.VideoFrame) -> av.VideoFrame:
        """The frame as ``yuv420p`` at the source's size, with no timestamp of the file's."""
        width, height = self.size
        if frame.format.name != "yuv420p" or (frame.width, frame.height) != (width, height):
            frame = frame.reformat(width=width, height=height, format="yuv420p")
        frame.pts = None
        return frame

    def _disconnect(self) -> None:
        container, self._container = self._container, None
        self._frames = None
        self._first = None
        if container is not None:
            try:
                container.close()
            except Exception:
                logger.debug("closing %s failed", self.spec, exc_info=True)

    def _connect(self) -> None:
        self._open_container()

    @abstractmethod
    def _open(self) -> av.container.InputContainer:
        """Open the container; raise :class:`CaptureError` naming the source and problem."""

    def _tune(self, stream: av.VideoStream) -> None:
        """Set decoder options before decoding starts."""

    def _describe(self, exc: BaseException) -> str:
        return str(exc)


class FileSource(_PyAVSource):
    """A video file played in a loop at its native frame rate, newest-frame semantics.

    If decoding falls behind, late pictures are dropped; if it falls more than
    :data:`MAX_LAG` seconds behind (a slow machine), the schedule restarts from now.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        label: str | None = None,
        retry_interval: float = 1.0,
        lost_fps: float = 5.0,
    ) -> None:
        self.path = Path(path)
        super().__init__(
            f"file:{self.path}",
            label or self.path.name,
            retry_interval=retry_interval,
            lost_fps=lost_fps,
        )

    def _open(self) -> av.container.InputContainer:
        if not self.path.is_file():
            problem = "is a directory" if self.path.is_dir() else "does not exist"
            raise CaptureError(f"video file {str(self.path)!r} {problem}")
        try:
            return av.open(str(self.path), mode="r")
        except av.FFmpegError as exc:
            raise CaptureError(
                f"cannot open video file {str(self.path)!r}: {self._describe(exc)}"
            ) from exc

    def _tune(self, stream: av.VideoStream) -> None:
        stream.thread_type = "AUTO"  # files may use frame threads: latency does not matter

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, av.FFmpegError) and exc.strerror:
            return str(exc.strerror)
        return str(exc)

    def _stream(self) -> None:
        period = 1.0 / self.fps
        clock_start = time.monotonic()
        offset = 0.0  # media time at which the current pass through the file began
        while not self.stopping:
            loop_end = offset
            first_pts: int | None = None
            index = 0
            while (frame := self._next_pass_frame(index)) is not None:
                if frame.pts is not None and frame.time_base is not None:
                    if first_pts is None:
                        first_pts = frame.pts
                    media = offset + float((frame.pts - first_pts) * Fraction(frame.time_base))
                else:
                    media = offset + index * period
                index += 1
                loop_end = max(loop_end, media + period)
                now = time.monotonic()
                due = clock_start + media
                if now - due > MAX_LAG:
                    clock_start, due = now - media, now
                elif now - due > period:
                    continue  # late: a newer picture is due already
                if not self._wait(due - now):
                    return
                self._publish(self._output(frame), time.time())
            offset = loop_end
            self._disconnect()
            self._open_container()

    def _next_pass_frame(self, index: int) -> av.VideoFrame | None:
        """The next picture of this pass; a damaged tail ends the pass instead of the source."""
        try:
            return self._next_frame()
        except CaptureError as exc:
            if index == 0:
                raise
            logger.debug("%s: ending this pass early: %s", self.spec, exc)
            return None


class RtspSource(_PyAVSource):
    """A network camera or encoder over RTSP (TCP), decoded as pictures arrive.

    ``open_timeout`` bounds connecting, ``read_timeout`` how long a silent stream may
    stall before it counts as lost. Credentials in the URL never reach logs or errors.
    """

    def __init__(
        self,
        url: str,
        *,
        label: str | None = None,
        open_timeout: float = 5.0,
        read_timeout: float = 5.0,
        retry_interval: float = 1.0,
        lost_fps: float = 5.0,
    ) -> None:
        self.url = url
        self.open_timeout = open_timeout
        self.read_timeout = read_timeout
        super().__init__(
            redact_url(url),
            label or _host(url),
            retry_interval=retry_interval,
            lost_fps=lost_fps,
        )
        self.join_timeout = max(self.join_timeout, read_timeout + 1.0)

    def _open(self) -> av.container.InputContainer:
        options = {
            "rtsp_transport": "tcp",
            "timeout": str(int(self.read_timeout * 1_000_000)),  # socket I/O, microseconds
            "fflags": "nobuffer",
            "flags": "low_delay",
        }
        try:
            return av.open(
                self.url,
                mode="r",
                options=options,
                timeout=(self.open_timeout, self.read_timeout),
            )
        except av.FFmpegError as exc:
            raise CaptureError(f"cannot open {self.spec}: {self._describe(exc)}") from exc

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, av.FFmpegError) and exc.strerror:
            return redact_url(str(exc.strerror))
        return redact_url(str(exc))

    def _stream(self) -> None:
        while not self.stopping:
            frame = self._next_frame()
            if frame is None:
                raise CaptureError(f"{self.spec} ended")
            self._publish(self._output(frame), time.time())


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or "RTSP camera"
    except ValueError:
        return "RTSP camera"
