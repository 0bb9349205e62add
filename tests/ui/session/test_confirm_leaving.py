"""A stray close never ends the case: Leave and closing the window ask first while we
record, send video or hold a frozen picture, naming what ends; "Stay" keeps everything
going. Real server, real peers, real windows (offscreen)."""

from __future__ import annotations

from pathlib import Path

import pytest

from signaling_server.server import ServerConfig, start_server
from surgery_teach.annotations import Freeze
from surgery_teach.capture import SyntheticSource
from surgery_teach.casebook import open_recording
from surgery_teach.casefile import RecordingState
from surgery_teach.protocol.messages import Role
from surgery_teach.rtc.session import SessionConfig
from tests.timing import seconds
from tests.ui.conftest import until
from ui.session.controller import SessionController
from ui.session.window import SessionWindow

pytestmark = pytest.mark.slow


def test_closing_while_streaming_and_recording_asks_and_stay_keeps_the_case(
        qtbot, run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        server = await start_server(ServerConfig(port=0))
        surgeon = SessionController(
            SessionConfig(server=server.url, room="ask", name="Dr Wang", role=Role.SURGEON),
            [SyntheticSource(640, 360, 15, label="Laparoscope")], speak=False,
            recordings=tmp_path)
        trainee = SessionController(
            SessionConfig(server=server.url, room="ask", name="Osh", role=Role.TRAINEE), [],
            speak=False)
        try:
            await surgeon.start()
            await trainee.start()
            window = SessionWindow(surgeon)
            qtbot.addWidget(window)
            window.show()
            closed: list[bool] = []
            window.closed.connect(lambda: closed.append(True))

            # The title bar's ×: the window stays, the question names the video.
            window.close()
            question = window.leave_question
            assert question is not None and question.box.isVisible()
            assert window.isVisible() and surgeon.state in ("live", "reconnecting")
            assert "Laparoscope" in question.box.text()
            assert "stops for everyone" in question.box.text()
            assert question.box.defaultButton() is question.stay_button
            question.stay_button.click()
            await until(lambda: not question.box.isVisible(), seconds(5), "the answer")
            assert window.isVisible() and surgeon.state in ("live", "reconnecting") and not closed

            # Recording and a picture we froze are named too; Leave again asks.
            surgeon.recording.toggle()
            await until(lambda: surgeon.recording.active, seconds(10), "the recording")
            frame = window.stage.main.current_frame()
            assert frame is not None
            me = surgeon.session.me.id  # type: ignore[union-attr]
            surgeon.annotate(Freeze("Laparoscope", frame.captured_at, author=me))
            await until(lambda: surgeon.session is not None
                        and surgeon.session.board.frozen_by("Laparoscope") == me,
                        seconds(10), "the freeze")
            window.leave_button.click()
            question = window.leave_question
            assert question is not None and question.box.isVisible()
            text = question.box.text()
            assert "recording stops" in text and "picture you froze" in text
            question.box.reject()  # Esc, or closing the question: Stay
            await until(lambda: not question.box.isVisible(), seconds(5), "the answer")
            assert surgeon.state in ("live", "reconnecting") and surgeon.recording.active
            assert not closed

            window.leave_button.click()
            assert window.leave_question is not None
            window.leave_question.leave_button.click()
            await until(lambda: bool(closed), seconds(20), "the window to close")
            assert not window.isVisible()
        finally:
            await trainee.leave()
            await surgeon.leave()
            await server.close()
        (folder,) = tmp_path.iterdir()  # the recording was finished, not cut off
        assert open_recording(folder).manifest.state is RecordingState.FINISHED

    run(scenario())


def test_a_trainee_who_sends_nothing_leaves_without_a_question(qtbot, run) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        server = await start_server(ServerConfig(port=0))
        trainee = SessionController(
            SessionConfig(server=server.url, room="plain", name="Osh", role=Role.TRAINEE), [],
            speak=False)
        try:
            await trainee.start()
            window = SessionWindow(trainee)
            qtbot.addWidget(window)
            window.show()
            closed: list[bool] = []
            window.closed.connect(lambda: closed.append(True))
            window.close()
            assert window.leave_question is None
            await until(lambda: bool(closed), seconds(20), "the window to close")
            assert trainee.state == "left"
        finally:
            await trainee.leave()
            await server.close()

    run(scenario())
