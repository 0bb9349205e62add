"""The chat panel: messages with time and author, kept for the whole session."""

from __future__ import annotations

import time
from collections.abc import Callable

from PyQt6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from surgery_teach.protocol.messages import ChatMessage
from ui.i18n import role_name, tr

MAX_CHAT_CHARS = 2000


class ChatPanel(QWidget):
    """Shows chat; ``send`` is called with the text the user typed."""

    def __init__(self, send: Callable[[str], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._send = send
        self._seen: set[int] = set()
        self.messages: list[ChatMessage] = []
        self.title = QLabel(tr("Chat"))
        self.title.setObjectName("muted")
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
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
        self.log.appendPlainText(
            f"[{stamp}] {message.name} ({role_name(message.role)}): {message.text}"
        )

    def note(self, text: str) -> None:
        """A line from the application itself (joins, leaves, errors)."""
        stamp = time.strftime("%H:%M:%S")
        self.log.appendPlainText(f"[{stamp}] · {text}")
