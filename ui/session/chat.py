"""The chat panel: messages with time and author, kept for the whole session.

Each message is an item of its own in a list, its text's further lines indented behind a
mark (:func:`~ui.common.plain.message_lines`), so a message whose text holds a line break
and ``[10:02:11] Dr Wang (surgeon): ...`` still reads as one message from its sender,
never as a second one from the surgeon.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from surgery_teach.protocol.messages import ChatMessage
from ui.common.plain import PlainLabel, message_lines
from ui.i18n import role_name, tr

MAX_CHAT_CHARS = 2000


class ChatLog(QListWidget):
    """The messages and notes, one item each, oldest first."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.setAlternatingRowColors(True)  # where one message ends and the next begins
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)

    def append(self, text: str) -> QListWidgetItem:
        item = QListWidgetItem(text)  # an item's text is never read as rich text
        self.addItem(item)
        self.scrollToBottom()
        return item

    def lines(self) -> list[str]:
        """Each item's text."""
        return [self.item(row).text() for row in range(self.count())]

    def toPlainText(self) -> str:
        """All of it, as the text editor this list replaced gave it."""
        return "\n".join(self.lines())


class ChatPanel(QWidget):
    """Shows chat; ``send`` is called with the text the user typed."""

    def __init__(self, send: Callable[[str], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._send = send
        self._seen: set[int] = set()
        self.messages: list[ChatMessage] = []
        self.title = PlainLabel(tr("Chat"))
        self.title.setObjectName("muted")
        self.log = ChatLog()
        self.input = QLineEdit()
        self.input.setMaxLength(MAX_CHAT_CHARS)
        self.input.setPlaceholderText(tr("Type a message and press Enter"))
        self.input.returnPressed.connect(self._submit)
        self.button = QPushButton(tr("Send"))
        self.button.clicked.connect(self._submit)
        row = QHBoxLayout()
        row.addWidget(self.input, 1)
        row.addWidget(self.button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.log, 1)
        layout.addLayout(row)

    def _submit(self) -> None:
        text = self.input.text().strip()
        if text:
            self._send(text)
            self.input.clear()

    def add(self, message: ChatMessage) -> None:
        """Show a message once, however often it is delivered (history, reconnects)."""
        if message.seq in self._seen:
            return
        self._seen.add(message.seq)
        self.messages.append(message)
        stamp = time.strftime("%H:%M:%S", time.localtime(message.time))
        head = f"[{stamp}] {message.name} ({role_name(message.role)}): "
        self.log.append(message_lines(head, message.text))

    def note(self, text: str) -> None:
        """A line from the application itself (joins, leaves, errors)."""
        stamp = time.strftime("%H:%M:%S")
        item = self.log.append(message_lines(f"[{stamp}] · ", text))
        item.setForeground(self.palette().placeholderText())
