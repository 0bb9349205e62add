"""The sound part of the device dialog: microphone with a level meter, speaker, test tone.

:class:`SoundCheck` is mixed into :class:`~ui.devices.setup.DeviceSetup` (a ``QDialog``):
it builds the "Sound" box and owns the microphone meter and the test tone. Devices open
through three small methods (``_scan_audio``, ``_open_microphone``, ``_open_player``) that
tests override with fakes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiortc.mediastreams import MediaStreamTrack
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QProgressBar,
    QPushButton,
)

from surgery_teach.audio import (
    AudioDeviceScan,
    AudioPlayer,
    MicrophoneTrack,
    ToneTrack,
    scan_audio_devices,
)
from surgery_teach.errors import AudioDeviceError
from surgery_teach.settings import Settings
from ui.common.plain import PlainLabel
from ui.i18n import tr

METER_FLOOR_DBFS = -60.0
METER_INTERVAL_MS = 100
TONE_HZ = 440.0
TONE_SECONDS = 1.0


def meter_percent(level_dbfs: float) -> int:
    """A level meter position 0..100 for ``level_dbfs``: -60 dBFS and below is empty."""
    clamped = min(0.0, max(METER_FLOOR_DBFS, level_dbfs))
    return round((clamped - METER_FLOOR_DBFS) / -METER_FLOOR_DBFS * 100)


class SoundCheck:
    """Microphone, level meter, speaker and test tone, for a dialog that mixes it in."""

    settings: Settings
    microphone_track: MicrophoneTrack | None
    tone_player: AudioPlayer | None
    _tone_task: asyncio.Future[None] | None
    audio_reason: str
    _audio_note: str
    _microphone_problem: str
    _speaker_problem: str
    _meter_timer: QTimer

    def _build_audio(self) -> QGroupBox:
        box = QGroupBox(tr("Sound"))
        self.microphone = QComboBox()
        self.microphone.currentIndexChanged.connect(self._microphone_changed)
        self.meter = QProgressBar()
        self.meter.setRange(0, 100)
        self.meter.setValue(0)
        self.meter.setTextVisible(False)
        self.meter.setMaximumHeight(14)
        self.meter.setAccessibleName(tr("Microphone level"))
        self.speaker = QComboBox()
        self.tone_button = QPushButton(tr("&Play test tone"))
        self.tone_button.setAutoDefault(False)
        self.tone_button.clicked.connect(self.play_test_tone)
        self.audio_status = PlainLabel("")
        self.audio_status.setObjectName("banner")
        self.audio_status.setWordWrap(True)
        self.audio_status.hide()
        speaker_row = QHBoxLayout()
        speaker_row.addWidget(self.speaker, 1)
        speaker_row.addWidget(self.tone_button)
        form = QFormLayout(box)
        mic_label = PlainLabel(tr("&Microphone"))
        mic_label.setBuddy(self.microphone)
        speaker_label = PlainLabel(tr("Sp&eaker"))
        speaker_label.setBuddy(self.speaker)
        form.addRow(mic_label, self.microphone)
        form.addRow(tr("Level"), self.meter)
        form.addRow(speaker_label, speaker_row)
        form.addRow(self.audio_status)
        return box

    # -- audio --------------------------------------------------------------------------

    def _scan_audio(self) -> AudioDeviceScan:
        """The microphones and speakers here: the seam tests replace."""
        return scan_audio_devices()

    def _open_microphone(self, device: str | None) -> MicrophoneTrack:
        """Open a microphone (raises :class:`AudioDeviceError`): the seam tests replace."""
        return MicrophoneTrack(device)

    def _open_player(self, track: MediaStreamTrack, device: str | None) -> AudioPlayer:
        """A player for the test tone that never raises: the seam tests replace."""
        return AudioPlayer(track, device, required=False)

    def _load_audio(self) -> None:
        scan = self._scan_audio()
        microphones = _unique_names(d.name for d in scan.microphones)
        speakers = _unique_names(d.name for d in scan.speakers)
        _fill_devices(self.microphone, microphones, self.settings.microphone)
        _fill_devices(self.speaker, speakers, self.settings.speaker)
        has_microphone = bool(microphones) and not scan.portaudio_problem
        has_speaker = bool(speakers) and not scan.portaudio_problem
        self.microphone.setEnabled(has_microphone)
        self.meter.setEnabled(has_microphone)
        self.speaker.setEnabled(has_speaker)
        self.tone_button.setEnabled(has_speaker)
        if scan.portaudio_problem:
            reason = scan.portaudio_problem
        elif not has_microphone and not has_speaker:
            reason = tr("no microphone or speaker found")
        elif not has_microphone:
            reason = tr("no microphone found")
        elif not has_speaker:
            reason = tr("no speaker found")
        else:
            reason = ""
        self.audio_reason = reason
        if reason:
            self._audio_note = tr(
                "Sound is off: {reason}. The session works without sound.", reason=reason)
        self._show_audio_status()

    def _show_audio_status(self) -> None:
        """Why sound is off, and the last microphone or speaker that failed to open."""
        parts = (self._audio_note, self._microphone_problem, self._speaker_problem)
        text = "\n".join(part for part in parts if part)
        self.audio_status.setText(text)
        self.audio_status.setVisible(bool(text))

    def _microphone_changed(self) -> None:
        if self.isVisible():
            self._start_meter()

    def _start_meter(self) -> None:
        self._stop_meter()
        if not self.microphone.isEnabled():
            return
        try:
            self.microphone_track = self._open_microphone(self.microphone.currentData() or None)
            self._microphone_problem = ""
            self._meter_timer.start()
        except AudioDeviceError as exc:
            self._microphone_problem = str(exc)
        self._show_audio_status()

    def _stop_meter(self) -> None:
        self._meter_timer.stop()
        self.meter.setValue(0)
        track, self.microphone_track = self.microphone_track, None
        if track is not None:
            track.stop()

    def _update_meter(self) -> None:
        if self.microphone_track is not None:
            self.meter.setValue(meter_percent(self.microphone_track.level))

    def play_test_tone(self) -> asyncio.Future[None]:
        """Play one second of 440 Hz on the chosen speaker; done when it has played.

        While a tone plays, asking again returns the one playing.
        """
        if self._tone_task is None or self._tone_task.done():
            self._tone_task = asyncio.ensure_future(self._play_tone())
        return self._tone_task

    async def _play_tone(self) -> None:
        self.tone_button.setEnabled(False)
        tone = ToneTrack(TONE_HZ)
        player = self.tone_player = self._open_player(tone, self.speaker.currentData() or None)
        try:
            self._speaker_problem = player.problem
            self._show_audio_status()
            if player.problem:
                return
            player.start()
            await asyncio.sleep(TONE_SECONDS)
        finally:
            tone.stop()
            await player.stop()
            self.tone_button.setEnabled(self.speaker.isEnabled())

    def _stop_tone(self) -> None:
        task, self._tone_task = self._tone_task, None
        if task is not None and not task.done():
            task.cancel()


def _unique_names(names: Iterable[str]) -> list[str]:
    """``names`` without repeats (one device can appear under several host APIs)."""
    return list(dict.fromkeys(names))


def _fill_devices(combo: QComboBox, names: list[str], chosen: str) -> None:
    """``System default`` and ``names``; a saved device that is absent stays selectable."""
    combo.addItem(tr("System default"), "")
    for name in names:
        combo.addItem(name, name)
    if chosen and chosen not in names:
        combo.addItem(tr("{name} (not connected)", name=chosen), chosen)
    combo.setCurrentIndex(max(0, combo.findData(chosen)))
