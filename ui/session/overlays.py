"""What is laid over the video: the "Frozen by …" banner and the keyboard shortcut sheet.

Freeze used to show only as "— frozen" in the small source label; a held picture looks
live, so a surgeon could take it for the live view. Now a held picture gets an amber
frame and a banner across its top saying who froze it and how to return to live.
"""

from __future__ import annotations

from PyQt6.QtCore import QRectF, Qt
from PyQt6.QtGui import QColor, QFont, QKeyEvent, QMouseEvent, QPainter, QPaintEvent, QPen
from PyQt6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from ui.i18n import tr

FROZEN_COLOUR = QColor("#f0a30a")


def frozen_text(name: str | None, *, can_unfreeze: bool) -> str:
    """``Frozen by Dr Li — Esc/F to return to live`` (what the banner says)."""
    who = tr("Frozen by {name}", name=name) if name else tr("Frozen")
    if can_unfreeze:
        return tr("{frozen} — Esc/F to return to live", frozen=who)
    return tr("{frozen} — Esc to watch live", frozen=who)


def paint_frozen(painter: QPainter, target: QRectF, text: str) -> None:
    """An amber frame around the held picture and ``text`` in a band near its top (below
    the first rows, which may carry a machine-readable stamp)."""
    painter.save()
    border = max(3.0, target.height() / 120)
    painter.setPen(QPen(FROZEN_COLOUR, border))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    half = border / 2
    painter.drawRect(target.adjusted(half, half + 8, -half, -half))
    font = QFont(painter.font())
    font.setPixelSize(max(11, min(26, round(target.height() / 22))))
    font.setBold(True)
    painter.setFont(font)
    metrics = painter.fontMetrics()
    width = min(target.width() - 16, metrics.horizontalAdvance(text) + 32)
    height = metrics.height() + 14
    band = QRectF(target.center().x() - width / 2, target.top() + 8 + border * 2, width, height)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(0, 0, 0, 190))
    painter.drawRoundedRect(band, 6, 6)
    painter.setPen(FROZEN_COLOUR)
    shown = metrics.elidedText(text, Qt.TextElideMode.ElideRight, int(width - 16))
    painter.drawText(band, Qt.AlignmentFlag.AlignCenter, shown)
    painter.restore()


def shortcut_rows(*, can_draw: bool, can_freeze: bool, can_record: bool) -> list[tuple[str, str]]:
    """The keys of the session window, and what each does, for this participant."""
    rows = [(tr("F1 or ?"), tr("Show or hide this list")),
            ("F11", tr("Video only, full screen (Esc returns)")),
            ("Tab", tr("Swap the large picture")),
            ("M", tr("Mute or unmute the microphone"))]
    if can_draw:
        rows += [("P A L O B T X", tr("Pen, arrow, line, circle, box, text, pointer")),
                 ("Ctrl+Z / Ctrl+Shift+Z", tr("Undo / redo your last mark"))]
    if can_freeze:
        rows += [("F", tr("Freeze the picture for everyone, or return to live")),
                 ("Esc", tr("Return to live"))]
    if can_record:
        rows += [("Ctrl+R", tr("Start or stop recording")),
                 ("Ctrl+K", tr("Start a chapter")),
                 ("Ctrl+Shift+P", tr("Pause all your video for privacy, or resume"))]
    return rows


class ShortcutSheet(QWidget):
    """The list of keys over the window (F1 or ?); any key or click closes it."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("shortcuts")
        self.setStyleSheet("QLabel { background: transparent; }")
        self._grid = QGridLayout()
        self._grid.setHorizontalSpacing(24)
        title = QLabel(tr("Keyboard shortcuts"))
        title.setObjectName("title")
        hint = QLabel(tr("Press any key or click to close"))
        hint.setObjectName("muted")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(48, 36, 48, 36)
        layout.addWidget(title)
        layout.addLayout(self._grid)
        layout.addStretch(1)
        layout.addWidget(hint)
        self.hide()

    def show_rows(self, rows: list[tuple[str, str]]) -> None:
        while self._grid.count():
            item = self._grid.takeAt(0)
            if item is not None and item.widget() is not None:
                item.widget().deleteLater()  # type: ignore[union-attr]
        for row, (keys, what) in enumerate(rows):
            key = QLabel(keys)
            key.setStyleSheet("font-weight: 700; background: transparent;")
            text = QLabel(what)
            text.setStyleSheet("background: transparent;")
            self._grid.addWidget(key, row, 0)
            self._grid.addWidget(text, row, 1)
        parent = self.parentWidget()
        if parent is not None:
            self.setGeometry(parent.rect())
        self.raise_()
        self.show()
        self.setFocus()

    def paintEvent(self, event: QPaintEvent | None) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(13, 17, 23, 235))
        painter.end()

    def keyPressEvent(self, event: QKeyEvent | None) -> None:
        self.hide()

    def mousePressEvent(self, event: QMouseEvent | None) -> None:
        self.hide()
