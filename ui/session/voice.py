"""Voice in the session window: push-to-talk, the microphone meter, and the sound menu.

:class:`PushToTalk` watches the keyboard for the whole application, not one widget: while
the session window (or anything it opened) is the active window, holding the
push-to-talk key talks, whatever has keyboard focus: a drawing-toolbar button, the chat
line. The key is the user's choice (many operating rooms use a foot pedal that sends a
key, such as F13 or Pause); it is stored in the settings.

:class:`VoicePanel` sits in the window's top bar: a level meter for the microphone, a
"Talking" light while the key is held, the sound menu (microphone, speaker, echo
cancellation, noise suppression, push-to-talk key) and, when a device goes away or
comes back, a plain sentence saying so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PyQt6.QtCore import QEvent, QObject, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QAction, QActionGroup, QKeyEvent, QKeySequence
from PyQt6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QMenu,
    QProgressBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from surgery_teach.audio import scan_audio_devices
from surgery_teach.audio.voice import VoiceEvent
from surgery_teach.settings import Settings
from ui.common.plain import PlainLabel
from ui.devices.sound import meter_percent
from ui.i18n import tr
from ui.session.controller import SessionController

logger = logging.getLogger(__name__)

DEFAULT_KEY = "Space"
METER_INTERVAL_MS = 50
#: How long "Microphone back" stays up.
BACK_NOTICE_MS = 5000


def key_code(text: str) -> int:
    """The Qt key for a key's name (``"Space"``, ``"F13"``, ``"Pause"``); Space if unknown."""
    sequence = QKeySequence(text)
    if sequence.isEmpty():
        return int(Qt.Key.Key_Space)
    return int(sequence[0].key())


def key_label(text: str) -> str:
    """The key's name as the user's keyboard shows it."""
    sequence = QKeySequence(text)
    return sequence.toString(QKeySequence.SequenceFormat.NativeText) or text


class PushToTalk(QObject):
    """Holding the key talks while ``window`` is active, whatever widget has focus.

    Installed on the application, it sees every key before any widget does. While
    push-to-talk is on, the key only talks (it never also presses a focused button or
    types a space); when the window stops being active, talking stops.
    """

    def __init__(self, window: QWidget, controller: SessionController,
                 on_change: Callable[[], None], key: str = DEFAULT_KEY) -> None:
        super().__init__(window)
        self.window = window
        self.controller = controller
        self.on_change = on_change
        self.suspended = False  # while the key itself is being chosen
        self.key_text = key
        self._key = key_code(key)
        self.held = False
        app = QApplication.instance()
        assert app is not None
        app.installEventFilter(self)
        window.destroyed.connect(lambda *_: app.removeEventFilter(self))

    def set_key(self, text: str) -> None:
        self.release()
        self.key_text = text
        self._key = key_code(text)

    def _applies(self) -> bool:
        c = self.controller
        if self.suspended or not c.push_to_talk or c.microphone is None:
            return False
        active: QWidget | None = QApplication.activeWindow()
        while active is not None:
            if active is self.window:
                return True
            active = active.parentWidget()
        return False

    def eventFilter(self, watched: QObject | None, event: QEvent | None) -> bool:
        if event is None:
            return False
        kind = event.type()
        if kind == QEvent.Type.ApplicationDeactivate or (
                kind == QEvent.Type.WindowDeactivate and watched is self.window):
            self.release()
            return False
        if kind not in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease,
                        QEvent.Type.ShortcutOverride):
            return False
        assert isinstance(event, QKeyEvent)
        if event.key() != self._key or not self._applies():
            return False
        if kind == QEvent.Type.ShortcutOverride:
            event.accept()  # the key is ours: no shortcut fires, the press comes to us
            return True
        if not event.isAutoRepeat():
            self._talk(kind == QEvent.Type.KeyPress)
        return True

    def _talk(self, held: bool) -> None:
        if held == self.held:
            return
        self.held = held
        self.controller.talk(held)
        self.on_change()

    def release(self) -> None:
        """Stop talking (the key was released where we cannot see it)."""
        self._talk(False)


class KeyChooser(QDialog):
    """Asks for the push-to-talk key: the next key pressed (a foot pedal works too)."""

    def __init__(self, current: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("Push-to-talk key"))
        self.key_text = current
        self.prompt = PlainLabel(tr("Press the key or foot pedal to use for push-to-talk."))
        self.shown = PlainLabel(key_label(current))
        self.shown.setObjectName("title")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        for button in buttons.buttons():
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # every key is a candidate
        layout = QVBoxLayout(self)
        layout.addWidget(self.prompt)
        layout.addWidget(self.shown)
        layout.addWidget(buttons)

    def keyPressEvent(self, event: QKeyEvent | None) -> None:
        if event is None or event.key() in (Qt.Key.Key_Escape, Qt.Key.Key_unknown) or \
                event.key() in (Qt.Key.Key_Shift, Qt.Key.Key_Control, Qt.Key.Key_Alt,
                                Qt.Key.Key_Meta):
            super().keyPressEvent(event)
            return
        self.key_text = QKeySequence(event.key()).toString() or DEFAULT_KEY
        self.shown.setText(key_label(self.key_text))


class VoicePanel(QWidget):
    """Microphone meter, talking light, sound menu and device notices, for the top bar.

    ``changed`` fires when talking starts or stops and when another push-to-talk key
    was chosen (the window's wording follows).
    """

    changed = pyqtSignal()

    def __init__(self, window: QWidget, controller: SessionController,
                 note: Callable[[str], None], settings: Settings | None = None) -> None:
        super().__init__(window)
        self.controller = controller
        self.settings = settings or Settings.load()
        self._note = note
        self.push_to_talk = PushToTalk(window, controller, self._talking_changed,
                                       self.settings.push_to_talk_key or DEFAULT_KEY)
        controller.set_processing(echo_cancellation=self.settings.echo_cancellation,
                                  noise_suppression=self.settings.noise_suppression)

        self.meter = QProgressBar()
        self.meter.setRange(0, 100)
        self.meter.setTextVisible(False)
        self.meter.setFixedSize(90, 12)
        self.meter.setAccessibleName(tr("Microphone level"))
        self.talking = PlainLabel("")
        self.talking.setObjectName("banner")
        self.talking.hide()
        self.notice = PlainLabel("")
        self.notice.setObjectName("banner")
        self.notice.setWordWrap(True)
        self.notice.hide()
        self.menu_button = QToolButton()
        self.menu_button.setText(tr("Sound"))
        self.menu_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.menu_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.menu = QMenu(self)
        self.menu.aboutToShow.connect(self._fill_menu)
        self.menu_button.setMenu(self.menu)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.notice, 1)
        layout.addWidget(self.talking)
        layout.addWidget(self.meter)
        layout.addWidget(self.menu_button)

        self._lost: dict[str, str] = {}  # device -> what is said while it is away
        self._news: dict[str, str] = {}  # a device back or switched, said for a while
        self._back_timer = QTimer(self)
        self._back_timer.setSingleShot(True)
        self._back_timer.timeout.connect(self._clear_back_notice)
        self._meter_timer = QTimer(self)
        self._meter_timer.timeout.connect(self._update_meter)
        self._meter_timer.start(METER_INTERVAL_MS)
        controller.voice_changed.connect(self._on_voice_event)
        self._fill_menu()

    @property
    def key_name(self) -> str:
        return key_label(self.push_to_talk.key_text)

    # -- meter and talking light --------------------------------------------------------

    def _update_meter(self) -> None:
        mic = self.controller.microphone
        self.meter.setEnabled(mic is not None and not getattr(mic, "lost", False))
        self.meter.setValue(meter_percent(mic.level) if mic is not None else 0)
        self._show_talking()

    def _talking_changed(self) -> None:
        self._show_talking()
        self.changed.emit()

    def _show_talking(self) -> None:
        c = self.controller
        talking = c.push_to_talk and self.push_to_talk.held and c.transmitting
        self.talking.setText("● " + tr("Talking") if talking else "")
        self.talking.setVisible(talking)

    # -- device news --------------------------------------------------------------------

    def _on_voice_event(self, event: VoiceEvent) -> None:
        """A device lost stays said until it is back; "back" and "switched" for a while."""
        text = voice_event_text(event)
        self._note(text)
        if event.change == "lost":
            self._lost[event.device] = text
            self._news.pop(event.device, None)
        else:
            self._lost.pop(event.device, None)
            self._news[event.device] = text
            self._back_timer.start(BACK_NOTICE_MS)
        self._show_notice()

    def _clear_back_notice(self) -> None:
        self._news.clear()
        self._show_notice()

    def _show_notice(self) -> None:
        news = [text for device, text in self._news.items() if device not in self._lost]
        text = "\n".join([*self._lost.values(), *news])
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    # -- the sound menu -----------------------------------------------------------------

    def _fill_menu(self) -> None:
        self.menu.clear()
        scan = scan_audio_devices()
        voice = self.controller.voice
        self._device_menu(tr("Microphone"), "microphone",
                          [d.name for d in scan.microphones], voice.microphone_name or "",
                          enabled=self.controller.microphone is not None)
        self._device_menu(tr("Speaker"), "speaker", [d.name for d in scan.speakers],
                          voice.speaker_name or "", enabled=True)
        self.menu.addSeparator()
        available = voice.processing.available
        self.echo_action = self._switch(tr("Echo cancellation"),
                                        voice.processing.echo_cancellation, available,
                                        lambda on: self._set_processing(echo=on))
        self.noise_action = self._switch(tr("Noise suppression"),
                                         voice.processing.noise_suppression, available,
                                         lambda on: self._set_processing(noise=on))
        if not available:
            self.echo_action.setToolTip(voice.processing.problem)
        self.menu.addSeparator()
        choose = self.menu.addAction(tr("Push-to-talk key: {key}…", key=self.key_name))
        assert choose is not None
        choose.triggered.connect(self.choose_key)

    def _device_menu(self, title: str, device: str, names: list[str], current: str, *,
                     enabled: bool) -> None:
        menu = self.menu.addMenu(title)
        assert menu is not None
        menu.setEnabled(enabled)
        group = QActionGroup(menu)
        choices = [("", tr("System default")), *((n, n) for n in dict.fromkeys(names))]
        if current and current not in names:
            choices.append((current, tr("{name} (not connected)", name=current)))
        for name, label in choices:
            action = QAction(label, menu)
            action.setCheckable(True)
            action.setChecked(name == current)
            action.setData(name)
            action.triggered.connect(lambda _checked, n=name: self.use_device(device, n))
            group.addAction(action)
            menu.addAction(action)

    def _switch(self, label: str, on: bool, enabled: bool,
                changed: Callable[[bool], None]) -> QAction:
        action = QAction(label, self.menu)
        action.setCheckable(True)
        action.setChecked(on and enabled)
        action.setEnabled(enabled)
        action.toggled.connect(changed)
        self.menu.addAction(action)
        return action

    def use_device(self, device: str, name: str) -> None:
        """Switch the microphone or speaker now, and remember it for the next session."""
        self.controller.switch_device(device, name)
        setattr(self.settings, device, name)
        self._save()

    def _set_processing(self, *, echo: bool | None = None, noise: bool | None = None) -> None:
        self.controller.set_processing(echo_cancellation=echo, noise_suppression=noise)
        if echo is not None:
            self.settings.echo_cancellation = echo
        if noise is not None:
            self.settings.noise_suppression = noise
        self._save()

    def choose_key(self) -> None:
        chooser = KeyChooser(self.push_to_talk.key_text, self)
        self.push_to_talk.suspended = True
        chooser.finished.connect(lambda result: self._key_chosen(chooser, result))
        chooser.open()

    def _key_chosen(self, chooser: KeyChooser, result: int) -> None:
        self.push_to_talk.suspended = False
        if result == QDialog.DialogCode.Accepted:
            self.set_key(chooser.key_text)

    def set_key(self, text: str) -> None:
        """Use ``text`` (a key's name) for push-to-talk from now on, and remember it."""
        self.push_to_talk.set_key(text)
        self.settings.push_to_talk_key = text
        self._save()
        self.changed.emit()

    def _save(self) -> None:
        try:
            self.settings.save()
        except OSError as exc:
            logger.warning("the sound settings could not be saved: %s", exc)


def voice_event_text(event: VoiceEvent) -> str:
    """What a device event means, in the user's language."""
    name = event.name or (tr("System default"))
    if event.device == "microphone":
        texts = {
            "lost": tr("Microphone lost ({name}): the others hear silence. Your voice comes "
                       "back by itself when it returns, or pick another microphone in Sound.",
                       name=name),
            "back": tr("Microphone back ({name}).", name=name),
            "switched": tr("Microphone is now {name}.", name=name),
        }
    else:
        texts = {
            "lost": tr("Speaker lost ({name}): you hear no one. Sound comes back by itself "
                       "when it returns, or pick another speaker in Sound.", name=name),
            "back": tr("Speaker back ({name}).", name=name),
            "switched": tr("Speaker is now {name}.", name=name),
        }
    return texts.get(event.change, event.text)
