"""The session window's recording widgets: Record and Chapter buttons (Ctrl+R, Ctrl+K),
the REC indicator everyone sees while anyone in the room records, the alarm line when our
recording stops by itself, and the chapter title field (inline beside the Chapter button:
a dialog would cover the live video the chapter is about). They show a
:class:`~ui.recording.control.RecordingControl` and pass clicks to it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from PyQt6.QtCore import QEvent, QObject, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PyQt6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLineEdit,
    QPushButton,
    QWidget,
)

from surgery_teach.protocol.messages import ChapterMessage, RecorderInfo
from surgery_teach.settings import Settings
from ui.common.icons import give_icon
from ui.common.plain import ElidedLabel, PlainLabel
from ui.i18n import tr
from ui.recording.control import RecordingControl
from ui.recording.dialog import RecordDialog


def indicator_text(recorders: tuple[RecorderInfo, ...], me: str) -> str:
    """``● REC — Dr Wang recording`` for the room's recorders (``me``: our id)."""
    others = ", ".join(r.name for r in recorders if r.id != me)
    if not any(r.id == me for r in recorders):
        return tr("● REC — {names} recording", names=others)
    if not others:
        return tr("● REC — you are recording")
    return tr("● REC — you and {names} are recording", names=others)


class _TitleLine(QLineEdit):
    """The title field; Esc drops the chapter (and reaches no window shortcut)."""

    escaped = pyqtSignal()

    def event(self, event: QEvent | None) -> bool:
        if (event is not None and event.type() == QEvent.Type.ShortcutOverride
                and isinstance(event, QKeyEvent) and event.key() == Qt.Key.Key_Escape):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent | None) -> None:
        if event is not None and event.key() == Qt.Key.Key_Escape:
            self.escaped.emit()
            return
        super().keyPressEvent(event)


class ChapterField(QWidget):
    """The title of the chapter that starts now, typed beside the Chapter button
    (default ``Step N``); Enter or Start starts it (``chosen``), Esc or ✕ drops it."""

    chosen = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = _TitleLine()
        self.title.setMaxLength(200)  # the protocol's limit
        self.title.setPlaceholderText(tr("Title of the chapter that starts now"))
        self.title.setMinimumWidth(200)
        self.start = QPushButton(tr("Start chapter"))
        self.cancel = QPushButton("✕")
        self.cancel.setToolTip(tr("Cancel"))
        for button in (self.start, self.cancel):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.title.returnPressed.connect(self.accept)
        self.start.clicked.connect(self.accept)
        self.cancel.clicked.connect(self.hide)
        self.title.textChanged.connect(lambda text: self.start.setEnabled(bool(text.strip())))
        self.title.escaped.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title, 1)
        layout.addWidget(self.start)
        layout.addWidget(self.cancel)
        self.hide()

    def ask(self, default: str) -> None:
        """Show the field with ``default`` selected, ready to type over."""
        self.title.setText(default)
        self.title.selectAll()
        self.show()
        self.title.setFocus()

    def accept(self) -> None:
        text = self.title.text().strip()
        if text and self.isVisible():
            self.hide()
            self.chosen.emit(text)


class RecordingWidgets(QObject):
    """The window's recording widgets, wired to a :class:`RecordingControl`.

    ``record_button`` and ``chapter_button`` (surgeons and mentors only; Ctrl+R and
    Ctrl+K on ``window``), ``indicator`` (the red REC line everyone sees while anyone in
    the room records) and ``alarm`` (why our recording stopped by itself, e.g. a full
    disk; it stays up while the live session goes on). ``note`` writes a line into the
    chat panel. ``me`` gives our participant id (for "you" in the indicator).
    """

    def __init__(self, control: RecordingControl, window: QWidget, *,
                 note: Callable[[str], None], me: Callable[[], str]) -> None:
        super().__init__(window)
        self.control = control
        self.window = window
        control.ask_passphrase = self.ask_passphrase
        self._note = note
        self._me = me
        self.chapter_field = ChapterField(window)
        self.chapter_field.chosen.connect(control.start_chapter)
        self.record_dialog: RecordDialog | None = None
        self.leaving = False  # Leave was clicked: Record and Chapter are off for good
        self.record_button = QPushButton()
        self.record_button.setCheckable(True)
        self.record_button.setObjectName("record")
        self.record_button.clicked.connect(lambda _checked: self.record_pressed())
        self.chapter_button = QPushButton(tr("Chapter (Ctrl+K)"))
        self.chapter_button.clicked.connect(self.open_chapter_field)
        give_icon(self.chapter_button, "chapter")
        for button in (self.record_button, self.chapter_button):
            button.setVisible(control.can_record)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Space is push-to-talk
        self.indicator = ElidedLabel("")  # names grow; the whole line is its tooltip
        self.indicator.setObjectName("recording")
        self.indicator.hide()
        self.alarm = PlainLabel("")
        self.alarm.setObjectName("alarm")
        self.alarm.setWordWrap(True)
        self.alarm.hide()
        if control.can_record:
            QShortcut(QKeySequence("Ctrl+R"), window, activated=self.record_pressed)
            QShortcut(QKeySequence("Ctrl+K"), window, activated=self.open_chapter_field)
        control.changed.connect(self.refresh)
        control.problem.connect(self._on_problem)
        control.saved.connect(lambda folder: note(tr("Recording saved in {folder}",
                                                     folder=folder)))
        control.chapter_started.connect(self._on_chapter)
        self._clock = QTimer(self)
        self._clock.timeout.connect(self.refresh)
        self._clock.start(1000)  # the running time of our recording
        self.refresh()

    def ask_passphrase(self) -> str | None:
        """The hospital passphrase recordings are encrypted with, where this computer has
        no keyring to keep a key in (None: cancelled)."""
        text, ok = QInputDialog.getText(
            self.window, tr("Encrypted recording"),
            tr("This computer has no keyring to keep the recording key in. Hospital "
               "passphrase (at least 10 characters; kept until you leave):"),
            QLineEdit.EchoMode.Password)
        return text if ok and text else None

    def refresh(self) -> None:
        control = self.control
        active = control.active
        self.record_button.setChecked(active)
        self.record_button.setEnabled(not control.busy and not self.leaving)
        self.record_button.setText(
            tr("■ Stop recording (Ctrl+R)") if active else tr("● Record (Ctrl+R)")
        )
        recorders = control.recorders
        self.chapter_button.setEnabled(bool(recorders) and not self.leaving)
        if not recorders or self.leaving:
            self.chapter_field.hide()
        if not recorders:
            self.indicator.hide()
            return
        text = indicator_text(recorders, self._me())
        started = self._started()
        if active and started is not None:
            elapsed = int(max(0.0, time.time() - started))
            text += f"  {elapsed // 3600:d}:{elapsed // 60 % 60:02d}:{elapsed % 60:02d}"
        self.indicator.setText(text)
        self.indicator.show()

    def _started(self) -> float | None:
        return self.control.started_at

    def leave(self) -> None:
        """Leave was clicked: Record and Chapter do nothing from now on (the window's
        leaving stops our recording), and the record dialog and chapter field close."""
        self.leaving = True
        if self.record_dialog is not None:
            self.record_dialog.reject()
        self.chapter_field.hide()
        self.refresh()

    def record_pressed(self) -> None:
        """Stop at once; or ask for the procedure's title and hospital, then start."""
        control = self.control
        if control.busy or not control.can_record or self.leaving:
            self.refresh()
            return
        if control.active:
            control.toggle()
            return
        self.refresh()  # a checkable button checked itself on the click
        if self.record_dialog is not None and self.record_dialog.isVisible():
            self.record_dialog.raise_()
            return
        settings = Settings.load()
        hospital = control.hospital or settings.hospital
        self.record_dialog = RecordDialog(control.title, hospital, self.window,
                                          encrypt=settings.encrypt_recordings)
        self.record_dialog.chosen.connect(self._start_recording)
        self.record_dialog.open()

    def _start_recording(self, title: str, hospital: str, encrypt: bool = True) -> None:
        if self.leaving:
            return
        self.control.title, self.control.hospital = title, hospital
        self.control.encrypt = encrypt
        settings = Settings.load()
        if (settings.hospital, settings.encrypt_recordings) != (hospital, encrypt):
            settings.hospital, settings.encrypt_recordings = hospital, encrypt
            with contextlib.suppress(OSError):  # only a convenience for the next case
                settings.save()
        self.control.toggle()

    def open_chapter_field(self) -> None:
        """Ask for a title beside the button and start a chapter (Chapter, Ctrl+K)."""
        if not self.control.can_record or not self.control.recorders or self.leaving:
            return
        if self.chapter_field.isVisible():
            self.chapter_field.title.setFocus()
            return
        self.chapter_field.ask(self.control.next_chapter_title())

    def _on_problem(self, text: str) -> None:
        self.alarm.setText(text)
        self.alarm.show()
        self._note(text)

    def _on_chapter(self, chapter: ChapterMessage) -> None:
        self._note(tr("Chapter {n}: {title} ({name})", n=chapter.seq, title=chapter.title,
                      name=chapter.name))
