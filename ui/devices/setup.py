"""Choosing the video sources, microphone and speaker, with a live preview and sound checks.

:class:`DeviceSetup` edits a :class:`~surgery_teach.settings.Settings`: the list of
``LABEL=SPEC`` video sources (each checked by :func:`parse_source_spec`), the microphone
and the speaker (stored by name, ``""`` for the system default). It writes them back only
on OK; saving to disk is the caller's job. While it is shown it previews the selected
source and meters the chosen microphone; both are released the moment it hides, so no
capture thread or audio stream outlives it. Devices open through three small methods
(``_scan_audio``, ``_open_microphone``, ``_open_player``) that tests override with fakes.

The preview starts sources on a worker thread (a camera or RTSP stream may take seconds
to open), so the dialog needs the app's running asyncio loop (qasync); prefer ``open()``
to ``exec()`` inside a coroutine.
"""

from __future__ import annotations

import asyncio
import logging

from PyQt6.QtCore import QEvent, QObject, Qt, QTimer
from PyQt6.QtGui import QHideEvent, QKeyEvent, QShowEvent, QStandardItemModel
from PyQt6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from surgery_teach.audio import (
    AudioPlayer,
    MicrophoneTrack,
)
from surgery_teach.capture import (
    SourceKind,
    VideoSource,
    list_devices,
    open_source,
    parse_source_spec,
)
from surgery_teach.capture.devices import DeviceInfo
from surgery_teach.errors import ConfigError, SurgeryTeachError
from surgery_teach.settings import Settings
from ui.common.plain import PlainLabel, tip
from ui.common.video_view import VideoView
from ui.devices.masks import MaskEditor
from ui.devices.sound import METER_INTERVAL_MS, SoundCheck
from ui.i18n import tr
from ui.theme import ACCENT, MUTED, PANEL

logger = logging.getLogger("ui")

#: Sizes offered for cameras and the synthetic scene; ``None`` lets the source decide.
SIZES: tuple[tuple[int, int] | None, ...] = (None, (1280, 720), (1920, 1080), (640, 360))
SYNTHETIC_FPS = 30


# The app style sheet gives every widget one text colour, so disabled controls would look
# usable; and it has no rule for progress bars. These belong in ui/theme.py's STYLE_SHEET.
_STYLE_SHEET = f"""
QWidget:disabled {{ color: {MUTED}; }}
QPushButton:disabled {{ background: {PANEL}; border-color: #30363d; }}
QProgressBar {{ background: {PANEL}; border: 1px solid #30363d; border-radius: 4px; }}
QProgressBar::chunk {{ background: {ACCENT}; border-radius: 3px; }}
"""


def compose_spec(
    kind: SourceKind, target: str = "", label: str = "", size: tuple[int, int] | None = None
) -> str:
    """The ``LABEL=SPEC`` text for a new source, as :func:`parse_source_spec` accepts it.

    ``target`` is the camera path, file path or RTSP URL; ``size`` applies to cameras
    (``:WxH``) and the synthetic scene (``:WxH@30``). Raises :class:`ConfigError`.
    """
    label, target = label.strip(), target.strip()
    if "=" in label:
        raise ConfigError(tr("A label cannot contain '='."))
    fmt = f"{size[0]}x{size[1]}" if size else ""
    if kind is SourceKind.SYNTHETIC:
        body = f"synthetic:{fmt}@{SYNTHETIC_FPS}" if fmt else "synthetic"
    elif kind is SourceKind.CAMERA:
        body = f"camera:{target}:{fmt}" if fmt else f"camera:{target}"
    elif kind is SourceKind.FILE:
        body = f"file:{target}"
    else:
        body = target
    text = f"{label}={body}" if label else body
    parse_source_spec(text)
    return text


def source_row_text(text: str) -> str:
    """How the list shows a stored source: its label and its spec (URL credentials hidden)."""
    try:
        spec = parse_source_spec(text)
    except ConfigError:
        return f"{text}  ({tr('invalid')})"
    return f"{spec.label}  —  {spec.display}"


class DeviceSetup(SoundCheck, QDialog):
    """Video sources, microphone and speaker; ``accepted`` once they are written to settings."""

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.setWindowTitle(tr("Cameras and sound"))
        self.resize(1120, 720)
        self.setStyleSheet(_STYLE_SHEET)
        self.preview_source: VideoSource | None = None
        self._preview_spec = ""
        #: Opening the previewed source on a worker thread (done once it shows or failed).
        self.preview_starting: asyncio.Future[None] | None = None
        self.microphone_track: MicrophoneTrack | None = None
        self.tone_player: AudioPlayer | None = None
        self._tone_task: asyncio.Future[None] | None = None
        #: Why sound is (partly) off, in the scan's plain words; ``""`` when all is there.
        self.audio_reason = ""
        self._audio_note = ""
        self._microphone_problem = ""
        self._speaker_problem = ""
        self._meter_timer = QTimer(self)
        self._meter_timer.setInterval(METER_INTERVAL_MS)
        self._meter_timer.timeout.connect(self._update_meter)

        self.error = PlainLabel("")
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        sources = self._build_sources()
        adding = self._build_add_form()
        preview = self._build_preview()
        audio = self._build_audio()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        if ok is not None:
            ok.setObjectName("primary")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        grid = QGridLayout()
        grid.addWidget(sources, 0, 0)
        grid.addWidget(preview, 0, 1)
        grid.addWidget(adding, 1, 0)
        grid.addWidget(audio, 1, 1)
        grid.setRowStretch(0, 1)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(grid, 1)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

        for text in settings.sources:
            self._append_row(text)
        if self.sources.count():
            self.sources.setCurrentRow(0)
        self._kind_changed()
        self._selection_changed()
        self._load_audio()

    # -- building -----------------------------------------------------------------------

    def _build_sources(self) -> QGroupBox:
        box = QGroupBox(tr("Video sources"))
        self.sources = QListWidget()
        self.sources.setAccessibleName(tr("Video sources"))
        self.sources.currentRowChanged.connect(self._selection_changed)
        self.remove_button = QPushButton(tr("&Remove"))
        self.up_button = QPushButton(tr("Move &up"))
        self.down_button = QPushButton(tr("Move &down"))
        self.remove_button.clicked.connect(self.remove_selected)
        self.up_button.clicked.connect(lambda: self.move_selected(-1))
        self.down_button.clicked.connect(lambda: self.move_selected(1))
        row = QHBoxLayout()
        for button in (self.remove_button, self.up_button, self.down_button):
            button.setAutoDefault(False)
            row.addWidget(button)
        row.addStretch(1)
        layout = QVBoxLayout(box)
        layout.addWidget(self.sources, 1)
        layout.addLayout(row)
        return box

    def _build_add_form(self) -> QGroupBox:
        box = QGroupBox(tr("Add a source"))
        self.kind = QComboBox()
        self.list_kinds()
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.rescan_button = QPushButton(tr("Rescan"))
        self.rescan_button.setToolTip(
            tr("Look again for cameras (one plugged in after this window opened)"))
        self.rescan_button.setAutoDefault(False)
        self.rescan_button.clicked.connect(self.list_kinds)
        self.location = QLineEdit()
        self.browse_button = QPushButton(tr("&Browse…"))
        self.browse_button.setAutoDefault(False)
        self.browse_button.clicked.connect(self.browse_file)
        where = QHBoxLayout()
        where.addWidget(self.location, 1)
        where.addWidget(self.browse_button)
        self.label = QLineEdit()
        self.label.setMaxLength(64)
        self.label.setPlaceholderText(tr("e.g. Laparoscope, Room camera"))
        self.resolution = QComboBox()
        for size in SIZES:
            self.resolution.addItem(f"{size[0]}x{size[1]}" if size else tr("Source default"),
                                    size)
        self.add_button = QPushButton(tr("&Add source"))
        self.add_button.setAutoDefault(False)
        self.add_button.clicked.connect(self.add_source)
        for field in (self.label, self.location):
            field.installEventFilter(self)
        form = QFormLayout(box)
        kind_label = PlainLabel(tr("&Kind"))
        kind_label.setBuddy(self.kind)
        where_label = PlainLabel(tr("&File or address"))
        where_label.setBuddy(self.location)
        name_label = PlainLabel(tr("&Label"))
        name_label.setBuddy(self.label)
        size_label = PlainLabel(tr("Re&solution"))
        size_label.setBuddy(self.resolution)
        kind_row = QHBoxLayout()
        kind_row.addWidget(self.kind, 1)
        kind_row.addWidget(self.rescan_button)
        form.addRow(kind_label, kind_row)
        form.addRow(where_label, where)
        form.addRow(name_label, self.label)
        form.addRow(size_label, self.resolution)
        form.addRow("", self.add_button)
        return box

    def cameras(self) -> list[DeviceInfo]:
        """The cameras on this computer now (read again by Rescan)."""
        return list_devices()

    def list_kinds(self) -> None:
        """Fill the kinds of source with the cameras found now (Rescan calls it again),
        keeping the kind chosen if it is still there."""
        chosen = self.kind.currentData()
        self.kind.blockSignals(True)
        self.kind.clear()
        cameras = self.cameras()
        for device in cameras:
            shown = f"{device.name} ({device.path})" if device.name != device.path else device.path
            self.kind.addItem(shown, (SourceKind.CAMERA, device.path))
        if not cameras:
            self.kind.addItem(tr("No camera found"), None)
            model = self.kind.model()
            if isinstance(model, QStandardItemModel):
                item = model.item(0)
                if item is not None:
                    item.setEnabled(False)
        self.kind.addItem(tr("Synthetic laparoscope"), (SourceKind.SYNTHETIC, ""))
        self.kind.addItem(tr("Video file…"), (SourceKind.FILE, ""))
        self.kind.addItem(tr("Network stream (RTSP)"), (SourceKind.RTSP, ""))
        index = next((i for i in range(self.kind.count())  # (findData cannot match tuples)
                      if chosen is not None and self.kind.itemData(i) == chosen), -1)
        self.kind.setCurrentIndex(index if index >= 0 else 0 if cameras else 1)
        self.kind.blockSignals(False)
        if hasattr(self, "location"):
            self._kind_changed()

    def _build_preview(self) -> QGroupBox:
        box = QGroupBox(tr("Preview"))
        self.view = VideoView()
        self.view.setMinimumSize(448, 252)
        self.masks = MaskEditor(self.view)  # patient data on the tower's overlay
        layout = QVBoxLayout(box)
        layout.addWidget(self.view)
        layout.addWidget(self.masks)
        return box

    # -- the list of sources ------------------------------------------------------------

    def source_specs(self) -> list[str]:
        """The sources as listed, in order, as ``LABEL=SPEC`` texts."""
        return [self._spec_at(row) for row in range(self.sources.count())]

    def _spec_at(self, row: int) -> str:
        item = self.sources.item(row)
        return str(item.data(Qt.ItemDataRole.UserRole)) if item is not None else ""

    def _append_row(self, text: str) -> None:
        item = QListWidgetItem(source_row_text(text))
        item.setData(Qt.ItemDataRole.UserRole, text)
        self.sources.addItem(item)

    def add_source(self) -> bool:
        """Add the source the form describes and select it; show why not if it is invalid."""
        choice = self.kind.currentData()
        if choice is None:
            self.show_error(tr("Choose the kind of source to add."))
            return False
        kind, camera = choice
        target = camera if kind is SourceKind.CAMERA else self.location.text()
        size = self.resolution.currentData() if self.resolution.isEnabled() else None
        try:
            text = compose_spec(kind, target, self.label.text(), size)
        except ConfigError as exc:
            self.show_error(str(exc))
            return False
        self.show_error("")
        self._append_row(text)
        self.sources.setCurrentRow(self.sources.count() - 1)
        self.label.clear()
        return True

    def remove_selected(self) -> None:
        row = self.sources.currentRow()
        if row >= 0:
            self.sources.takeItem(row)
            self._selection_changed()

    def move_selected(self, step: int) -> None:
        """Move the selected source up (``-1``) or down (``1``) the list."""
        row = self.sources.currentRow()
        other = row + step
        if row < 0 or not 0 <= other < self.sources.count():
            return
        # Swap contents rather than items, so the preview sees the same source selected.
        a, b = self.sources.item(row), self.sources.item(other)
        assert a is not None and b is not None
        text_a, data_a = a.text(), a.data(Qt.ItemDataRole.UserRole)
        a.setText(b.text())
        a.setData(Qt.ItemDataRole.UserRole, b.data(Qt.ItemDataRole.UserRole))
        b.setText(text_a)
        b.setData(Qt.ItemDataRole.UserRole, data_a)
        self.sources.setCurrentRow(other)

    def browse_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, tr("Choose a video file"), "",
            tr("Videos (*.mp4 *.mkv *.mov *.avi *.webm);;All files (*)"))
        if path:
            self.location.setText(path)

    def _kind_changed(self) -> None:
        choice = self.kind.currentData()
        kind = choice[0] if choice is not None else None
        self.location.setEnabled(kind in (SourceKind.FILE, SourceKind.RTSP))
        self.browse_button.setEnabled(kind is SourceKind.FILE)
        self.resolution.setEnabled(kind in (SourceKind.CAMERA, SourceKind.SYNTHETIC))
        if kind is SourceKind.RTSP:
            self.location.setPlaceholderText("rtsp://192.168.1.20:554/stream")
        elif kind is SourceKind.FILE:
            self.location.setPlaceholderText(tr("a video file on this computer"))
        else:
            self.location.setPlaceholderText("")

    def _selection_changed(self) -> None:
        row = self.sources.currentRow()
        self.remove_button.setEnabled(row >= 0)
        self.up_button.setEnabled(row > 0)
        self.down_button.setEnabled(0 <= row < self.sources.count() - 1)
        if self.isVisible():
            self._preview(self._spec_at(row) if row >= 0 else "")

    def show_error(self, text: str) -> None:
        """Show what is wrong in the red label; ``""`` clears it.

        Only the first line shows: spec errors go on to list every accepted spec form,
        which helps someone typing a spec but not someone using this form (and would
        push the preview off the screen). The whole text stays in the tooltip.
        """
        self.error.setText(text.split("\n", 1)[0])
        self.error.setToolTip(tip(text))

    # -- preview ------------------------------------------------------------------------

    def _preview(self, text: str) -> None:
        """Preview the source ``text`` names (``""``: none), stopping the one before."""
        if text == self._preview_spec and (self.preview_source is not None or not text):
            return
        self.stop_preview()
        self.show_error("")
        self._preview_spec = text
        self.masks.show_device(text)
        if not text:
            return
        try:
            source = open_source(text)
        except ConfigError as exc:
            self.show_error(str(exc))
            return
        self.preview_source = source
        # Not cancelled when the selection moves on: the task stops its own source once
        # start() returns, so a camera still opening is closed, not leaked.
        self.preview_starting = asyncio.ensure_future(self._start_preview(source))

    async def _start_preview(self, source: VideoSource) -> None:
        # Opening a camera or stream blocks for up to seconds: never on the GUI thread.
        try:
            await asyncio.get_running_loop().run_in_executor(None, source.start)
        except SurgeryTeachError as exc:
            logger.info("preview of %s failed: %s", source.spec, exc)
            source.stop()
            if source is self.preview_source:
                self.preview_source = None
                self.show_error(str(exc))
            return
        except asyncio.CancelledError:
            source.stop()
            raise
        if source is not self.preview_source:  # the selection moved on, or the dialog closed
            source.stop()
            return
        self.view.follow(source.slot, source.label)

    def stop_preview(self) -> None:
        """Stop the previewed source's capture thread (it may still be opening)."""
        source, self.preview_source = self.preview_source, None
        self._preview_spec = ""
        self.view.follow(None, "")
        if source is not None:
            source.stop()

    # -- showing, closing, accepting ----------------------------------------------------

    def showEvent(self, event: QShowEvent | None) -> None:
        super().showEvent(event)
        self._selection_changed()
        if self.microphone_track is None:
            self._start_meter()

    def hideEvent(self, event: QHideEvent | None) -> None:
        self.release_devices()
        super().hideEvent(event)

    def release_devices(self) -> None:
        """Stop the preview, the microphone meter and any test tone (safe to call twice)."""
        self.stop_preview()
        self._stop_meter()
        self._stop_tone()

    def done(self, result: int) -> None:
        if result == QDialog.DialogCode.Accepted:
            specs = self.source_specs()
            for row, text in enumerate(specs):
                try:
                    parse_source_spec(text)
                except ConfigError as exc:
                    self.sources.setCurrentRow(row)
                    self.show_error(str(exc))
                    return
            problem = self.masks.save()
            if problem:
                self.show_error(problem)
                return
            self.settings.sources = specs
            self.settings.microphone = str(self.microphone.currentData() or "")
            self.settings.speaker = str(self.speaker.currentData() or "")
        super().done(result)

    def eventFilter(self, watched: QObject | None, event: QEvent | None) -> bool:
        # Enter while typing a new source adds it, instead of pressing OK.
        if (isinstance(event, QKeyEvent) and event.type() == QEvent.Type.KeyPress
                and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
                and watched in (self.label, self.location)):
            self.add_source()
            return True
        return super().eventFilter(watched, event)


