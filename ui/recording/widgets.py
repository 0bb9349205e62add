"""The session window's recording widgets: Record and Chapter buttons (Ctrl+R, Ctrl+K),
the REC indicator everyone sees while anyone in the room records, the alarm line when our
recording stops by itself, and the chapter title dialog. They show a
:class:`~ui.recording.control.RecordingControl` and pass clicks to it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from PyQt6.QtCore import QObject, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QKeySequence, QShortcut
from PyQt6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from surgery_teach.protocol.messages import ChapterMessage, RecorderInfo
from surgery_teach.settings import Settings
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


class ChapterDialog(QDialog):
    """Asks for a chapter's title (default ``Step N``); ``chosen`` carries it on OK."""

    chosen = pyqtSignal(str)

    def __init__(self, default: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("New chapter"))
        self.title = QLineEdit(default)
        self.title.setMaxLength(200)  # the protocol's limit
        self.title.selectAll()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        cancel = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        assert ok is not None and cancel is not None
        ok.setText(tr("Start chapter"))
        cancel.setText(tr("Cancel"))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.title.textChanged.connect(lambda text: ok.setEnabled(bool(text.strip())))
        layout = QVBoxLayout(self)
        layout.addWidget(PlainLabel(tr("Title of the chapter that starts now:")))
        layout.addWidget(self.title)
        layout.addWidget(self.buttons)

    def accept(self) -> None:
        text = self.title.text().strip()
        if text:
            self.chosen.emit(text)
        super().accept()


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
        self._note = note
        self._me = me
        self.dialog: ChapterDialog | None = None
        self.record_dialog: RecordDialog | None = None
        self.leaving = False  # Leave was clicked: Record and Chapter are off for good
        self.record_button = QPushButton()
        self.record_button.setCheckable(True)
        self.record_button.setObjectName("record")
        self.record_button.clicked.connect(lambda _checked: self.record_pressed())
        self.chapter_button = QPushButton(tr("Chapter (Ctrl+K)"))
        self.chapter_button.clicked.connect(self.open_chapter_dialog)
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
            QShortcut(QKeySequence("Ctrl+K"), window, activated=self.open_chapter_dialog)
        control.changed.connect(self.refresh)
        control.problem.connect(self._on_problem)
        control.saved.connect(lambda folder: note(tr("Recording saved in {folder}",
                                                     folder=folder)))
        control.chapter_started.connect(self._on_chapter)
        self._clock = QTimer(self)
        self._clock.timeout.connect(self.refresh)
        self._clock.start(1000)  # the running time of our recording
        self.refresh()

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
        leaving stops our recording), and their dialogs close."""
        self.leaving = True
        for dialog in (self.dialog, self.record_dialog):
            if dialog is not None:
                dialog.reject()
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
        hospital = control.hospital or Settings.load().hospital
        self.record_dialog = RecordDialog(control.title, hospital, self.window)
        self.record_dialog.chosen.connect(self._start_recording)
        self.record_dialog.open()

    def _start_recording(self, title: str, hospital: str) -> None:
        if self.leaving:
            return
        self.control.title, self.control.hospital = title, hospital
        settings = Settings.load()
        if settings.hospital != hospital:
            settings.hospital = hospital
            with contextlib.suppress(OSError):  # only a convenience for the next case
                settings.save()
        self.control.toggle()

    def open_chapter_dialog(self) -> None:
        """Ask for a title and start a chapter (Chapter button, Ctrl+K)."""
        if not self.control.can_record or not self.control.recorders or self.leaving:
            return
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.raise_()
            return
        self.dialog = ChapterDialog(self.control.next_chapter_title(), self.window)
        self.dialog.chosen.connect(self.control.start_chapter)
        self.dialog.open()

    def _on_problem(self, text: str) -> None:
        self.alarm.setText(text)
        self.alarm.show()
        self._note(text)

    def _on_chapter(self, chapter: ChapterMessage) -> None:
        self._note(tr("Chapter {n}: {title} ({name})", n=chapter.seq, title=chapter.title,
                      name=chapter.name))
