"""Draws the newest frame of a source, aspect ratio kept, with a label and overlays.

The view follows a :class:`FrameSlot` (a local source or a received track). Each new
frame is converted from YUV to the window system's own 32-bit pixel format **and scaled
to the size it is shown at in one swscale pass, on a worker thread**, then wrapped in a
``QImage`` without copying and drawn 1:1, so painting copies pixels once and converts
none. (Measured at 1080p shown at 1194x670: swscale to 32-bit BGRA took 1.9 ms against
4.4 ms to 24-bit RGB, and Qt drew an RGB888 image scaled to a fractional rectangle in
1.6 ms, a 32-bit one 1:1 in 0.1 ms.) The GUI thread never waits for a conversion (and,
with the session on its own media thread, never carries RTP); frames that arrive while
one is under way are skipped, never queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from PyQt6 import sip
from PyQt6.QtCore import QPointF, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QImage, QMouseEvent, QPainter, QPaintEvent
from PyQt6.QtWidgets import QSizePolicy, QWidget

from surgery_teach.capture.base import CapturedFrame, FrameSlot
from ui.i18n import tr

Overlay = Callable[[QPainter, QRectF], None]

# Conversions for every view on screen; swscale releases the GIL while it works.
_converter = ThreadPoolExecutor(max_workers=2, thread_name_prefix="video-view")
# QImage.Format_RGB32 is 0xffRRGGBB in native byte order: B, G, R, 255 in memory here
PIXELS = "bgra" if sys.byteorder == "little" else "argb"


def to_screen(reformatter: VideoReformatter, image: av.VideoFrame, width: int,
              height: int) -> np.ndarray:
    """One swscale pass: colour conversion to :data:`PIXELS` and scaling to the size on
    screen; rows may be padded (``strides[0]``).

    Each view brings its own reformatter: ``VideoFrame.reformat`` keeps one inside the
    frame, and two threads converting the same frame through it crash the process.
    """
    return reformatter.reformat(image, width, height, PIXELS,
                                interpolation="AREA").to_ndarray()


class VideoView(QWidget):
    """One video picture. ``clicked`` fires on a left click (thumbnails swap on it)."""

    clicked = pyqtSignal()
    # While ``drawing`` is on: pointer positions normalised to the picture (0..1).
    pointer_pressed = pyqtSignal(float, float)
    pointer_moved = pyqtSignal(float, float)
    pointer_released = pyqtSignal(float, float)

    def __init__(self, label: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = label
        self.source_name = ""  # the source's own name, which marks refer to
        self.drawing = False
        self.overlays: list[Overlay] = []
        self.frames_painted = 0
        self.paint_latencies_ms: deque[float] = deque(maxlen=4096)
        self._slot: FrameSlot | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop following runs on
        self._frame: CapturedFrame | None = None
        self._painted_seq = 0
        self._pixels: np.ndarray | None = None
        self._image: QImage | None = None
        self._image_frame: CapturedFrame | None = None
        self._converting = False
        self._stale = False
        self._reformatter = VideoReformatter()  # used by one conversion at a time
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 90)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    # -- following a source -------------------------------------------------------------

    def follow(self, slot: FrameSlot | None, label: str | None = None) -> None:
        """Show frames from ``slot`` from now on (``None`` shows "no video")."""
        if label is not None:
            self.label = label
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._slot = slot
        self._frame = slot.latest() if slot is not None else None
        self._image = None
        self._image_frame = None
        if slot is not None:
            self._loop = asyncio.get_event_loop()
            self._task = asyncio.ensure_future(self._follow(slot, self._frame))
            self._convert()
        self.update()

    def hand_over(self, slot: FrameSlot) -> None:
        """Show ``slot`` from now on: the same source, arriving another way (a room
        moving onto the media server or back). Unlike :meth:`follow`, the picture on
        screen stays until the new way's first one is drawn: no "Waiting for…" between."""
        if self._task is not None:
            self._task.cancel()
        self._slot = slot
        latest = slot.latest()
        self._loop = asyncio.get_event_loop()
        self._task = asyncio.ensure_future(self._follow(slot, latest))
        if latest is not None:
            self._frame = latest
            self._convert()

    @property
    def slot(self) -> FrameSlot | None:
        return self._slot

    async def _follow(self, slot: FrameSlot, latest: CapturedFrame | None) -> None:
        seq = latest.seq if latest is not None else 0  # the slot's own numbering
        with contextlib.suppress(asyncio.CancelledError):
            while True:
                # the loop named: Qt may run this step while a test's loop is stopped
                frame = await slot.next_after(seq, self._loop)
                if frame is None or sip.isdeleted(self):
                    break
                seq = frame.seq
                self._frame = frame
                self._convert()
        if not sip.isdeleted(self):
            self.update()

    def _convert(self) -> None:
        """Start converting the newest frame for the current size, unless one is under way."""
        if self._converting:
            self._stale = True
            return
        frame = self._frame
        if frame is None:
            return
        rect = self.video_rect()
        width = max(2, int(rect.width()) // 2 * 2)
        height = max(2, int(rect.height()) // 2 * 2)
        self._converting = True
        self._stale = False
        loop = self._loop or asyncio.get_running_loop()
        future = loop.run_in_executor(
            _converter, to_screen, self._reformatter, frame.image, width, height)
        future.add_done_callback(lambda f: self._converted(f, frame))

    def _converted(self, future: asyncio.Future[np.ndarray], frame: CapturedFrame) -> None:
        if sip.isdeleted(self):
            return
        self._converting = False
        if future.cancelled() or future.exception() is not None:
            return
        pixels = future.result()
        self._pixels = pixels  # QImage borrows this buffer: keep it alive
        h, w, _ = pixels.shape
        # rows may be padded (line size > 4 * width): hand Qt the address and the stride
        self._image = QImage(sip.voidptr(pixels.ctypes.data), w, h, pixels.strides[0],
                             QImage.Format.Format_RGB32)
        self._image_frame = frame
        self.update()
        if self._stale or frame is not self._frame:
            self._convert()

    def resizeEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        super().resizeEvent(event)
        if self._frame is not None:
            with contextlib.suppress(RuntimeError):  # no running loop yet
                self._convert()

    def stop(self) -> None:
        self.follow(None)

    # -- painting -----------------------------------------------------------------------

    def video_rect(self) -> QRectF:
        """Where the picture is drawn inside the widget (letterboxed, aspect kept)."""
        frame = self._frame
        if frame is None:
            return QRectF(self.rect())
        w, h = frame.image.width, frame.image.height
        scale = min(self.width() / w, self.height() / h)
        dw, dh = w * scale, h * scale
        return QRectF((self.width() - dw) / 2, (self.height() - dh) / 2, dw, dh)

    def current_frame(self) -> CapturedFrame | None:
        return self._frame

    def paintEvent(self, event: QPaintEvent | None) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#000000"))
        frame = self._image_frame
        if frame is None or self._image is None:
            painter.setPen(QColor("#9da7b3"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter,
                             tr("No video") if not self.label else
                             tr("Waiting for {label}…", label=self.label))
            painter.end()
            return
        target = self.video_rect()
        image = self._image
        if abs(image.width() - target.width()) < 2 and abs(image.height() - target.height()) < 2:
            # 1:1 at whole pixels: a plain copy (a fractional target rectangle would scale)
            painter.drawImage(QPointF(round(target.center().x() - image.width() / 2),
                                      round(target.center().y() - image.height() / 2)), image)
        else:  # a resize is under way: scaled until the next conversion
            painter.drawImage(target, image)
        if frame.seq != self._painted_seq:
            self._painted_seq = frame.seq
            self.frames_painted += 1
            self.paint_latencies_ms.append((time.time() - frame.captured_at) * 1000)
        for overlay in self.overlays:
            overlay(painter, target)
        self._paint_label(painter, frame, target)
        painter.end()

    def _paint_label(self, painter: QPainter, frame: CapturedFrame, target: QRectF) -> None:
        if not self.label and not frame.lost:
            return
        font = QFont(self.font())
        font.setPointSize(max(9, min(14, self.height() // 30)))
        font.setBold(True)
        painter.setFont(font)
        text = self.label + (f" — {tr('source lost, reconnecting')}" if frame.lost else "")
        metrics = painter.fontMetrics()
        width, height = metrics.horizontalAdvance(text) + 16, metrics.height() + 8
        # bottom right of the picture: the top edge may carry a machine-readable stamp
        box = QRectF(max(0.0, target.right() - width - 8), target.bottom() - height - 8,
                     width, height)
        painter.fillRect(box, QColor(0, 0, 0, 160))
        painter.setPen(QColor("#ff7b72") if frame.lost else QColor("#f0f6fc"))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    def normalised(self, x: float, y: float) -> tuple[float, float]:
        """A widget position as a position in the picture, 0..1 from its top left."""
        rect = self.video_rect()
        return ((x - rect.left()) / max(rect.width(), 1.0),
                (y - rect.top()) / max(rect.height(), 1.0))

    def mousePressEvent(self, event: QMouseEvent | None) -> None:
        if event is not None and event.button() == Qt.MouseButton.LeftButton:
            if self.drawing and self._frame is not None:
                self.pointer_pressed.emit(*self.normalised(event.position().x(),
                                                           event.position().y()))
            else:
                self.clicked.emit()
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent | None) -> None:
        if event is not None and self.drawing and event.buttons() & Qt.MouseButton.LeftButton:
            self.pointer_moved.emit(*self.normalised(event.position().x(), event.position().y()))
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent | None) -> None:
        if event is not None and self.drawing and event.button() == Qt.MouseButton.LeftButton:
            self.pointer_released.emit(*self.normalised(event.position().x(),
                                                        event.position().y()))
        super().mouseReleaseEvent(event)
