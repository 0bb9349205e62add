"""The player for a clip a mentor added to a library case: picture, sound, play/pause, seek.

A clip is an exported MP4 (marks already burned in), read as a one-source case
(:func:`~surgery_teach.casebook.clip.open_exported_clip`), so it plays with the case
player's own parts: the :class:`VideoWorker` decoding thread, the :class:`PlaybackClock`,
the :class:`VideoView` and the :class:`TimelineBar`, and the sound through
:class:`AudioOutput`. Keys: Space play or pause, ``,`` ``.`` a frame back or forward,
Left/Right five seconds.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PyQt6.QtWidgets import QComboBox, QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from surgery_teach.capture.base import FrameSlot
from surgery_teach.casebook.audio import RecordedAudio
from surgery_teach.casebook.clip import PlayableClip, open_exported_clip
from ui.common.plain import PlainLabel
from ui.common.video_view import VideoView
from ui.i18n import tr
from ui.library.audio import AudioOutput
from ui.library.clock import SPEEDS, PlaybackClock
from ui.library.controls import TimelineBar, format_time
from ui.library.video import VideoWorker

TICK_MS = 40
JUMP_SECONDS = 5.0


class ClipPlayerWindow(QWidget):
    """Plays ``clip``, a clip of the library case titled ``case_title``. ``closed`` fires
    when the window closes; ``audio=False`` plays without sound."""

    closed = pyqtSignal()
    _worker_failed = pyqtSignal(str)
    #: The sound output; a test swaps in one with a fake sound card.
    audio_output_type: type[AudioOutput] = AudioOutput

    def __init__(self, clip: PlayableClip, case_title: str, *, audio: bool = True,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clip = clip
        name = clip.path.name
        self.setWindowTitle(tr("Clip — {name}", name=name))
        self.resize(960, 640)
        self.clock = PlaybackClock(clip.duration)
        self.audio: AudioOutput | None = None

        title = PlainLabel(name)
        title.setObjectName("title")
        subtitle = PlainLabel(tr("A clip a mentor added to {title} · {length}",
                                 title=case_title, length=format_time(clip.duration)))
        subtitle.setObjectName("muted")
        self.notice = PlainLabel("")
        self.notice.setObjectName("banner")
        self.notice.setWordWrap(True)
        self.notice.hide()
        self.view = VideoView(name)
        self.view.source_name = clip.label
        self.bar = TimelineBar()
        self.bar.set_case(clip.duration, [], [])
        self.bar.seek_requested.connect(self.seek)

        self.back_button = QPushButton("◀▮")
        self.back_button.setToolTip(tr("One frame back (,)"))
        self.play_button = QPushButton(tr("Play"))
        self.play_button.setToolTip(tr("Play or pause (Space)"))
        self.play_button.setObjectName("primary")
        self.forward_button = QPushButton("▮▶")
        self.forward_button.setToolTip(tr("One frame forward (.)"))
        self.time_label = PlainLabel("")
        self.time_label.setMinimumWidth(
            self.time_label.fontMetrics().horizontalAdvance("0:00:00.0 / 0:00:00") + 8)
        self.speed = QComboBox()
        for speed in SPEEDS:
            self.speed.addItem(f"{speed:g}×", speed)
        self.speed.setCurrentIndex(SPEEDS.index(1.0))
        self.speed.setToolTip(tr("Playback speed"))
        self.back_button.clicked.connect(lambda: self.step(-1))
        self.forward_button.clicked.connect(lambda: self.step(1))
        self.play_button.clicked.connect(self.toggle_play)
        self.speed.currentIndexChanged.connect(
            lambda _: self.set_speed(float(self.speed.currentData())))
        controls = QHBoxLayout()
        for widget in (self.back_button, self.play_button, self.forward_button):
            controls.addWidget(widget)
        controls.addWidget(self.time_label)
        controls.addStretch(1)
        controls.addWidget(self.speed)
        for widget in (self.back_button, self.play_button, self.forward_button, self.speed):
            widget.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Space and arrows are the player's

        header = QVBoxLayout()
        header.setSpacing(2)
        header.addWidget(title)
        header.addWidget(subtitle)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.notice)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.bar)
        layout.addLayout(controls)

        keys = {"Space": self.toggle_play, ",": lambda: self.step(-1),
                ".": lambda: self.step(1), "Left": lambda: self.seek(
                    self.clock.position() - JUMP_SECONDS),
                "Right": lambda: self.seek(self.clock.position() + JUMP_SECONDS)}
        for key, action in keys.items():
            QShortcut(QKeySequence(key), self, activated=action)
        self._worker_failed.connect(self._show_problem)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._tick)
        self._timer.start(TICK_MS)

        slot = FrameSlot()
        self.clock.seek(clip.first_picture)  # open on the first picture, not on black
        self.worker = VideoWorker(clip.case, clip.label, self.clock, clip.timeline, slot,
                                  on_error=self._worker_failed.emit)
        self.view.follow(slot)
        self.worker.start(self.clock.position())
        if audio and clip.audio:
            self._open_audio()
        self._tick()

    def _open_audio(self) -> None:
        path = self.clip.path
        audio = self.audio_output_type(self.clip.case, self.clock, start=0.0,
                                       recorded=lambda: RecordedAudio.of_file(path))
        if audio.open():
            self.audio = audio
        else:
            self._show_problem(tr("Playing without sound: {reason}", reason=audio.problem))

    def _show_problem(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.show()

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
        """Show the exact frame at clip time ``t`` (playing on from there if playing)."""
        self.clock.seek(t)
        self.bar.reveal_playhead()
        self.worker.show(self.clock.position())
        self._moved()

    def step(self, frames: int) -> None:
        """A frame forward or back; pauses first."""
        self.clock.pause()
        self.worker.step(frames)
        self._moved()

    def set_speed(self, speed: float) -> None:
        self.clock.set_speed(speed)
        index = self.speed.findData(speed)
        if index >= 0 and index != self.speed.currentIndex():
            self.speed.setCurrentIndex(index)
        self._moved()

    def _moved(self) -> None:
        if self.audio is not None:
            self.audio.restart()
        self.worker.wake()
        self._tick()

    def _tick(self) -> None:
        t = self.clock.position()
        self.bar.set_position(t)
        self.time_label.setText(f"{format_time(t, tenths=True)} / "
                                f"{format_time(self.clip.duration)}")
        self.play_button.setText(tr("Pause") if self.clock.playing else tr("Play"))

    def closeEvent(self, event: QCloseEvent | None) -> None:
        self._timer.stop()
        self.worker.stop()
        if self.audio is not None:
            self.audio.close()
            self.audio = None
        self.view.stop()
        super().closeEvent(event)
        self.closed.emit()


async def open_clip_player(path: Path, case_title: str, *,
                           audio: bool = True) -> ClipPlayerWindow:
    """Read the clip at ``path`` off the GUI thread and open its player (not shown yet);
    :class:`~surgery_teach.errors.RecordingError` if it does not play."""
    clip = await asyncio.to_thread(open_exported_clip, path)
    return ClipPlayerWindow(clip, case_title, audio=audio)
