"""The lobby's video source picker: a camera found on this computer, the synthetic test
picture or a video file, chosen from a list instead of typed as ``Label=spec`` text.

The list is read again with "Rescan" (a camera plugged in after the lobby opened). What
the Devices dialog set up (several sources, RTSP) shows as one entry; "Text" opens the
``Label=spec; Label=spec`` line for those who want to type it. Nothing is chosen for
someone who has not chosen: :meth:`SourcePicker.specs` is then empty and the lobby asks.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from surgery_teach.capture import list_devices, parse_source_spec
from surgery_teach.capture.devices import DeviceInfo
from surgery_teach.errors import ConfigError
from ui.i18n import tr

SYNTHETIC_SPEC = "synthetic:1280x720@30"
_FILE = "file"  # the "Video file…" entry: asks for the file when chosen


def main_label() -> str:
    """The label of the one source picked here, in the user's language."""
    return tr("Laparoscope")


class SourcePicker(QWidget):
    """Which video this participant sends. ``changed`` when the choice changes."""

    changed = pyqtSignal()

    def __init__(self, specs: list[str], parent: QWidget | None = None, *,
                 cameras: Callable[[], list[DeviceInfo]] = list_devices) -> None:
        super().__init__(parent)
        self.cameras = cameras  # how devices are listed (a test points it at a fake /dev)
        self._custom: list[str] = list(specs)
        self.choice = QComboBox()
        self.choice.setAccessibleName(tr("Video sources"))
        self.choice.activated.connect(self._activated)
        self.rescan_button = QPushButton(tr("Rescan"))
        self.rescan_button.setToolTip(
            tr("Look again for cameras (one plugged in after this window opened)"))
        self.rescan_button.setAutoDefault(False)
        self.rescan_button.clicked.connect(self.rescan)
        self.text_button = QPushButton(tr("Text"))
        self.text_button.setCheckable(True)
        self.text_button.setAutoDefault(False)
        self.text_button.setToolTip(tr("Type the sources as Label=spec; Label=spec"))
        self.text = QLineEdit()
        self.text.setPlaceholderText("Laparoscope=camera:0; Room camera=camera:1")
        self.text.editingFinished.connect(self._typed)
        self.text.hide()
        self.text_button.toggled.connect(self.text.setVisible)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.choice, 1)
        row.addWidget(self.rescan_button)
        row.addWidget(self.text_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.text)
        self.rescan()

    # -- reading the choice ----------------------------------------------------------------

    def specs(self) -> list[str]:
        """The chosen sources as ``Label=spec`` texts; empty when none is chosen."""
        data = self.choice.currentData()
        return list(data) if isinstance(data, tuple) else []

    def problem(self) -> str:
        """Why the chosen sources cannot be used (translated), or ``""``."""
        for spec in self.specs():
            try:
                parse_source_spec(spec)
            except ConfigError:
                return tr("The video source “{spec}” cannot be used. Choose a camera, the "
                          "synthetic test picture or a file from the list.", spec=spec)
        return ""

    def set_specs(self, specs: list[str]) -> None:
        """Show ``specs`` as the choice (from the Devices dialog or the text line)."""
        self._custom = [s.strip() for s in specs if s.strip()]
        self.rescan()
        self.changed.emit()

    # -- the list --------------------------------------------------------------------------

    def rescan(self) -> None:
        """List the cameras again, keeping the current choice if it is still there."""
        keep = tuple(self.specs()) or tuple(self._custom)
        self.choice.clear()
        self.choice.addItem(tr("Choose the video you send…"), None)
        label = main_label()
        found = self.cameras()
        for device in found:  # "Camera: /dev/video0 (HD Webcam)"
            self.choice.addItem(tr("Camera: {name}", name=str(device)),
                                (f"{label}=camera:{device.path}",))
        if not found:
            self.choice.addItem(tr("No camera found (plug one in, then Rescan)"), None)
        self.choice.addItem(tr("Synthetic test picture (no camera needed)"),
                            (f"{label}={SYNTHETIC_SPEC}",))
        self.choice.addItem(tr("Video file…"), _FILE)
        if keep and self._index_of(keep) < 0:
            self.choice.insertItem(1, self._describe(keep), keep)
        self.choice.setCurrentIndex(max(0, self._index_of(keep)) if keep else 0)
        self.text.setText("; ".join(keep))

    def _index_of(self, specs: tuple[str, ...]) -> int:
        return next((i for i in range(self.choice.count())
                     if self.choice.itemData(i) == specs), -1)

    def _describe(self, specs: tuple[str, ...]) -> str:
        shown = []
        for spec in specs:
            try:
                source = parse_source_spec(spec)
                shown.append(f"{source.label}: {source.display}")
            except ConfigError:
                shown.append(f"{spec} ({tr('invalid')})")
        return "; ".join(shown)

    def _activated(self, _: int) -> None:
        if self.choice.currentData() == _FILE:
            path, _filter = QFileDialog.getOpenFileName(
                self, tr("Choose a video file"), "",
                tr("Videos (*.mp4 *.mkv *.mov *.avi *.webm);;All files (*)"))
            if path:
                self.choose_file(Path(path))
            else:
                self.set_specs(self._custom)
            return
        self._custom = self.specs()
        self.text.setText("; ".join(self._custom))
        self.changed.emit()

    def choose_file(self, path: Path) -> None:
        """Send the video file at ``path`` (looped) as the main source."""
        self.set_specs([f"{main_label()}=file:{path}"])

    def _typed(self) -> None:
        specs = [s.strip() for s in self.text.text().split(";") if s.strip()]
        if specs != self.specs():
            self.set_specs(specs)
