"""Beside the recorded video: the chapter list (click to jump, edit afterwards) and the
chat as it stood at the playhead (lines still to come are dimmed)."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from pathlib import Path

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QBrush, QColor, QFont
from PyQt6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from surgery_teach.casebook.chapters import (
    Chapter,
    add_chapter,
    delete_chapter,
    rename_chapter,
    save_chapters,
)
from surgery_teach.casebook.timeline import ChatLine, Presence
from surgery_teach.errors import RecordingError
from ui.common.plain import PlainLabel, message_lines, tip
from ui.i18n import role_name, tr
from ui.library.controls import format_time
from ui.theme import MUTED, TEXT

TIME_ROLE = Qt.ItemDataRole.UserRole
ID_ROLE = Qt.ItemDataRole.UserRole + 1


class ChapterPanel(QWidget):
    """The case's chapters; ``jump(t)`` on a click, ``edited(chapters)`` after a saved edit."""

    jump = pyqtSignal(float)
    edited = pyqtSignal(object)

    def __init__(self, folder: Path, playhead: Callable[[], float],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folder = folder
        self._playhead = playhead
        self.chapters: list[Chapter] = []
        title = PlainLabel(tr("Chapters"))
        title.setObjectName("muted")
        self.list = QListWidget()
        self.list.itemClicked.connect(lambda item: self.jump.emit(float(item.data(TIME_ROLE))))
        self.list.itemActivated.connect(lambda item: self.jump.emit(float(item.data(TIME_ROLE))))
        self.add_button = QPushButton(tr("Add"))
        self.add_button.setToolTip(tr("Start a chapter at the playhead"))
        self.rename_button = QPushButton(tr("Rename"))
        self.delete_button = QPushButton(tr("Delete"))
        self.add_button.clicked.connect(self._ask_add)
        self.rename_button.clicked.connect(self._ask_rename)
        self.delete_button.clicked.connect(self._delete_selected)
        self.problem = PlainLabel("")
        self.problem.setObjectName("error")
        self.problem.setWordWrap(True)
        self.problem.hide()
        buttons = QHBoxLayout()
        for button in (self.add_button, self.rename_button, self.delete_button):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(title)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.problem)

    def show_chapters(self, chapters: Sequence[Chapter]) -> None:
        self.chapters = list(chapters)
        self.list.clear()
        for chapter in self.chapters:
            item = QListWidgetItem(f"{format_time(chapter.time)}   {chapter.title}")
            item.setData(TIME_ROLE, chapter.time)
            item.setData(ID_ROLE, chapter.id)
            item.setToolTip(tip(chapter.title))
            self.list.addItem(item)
        if not self.chapters:
            item = QListWidgetItem(tr("No chapters yet: Add starts one at the playhead"))
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            item.setData(TIME_ROLE, 0.0)
            self.list.addItem(item)

    def show_current(self, t: float) -> None:
        """Bold the chapter playing at ``t``."""
        times = [c.time for c in self.chapters]
        current = bisect.bisect_right(times, t) - 1
        for row in range(len(self.chapters)):
            item = self.list.item(row)
            if item is not None and item.font().bold() != (row == current):
                font = QFont(item.font())
                font.setBold(row == current)
                item.setFont(font)

    def selected_id(self) -> str | None:
        item = self.list.currentItem()
        value = item.data(ID_ROLE) if item is not None else None
        return str(value) if value else None

    # -- edits -----------------------------------------------------------------------------

    def add_at(self, title: str, t: float) -> None:
        self._apply(lambda chs: add_chapter(chs, title, t))

    def rename(self, chapter_id: str, title: str) -> None:
        self._apply(lambda chs: rename_chapter(chs, chapter_id, title))

    def delete(self, chapter_id: str) -> None:
        self._apply(lambda chs: delete_chapter(chs, chapter_id))

    def _apply(self, edit: Callable[[list[Chapter]], list[Chapter]]) -> None:
        try:
            chapters = edit(self.chapters)
            save_chapters(self.folder, chapters)
        except RecordingError as exc:
            self.problem.setText(str(exc))
            self.problem.show()
            return
        self.problem.hide()
        self.show_chapters(chapters)
        self.edited.emit(chapters)

    def _ask_add(self) -> None:
        t = self._playhead()
        title, ok = QInputDialog.getText(self, tr("Add chapter"),
                                         tr("Title of the chapter starting at {time}",
                                            time=format_time(t)))
        if ok and title.strip():
            self.add_at(title.strip(), t)

    def _ask_rename(self) -> None:
        chapter_id = self.selected_id()
        chapter = next((c for c in self.chapters if c.id == chapter_id), None)
        if chapter is None:
            return
        title, ok = QInputDialog.getText(self, tr("Rename chapter"), tr("New title"),
                                         text=chapter.title)
        if ok and title.strip():
            self.rename(chapter.id, title.strip())

    def _delete_selected(self) -> None:
        chapter_id = self.selected_id()
        if chapter_id is not None:
            self.delete(chapter_id)


class RecordedChat(QWidget):
    """Chat and comings and goings of the case; lines after the playhead are dimmed and
    the newest line at the playhead is highlighted. ``jump(t)`` on a click."""

    jump = pyqtSignal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title = PlainLabel(tr("Chat"))
        title.setObjectName("muted")
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.itemClicked.connect(lambda item: self.jump.emit(float(item.data(TIME_ROLE))))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(title)
        layout.addWidget(self.list, 1)
        self._times: list[float] = []
        self._shown = -2  # index of the last line at or before the playhead

    def show_lines(self, chat: Sequence[ChatLine], presence: Sequence[Presence]) -> None:
        rows: list[tuple[float, str]] = []
        for line in chat:
            who = line.sender or tr("someone")
            role = f" ({_role(line.role)})" if line.role else ""
            rows.append((line.time, message_lines(f"{format_time(line.time)}  {who}{role}: ",
                                                  line.text)))
        for event in presence:
            text = (tr("{name} joined", name=event.name) if event.joined
                    else tr("{name} left", name=event.name))
            rows.append((event.time, f"{format_time(event.time)}  · {text}"))
        rows.sort(key=lambda r: r[0])
        self.list.clear()
        self._times = [t for t, _ in rows]
        for t, text in rows:
            item = QListWidgetItem(text)
            item.setData(TIME_ROLE, t)
            self.list.addItem(item)
        if not rows:
            item = QListWidgetItem(tr("No chat in this case"))
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            item.setData(TIME_ROLE, 0.0)
            self.list.addItem(item)
        self._shown = -2

    def lines_until(self, t: float) -> int:
        """How many lines had been sent by case time ``t``."""
        return bisect.bisect_right(self._times, t)

    def show_time(self, t: float) -> None:
        last = self.lines_until(t) - 1
        if last == self._shown:
            return
        self._shown = last
        for row, _ in enumerate(self._times):
            item = self.list.item(row)
            if item is None:
                continue
            item.setForeground(QBrush(QColor(TEXT if row <= last else MUTED)))
            font = QFont(item.font())
            font.setBold(row == last)
            item.setFont(font)
        if last >= 0:
            self.list.scrollToItem(self.list.item(last))

    def past_lines(self) -> list[str]:
        """The texts of the lines at or before the playhead (what a test reads)."""
        return [self.list.item(row).text() for row in range(self._shown + 1)
                if self.list.item(row) is not None]


def _role(role: str) -> str:
    try:
        return role_name(role)
    except ValueError:  # a role this version does not know
        return role
