"""The lobby: server, room, name, role and sources; remembers recent rooms."""

from __future__ import annotations

from dataclasses import dataclass

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from surgery_teach.capture import parse_source_spec
from surgery_teach.errors import SurgeryTeachError
from surgery_teach.protocol.messages import Role
from surgery_teach.rtc.signaling_client import check_server_url
from surgery_teach.settings import Settings
from ui.device_setup import DeviceSetup
from ui.i18n import LANGUAGES, tr
from ui.panels import role_name


@dataclass(frozen=True)
class JoinRequest:
    server: str  # empty: the local embedded server
    room: str
    name: str
    role: Role
    sources: tuple[str, ...]
    token: str = ""  # never saved: a room token is a key to the case


class Lobby(QWidget):
    """Emits ``join_requested(JoinRequest)`` once the form is valid."""

    join_requested = pyqtSignal(object)
    language_changed = pyqtSignal(str)

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.setWindowTitle(tr("Surgery teaching — join a case"))
        self.resize(640, 520)
        title = QLabel(tr("Join a case"))
        title.setObjectName("title")
        self.server = QLineEdit(settings.server)
        self.server.setPlaceholderText(tr("empty: a local server on this computer"))
        self.room = QComboBox()
        self.room.setEditable(True)
        self.room.addItems(settings.recent_rooms or [settings.room])
        self.room.setCurrentText(settings.room)
        self.name = QLineEdit(settings.name)
        self.name.setPlaceholderText(tr("e.g. Dr Wang, Zepu County Hospital"))
        self.role = QComboBox()
        for role in Role:
            self.role.addItem(role_name(role), role.value)
        self.role.setCurrentIndex(max(0, self.role.findData(settings.role)))
        self.token = QLineEdit()
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText(tr("only if the server asks for one"))
        self.sources = QLineEdit("; ".join(settings.sources))
        self.sources.setPlaceholderText("Laparoscope=camera:0; Room camera=camera:1")
        self.language = QComboBox()
        for code, name in LANGUAGES.items():
            self.language.addItem(name, code)
        self.language.setCurrentIndex(max(0, self.language.findData(settings.language)))
        self.language.currentIndexChanged.connect(
            lambda _: self.language_changed.emit(self.language.currentData()))
        self.error = QLabel("")
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.devices_button = QPushButton(tr("Devices…"))
        self.devices_button.clicked.connect(self.open_devices)
        self.join_button = QPushButton(tr("Join"))
        self.join_button.setObjectName("primary")
        self.join_button.setDefault(True)
        self.join_button.clicked.connect(self.submit)
        self.role.currentIndexChanged.connect(self._role_changed)

        form = QFormLayout()
        form.addRow(tr("Signaling server"), self.server)
        form.addRow(tr("Room (case)"), self.room)
        form.addRow(tr("Your name"), self.name)
        form.addRow(tr("Role"), self.role)
        form.addRow(tr("Room token"), self.token)
        form.addRow(tr("Video sources"), self.sources)
        form.addRow(tr("Language"), self.language)
        buttons = QHBoxLayout()
        buttons.addWidget(self.devices_button)
        buttons.addStretch(1)
        buttons.addWidget(self.join_button)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addStretch(1)
        layout.addLayout(buttons)
        self._role_changed()

    def open_devices(self) -> None:
        """Pick cameras, microphone and speaker; the sources field follows the dialog."""
        self.settings.sources = [s.strip() for s in self.sources.text().split(";") if s.strip()]
        self._devices = DeviceSetup(self.settings, self)
        self._devices.accepted.connect(
            lambda: self.sources.setText("; ".join(self.settings.sources)))
        self._devices.open()

    def _role_changed(self) -> None:
        publishes = Role(self.role.currentData()) in (Role.SURGEON, Role.MENTOR)
        self.sources.setEnabled(publishes)

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.join_button.setEnabled(True)

    def busy(self, text: str) -> None:
        self.error.setText(text)
        self.join_button.setEnabled(False)

    def submit(self) -> None:
        """Validate the form; emit ``join_requested`` or show what to fix."""
        server = self.server.text().strip()
        room = self.room.currentText().strip()
        name = self.name.text().strip()
        role = Role(self.role.currentData())
        specs: list[str] = []
        try:
            if server:
                check_server_url(server)
            if not room:
                raise SurgeryTeachError(tr("Enter the room name of the case."))
            if not name:
                raise SurgeryTeachError(tr("Enter your name so others know who is speaking."))
            if role in (Role.SURGEON, Role.MENTOR):
                specs = [s.strip() for s in self.sources.text().split(";") if s.strip()]
                for spec in specs:
                    parse_source_spec(spec)
        except SurgeryTeachError as exc:
            self.show_error(str(exc))
            return
        self.settings.server, self.settings.room, self.settings.name = server, room, name
        self.settings.role = role.value
        if specs:
            self.settings.sources = specs
        self.settings.remember_room(room)
        self.error.setText("")
        self.join_requested.emit(JoinRequest(server, room, name, role, tuple(specs),
                                             self.token.text().strip()))

    def keyPressEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.submit()
        else:
            super().keyPressEvent(event)
