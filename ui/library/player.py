"""The player for a recorded case: video with the mentor's marks, seek bar with chapters,
frame steps, speed with sound kept in step, sources, chapters and chat beside it.

Decoding runs on a :class:`VideoWorker` thread that hands the newest frame to the same
:class:`VideoView` the live session uses, and the marks are painted by the same
:func:`paint_marks`, so a mark sits where and when it was drawn live. Keys: Space play or
pause, ``,`` ``.`` a frame back or forward, Left/Right five seconds, Tab the next
source, M the marks.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from PyQt6.QtCore import QRectF, QSignalBlocker, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QCloseEvent, QKeySequence, QPainter, QShortcut
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from surgery_teach.capture.base import FrameSlot
from surgery_teach.capture.frame_sei import read_frame_sei
from surgery_teach.casebook.chapters import Chapter
from surgery_teach.casebook.playable import PlayableCase, open_case
from surgery_teach.casebook.timeline import Timeline, build_timeline
from ui.common.marks import paint_marks
from ui.common.plain import PlainLabel
from ui.common.video_view import VideoView
from ui.i18n import problem_text, tr
from ui.library.audio import AudioOutput
from ui.library.clock import SPEEDS, PlaybackClock
from ui.library.controls import TimelineBar, format_time
from ui.library.export_dialog import ExportDialog
from ui.library.shared_picture import RecordedPictures
from ui.library.side import ChapterPanel, RecordedChat
from ui.library.video import VideoWorker

TICK_MS = 40
JUMP_SECONDS = 5.0


def load_case(folder: Path) -> tuple[PlayableCase, Timeline]:
    """Open a case for the player (blocking: call it on a worker thread).
    Raises :class:`RecordingError` if nothing in ``folder`` plays."""
    playable = open_case(folder)
    return playable, build_timeline(playable.case, duration=playable.duration)


def speed_text(speed: float) -> str:
    return f"{speed:g}×"


class PlayerWindow(QWidget):
    """Plays one case. ``closed`` fires when the window closes. ``audio=False`` plays
    without sound (tests, or a machine where the speaker misbehaves)."""

    closed = pyqtSignal()
    _worker_failed = pyqtSignal(str)
    #: The sound output; a test swaps in one with a fake sound card.
    audio_output_type: type[AudioOutput] = AudioOutput

    def __init__(self, playable: PlayableCase, timeline: Timeline, *, audio: bool = True,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.playable = playable
        self.timeline = timeline
        self.folder = playable.case.folder
        manifest = playable.case.manifest
        self.setWindowTitle(tr("Recorded case — {title}", title=manifest.title))
        self.resize(1500, 900)
        self.clock = PlaybackClock(playable.duration)
        self.source = playable.playable[0] if playable.playable else ""  # "": no video plays
        self.marks_visible = True
        self.worker: VideoWorker | None = None
        self.audio: AudioOutput | None = None
        self.export_dialog: ExportDialog | None = None
        self._painted_at = -1.0  # playhead the marks were last painted for

        title = PlainLabel(manifest.title)
        title.setObjectName("title")
        details = [d for d in (_date_text(playable), manifest.hospital,
                               format_time(playable.duration)) if d]
        subtitle = PlainLabel(" · ".join(details))
        subtitle.setObjectName("muted")
        self.notice = PlainLabel("")
        self.notice.setObjectName("banner")
        self.notice.setWordWrap(True)
        self.notice.hide()

        self.view = VideoView()
        self.view.overlays.append(self._paint_marks)
        # a picture shared during the case shows in the video's place for its stretch
        self.pictures = RecordedPictures(self.folder, timeline, self.clock.position,
                                         on_problem=self._show_problem)
        self.pictures.changed.connect(self._tick)
        self.stage = QStackedWidget()
        self.stage.addWidget(self.view)
        self.stage.addWidget(self.pictures.view)
        self.bar = TimelineBar()
        self.bar.set_case(playable.duration, timeline.chapters,
                          [m.time for m in timeline.mark_ticks],
                          [(p.start, p.end) for p in timeline.privacy],
                          [(s.start, s.end) for s in timeline.shares])
        self.bar.seek_requested.connect(self.seek)

        self.back_button = QPushButton("◀▮")
        self.back_button.setToolTip(tr("One frame back (,)"))
        self.play_button = QPushButton(tr("Play"))
        self.play_button.setToolTip(tr("Play or pause (Space)"))
        self.play_button.setObjectName("primary")
        self.forward_button = QPushButton("▮▶")
        self.forward_button.setToolTip(tr("One frame forward (.)"))
        self.zoom_out_button = QPushButton("−")
        self.zoom_out_button.setToolTip(tr("Zoom the timeline out (Ctrl+wheel down)"))
        self.zoom_in_button = QPushButton("+")
        self.zoom_in_button.setToolTip(tr("Zoom the timeline in around the playhead "
                                          "(Ctrl+wheel up); the wheel then moves along"))
        self.zoom_out_button.clicked.connect(self.bar.zoom_out)
        self.zoom_in_button.clicked.connect(self.bar.zoom_in)
        self.bar.zoom_changed.connect(self._zoom_changed)
        self._zoom_changed(self.bar.zoom)
        self.time_label = PlainLabel("")
        self.time_label.setMinimumWidth(  # wide enough for an hour-long case: no jitter
            self.time_label.fontMetrics().horizontalAdvance("0:00:00.0 / 0:00:00") + 8)
        self.speed = QComboBox()
        for speed in SPEEDS:
            self.speed.addItem(speed_text(speed), speed)
        self.speed.setCurrentIndex(SPEEDS.index(1.0))
        self.speed.setToolTip(tr("Playback speed"))
        self.sources = QComboBox()
        for label in playable.playable:
            self.sources.addItem(label, label)
        self.sources.setToolTip(tr("Video source (Tab)"))
        self.marks_box = QCheckBox(tr("Marks"))
        self.marks_box.setChecked(True)
        self.marks_box.setToolTip(tr("Show the marks drawn during the case (M)"))
        self.export_button = QPushButton(tr("Export clip…"))
        self.back_button.clicked.connect(lambda: self.step(-1))
        self.forward_button.clicked.connect(lambda: self.step(1))
        self.play_button.clicked.connect(self.toggle_play)
        self.speed.currentIndexChanged.connect(
            lambda _: self.set_speed(float(self.speed.currentData())))
        self.sources.currentIndexChanged.connect(
            lambda _: self.show_source(str(self.sources.currentData())))
        self.marks_box.toggled.connect(self.set_marks_visible)
        self.export_button.clicked.connect(self.open_export)

        controls = QHBoxLayout()
        for widget in (self.back_button, self.play_button, self.forward_button):
            controls.addWidget(widget)
        controls.addWidget(self.time_label)
        controls.addStretch(1)
        controls.addWidget(self.zoom_out_button)
        controls.addWidget(self.zoom_in_button)
        controls.addWidget(self.speed)  # "1×" and a source name need no caption
        controls.addWidget(self.sources)
        controls.addWidget(self.marks_box)
        controls.addWidget(self.export_button)
        for widget in (self.back_button, self.play_button, self.forward_button, self.speed,
                       self.sources, self.marks_box, self.export_button, self.zoom_in_button,
                       self.zoom_out_button):
            widget.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Space and arrows are the player's

        self.chapters = ChapterPanel(self.folder, self.clock.position)
        self.chapters.show_chapters(timeline.chapters)
        self.chapters.jump.connect(self.seek)
        self.chapters.edited.connect(self._chapters_edited)
        self.chat = RecordedChat()
        self.chat.show_lines(timeline.chat, timeline.presence)
        self.chat.jump.connect(self.seek)
        if timeline.chapter_problem:
            self.chapters.problem.setText(timeline.chapter_problem)
            self.chapters.problem.show()

        picture = QWidget()
        picture_layout = QVBoxLayout(picture)
        picture_layout.setContentsMargins(0, 0, 0, 0)
        picture_layout.addWidget(self.stage, 1)
        picture_layout.addWidget(self.bar)
        picture_layout.addLayout(controls)
        side = QSplitter(Qt.Orientation.Vertical)
        side.addWidget(self.chapters)
        side.addWidget(self.chat)
        side.setSizes([300, 500])
        body = QSplitter(Qt.Orientation.Horizontal)
        body.addWidget(picture)
        body.addWidget(side)
        body.setStretchFactor(0, 1)
        body.setSizes([1110, 390])
        header = QVBoxLayout()
        header.setSpacing(2)
        header.addWidget(title)
        header.addWidget(subtitle)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.notice)
        layout.addWidget(body, 1)

        self._worker_failed.connect(self._show_problem)
        self._problems: list[str] = [problem_text(p) for p in playable.problems]
        self._shortcuts()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._tick)
        self._timer.start(TICK_MS)
        if self.source:
            first = self.first_picture(self.source)
            if 0.0 < first < playable.duration:
                self.clock.seek(first)  # open on the first picture, not on black
            self.show_source(self.source)
        else:  # damaged or missing video: the chat, marks and chapters are still worth it
            self._problems.append(tr("No video plays in this case; its chat, marks and "
                                     "chapters are shown."))
            for widget in (self.export_button, self.sources, self.back_button,
                           self.forward_button):
                widget.setEnabled(False)
        if audio and playable.audio:
            self._open_audio()
        self._show_notice()
        self._tick()

    # -- setup -----------------------------------------------------------------------------

    def _shortcuts(self) -> None:
        keys = {"Space": self.toggle_play, ",": lambda: self.step(-1),
                ".": lambda: self.step(1), "Left": lambda: self.jump_by(-JUMP_SECONDS),
                "Right": lambda: self.jump_by(JUMP_SECONDS), "Tab": self.next_source,
                "M": self.marks_box.toggle}
        for key, action in keys.items():
            QShortcut(QKeySequence(key), self, activated=action)

    def _open_audio(self) -> None:
        audio = self.audio_output_type(self.playable.case, self.clock,
                                       start=self.timeline.start)
        if audio.open():
            self.audio = audio
        else:
            self._problems.append(tr("Playing without sound: {reason}", reason=audio.problem))

    def _show_notice(self) -> None:
        self.notice.setText("\n".join(self._problems))
        self.notice.setVisible(bool(self._problems))

    def _show_problem(self, text: str) -> None:
        if text not in self._problems:
            self._problems.append(text)
        self._show_notice()

    # -- what the user does ----------------------------------------------------------------

    def toggle_play(self) -> None:
        if self.clock.playing:
            self.clock.pause()
        else:
            self.clock.play()
        self._moved()

    def play(self) -> None:
        if not self.clock.playing:
            self.toggle_play()

    def pause(self) -> None:
        if self.clock.playing:
            self.toggle_play()

    def seek(self, t: float) -> None:
        """Show the exact frame at case time ``t`` (playing on from there if playing)."""
        self.clock.seek(t)
        self.bar.reveal_playhead()
        if self.worker is not None:
            self.worker.show(self.clock.position())
        self._moved()

    def _zoom_changed(self, zoom: float) -> None:
        self.zoom_out_button.setEnabled(zoom > 1.0)
        self.zoom_in_button.setEnabled(self.bar.window.can_zoom_in)

    def jump_by(self, seconds: float) -> None:
        self.seek(self.clock.position() + seconds)

    def step(self, frames: int) -> None:
        """A frame forward or back; pauses first."""
        self.clock.pause()
        if self.worker is not None:
            self.worker.step(frames)
        self._moved()

    def set_speed(self, speed: float) -> None:
        self.clock.set_speed(speed)
        index = self.speed.findData(speed)
        if index >= 0 and index != self.speed.currentIndex():
            self.speed.setCurrentIndex(index)
        self._moved()

    def set_marks_visible(self, visible: bool) -> None:
        self.marks_visible = visible
        if self.marks_box.isChecked() != visible:
            self.marks_box.setChecked(visible)
        self.pictures.set_marks_visible(visible)
        self.view.update()

    def show_source(self, label: str) -> None:
        """Show ``label``'s video from the playhead on."""
        if self.worker is not None and self.worker.label == label:
            return
        if self.worker is not None:
            self.worker.stop()
        self.source = label
        index = self.sources.findData(label)
        if index >= 0 and index != self.sources.currentIndex():
            with QSignalBlocker(self.sources):  # no second worker from the list's signal
                self.sources.setCurrentIndex(index)
        slot = FrameSlot()
        self.worker = VideoWorker(self.playable.case, label, self.clock, self.timeline, slot,
                                  on_error=self._worker_failed.emit)
        self.view.source_name = label
        self.view.follow(slot, label)
        self.worker.start(self.clock.position())

    def first_picture(self, label: str) -> float:
        """The case time of ``label``'s first frame (0 if it is not known)."""
        origin = self.playable.case.manifest.source(label).clock_origin
        return 0.0 if origin is None else max(0.0, self.timeline.case_time(origin))

    def next_source(self) -> None:
        labels = list(self.playable.playable)
        if len(labels) > 1:
            self.show_source(labels[(labels.index(self.source) + 1) % len(labels)])

    def open_export(self) -> None:
        if not self.source:
            return  # no video to export
        self.pause()
        dialog = ExportDialog(self.playable, self.timeline, source=self.source,
                              position=self.clock.position(), parent=self)
        self.export_dialog = dialog
        dialog.open()

    def _chapters_edited(self, chapters: list[Chapter]) -> None:
        self.timeline = self.timeline.with_chapters(chapters)
        self.pictures.timeline = self.timeline
        if self.worker is not None:
            self.worker.timeline = self.timeline
        self.bar.set_case(self.playable.duration, self.timeline.chapters,
                          [m.time for m in self.timeline.mark_ticks],
                          [(p.start, p.end) for p in self.timeline.privacy],
                          [(s.start, s.end) for s in self.timeline.shares])

    def _moved(self) -> None:
        """After a play, pause, seek or speed change: sound and picture start over."""
        if self.audio is not None:
            self.audio.restart()
        if self.worker is not None:
            self.worker.wake()
        self._tick()

    # -- every tick ------------------------------------------------------------------------

    def _tick(self) -> None:
        t = self.clock.position()
        self.bar.set_position(t)
        self.time_label.setText(f"{format_time(t, tenths=True)} / "
                                f"{format_time(self.playable.duration)}")
        self.play_button.setText(tr("Pause") if self.clock.playing else tr("Play"))
        self.chapters.show_current(t)
        self.chat.show_time(t)
        shown = self.pictures.view if self.pictures.show_at(t) else self.view
        if self.stage.currentWidget() is not shown:
            self.stage.setCurrentWidget(shown)
        frozen = self.timeline.frozen_at(t, self.source) is not None
        label = tr("{source} — frozen", source=self.source) if frozen else self.source
        if self.view.label != label:
            self.view.label = label
            self.view.update()
        if self.marks_visible and self.timeline.mark_ticks and t != self._painted_at:
            self._painted_at = t
            self.view.update()  # marks fade with the playhead

    def _paint_marks(self, painter: QPainter, rect: QRectF) -> None:
        if not self.marks_visible:
            return
        t = self.clock.position()
        marks = self.timeline.marks_at(t, self.source)
        # anchored marks where the poses logged live put them on this picture (found by
        # the capture time its SEI names, as live; else by the case clock)
        shown = self.view.current_frame()
        named = read_frame_sei(shown.image) if shown is not None else None
        paint_marks(painter, rect, marks, self.timeline.authors,
                    places=self.timeline.places_at(t, self.source,
                                                   named[1] if named is not None else None))

    # -- closing ---------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent | None) -> None:
        self._timer.stop()
        self.pictures.close()
        if self.export_dialog is not None:
            self.export_dialog.stop()  # a running export is cancelled, leaving no file
        if self.worker is not None:
            self.worker.stop()
        if self.audio is not None:
            self.audio.close()
            self.audio = None
        self.view.stop()
        super().closeEvent(event)
        self.closed.emit()


async def open_player(folder: Path, *, audio: bool = True) -> PlayerWindow:
    """Load ``folder`` off the GUI thread and open its player (not shown yet)."""
    playable, timeline = await asyncio.to_thread(load_case, folder)
    return PlayerWindow(playable, timeline, audio=audio)


def _date_text(playable: PlayableCase) -> str:
    manifest = playable.case.manifest
    if manifest.started_at is not None:
        return manifest.started_at.strftime("%Y-%m-%d %H:%M")
    return manifest.date.isoformat() if manifest.date else ""
