"""Masks over the tower's overlay, drawn on the device dialog's live preview.

The surgeon picks a preset (the bands and corners towers use for the patient's name, ID
and date) or drags rectangles on the preview; the masks are remembered for that device
(:class:`~surgery_teach.privacy.MaskStore`, keyed by :func:`~surgery_teach.privacy.
device_key`) when the dialog is accepted, and every session then paints them over each
frame before any viewer, recording or still sees it. The preview shows them as dark,
outlined rectangles: where the picture will be covered.
"""

from __future__ import annotations

from PyQt6.QtCore import QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QPainter, QPen
from PyQt6.QtWidgets import QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from surgery_teach.errors import ConfigError
from surgery_teach.privacy import Mask, MaskStore, device_key, preset
from ui.common.plain import PlainLabel
from ui.common.video_view import VideoView
from ui.i18n import tr

OUTLINE = QColor("#e3b341")
MIN_DRAG = 0.02  # a drag shorter than this (fraction of the picture) is a click, not a mask


def paint_masks(painter: QPainter, target: QRectF, masks: tuple[Mask, ...],
                *, fill: bool = True) -> None:
    """Draw ``masks`` (fractions of the picture) over the picture at ``target``: covered
    (dark) and outlined, or outlined only (the surgeon's live view of its own source)."""
    painter.save()
    pen = QPen(OUTLINE, 2, Qt.PenStyle.DashLine)
    painter.setPen(pen)
    painter.setBrush(QColor(0, 0, 0, 200) if fill else Qt.BrushStyle.NoBrush)
    for mask in masks:
        painter.drawRect(QRectF(target.left() + mask.x * target.width(),
                                target.top() + mask.y * target.height(),
                                mask.w * target.width(), mask.h * target.height()))
    painter.restore()


class MaskEditor(QWidget):
    """Presets, drawing and clearing of the masks of the source previewed in ``view``."""

    changed = pyqtSignal()

    def __init__(self, view: VideoView, store: MaskStore | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.store = store or MaskStore.load()
        self.device = ""  # the device_key of the previewed source ("": none)
        self.masks: tuple[Mask, ...] = ()
        self._start: tuple[float, float] | None = None
        self._dragged: tuple[float, float] | None = None
        explain = PlainLabel(tr("Masks cover the patient's details burned into the picture "
                                "before anything leaves this computer. Choose a preset or "
                                "drag on the preview."))
        explain.setWordWrap(True)
        row = QHBoxLayout()
        self.preset_buttons: dict[str, QPushButton] = {}
        presets = (("top-band", tr("Top band")), ("bottom-band", tr("Bottom band")),
                   ("top-and-bottom", tr("Top and bottom")), ("corners", tr("Corners")))
        for name, text in presets:
            button = QPushButton(text)
            button.clicked.connect(lambda _=False, n=name: self.add_preset(n))
            self.preset_buttons[name] = button
            row.addWidget(button)
        self.clear_button = QPushButton(tr("No masks"))
        self.clear_button.clicked.connect(self.clear)
        row.addWidget(self.clear_button)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(explain)
        layout.addLayout(row)
        view.overlays.append(self._paint)
        view.pointer_pressed.connect(self._pressed)
        view.pointer_moved.connect(self._moved)
        view.pointer_released.connect(self._released)
        self.show_device("")

    # -- which device -----------------------------------------------------------------------

    def show_device(self, spec: str) -> None:
        """Edit the masks of the source ``spec`` (``LABEL=SPEC`` text; ``""``: none)."""
        try:
            self.device = device_key(spec) if spec else ""
        except ConfigError:
            self.device = ""
        self.masks = self.store.masks_for(self.device) if self.device else ()
        self.view.drawing = bool(self.device)
        for button in (*self.preset_buttons.values(), self.clear_button):
            button.setEnabled(bool(self.device))
        self.view.update()

    # -- editing ----------------------------------------------------------------------------

    def add_preset(self, name: str) -> None:
        self._set((*self.masks, *(m for m in preset(name) if m not in self.masks)))

    def clear(self) -> None:
        self._set(())

    def _set(self, masks: tuple[Mask, ...]) -> None:
        if not self.device:
            return
        self.masks = masks
        self.store.set(self.device, masks)  # saved to disk when the dialog is accepted
        self.view.update()
        self.changed.emit()

    def _pressed(self, x: float, y: float) -> None:
        self._start, self._dragged = (x, y), None

    def _moved(self, x: float, y: float) -> None:
        if self._start is not None:
            self._dragged = (x, y)
            self.view.update()

    def _released(self, x: float, y: float) -> None:
        start, self._start, self._dragged = self._start, None, None
        if start is None or not self.device:
            return
        left, top = max(0.0, min(start[0], x)), max(0.0, min(start[1], y))
        right, bottom = min(1.0, max(start[0], x)), min(1.0, max(start[1], y))
        if right - left < MIN_DRAG or bottom - top < MIN_DRAG:
            self.view.update()
            return
        try:
            mask = Mask(left, top, right - left, bottom - top)
        except ConfigError:
            self.view.update()
            return
        self._set((*self.masks, mask))

    def _paint(self, painter: QPainter, target: QRectF) -> None:
        shown = self.masks
        if self._start is not None and self._dragged is not None:
            (x0, y0), (x1, y1) = self._start, self._dragged
            left, top = min(x0, x1), min(y0, y1)
            width, height = abs(x1 - x0), abs(y1 - y0)
            if width >= MIN_DRAG and height >= MIN_DRAG:
                try:
                    shown = (*shown, Mask(max(0.0, left), max(0.0, top),
                                          min(width, 1 - max(0.0, left)),
                                          min(height, 1 - max(0.0, top))))
                except ConfigError:
                    pass
        paint_masks(painter, target, shown)

    def save(self) -> str:
        """Write the remembered masks to disk; "" or the problem, in plain words."""
        try:
            self.store.save()
        except OSError as exc:
            return tr("The masks could not be saved ({reason}): check that the settings "
                      "folder can be written to, then press OK again.",
                      reason=exc.strerror or str(exc))
        return ""
