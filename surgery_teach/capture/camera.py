"""Cameras and capture cards through OpenCV (V4L2 on Linux).

The capture thread talks to the device only through :class:`CaptureDevice`, created by
:meth:`CameraSource._open_capture`. That method is the seam tests override with a fake
device that can be unplugged and plugged back in.
"""

from __future__ import annotations

import logging
import sys
import time
from abc import ABC, abstractmethod
from pathlib import Path

import av
import cv2
import numpy as np

from surgery_teach.capture.devices import describe_devices
from surgery_teach.capture.spec import camera_label
from surgery_teach.capture.threaded import ReconnectingSource
from surgery_teach.errors import CaptureDeviceError, CaptureError

logger = logging.getLogger("surgery_teach.capture")

DEFAULT_FPS = 30.0


class CaptureDevice(ABC):
    """An opened capture device, shaped like :class:`cv2.VideoCapture`."""

    @abstractmethod
    def isOpened(self) -> bool:
        """Whether the device opened."""

    @abstractmethod
    def read(self) -> tuple[bool, np.ndarray | None]:
        """Block for the next picture: ``(True, bgr)``, or ``(False, None)`` on failure."""

    @abstractmethod
    def release(self) -> None:
        """Close the device; safe to call twice."""

    def get(self, prop_id: int) -> float:
        """A ``cv2.CAP_PROP_*`` value, ``0.0`` when unknown."""
        return 0.0


class OpenCVCapture(CaptureDevice):
    """A real device through ``cv2.VideoCapture``, asking for the given format.

    Missing device nodes are reported before OpenCV is asked, which keeps OpenCV's
    warnings out of the log while a camera is unplugged.
    """

    def __init__(
        self,
        device: int | str,
        *,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
    ) -> None:
        if sys.platform.startswith("linux"):
            node = Path(device if isinstance(device, str) else f"/dev/video{device}")
            if not node.exists():
                raise CaptureDeviceError(str(device), describe_devices(), "no such device")
            backend = cv2.CAP_V4L2
        else:
            backend = cv2.CAP_ANY
        try:
            self._capture = cv2.VideoCapture(device, backend)
            if self._capture.isOpened():
                self._configure(width, height, fps)
        except cv2.error as exc:
            raise CaptureDeviceError(str(device), describe_devices(), str(exc)) from exc

    def _configure(self, width: int | None, height: int | None, fps: float | None) -> None:
        capture = self._capture
        # One buffered picture: old pictures are latency, not smoothness.
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        if width and height:
            if width * height > 640 * 480:
                # USB 2 cameras give HD at full rate only as MJPEG; ignored if unsupported.
                capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*"MJPG"))
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        if fps:
            capture.set(cv2.CAP_PROP_FPS, fps)

    def isOpened(self) -> bool:
        return bool(self._capture.isOpened())

    def read(self) -> tuple[bool, np.ndarray | None]:
        try:
            ok, image = self._capture.read()
        except cv2.error as exc:
            logger.debug("camera read failed: %s", exc)
            return False, None
        return (True, image) if ok and image is not None else (False, None)

    def release(self) -> None:
        self._capture.release()

    def get(self, prop_id: int) -> float:
        return float(self._capture.get(prop_id))


class CameraSource(ReconnectingSource):
    """A camera or capture card; frames are ``bgr24`` at the size of the first picture.

    ``device`` is an index (``0``) or a node path (``"/dev/video2"``); ``width``,
    ``height`` and ``fps`` are requests the device may round. If the device stops
    delivering, the source shows the "source lost" placeholder, retries every
    ``retry_interval`` seconds, and continues when the device is back; pictures of a
    different size after a reconnect are scaled to the original size.
    """

    lost_format = "bgr24"

    def __init__(
        self,
        device: int | str,
        *,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        label: str | None = None,
        retry_interval: float = 1.0,
        lost_fps: float = 5.0,
    ) -> None:
        super().__init__(
            f"camera:{device}",
            label or camera_label(device),
            retry_interval=retry_interval,
            lost_fps=lost_fps,
        )
        self.device = device
        self._requested = (width, height, fps)
        self._size: tuple[int, int] | None = None
        self._fps = fps
        self._capture: CaptureDevice | None = None
        self._first: tuple[np.ndarray, float] | None = None

    @property
    def size(self) -> tuple[int, int]:
        """The picture size; before :meth:`start`, the requested size or ``(0, 0)``."""
        if self._size is not None:
            return self._size
        width, height, _ = self._requested
        return (width or 0, height or 0)

    @property
    def fps(self) -> float:
        return self._fps or DEFAULT_FPS

    def _open_capture(self) -> CaptureDevice:
        """Open the device (the seam tests replace); may raise :class:`CaptureError`."""
        width, height, fps = self._requested
        return OpenCVCapture(self.device, width=width, height=height, fps=fps)

    def _connect(self) -> None:
        capture = self._open_capture()
        try:
            if not capture.isOpened():
                raise CaptureDeviceError(
                    str(self.device), describe_devices(), "the device did not open"
                )
            ok, image = capture.read()
            if not ok or image is None:
                raise CaptureDeviceError(
                    str(self.device), describe_devices(), "it opened but delivered no picture"
                )
        except BaseException:
            _release_quietly(capture)
            raise
        captured_at = time.time()
        if self._size is None:
            self._size = (image.shape[1], image.shape[0])
            if not self._fps:
                self._fps = capture.get(cv2.CAP_PROP_FPS) or None
            logger.info("%s opened at %dx%d", self.spec, *self._size)
        self._capture = capture
        self._first = (image, captured_at)

    def _stream(self) -> None:
        capture = self._capture
        if capture is None:
            raise CaptureError(f"{self.spec} is not open")
        if self._first is not None:
            first, captured_at = self._first
            self._first = None
            self._publish(self._to_frame(first), captured_at)
        while not self.stopping:
            ok, image = capture.read()
            captured_at = time.time()
            if not ok or image is None:
                raise CaptureError(f"{self.spec} stopped delivering pictures")
            self._publish(self._to_frame(image), captured_at)

    def _disconnect(self) -> None:
        capture, self._capture = self._capture, None
        self._first = None
        if capture is not None:
            _release_quietly(capture)

    def _to_frame(self, image: np.ndarray) -> av.VideoFrame:
        """Wrap the BGR picture as a frame without copying (the picture is ours alone)."""
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        width, height = self.size
        if (image.shape[1], image.shape[0]) != (width, height):
            image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        return av.VideoFrame.from_numpy_buffer(np.ascontiguousarray(image), format="bgr24")


def _release_quietly(capture: CaptureDevice) -> None:
    try:
        capture.release()
    except Exception:
        logger.debug("releasing a capture device failed", exc_info=True)
