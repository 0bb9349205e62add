"""A shared picture in the main view, with pan and zoom of the viewer's own.

The picture (a CT slice, an ECG page: :mod:`surgery_teach.sharing`) is drawn through a
:class:`~surgery_teach.sharing.viewport.Viewport`: the mouse wheel zooms about the
pointer, a drag with the right or middle button (or the left one while not drawing)
pans, a double click or ``0`` fits it again. Marks are kept in fractions of the
picture, so the overlays (the same ones a :class:`~ui.common.video_view.VideoView`
takes: ``overlay(painter, picture_rect)``) draw them on the same pixel of the picture at
every zoom and for every viewer; while ``drawing`` is on, the pointer signals carry
picture fractions, as a video view's do. Only the part of the picture in the window is
scaled when painting, so a 32x zoom of an 8000-pixel page costs no more than a fit.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from PyQt6 import sip
from PyQt6.QtCore import QPointF, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import (
    QColor,
    QFont,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QWheelEvent,
)
from PyQt6.QtWidgets import QSizePolicy, QWidget

from surgery_teach.sharing.viewport import Viewport
from ui.i18n import tr

Overlay = Callable[[QPainter, QRectF], None]

WHEEL_STEP = 1.25  # zoom factor per wheel notch
KEY_STEP = 1.5


class SharedPictureView(QWidget):
    """One shared picture. ``source_name`` is the marks' source (``share:<id>``)."""

    pointer_pressed = pyqtSignal(float, float)
    pointer_moved = pyqtSignal(float, float)
    pointer_released = pyqtSignal(float, float)
    zoom_changed = pyqtSignal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = ""
        self.source_name = ""
        self.drawing = False
        self.overlays: list[Overlay] = []
        self.viewport: Viewport | None = None
        self._pixels: np.ndarray | None = None  # QImage borrows this buffer
        self._image: QImage | None = None
        self._drag: QPointF | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 90)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    # -- the picture ----------------------------------------------------------------------

    def show_picture(self, pixels: np.ndarray | None, *, source_name: str = "",
                     label: str = "") -> None:
        """Show ``pixels`` (height x width x 3, uint8, BGR), fitted; ``None`` clears."""
        self.source_name, self.label = source_name, label
        if pixels is None:
            self._pixels = self._image = self.viewport = None
        else:
            self._pixels = np.ascontiguousarray(pixels)
            h, w = self._pixels.shape[:2]
            self._image = QImage(sip.voidptr(self._pixels.ctypes.data), w, h,
                                 self._pixels.strides[0], QImage.Format.Format_BGR888)
            self.viewport = Viewport(w, h, self.width(), self.height())
        self.update()

    def video_rect(self) -> QRectF:
        """Where the whole picture lies in the widget (past its edges when zoomed): the
        rectangle marks are drawn in, as a video view's."""
        if self.viewport is None:
            return QRectF(self.rect())
        return QRectF(*self.viewport.image_rect())

    def normalised(self, x: float, y: float) -> tuple[float, float]:
        """A widget position as a picture position (fractions)."""
        if self.viewport is None:
            return x / max(self.width(), 1), y / max(self.height(), 1)
        return self.viewport.to_picture(x, y)

    def zoom_at(self, x: float, y: float, factor: float) -> None:
        if self.viewport is not None:
            self._set(self.viewport.zoomed_at(x, y, factor))

    def pan(self, dx: float, dy: float) -> None:
        if self.viewport is not None:
            self._set(self.viewport.panned(dx, dy))

    def fit(self) -> None:
        if self.viewport is not None:
            self._set(self.viewport.fitted())

    def _set(self, viewport: Viewport) -> None:
        zoom_before = self.viewport.zoom if self.viewport is not None else 1.0
        self.viewport = viewport
        if not math.isclose(zoom_before, viewport.zoom):
            self.zoom_changed.emit(viewport.zoom)
        self.update()

    # -- painting -------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent | None) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#000000"))
        if self._image is None or self.viewport is None:
            painter.setPen(QColor("#9da7b3"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, tr("No shared picture"))
            painter.end()
            return
        target = self.video_rect()
        visible = target.intersected(QRectF(self.rect()))
        if not visible.isEmpty():
            scale = self.viewport.scale
            source = QRectF((visible.left() - target.left()) / scale,
                            (visible.top() - target.top()) / scale,
                            visible.width() / scale, visible.height() / scale)
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, scale < 1)
            painter.drawImage(visible, self._image, source)
        for overlay in self.overlays:
            overlay(painter, target)
        self._paint_label(painter)
        painter.end()

    def _paint_label(self, painter: QPainter) -> None:
        zoom = self.viewport.zoom if self.viewport is not None else 1.0
        text = " — ".join(t for t in (self.label, f"{zoom * 100:.0f}%" if zoom > 1 else "") if t)
        if not text:
            return
        font = QFont(self.font())
        font.setPointSize(max(9, min(14, self.height() // 30)))
        font.setBold(True)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        width, height = metrics.horizontalAdvance(text) + 16, metrics.height() + 8
        box = QRectF(max(0.0, self.width() - width - 8), self.height() - height - 8,
                     width, height)
        painter.fillRect(box, QColor(0, 0, 0, 160))
        painter.setPen(QColor("#f0f6fc"))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    def resizeEvent(self, event: QResizeEvent | None) -> None:
        super().resizeEvent(event)
        if self.viewport is not None:
            self.viewport = self.viewport.resized(self.width(), self.height())

    # -- the mouse and keys ---------------------------------------------------------------

    def wheelEvent(self, event: QWheelEvent | None) -> None:
        if event is None or self.viewport is None:
            return
        notches = event.angleDelta().y() / 120
        if notches:
            self.zoom_at(event.position().x(), event.position().y(), WHEEL_STEP ** notches)
        event.accept()

    def _pans(self, event: QMouseEvent) -> bool:
        button = event.button() if event.type() != event.Type.MouseMove else None
        if button is None:
            buttons = event.buttons()
            return bool(buttons & (Qt.MouseButton.RightButton | Qt.MouseButton.MiddleButton)
                        or (buttons & Qt.MouseButton.LeftButton and not self.drawing))
        return button in (Qt.MouseButton.RightButton, Qt.MouseButton.MiddleButton) or (
            button == Qt.MouseButton.LeftButton and not self.drawing)

    def mousePressEvent(self, event: QMouseEvent | None) -> None:
        if event is None or self.viewport is None:
            return
        if self._pans(event):
            self._drag = event.position()
        elif event.button() == Qt.MouseButton.LeftButton:
            self.pointer_pressed.emit(*self.normalised(event.position().x(),
                                                       event.position().y()))

    def mouseMoveEvent(self, event: QMouseEvent | None) -> None:
        if event is None or self.viewport is None:
            return
        if self._drag is not None:
            delta = event.position() - self._drag
            self._drag = event.position()
            self.pan(delta.x(), delta.y())
        elif self.drawing and event.buttons() & Qt.MouseButton.LeftButton:
            self.pointer_moved.emit(*self.normalised(event.position().x(),
                                                     event.position().y()))

    def mouseReleaseEvent(self, event: QMouseEvent | None) -> None:
        if event is None or self.viewport is None:
            return
        if self._drag is not None:
            self._drag = None
        elif self.drawing and event.button() == Qt.MouseButton.LeftButton:
            self.pointer_released.emit(*self.normalised(event.position().x(),
                                                        event.position().y()))

    def mouseDoubleClickEvent(self, event: QMouseEvent | None) -> None:
        if not self.drawing:
            self.fit()

    def keyPressEvent(self, event: QKeyEvent | None) -> None:
        if event is None or self.viewport is None:
            return super().keyPressEvent(event)
        middle = (self.width() / 2, self.height() / 2)
        key = event.key()
        if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_at(*middle, KEY_STEP)
        elif key == Qt.Key.Key_Minus:
            self.zoom_at(*middle, 1 / KEY_STEP)
        elif key == Qt.Key.Key_0:
            self.fit()
        else:
            super().keyPressEvent(event)
