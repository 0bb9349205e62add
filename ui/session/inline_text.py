"""Typing a label where it goes: click on the video with the text tool, type, Enter.

The old text tool wanted the words typed into a toolbar field before the click. Now a
click opens a small field right on the picture at that point; Enter (or clicking
elsewhere) puts the label there for everyone, Esc drops it.
"""

from __future__ import annotations

from collections.abc import Callable

from PyQt6.QtCore import QEvent, QPoint, Qt
from PyQt6.QtGui import QFocusEvent, QKeyEvent
from PyQt6.QtWidgets import QLineEdit, QWidget

from surgery_teach.annotations import MAX_TEXT_CHARS
from ui.i18n import tr


class InlineText(QLineEdit):
    """A one-line field over the video; ``done(text)`` once, with "" when dropped."""

    def __init__(self, parent: QWidget, at: QPoint, done: Callable[[str], None]) -> None:
        super().__init__(parent)
        self._done: Callable[[str], None] | None = done
        self.setObjectName("inline-text")
        self.setMaxLength(MAX_TEXT_CHARS)
        self.setPlaceholderText(tr("Type the label, then Enter"))
        self.setMinimumWidth(220)
        self.adjustSize()
        # the baseline of the label is where the click was: the field sits just above it
        x = min(max(0, at.x()), max(0, parent.width() - self.width()))
        y = min(max(0, at.y() - self.height()), max(0, parent.height() - self.height()))
        self.move(x, y)
        self.returnPressed.connect(self.commit)
        self.show()
        self.setFocus(Qt.FocusReason.MouseFocusReason)

    def commit(self) -> None:
        self._finish(self.text().strip())

    def cancel(self) -> None:
        self._finish("")

    def _finish(self, text: str) -> None:
        done, self._done = self._done, None
        if done is None:
            return
        self.hide()
        self.deleteLater()
        done(text)

    def event(self, event: QEvent | None) -> bool:
        if (event is not None and event.type() == QEvent.Type.ShortcutOverride
                and isinstance(event, QKeyEvent) and event.key() == Qt.Key.Key_Escape):
            event.accept()  # Esc drops the label; it does not also unfreeze or leave
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent | None) -> None:
        if event is not None and event.key() == Qt.Key.Key_Escape:
            self.cancel()
            return
        super().keyPressEvent(event)

    def focusOutEvent(self, event: QFocusEvent | None) -> None:
        super().focusOutEvent(event)
        if self._done is not None:  # clicked elsewhere: what was typed is kept
            self.commit()
