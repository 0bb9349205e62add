"""Text from other people and from files, shown as the characters it is: never as HTML.

Qt reads a label's text, a message box's text and every tooltip as rich text whenever
it looks like HTML (``Qt::mightBeRichText``). A participant named
``<img src=/some/local/file.png>`` would then make every other client load that file
(a named pipe froze the window), and a chapter title could draw anything over the player.
So every widget that shows a name, a title, a chapter, a hospital, a label, a problem or
an error comes from here: :class:`PlainLabel` and :func:`plain_box` show their text as
plain text, :func:`tip` turns any text into a tooltip that shows it literally, and
:func:`message_lines` lays out a chat message so that the lines of its text can never pass
for another message. ``tests/ui/test_plain_text.py`` walks the windows with hostile names
and fails on any text Qt would read as rich text.
"""

from __future__ import annotations

import html

from PyQt6.QtCore import QSize, Qt
from PyQt6.QtGui import QPainter, QPaintEvent, QResizeEvent
from PyQt6.QtWidgets import QLabel, QMessageBox, QWidget

CONTINUATION = "    ┆ "
"""What begins every further line of a chat message (its text's own line breaks)."""


class PlainLabel(QLabel):
    """A label that shows its text as it is, whatever characters it holds."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setText(text)


class ElidedLabel(PlainLabel):
    """A one-line :class:`PlainLabel` that fits any width: when its text is too long it
    shows the start and "…", and the whole text in its tooltip (shown literally).

    ``text()`` is always the whole text. Names in the title bar and the REC line grow
    with the users' names; a plain label would make the window at least that wide.
    """

    MINIMUM_WIDTH = 80

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setWordWrap(False)

    def setText(self, text: str | None) -> None:
        super().setText(text)
        self._update_tip()

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(min(hint.width(), self.MINIMUM_WIDTH), hint.height())

    def elided(self) -> bool:
        """True when the label shows less than its whole text."""
        return self.fontMetrics().horizontalAdvance(self.text()) > self._text_rect().width()

    def _text_rect(self):  # type: ignore[no-untyped-def]
        m = self.margin()
        return self.contentsRect().adjusted(m, m, -m, -m)

    def _update_tip(self) -> None:
        self.setToolTip(tip(self.text()) if self.elided() else "")

    def resizeEvent(self, event: QResizeEvent | None) -> None:
        super().resizeEvent(event)
        self._update_tip()

    def paintEvent(self, event: QPaintEvent | None) -> None:
        painter = QPainter(self)
        self.drawFrame(painter)
        rect = self._text_rect()
        shown = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight,
                                              rect.width())
        style = self.style()
        if style is not None:
            style.drawItemText(painter, rect, int(self.alignment().value), self.palette(),
                               self.isEnabled(), shown, self.foregroundRole())


def plain_box(icon: QMessageBox.Icon, title: str, text: str,
              parent: QWidget | None = None) -> QMessageBox:
    """A message box (add its buttons) whose text is shown as it is."""
    box = QMessageBox(icon, title, "", QMessageBox.StandardButton.NoButton, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setText(text)
    return box


def tip(text: str) -> str:
    """A tooltip that shows ``text`` literally, line breaks kept (Qt reads tooltips as
    rich text when they look like it, so this one is rich text that says ``text``)."""
    if not text:
        return ""
    return f"<p style='white-space:pre-wrap'>{html.escape(text, quote=False)}</p>"


def message_lines(head: str, text: str) -> str:
    """``head`` and the first line of ``text``, then each further line of ``text``
    indented behind :data:`CONTINUATION`, so that no line of a message's text can look
    like the start of another message (``[10:02:11] Dr Wang (surgeon): ...``). Every kind
    of line break counts, Unicode's line and paragraph separators included."""
    first, *rest = text.splitlines() or [""]
    return "\n".join([f"{head}{first}", *(f"{CONTINUATION}{line}" for line in rest)])
