"""“Hospital library…”: where the hospital case library is and the user's library token.

A student pastes the address and the token the library's administrator gave (a student
token is enough to find and play cases; a mentor's also publishes); a hospital with its
own certificate authority also gives its CA file. Saved in the settings (the token is
kept out of logs), used by the library window from then on. Environment variables
(``SURGERY_TEACH_LIBRARY_URL``, ``_TOKEN``, ``_CA``), when set, win over the settings.
"""

from __future__ import annotations

import os
from pathlib import Path

from PyQt6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from surgery_teach.caselibrary.connection import LibraryAddress
from surgery_teach.caselibrary.remote import RemoteLibrary
from surgery_teach.errors import ConfigError
from surgery_teach.settings import Settings
from ui.common.plain import PlainLabel
from ui.i18n import tr


def remote_from_settings(cache: Path, settings: Settings | None = None) -> RemoteLibrary | None:
    """The hospital library the settings name, or None (not set, or unusable: then the
    window lists local cases only and the dialog says what is wrong)."""
    settings = settings or Settings.load()
    if not settings.library_url or not settings.library_token:
        return None
    try:
        return RemoteLibrary(settings.library_url, settings.library_token, cache=cache,
                             ca_file=settings.library_ca_file or None)
    except ConfigError:
        return None


class LibraryDialog(QDialog):
    """Edits the settings' hospital library; ``accept`` saves them if they are usable."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("Hospital library"))
        settings = Settings.load()
        self.url = QLineEdit(settings.library_url)
        self.url.setPlaceholderText("https://library.hospital.cn:8443")
        self.token = QLineEdit(settings.library_token)
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText(tr("paste the token the library's administrator gave you"))
        self.ca_file = QLineEdit(settings.library_ca_file)
        self.ca_file.setPlaceholderText(tr("only for a hospital's own certificates"))
        browse = QPushButton(tr("&Browse…"))
        browse.clicked.connect(self._browse)
        ca_row = QHBoxLayout()
        ca_row.addWidget(self.ca_file, 1)
        ca_row.addWidget(browse)
        form = QFormLayout()
        form.addRow(tr("Address"), self.url)
        form.addRow(tr("Library token"), self.token)
        form.addRow(tr("CA certificate"), ca_row)
        self.overridden = PlainLabel(
            tr("SURGERY_TEACH_LIBRARY_URL is set on this computer: it is used instead.")
            if os.environ.get("SURGERY_TEACH_LIBRARY_URL") else "")
        self.overridden.setWordWrap(True)
        self.overridden.setVisible(bool(self.overridden.text()))
        self.problem = PlainLabel("")
        self.problem.setObjectName("error")
        self.problem.setWordWrap(True)
        self.problem.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(PlainLabel(tr(
            "Students find and play the hospital's published cases here; mentors also "
            "publish. Leave the address empty to use only the cases on this computer.")))
        layout.addLayout(form)
        layout.addWidget(self.overridden)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)
        self.setMinimumWidth(520)

    def _browse(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(self, tr("CA certificate"), "",
                                                "PEM (*.pem *.crt);;* (*)")
        if chosen:
            self.ca_file.setText(chosen)

    def accept(self) -> None:
        url, token = self.url.text().strip(), self.token.text().strip()
        ca_file = self.ca_file.text().strip()
        if url:
            try:
                LibraryAddress.parse(url)
            except ConfigError:
                return self._refuse(tr("Write the address as https://HOST:PORT, for example "
                                       "https://library.hospital.cn:8443."))
            if not token:
                return self._refuse(tr("Paste your library token too."))
        if ca_file and not Path(ca_file).is_file():
            return self._refuse(tr("There is no file {file}.", file=ca_file))
        settings = Settings.load()
        settings.library_url, settings.library_token = url, token
        settings.library_ca_file = ca_file
        try:
            settings.save()
        except OSError as exc:
            return self._refuse(tr("Could not save the settings: {reason}", reason=str(exc)))
        super().accept()

    def _refuse(self, text: str) -> None:
        self.problem.setText(text)
        self.problem.show()
