"""Export a clip of a recorded case as an MP4 anyone can play: range, source, marks.

The range starts as the chapter playing at the playhead, else the 30 seconds up to it.
The core's :func:`export_clip` runs on a worker thread with a progress bar and Cancel
(a cancelled export leaves no file); errors such as a full disk are shown in plain words.
From an encrypted case the dialog shows the warning that the clip will not be encrypted,
and Export stays off until the user ticks that they accept it.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import platformdirs
from PyQt6.QtCore import Qt, QUrl, pyqtSignal
from PyQt6.QtGui import QDesktopServices
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from surgery_teach.casebook.export import export_clip, export_warning
from surgery_teach.casebook.playable import PlayableCase
from surgery_teach.casebook.timeline import Timeline
from surgery_teach.casefile.layout import slug
from surgery_teach.errors import SurgeryTeachError
from ui.common.plain import PlainLabel, tip
from ui.i18n import tr
from ui.library.controls import format_time, parse_time

logger = logging.getLogger("ui.export")

AROUND_SECONDS = 30.0


def default_range(timeline: Timeline, duration: float, position: float) -> tuple[float, float]:
    """The chapter playing at ``position``, else the 30 s up to it (the first 30 s at
    the very start)."""
    chapter = timeline.chapter_at(position)
    if chapter is not None:
        later = [c.time for c in timeline.chapters if c.time > chapter.time]
        end = min(later[0], duration) if later else duration
        if end - chapter.time > 0.1:
            return chapter.time, end
    end = min(duration, max(position, AROUND_SECONDS))
    return max(0.0, end - AROUND_SECONDS), end


def default_output(playable: PlayableCase, source: str, start: float, end: float) -> Path:
    """``<case folder>/<title>_<source>_<from>-<to>.mp4``, or in Videos if the case
    folder is read-only; never an existing file."""
    folder = playable.case.folder
    if not _writable(folder):
        folder = Path(platformdirs.user_videos_dir())
    stem = (f"{slug(playable.case.manifest.title)}_{slug(source)}_"
            f"{format_time(start).replace(':', '-')}_{format_time(end).replace(':', '-')}")
    path = folder / f"{stem}.mp4"
    n = 2
    while path.exists():
        path = folder / f"{stem}-{n}.mp4"
        n += 1
    return path


def _writable(folder: Path) -> bool:
    import os

    return folder.is_dir() and os.access(folder, os.W_OK)


class ExportDialog(QDialog):
    """Export part of ``playable``; ``finished_export(path or None, error text)`` at the
    end (``None`` and ``""`` when cancelled)."""

    finished_export = pyqtSignal(object, str)
    progressed = pyqtSignal(float)  # 0..1, emitted from the export's thread
    _done = pyqtSignal(object, str)

    def __init__(self, playable: PlayableCase, timeline: Timeline, *, source: str,
                 position: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.playable = playable
        self.timeline = timeline
        self.setWindowTitle(tr("Export clip"))
        self.setMinimumWidth(780)
        self.result_path: Path | None = None
        self._cancel: threading.Event | None = None
        self._thread: threading.Thread | None = None
        self._allow_plain = False
        start, end = default_range(timeline, playable.duration, position)

        self.start_field = QLineEdit(format_time(start, tenths=True))
        self.end_field = QLineEdit(format_time(end, tenths=True))
        for field in (self.start_field, self.end_field):
            field.setPlaceholderText("m:ss")
            field.setMaximumWidth(140)
            field.textChanged.connect(self._check)
        self.length = PlainLabel("")
        self.length.setObjectName("muted")
        self.source = QComboBox()
        for label in playable.playable:
            self.source.addItem(label, label)
        self.source.setCurrentIndex(max(0, self.source.findData(source)))
        self.marks = QCheckBox(tr("Burn the marks into the picture"))
        self.marks.setChecked(True)
        # An encrypted case: the clip is plain only by choice, after this warning.
        self.plain_warning: PlainLabel | None = None
        self.accept_plain: QCheckBox | None = None
        if export_warning(playable.case) is not None:
            self.plain_warning = PlainLabel(tr(
                "This case is encrypted, but the exported clip will be a plain MP4 that anyone "
                "who gets the file can watch. Export only pictures without patient "
                "identifiers (names, ID numbers, dates of birth, faces) and keep the clip on "
                "hospital storage."))
            self.plain_warning.setWordWrap(True)
            self.plain_warning.setObjectName("error")
            self.accept_plain = QCheckBox(tr("I understand: export without encryption"))
            self.accept_plain.toggled.connect(self._check)
        # The name follows the range and source until the user types one of their own.
        self._named = str(default_output(playable, source, start, end))
        self.output = QLineEdit(self._named)
        self.output.textChanged.connect(self._check)
        self.source.currentIndexChanged.connect(lambda _: self._follow_range())
        self.output.textChanged.connect(lambda text: self.output.setToolTip(tip(text)))
        self.output.setToolTip(tip(self.output.text()))
        self.browse = QPushButton(tr("Choose…"))
        self.browse.clicked.connect(self._choose_output)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.message = PlainLabel("")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.export_button = QPushButton(tr("Export"))
        self.export_button.setObjectName("primary")
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.start_export)
        self.cancel_button = QPushButton(tr("Cancel"))
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button = QPushButton(tr("Close"))
        self.close_button.clicked.connect(self.reject)
        self.show_button = QPushButton(tr("Show in folder"))
        self.show_button.setToolTip(tr("Open the folder that holds the exported clip"))
        self.show_button.clicked.connect(lambda: self.reveal(self.result_path))
        self.show_button.hide()

        span = QHBoxLayout()
        span.addWidget(self.start_field)
        span.addWidget(PlainLabel("–"))
        span.addWidget(self.end_field)
        span.addWidget(self.length, 1)
        out = QHBoxLayout()
        out.addWidget(self.output, 1)
        out.addWidget(self.browse)
        form = QFormLayout()
        form.addRow(tr("From – to"), span)
        form.addRow(tr("Source"), self.source)
        form.addRow("", self.marks)
        form.addRow(tr("Save as"), out)
        if self.plain_warning is not None and self.accept_plain is not None:
            form.addRow("", self.plain_warning)
            form.addRow("", self.accept_plain)
        buttons = QHBoxLayout()
        buttons.addWidget(self.show_button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addStretch(1)
        layout.addLayout(buttons)
        self.progressed.connect(lambda f: self.progress.setValue(round(f * 1000)))
        self._done.connect(self._finished)
        self._busy(False)
        self._check()

    # -- the form --------------------------------------------------------------------------

    def span(self) -> tuple[float, float] | None:
        start, end = parse_time(self.start_field.text()), parse_time(self.end_field.text())
        if start is None or end is None:
            return None
        return start, end

    def _problem(self) -> str:
        span = self.span()
        if span is None:
            return tr("Write the times like 12:31 or 1:02:03.5.")
        start, end = span
        if end <= start:
            return tr("The clip must end after it starts.")
        if start >= self.playable.duration:
            return tr("The case is only {length} long.",
                      length=format_time(self.playable.duration))
        if not self.output.text().strip():
            return tr("Choose where to save the clip.")
        if self.accept_plain is not None and not self.accept_plain.isChecked():
            return tr("Tick the box to export this encrypted case as a plain clip.")
        return ""

    def _follow_range(self) -> None:
        """Rename the clip after a change of range or source, unless the user named it."""
        span = self.span()
        if span is None or span[1] <= span[0] or self.output.text() != self._named:
            return
        self._named = str(default_output(self.playable, str(self.source.currentData()),
                                         span[0], min(span[1], self.playable.duration)))
        self.output.setText(self._named)

    def _check(self) -> None:
        if self._thread is None and hasattr(self, "show_button"):
            self._follow_range()
        problem = self._problem()
        span = self.span()
        if span is not None and span[1] > span[0]:
            end = min(span[1], self.playable.duration)
            self.length.setText(tr("{length} long", length=format_time(end - span[0],
                                                                       tenths=True)))
        else:
            self.length.setText("")
        self._say(problem, error=True)
        if self._thread is None:
            self.export_button.setEnabled(not problem)

    def _say(self, text: str, *, error: bool = False) -> None:
        self.message.setObjectName("error" if error else "")
        self.message.setStyleSheet("" if error else "color: #3fb950; font-weight: 600;")
        self.message.setText(text)

    def _choose_output(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, tr("Save the clip as"), self.output.text(),
                                              tr("MP4 video (*.mp4)"))
        if path:
            self.output.setText(path if path.lower().endswith(".mp4") else path + ".mp4")

    def _busy(self, busy: bool) -> None:
        for widget in (self.start_field, self.end_field, self.source, self.marks, self.output,
                       self.browse, self.export_button, self.close_button, self.accept_plain):
            if widget is not None:
                widget.setEnabled(not busy)
        self.cancel_button.setVisible(busy)
        self.progress.setVisible(busy or self.progress.value() > 0)

    # -- exporting -------------------------------------------------------------------------

    def start_export(self) -> None:
        """Start the export on a worker thread (no-op while one runs or the form is bad)."""
        problem = self._problem()
        span = self.span()
        if self._thread is not None or problem or span is None:
            return
        start, end = span[0], min(span[1], self.playable.duration)
        out = Path(self.output.text().strip()).expanduser()
        source, marks = str(self.source.currentData()), self.marks.isChecked()
        self._cancel = threading.Event()
        # read here, on the GUI thread: the worker must not touch widgets
        self._allow_plain = self.accept_plain is not None and self.accept_plain.isChecked()
        self.progress.setValue(0)
        self._busy(True)
        self._say(tr("Exporting {length} of {source}…", length=format_time(end - start),
                     source=source))
        self._thread = threading.Thread(
            target=self._work, args=(source, start, end, out, marks, self._cancel),
            name="export clip", daemon=True)
        self._thread.start()

    def _work(self, source: str, start: float, end: float, out: Path, marks: bool,
              cancel: threading.Event) -> None:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            done = export_clip(self.playable.case, source, start, end, out, marks=marks,
                               progress=self.progressed.emit, cancel=cancel,
                               timeline=self.timeline,
                               allow_plain=self._allow_plain)
        except SurgeryTeachError as exc:
            self._done.emit(None, str(exc))
            return
        except OSError as exc:
            self._done.emit(None, tr("Cannot write {path}: {reason}", path=str(out),
                                     reason=exc.strerror or str(exc)))
            return
        except Exception as exc:  # never a traceback for the user; the log keeps it
            logger.exception("export failed")
            self._done.emit(None, tr("The export failed: {reason}", reason=str(exc)))
            return
        self._done.emit(done, "")

    def reveal(self, path: Path | None) -> bool:
        """Open the file manager on the folder holding ``path`` (the exported clip)."""
        if path is None:
            return False
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(path).parent)))

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
            self._say(tr("Cancelling…"))

    def _finished(self, path: Path | None, error: str) -> None:
        if self._thread is not None:
            self._thread.join(5)
        self._thread = None
        self._busy(False)
        self.result_path = path
        if error:
            self._say(error, error=True)
        elif path is None:
            self.progress.setValue(0)
            self.progress.hide()
            self._say(tr("Export cancelled; no file was left behind."))
        else:
            self.progress.setValue(1000)
            # the next export must not overwrite this one
            self._named = str(default_output(self.playable, str(self.source.currentData()),
                                             *(self.span() or (0.0, 0.0))))
            self.output.setText(self._named)
            self._say(tr("Saved: {path}", path=str(path)))
            self.show_button.show()
        self.finished_export.emit(path, error)

    def stop(self) -> None:
        """Cancel a running export and wait for it (closing the player)."""
        thread = self._thread
        if thread is not None and self._cancel is not None:
            self._cancel.set()
            thread.join(10)
            if not thread.is_alive():
                self._thread = None
                self._busy(False)

    def reject(self) -> None:
        if self._thread is not None:  # closing while exporting cancels first
            self.cancel()
            return
        super().reject()

    @property
    def running(self) -> bool:
        return self._thread is not None

    @property
    def cancel_event(self) -> threading.Event | None:
        """The running export's cancel flag (thread-safe; :meth:`cancel` also says so)."""
        return self._cancel
