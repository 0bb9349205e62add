"""Asks what a recording is before it starts: the procedure's title, the hospital, and
whether the case is encrypted on this computer.

Title and hospital go into the case's manifest, so a student finds the case in the
library later. The title starts as the room's name, the hospital as the one last used;
encryption is on unless the user turned it off for a case before (both remembered in the
settings, ``hospital`` and ``encrypt_recordings``). No patient identifiers are asked for,
and the dialog says so, and that everyone in the room will see that the case is being
recorded. Turning encryption off says plainly what that means.
"""

from __future__ import annotations

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from surgery_teach.privacy.identifiers import identifier_hint
from ui.common.plain import PlainLabel
from ui.i18n import tr
from ui.theme import WARNING

MAX_TEXT = 200  # the manifest's title and hospital are short lines


class RecordDialog(QDialog):
    """``chosen`` carries (title, hospital, encrypt) when the user starts the recording."""

    chosen = pyqtSignal(str, str, bool)

    def __init__(self, title: str, hospital: str, parent: QWidget | None = None, *,
                 encrypt: bool = True) -> None:
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
        self.encrypt = QCheckBox(tr("&Encrypt the recording on this computer"))
        self.encrypt.setChecked(encrypt)
        self.encrypt.setToolTip(tr("The case's files are readable only with this computer's "
                                   "key or the hospital passphrase."))
        self.plain_warning = PlainLabel(tr(
            "Without encryption anyone who gets this computer's disk can watch the case. "
            "Turn it off only for teaching material that shows no patient."))
        self.plain_warning.setWordWrap(True)
        self.plain_warning.setStyleSheet(f"color: {WARNING};")
        self.plain_warning.hide()
        self.encrypt.toggled.connect(lambda on: self.plain_warning.setVisible(not on))
        form.addRow("", self.encrypt)
        notice = PlainLabel(tr("Everyone in the room will see that you are recording. "
                           "Do not type patient names or numbers here."))
        notice.setWordWrap(True)
        # text that looks like a patient identifier: said at once, before anything is saved
        self.warning = PlainLabel("")
        self.warning.setObjectName("warning")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(f"color: {WARNING};")
        self.warning.hide()
        self._ok = ok
        for field in (self.title, self.hospital):
            field.textChanged.connect(self._check_identifiers)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(notice)
        layout.addWidget(self.warning)
        layout.addWidget(self.plain_warning)
        layout.addWidget(self.buttons)
        self.plain_warning.setVisible(not encrypt)  # once it is in the dialog
        self.setMinimumWidth(460)
        self._check_identifiers()

    def _check_identifiers(self) -> None:
        hints = {identifier_hint(field.text()) for field in (self.title, self.hospital)}
        hints.discard(None)
        if not hints:
            self.warning.hide()
            self._ok.setText(tr("● Start recording"))
            return
        what = {"date": tr("a date (a date of birth?)"),
                "number": tr("a long number (a record or ID number?)"),
                "word": tr("a word that comes with patient details")}
        self.warning.setText(tr("This looks like it may identify the patient: {what}. "
                                "It would be saved with the case and leave the hospital "
                                "with it. Remove it unless you are sure.",
                                what="; ".join(what[h] for h in sorted(hints))))  # type: ignore[index]
        self.warning.show()
        self._ok.setText(tr("● Start anyway"))

    def accept(self) -> None:
        title = self.title.text().strip()
        if not title:
            return
        self.chosen.emit(title, self.hospital.text().strip(), self.encrypt.isChecked())
        super().accept()
