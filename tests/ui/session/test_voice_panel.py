"""The session window's voice: a device lost and back is said in the window, the session
goes on; the meter follows the microphone; the sound menu switches devices."""

from __future__ import annotations

import time

import numpy as np
import pytest

from signaling_server.server import ServerConfig, start_server
from surgery_teach.audio.health import START_GRACE
from surgery_teach.protocol.messages import Role
from surgery_teach.rtc.session import SessionConfig
from surgery_teach.settings import Settings
from tests.audio.fakes import FAKE_DEVICES, FakeSoundCard, FakeVoice
from tests.timing import seconds
from tests.ui.conftest import until
from ui.session.controller import SessionController
from ui.session.window import SessionWindow

pytestmark = pytest.mark.slow

HEADSET = FAKE_DEVICES[0].name
USB_MIC = FAKE_DEVICES[1].name


@pytest.fixture(autouse=True)
def own_settings(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """Settings of our own, with echo cancellation and noise suppression off: the fake
    microphones send steady levels, which the high-pass filter would take for DC (the
    processing has tests of its own)."""
    monkeypatch.setenv("SURGERY_TEACH_CONFIG_DIR", str(tmp_path))
    Settings(echo_cancellation=False, noise_suppression=False).save()


def surgeon_on(card: FakeSoundCard, url: str) -> SessionController:
    controller = SessionController(
        SessionConfig(server=url, room="voice-devices", name="Dr Wang", role=Role.SURGEON), [])
    controller.voice = FakeVoice(card, microphone=HEADSET, speaker=HEADSET, speak=True,
                                 echo_cancellation=False, noise_suppression=False,
                                 on_event=controller._on_voice_event)
    return controller


def test_a_lost_microphone_is_said_in_the_window_and_its_return_too(qtbot, run) -> None:  # type: ignore[no-untyped-def]
    card = FakeSoundCard()
    card.signals[HEADSET] = lambda n: np.full(n, 8000, dtype=np.int16)

    async def scenario() -> None:
        server = await start_server(ServerConfig(port=0))
        surgeon = surgeon_on(card, server.url)
        try:
            await surgeon.start()
            opened = time.monotonic()
            window = SessionWindow(surgeon)
            qtbot.addWidget(window)
            window.show()
            panel = window.voice_panel
            await until(lambda: panel.meter.value() > 50, seconds(5), "the meter to move")
            await until(lambda: time.monotonic() - opened > START_GRACE, seconds(5),
                        "a settled device")  # PortAudio over PulseAudio may pause at first

            gone_at = time.monotonic()
            headset = card.unplug(HEADSET, hang=True)
            await until(lambda: "Microphone lost" in panel.notice.text(), seconds(5),
                        "the window to say the microphone is lost")
            assert time.monotonic() - gone_at < 2.0 + 0.3  # told within 2 s (+ a GUI tick)
            assert panel.notice.isVisible() and HEADSET in panel.notice.text()
            assert any("Microphone lost" in line for line in window.chat.log.lines())
            assert surgeon.state == "live"  # the session goes on
            await until(lambda: not panel.meter.isEnabled(), seconds(2), "the meter to grey")

            back_at = time.monotonic()
            card.plug(headset)
            await until(lambda: "Microphone back" in panel.notice.text(), seconds(5),
                        "the window to say it is back")
            assert time.monotonic() - back_at < 3.0 + 0.3
            await until(lambda: panel.meter.isEnabled() and panel.meter.value() > 50,
                        seconds(3), "the meter to move again")
        finally:
            await surgeon.leave()
            await server.close()

    run(scenario())


def test_the_sound_menu_switches_the_microphone_during_the_session(qtbot, run) -> None:  # type: ignore[no-untyped-def]
    card = FakeSoundCard()
    card.signals[HEADSET] = lambda n: np.zeros(n, dtype=np.int16)
    card.signals[USB_MIC] = lambda n: np.full(n, 8000, dtype=np.int16)

    async def scenario() -> None:
        server = await start_server(ServerConfig(port=0))
        surgeon = surgeon_on(card, server.url)
        try:
            await surgeon.start()
            window = SessionWindow(surgeon)
            qtbot.addWidget(window)
            window.show()
            panel = window.voice_panel
            panel.use_device("microphone", USB_MIC)
            await until(lambda: "Microphone is now" in panel.notice.text(), seconds(5),
                        "the switch to be said")
            await until(lambda: panel.meter.value() > 50, seconds(3), "the USB microphone")
            assert Settings.load().microphone == USB_MIC  # remembered for next time
        finally:
            await surgeon.leave()
            await server.close()

    run(scenario())
