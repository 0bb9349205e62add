"""Leaving the room from the window: a Record racing Leave starts nothing that outlives
the session, and whatever fails on the way out, the camera is released and the window
closes. Real server, real peers, real windows."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from signaling_server.server import ServerConfig, start_server
from surgery_teach.capture import SyntheticSource
from surgery_teach.casebook import open_recording
from surgery_teach.casefile import RecordingState
from surgery_teach.errors import SignalingError
from surgery_teach.protocol.messages import Role
from surgery_teach.rtc.session import SessionConfig
from tests.timing import seconds
from tests.ui.conftest import until
from ui.recording.control import RecordingControl
from ui.session.controller import SessionController
from ui.session.window import SessionWindow

pytestmark = pytest.mark.slow


class CountedSource(SyntheticSource):
    """A synthetic camera that records whether it was stopped (released)."""

    def __init__(self) -> None:
        super().__init__(640, 360, 30, label="Laparoscope")
        self.stopped = False

    def stop(self) -> None:
        super().stop()
        self.stopped = True


def _surgeon(url: str, room: str, tmp_path: Path) -> tuple[SessionController, CountedSource]:
    source = CountedSource()
    controller = SessionController(
        SessionConfig(server=url, room=room, name="Dr Wang", role=Role.SURGEON), [source],
        speak=False, recordings=tmp_path)
    return controller, source


def click_leave(window: SessionWindow) -> None:
    """Leave, and Leave again in the question (a surgeon sending video is asked)."""
    window.leave_button.click()
    question = window.leave_question
    assert question is not None and question.box.isVisible()
    question.leave_button.click()


async def _settled(control: RecordingControl) -> None:
    """On the media thread: what the recording control started has finished."""
    while control._tasks:
        await asyncio.gather(*control._tasks, return_exceptions=True)


def test_record_after_leaving_began_starts_nothing(qtbot, run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        server = await start_server(ServerConfig(port=0))
        surgeon, _ = _surgeon(server.url, "race", tmp_path)
        try:
            await surgeon.start()
            window = SessionWindow(surgeon)
            qtbot.addWidget(window)
            window.show()
            control = surgeon.recording
            # The controller's leaving has closed the recording; a Ctrl+R handed over
            # after that (the session still live for a moment) must start nothing.
            await surgeon.media.run(control.close())
            control.toggle()
            await surgeon.media.run(_settled(control))
            await until(lambda: not control.busy, seconds(5), "the Record button back")
            assert not control.active and list(tmp_path.iterdir()) == []
            assert surgeon.session is not None and surgeon.session.recording.recorders == ()

            # Leave clicked: Record and Chapter are off, Ctrl+R opens no dialog.
            closed: list[bool] = []
            window.closed.connect(lambda: closed.append(True))
            click_leave(window)
            rec = window.recording
            assert not rec.record_button.isEnabled() and not rec.chapter_button.isEnabled()
            rec.record_pressed()
            assert rec.record_dialog is None
            await until(lambda: bool(closed), seconds(20), "the window to close")
        finally:
            await surgeon.leave()
            await server.close()
        assert list(tmp_path.iterdir()) == []

    run(scenario())


def test_a_record_started_just_before_leave_is_finished_not_orphaned(
        qtbot, run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        server = await start_server(ServerConfig(port=0))
        surgeon, _ = _surgeon(server.url, "race2", tmp_path)
        try:
            await surgeon.start()
            window = SessionWindow(surgeon)
            qtbot.addWidget(window)
            window.show()
            closed: list[bool] = []
            window.closed.connect(lambda: closed.append(True))
            surgeon.recording.toggle()  # Record, and Leave right after: the start is
            click_leave(window)  # still waiting for the server when leaving begins
            await until(lambda: bool(closed), seconds(20), "the window to close")
        finally:
            await surgeon.leave()
            await server.close()
        (folder,) = tmp_path.iterdir()
        assert open_recording(folder).manifest.state is RecordingState.FINISHED

    run(scenario())


def test_leaving_releases_the_camera_and_closes_the_window_whatever_fails(
        qtbot, run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        server = await start_server(ServerConfig(port=0))
        surgeon, source = _surgeon(server.url, "fail", tmp_path)
        try:
            await surgeon.start()
            window = SessionWindow(surgeon)
            qtbot.addWidget(window)
            window.show()

            live = surgeon._live
            assert live is not None
            close_recording, close_session = surgeon.recording.close, live.close

            async def unplugged() -> None:  # the recording's USB disk was pulled out
                await close_recording()
                raise OSError(5, "Input/output error")

            async def broken() -> None:
                await close_session()
                raise SignalingError("the session would not close")

            monkeypatch.setattr(surgeon.recording, "close", unplugged)
            monkeypatch.setattr(live, "close", broken)
            closed: list[bool] = []
            window.closed.connect(lambda: closed.append(True))
            click_leave(window)
            await until(lambda: bool(closed), seconds(20), "the window to close")
            assert not window.isVisible()
            assert source.stopped  # the camera is free for the next case
            assert all(encoder._thread is None for encoder in surgeon.encoders)
            assert surgeon.state == "left" and not surgeon.media.running
        finally:
            monkeypatch.undo()
            await surgeon.leave()
            await server.close()

    run(scenario())
