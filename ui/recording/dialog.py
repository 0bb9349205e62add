"""Asks what a recording is before it starts: the procedure's title and the hospital.

Both go into the case's manifest, so a student finds the case in the library later. The
title starts as the room's name, the hospital as the one last used (remembered in the
settings). No patient identifiers are asked for, and the dialog says so, and that everyone
in the room will see that the case is being recorded.
"""

from __future__ import annotations

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from ui.common.plain import PlainLabel
from ui.i18n import tr

MAX_TEXT = 200  # the manifest's title and hospital are short lines


class RecordDialog(QDialog):
    """``chosen`` carries (title, hospital) when the user starts the recording."""

    chosen = pyqtSignal(str, str)

    def __init__(self, title: str, hospital: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("Record this case"))
        self.title = QLineEdit(title)
        self.title.setMaxLength(MAX_TEXT)
        self.title.setPlaceholderText(tr("e.g. Laparoscopic cholecystectomy"))
        self.title.selectAll()
        self.hospital = QLineEdit(hospital)
        self.hospital.setMaxLength(MAX_TEXT)
        self.hospital.setPlaceholderText(tr("e.g. Zepu County Hospital"))
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        cancel = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        assert ok is not None and cancel is not None
        ok.setText(tr("● Start recording"))
        cancel.setText(tr("Cancel"))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.title.textChanged.connect(lambda text: ok.setEnabled(bool(text.strip())))
        ok.setEnabled(bool(title.strip()))
        form = QFormLayout()
        form.addRow(tr("&Procedure"), self.title)
        form.addRow(tr("&Hospital"), self.hospital)
        notice = PlainLabel(tr("Everyone in the room will see that you are recording. "
                           "Do not type patient names or numbers here."))
        notice.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(notice)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(460)

    def accept(self) -> None:
        title = self.title.text().strip()
        if not title:
            return
        self.chosen.emit(title, self.hospital.text().strip())
        super().accept()
