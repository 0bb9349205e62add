"""Surgeon and trainee windows against a real server and real peers: pixels, not existence."""

from __future__ import annotations

import numpy as np
import pytest
from PyQt6.QtGui import QImage

from signaling_server.server import ServerConfig, start_server
from surgery_teach.capture import read_stamp
from surgery_teach.protocol.messages import Role
from surgery_teach.rtc.session import SessionConfig
from tests.timing import seconds
from tests.ui.conftest import until
from ui.common.video_view import VideoView
from ui.session.controller import SessionController
from ui.session.window import SessionWindow

pytestmark = pytest.mark.slow


def rendered_video(view: VideoView) -> np.ndarray:
    """The view as painted on screen, cropped to the picture, as RGB."""
    image = view.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    ptr = image.constBits()
    ptr.setsize(image.sizeInBytes())
    rgb = np.frombuffer(ptr, np.uint8).reshape(image.height(), image.bytesPerLine())
    rgb = rgb[:, : image.width() * 3].reshape(image.height(), image.width(), 3)
    rect = view.video_rect().toAlignedRect()
    ratio = image.width() / view.width()
    top, left = int(rect.top() * ratio), int(rect.left() * ratio)
    # copy: the array borrows the QImage's memory, which goes with it when we return
    return rgb[top : top + int(rect.height() * ratio),
               left : left + int(rect.width() * ratio)].copy()


def luma(rgb: np.ndarray) -> np.ndarray:
    r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
    return (0.299 * r + 0.587 * g + 0.114 * b).astype(np.uint8)


def test_trainee_window_shows_the_surgeons_live_laparoscope(qtbot, run) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        server = await start_server(ServerConfig(port=0))
        surgeon = SessionController.from_specs(
            SessionConfig(server=server.url, room="case", name="Dr Wang", role=Role.SURGEON),
            ["Laparoscope=synthetic:1280x720@30"])
        trainee = SessionController(
            SessionConfig(server=server.url, room="case", name="Osh trainee", role=Role.TRAINEE),
            [])
        try:
            await surgeon.start()
            surgeon_window = SessionWindow(surgeon)
            qtbot.addWidget(surgeon_window)
            surgeon_window.show()
            await trainee.start()
            window = SessionWindow(trainee)
            qtbot.addWidget(window)
            window.resize(1280, 800)
            window.show()
            view = window.stage.main
            await until(lambda: view.frames_painted >= 10, seconds(20), "the trainee's video")
            assert view.label == "Laparoscope"

            # The picture on the trainee's screen is the surgeon's current frame: the
            # stamp drawn into the source's pixels reads back from the rendered widget.
            stamp = read_stamp(luma(rendered_video(view)))
            assert stamp is not None
            source_seq = surgeon.sources[0].slot.latest().seq  # type: ignore[union-attr]
            assert 0 <= source_seq - stamp.seq < 30  # within a second of live
            centre = rendered_video(view)[300:420, 500:780].reshape(-1, 3).mean(axis=0)
            assert centre[0] > centre[1] + 30 and centre[0] > centre[2] + 20  # tissue red

            names = [window.participants.list.item(i).text()
                     for i in range(window.participants.list.count())]
            assert any("Dr Wang" in n and "▶" in n for n in names)
            assert any("Osh trainee" in n for n in names)
            # (the panel refreshes each second: wait for one made after pictures arrived)
            # (the panel refreshes each second over the last two: wait for one made once
            # pictures flowed, with the delay measured and the frame rate steady)
            await until(lambda: bool(window.links.reports)
                        and window.links.reports[0].delay_ms is not None
                        and window.links.reports[0].fps > 10,
                        seconds(15), "link health with the measured delay and frame rate")
            report = window.links.reports[0]
            assert report.label == "Laparoscope" and report.delay_ms is not None
            assert report.fps > 10
        finally:
            await trainee.leave()
            await surgeon.leave()
            await server.close()

    run(scenario())


def test_voice_reaches_the_trainee_who_sees_who_is_speaking_and_mute_stops_it(
        qtbot, run) -> None:  # type: ignore[no-untyped-def]
    from PyQt6.QtCore import Qt

    from surgery_teach.audio import ToneTrack

    async def scenario() -> None:
        server = await start_server(ServerConfig(port=0))
        surgeon = SessionController(
            SessionConfig(server=server.url, room="voice", name="Dr Wang", role=Role.SURGEON),
            [], voice=ToneTrack(1000.0, amplitude=0.5))
        trainee = SessionController(
            SessionConfig(server=server.url, room="voice", name="Trainee", role=Role.TRAINEE),
            [])
        try:
            await surgeon.start()
            await trainee.start()
            window = SessionWindow(trainee)
            qtbot.addWidget(window)
            window.show()
            surgeon_id = surgeon.session.me.id  # type: ignore[union-attr]
            await until(lambda: surgeon_id in trainee.speaking(), seconds(15),
                        "the trainee to hear the surgeon")
            player = trainee.players[surgeon_id]
            # no speaker on this machine: the session goes on and says why
            assert player.sink is None and player.frames_received > 0

            def listed_speaking() -> bool:
                items = [window.participants.list.item(i).text()
                         for i in range(window.participants.list.count())]
                return any("Dr Wang" in t and "♪" in t for t in items)

            await until(listed_speaking, seconds(5), "the participant list to show the speaker")

            surgeon_window = SessionWindow(surgeon)
            qtbot.addWidget(surgeon_window)
            surgeon_window.show()
            surgeon_window.activateWindow()
            await until(surgeon_window.isActiveWindow, seconds(5), "the window to be active")
            qtbot.keyClick(surgeon_window, Qt.Key.Key_M)  # mute shortcut
            assert surgeon.muted and not surgeon.transmitting
            await until(lambda: surgeon_id not in trainee.speaking(), seconds(10),
                        "silence after mute")
            surgeon_window.ptt_button.click()
            surgeon_window.mute_button.click()  # unmute: push-to-talk keeps it closed
            assert not surgeon.transmitting
            qtbot.keyPress(surgeon_window, Qt.Key.Key_Space)
            assert surgeon.transmitting
            await until(lambda: surgeon_id in trainee.speaking(), seconds(10), "talking")
            qtbot.keyRelease(surgeon_window, Qt.Key.Key_Space)
            assert not surgeon.transmitting
        finally:
            await trainee.leave()
            await surgeon.leave()
            await server.close()

    run(scenario())


def test_without_audio_devices_the_session_says_so_and_goes_on(qtbot, run) -> None:  # type: ignore[no-untyped-def]
    from surgery_teach.audio import audio_available

    if audio_available()[0]:
        pytest.skip("this machine has audio devices")

    async def scenario() -> None:
        server = await start_server(ServerConfig(port=0))
        surgeon = SessionController.from_specs(
            SessionConfig(server=server.url, room="mute", name="Dr Wang", role=Role.SURGEON),
            ["Laparoscope=synthetic:640x360@30"])
        problems: list[str] = []
        surgeon.problem.connect(problems.append)
        try:
            await surgeon.start()
            window = SessionWindow(surgeon)
            qtbot.addWidget(window)
            window.show()
            assert surgeon.state == "live"
            assert surgeon.microphone is None
            assert problems and "No microphone" in problems[0]
            assert window.mic_state.text() == "No microphone"
            assert not window.mute_button.isEnabled()
            await until(lambda: window.stage.main.frames_painted > 3, seconds(10), "video")
        finally:
            await surgeon.leave()
            await server.close()

    run(scenario())
