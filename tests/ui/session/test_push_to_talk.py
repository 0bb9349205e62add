"""Push-to-talk works while the session window is active, whatever widget has focus.

The key events go to the focused widget, as a real keyboard's do (not to the window):
on the old code a focused drawing-toolbar button took Space as a click, and nothing
was sent.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QApplication, QWidget

from surgery_teach.audio import ToneTrack
from surgery_teach.protocol.messages import Role
from surgery_teach.rtc.session import SessionConfig
from surgery_teach.settings import Settings
from tests.timing import seconds
from ui.session.controller import SessionController
from ui.session.window import SessionWindow


@pytest.fixture
def own_settings(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SURGERY_TEACH_CONFIG_DIR", str(tmp_path))


@pytest.fixture
def window(qtbot, run, own_settings) -> Iterator[SessionWindow]:  # type: ignore[no-untyped-def]
    """A surgeon's window (not joined: push-to-talk is local) with push-to-talk on."""
    tone = ToneTrack(440.0)
    controller = SessionController(
        SessionConfig(server="ws://127.0.0.1:9", room="ptt", name="Dr Wang",
                      role=Role.SURGEON), [], voice=tone)
    win = SessionWindow(controller)
    qtbot.addWidget(win)
    win.show()
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=int(seconds(5) * 1000))
    win._left = True  # never joined: closing the window has nothing to leave
    win.ptt_button.click()
    assert controller.push_to_talk and not controller.transmitting
    try:
        yield win
    finally:
        tone.stop()


def focused_tool_button(window: SessionWindow) -> QWidget:
    window.drawing_toolbar.setEnabled(True)  # as for a surgeon who may draw
    button = next(iter(window.drawing_toolbar.tool_buttons.values()))
    button.setVisible(True)  # (shown only to those who may draw)
    button.setEnabled(True)
    button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    button.setFocus()
    assert QApplication.focusWidget() is button
    return button


def test_space_talks_while_a_drawing_button_has_focus_and_does_not_press_it(
        window: SessionWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    button = focused_tool_button(window)
    clicks: list[bool] = []
    button.clicked.connect(clicks.append)  # type: ignore[attr-defined]
    controller = window.controller

    qtbot.keyPress(button, Qt.Key.Key_Space)
    assert controller.transmitting
    assert window.voice_panel.talking.isVisible()
    assert "Talking" in window.voice_panel.talking.text()
    assert "Mic on" in window.mic_state.text()
    qtbot.keyPress(button, Qt.Key.Key_Space, delay=-1)  # held keys repeat: still talking
    qtbot.keyRelease(button, Qt.Key.Key_Space)
    assert not controller.transmitting
    assert not window.voice_panel.talking.isVisible()
    assert clicks == []  # the key only talked


def test_the_chat_line_does_not_swallow_the_key_either(
        window: SessionWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    line = window.chat.input
    line.setFocus()
    assert QApplication.focusWidget() is line
    qtbot.keyPress(line, Qt.Key.Key_Space)
    assert window.controller.transmitting
    qtbot.keyRelease(line, Qt.Key.Key_Space)
    assert not window.controller.transmitting
    assert line.text() == ""  # while push-to-talk is on, the key talks instead of typing


def test_a_foot_pedal_key_can_be_chosen_and_is_remembered(
        window: SessionWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    button = focused_tool_button(window)
    window.voice_panel.set_key("F13")  # what many foot pedals send
    assert "F13" in window.ptt_button.text()
    assert Settings.load().push_to_talk_key == "F13"

    qtbot.keyPress(button, Qt.Key.Key_Space)
    assert not window.controller.transmitting  # Space is an ordinary key again
    qtbot.keyPress(button, Qt.Key.Key_F13)
    assert window.controller.transmitting
    assert "F13" not in window.mic_state.text() and "Mic on" in window.mic_state.text()
    qtbot.keyRelease(button, Qt.Key.Key_F13)
    assert not window.controller.transmitting
    assert "F13" in window.mic_state.text()  # "Hold F13 to talk"


def test_talking_stops_when_the_window_is_no_longer_active(
        window: SessionWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    button = focused_tool_button(window)
    qtbot.keyPress(button, Qt.Key.Key_Space)
    assert window.controller.transmitting
    other = QWidget()
    qtbot.addWidget(other)
    other.show()
    other.activateWindow()
    qtbot.waitUntil(lambda: not window.isActiveWindow(), timeout=int(seconds(5) * 1000))
    # the release goes to another window: we never see it, so leaving the window stops
    assert not window.controller.transmitting


def test_without_push_to_talk_the_key_is_left_alone(
        window: SessionWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    window.ptt_button.click()  # push-to-talk off: the microphone is simply open
    button = focused_tool_button(window)
    clicks: list[bool] = []
    button.clicked.connect(clicks.append)  # type: ignore[attr-defined]
    qtbot.keyClick(button, Qt.Key.Key_Space)
    assert clicks  # Space presses the focused button, as anywhere else
    assert window.controller.transmitting
