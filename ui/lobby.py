"""The lobby: server, room, name, role and sources; remembers recent rooms.

A pasted room token fills in (and fixes) the room, role and name it was issued for and
shows until when it works; "Advanced" holds the hospital's CA certificate for wss:// and
the STUN/TURN servers, when not those the signaling server gives.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from surgery_teach.errors import ConfigError, ProtocolError, SurgeryTeachError
from surgery_teach.protocol.ice import IceServer, parse_ice_server
from surgery_teach.protocol.messages import Role
from surgery_teach.protocol.passes import RoomPass
from surgery_teach.protocol.tokens import read_claims_unverified
from surgery_teach.settings import Settings
from ui.common.plain import PlainLabel
from ui.common.server_words import ice_problem_text, token_problem_text
from ui.devices.setup import DeviceSetup
from ui.devices.source_picker import SourcePicker
from ui.i18n import LANGUAGES, language, role_name, tr, tr_n
from ui.lobby_checks import (
    FormProblem,
    chosen_role,
    display_name,
    first_run_help,
    room_name,
    sends_video,
    server_address,
)

SOON_SECONDS = 3600
"""A token that runs out sooner than this says how many minutes it has left."""


@dataclass(frozen=True)
class JoinRequest:
    server: str  # empty: the local embedded server
    room: str
    name: str
    role: Role
    sources: tuple[str, ...]
    token: str = ""  # never saved: a room token is a key to the case
    ca_file: str = ""  # the CA certificate that signed a wss:// server's certificate
    ice_servers: tuple[IceServer, ...] = ()  # empty: those the signaling server gives


def read_ice_servers(lines: list[str]) -> tuple[IceServer, ...]:
    """The STUN/TURN servers of the Advanced field, one a line (blank lines skipped);
    :class:`SurgeryTeachError` naming the line that cannot be used."""
    servers = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                servers.append(parse_ice_server(line))
            except ConfigError as exc:
                raise SurgeryTeachError(ice_problem_text(number, str(exc))) from None
    return tuple(servers)


def when(timestamp: float, now: float) -> str:
    """A local clock time, with the date when it is not today: ``16:40``, ``2026-11-26 08:00``."""
    moment = datetime.fromtimestamp(timestamp)
    same_day = moment.date() == datetime.fromtimestamp(now).date()
    return moment.strftime("%H:%M" if same_day else "%Y-%m-%d %H:%M")


class Lobby(QWidget):
    """Emits ``join_requested(JoinRequest)`` once the form is valid."""

    join_requested = pyqtSignal(object)
    language_changed = pyqtSignal(str)
    library_requested = pyqtSignal()

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.setWindowTitle(tr("Surgery teaching — join a case"))
        self.resize(680, 600)
        title = PlainLabel(tr("Join a case"))
        title.setObjectName("title")
        self.server = QLineEdit(settings.server)
        self.server.setPlaceholderText(tr("empty: a local server on this computer"))
        self.server.editingFinished.connect(self._server_edited)
        self.server_help = PlainLabel("")  # how a second person joins (first run)
        self.server_help.setObjectName("muted")
        self.server_help.setWordWrap(True)
        self.room = QComboBox()
        self.room.setEditable(True)
        self.room.addItems(settings.recent_rooms or [settings.room])
        self.room.setCurrentText(settings.room)
        self.name = QLineEdit(settings.name)
        self.name.setPlaceholderText(tr("e.g. Dr Wang, Zepu County Hospital"))
        self.name.textChanged.connect(self._name_changed)
        self.role = QComboBox()
        self.role.addItem(tr("Choose your role…"), "")  # nobody is a surgeon by default
        for role in Role:
            self.role.addItem(role_name(role), role.value)
        self.role.setCurrentIndex(max(0, self.role.findData(settings.role)))
        self.token = QLineEdit()
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText(tr("only if the server asks for one"))
        self.token_status = PlainLabel("")
        self.token_status.setWordWrap(True)
        self.token_status.hide()
        self.claims: RoomPass | None = None  # what the pasted token says (unverified)
        self.token_problem = ""  # why the pasted token cannot work, if it cannot
        self.token.textChanged.connect(self._token_changed)
        self.sources = SourcePicker(settings.sources)
        self.language = QComboBox()
        for code, name in LANGUAGES.items():
            self.language.addItem(name, code)
        self.language.setCurrentIndex(max(0, self.language.findData(language())))
        self.language.currentIndexChanged.connect(
            lambda _: self.language_changed.emit(self.language.currentData()))
        self.error = PlainLabel("")
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.devices_button = QPushButton(tr("Devices…"))
        self.devices_button.clicked.connect(self.open_devices)
        self.library_button = QPushButton(tr("Case library…"))
        self.library_button.setToolTip(tr("Replay recorded cases"))
        self.library_button.clicked.connect(self.library_requested.emit)
        self.join_button = QPushButton(tr("Join"))
        self.join_button.setObjectName("primary")
        self.join_button.setDefault(True)
        self.join_button.clicked.connect(self.submit)
        self.role.currentIndexChanged.connect(self._role_changed)
        self.ca_file = QLineEdit(settings.ca_file)
        self.ca_file.setPlaceholderText(tr("only if the hospital signs its server itself"))
        browse = QPushButton(tr("Browse…"))
        browse.clicked.connect(self._browse_ca_file)
        ca_row = QHBoxLayout()
        ca_row.addWidget(self.ca_file, 1)
        ca_row.addWidget(browse)
        self.advanced = QWidget()
        advanced_form = QFormLayout(self.advanced)
        advanced_form.setContentsMargins(0, 0, 0, 0)
        advanced_form.addRow(tr("CA certificate (wss://)"), ca_row)
        self.ice_servers = QPlainTextEdit("\n".join(settings.ice_servers))
        self.ice_servers.setPlaceholderText(tr(
            "Empty: those the signaling server gives. One a line, e.g.\n"
            "stun:turn.example-hospital.cn\nturn:USER:PASSWORD@turn.example-hospital.cn:3478"))
        self.ice_servers.setFixedHeight(self.ice_servers.fontMetrics().lineSpacing() * 4 + 12)
        advanced_form.addRow(tr("ICE servers (STUN/TURN)"), self.ice_servers)
        self.advanced_button = QToolButton()
        self.advanced_button.setObjectName("disclosure")
        self.advanced_button.setText(tr("Advanced"))
        self.advanced_button.setCheckable(True)
        self.advanced_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_button.toggled.connect(self._show_advanced)
        advanced = bool(settings.ca_file or settings.ice_servers)
        self.advanced_button.setChecked(advanced)
        self._show_advanced(advanced)

        form = QFormLayout()
        form.addRow(tr("Signaling server"), self.server)
        form.addRow("", self.server_help)
        form.addRow(tr("Room (case)"), self.room)
        form.addRow(tr("Your name"), self.name)
        form.addRow(tr("Role"), self.role)
        form.addRow(tr("Room token"), self.token)
        form.addRow("", self.token_status)
        self.sources_label = PlainLabel(tr("Video you send"))
        form.addRow(self.sources_label, self.sources)
        form.addRow(tr("Language"), self.language)
        buttons = QHBoxLayout()
        buttons.addWidget(self.devices_button)
        buttons.addWidget(self.library_button)
        buttons.addStretch(1)
        buttons.addWidget(self.join_button)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addLayout(form)
        layout.addWidget(self.advanced_button)
        layout.addWidget(self.advanced)
        layout.addWidget(self.error)
        layout.addStretch(1)
        layout.addLayout(buttons)
        self.room.currentTextChanged.connect(lambda _: self._show_help())
        self._role_changed()
        self._show_help()

    def open_devices(self) -> None:
        """Pick cameras, microphone and speaker; the sources field follows the dialog."""
        self.settings.sources = self.sources.specs()
        self._devices = DeviceSetup(self.settings, self)
        self._devices.accepted.connect(lambda: self.sources.set_specs(self.settings.sources))
        self._devices.open()

    def _show_advanced(self, shown: bool) -> None:
        self.advanced.setVisible(shown)
        self.advanced_button.setArrowType(
            Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)

    def _browse_ca_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, tr("The hospital's CA certificate"), self.ca_file.text(),
            tr("Certificates (*.pem *.crt *.cer);;All files (*)"))
        if path:
            self.ca_file.setText(path)

    def _token_changed(self) -> None:
        """Fill in and fix what the pasted token decides; say until when it works."""
        text = self.token.text().strip()
        self.claims, self.token_problem = None, ""
        self.error.setText("")
        if not text:
            self._fix_fields(False)
            self.token_status.hide()
            return
        try:
            claims = read_claims_unverified(text)
        except ProtocolError as exc:
            self._fix_fields(False)
            self.token_problem = token_problem_text(exc.code)
            self._show_token_status(self.token_problem, "error")
            return
        self.claims = claims
        self.room.setCurrentText(claims.room)
        self.name.setText(claims.name)
        self.role.setCurrentIndex(self.role.findData(claims.role.value))
        self._fix_fields(True)
        now = time.time()
        if claims.expires_at <= now:
            self.token_problem = tr(
                "This token expired at {time}; ask the case organiser for a new one.",
                time=when(claims.expires_at, now))
            self._show_token_status(self.token_problem, "error")
        elif claims.expires_at - now < SOON_SECONDS:  # say how long is left
            self._show_token_status(tr_n(
                "For {name} as {role} in room {room}; valid for {n} more minute, until "
                "{time}.",
                "For {name} as {role} in room {room}; valid for {n} more minutes, until "
                "{time}.", math.ceil((claims.expires_at - now) / 60), name=claims.name,
                role=role_name(claims.role), room=claims.room,
                time=when(claims.expires_at, now)), "muted")
        else:
            self._show_token_status(tr(
                "For {name} as {role} in room {room}; valid until {time}.", name=claims.name,
                role=role_name(claims.role), room=claims.room,
                time=when(claims.expires_at, now)), "muted")

    def _show_token_status(self, text: str, style: str) -> None:
        self.token_status.setText(text)
        self.token_status.setObjectName(style)
        self.token_status.style().unpolish(self.token_status)  # apply the new style
        self.token_status.style().polish(self.token_status)
        self.token_status.show()

    def _fix_fields(self, fixed: bool) -> None:
        """The token decides room, role and name: they cannot be changed while it is there."""
        tip = tr("Set by the room token") if fixed else ""
        for field in (self.room, self.name, self.role):
            field.setEnabled(not fixed)
            field.setToolTip(tip)

    def _role_changed(self) -> None:
        """Sources are only offered to the roles that send video."""
        value = self.role.currentData()
        publishes = sends_video(Role(value) if value else None)
        self.sources.setEnabled(publishes)
        self.sources.setVisible(publishes)
        self.sources_label.setVisible(publishes)

    def _server_edited(self) -> None:
        """``ws://`` is added when the address has none; the help follows the field."""
        try:
            fixed = server_address(self.server.text())
        except FormProblem:
            fixed = self.server.text().strip()  # said on Join
        if fixed != self.server.text():
            self.server.setText(fixed)
        self._show_help()

    def _show_help(self) -> None:
        text = first_run_help(self.server.text(), self.room.currentText())
        self.server_help.setText(text)
        self.server_help.setVisible(bool(text))

    def _name_changed(self) -> None:
        """Too long a name is said while typing, not after the server refused it."""
        try:
            display_name(self.name.text() or "-")
        except FormProblem as exc:
            self.error.setText(str(exc))
        else:
            if self.error.text() and not self.join_button.isEnabled():
                return  # "Connecting…" stays
            self.error.setText("")

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.join_button.setEnabled(True)

    def busy(self, text: str) -> None:
        self.error.setText(text)
        self.join_button.setEnabled(False)

    def submit(self) -> None:
        """Validate the form; emit ``join_requested`` or show what to fix."""
        ca_file = self.ca_file.text().strip()
        ice_lines = [line.strip() for line in self.ice_servers.toPlainText().splitlines()
                     if line.strip()]
        specs: list[str] = []
        if self.token_problem:  # shown under the token already
            self.error.setText("")
            self.token.setFocus()
            return
        try:
            server = server_address(self.server.text())
            if server != self.server.text():
                self.server.setText(server)
            if ca_file and not Path(ca_file).expanduser().is_file():
                raise SurgeryTeachError(tr(
                    "The CA certificate file {path} does not exist; choose the file your IT "
                    "department gave you (Advanced), or leave it empty.", path=ca_file))
            ice_servers = read_ice_servers(ice_lines)
            room = room_name(self.room.currentText())
            name = display_name(self.name.text())
            role = chosen_role(self.role.currentData())
            if sends_video(role):
                specs = self.sources.specs()
                problem = self.sources.problem()
                if problem:
                    raise FormProblem(problem)
                if role is Role.SURGEON and not specs:
                    raise FormProblem(tr(
                        "Choose the video you send: a camera, the synthetic test picture "
                        "or a video file."))
        except SurgeryTeachError as exc:
            self.show_error(str(exc))
            return
        self.settings.server, self.settings.room, self.settings.name = server, room, name
        self.settings.role = role.value
        self.settings.ca_file = ca_file
        self.settings.ice_servers = ice_lines
        if specs:
            self.settings.sources = specs
        self.settings.remember_room(room)
        self.error.setText("")
        self.join_requested.emit(JoinRequest(server, room, name, role, tuple(specs),
                                             self.token.text().strip(), ca_file, ice_servers))

    def keyPressEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.submit()
        else:
            super().keyPressEvent(event)
