"""A dropped signaling link shows "reconnecting" and the session comes back by itself."""

from __future__ import annotations

import asyncio
import socket

import pytest

from signaling_server.server import ServerConfig, start_server
from surgery_teach.audio import ToneTrack
from surgery_teach.capture import open_source
from surgery_teach.protocol.messages import Role
from surgery_teach.rtc.session import SessionConfig
from tests.timing import seconds
from tests.ui.conftest import until
from ui.controller import SessionController
from ui.session_window import SessionWindow

pytestmark = pytest.mark.slow


def test_server_restart_reconnects_both_and_video_resumes(qtbot, run) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"ws://127.0.0.1:{port}"

    async def scenario() -> None:
        server = await start_server(ServerConfig(port=port))
        surgeon = SessionController(
            SessionConfig(server=url, room="re", name="Dr Wang", role=Role.SURGEON),
            [open_source("Laparoscope=synthetic:640x360@30")], voice=ToneTrack(800.0))
        trainee = SessionController(
            SessionConfig(server=url, room="re", name="Trainee", role=Role.TRAINEE), [])
        states: list[str] = []
        trainee.state_changed.connect(states.append)
        try:
            await surgeon.start()
            await trainee.start()
            window = SessionWindow(trainee)
            qtbot.addWidget(window)
            window.show()
            await until(lambda: window.stage.main.frames_painted > 5, seconds(15), "video")

            await server.close()
            await until(lambda: trainee.state == "reconnecting", seconds(10), "reconnecting")
            assert window.banner.isVisible() and "reconnecting" in window.banner.text()
            server = await start_server(ServerConfig(port=port))
            await until(lambda: trainee.state == "live" and surgeon.state == "live",
                        seconds(20), "both to rejoin")
            assert not window.banner.isVisible()
            before = window.stage.main.frames_painted
            await until(lambda: window.stage.main.frames_painted > before + 10, seconds(15),
                        "video to resume")
            # the rejoined room has each participant once
            session = trainee.session
            assert session is not None
            assert [p.name for p in session.participants.values()] == ["Dr Wang"]
            assert states[:3] == ["live", "reconnecting", "live"]
            # the same microphone is heard again through the new connection
            surgeon_id = surgeon.session.me.id  # type: ignore[union-attr]
            await until(lambda: surgeon_id in trainee.speaking(), seconds(10), "voice again")
            # and only one reader takes frames from it (two would split the voice)
            readers = [t for t in asyncio.all_tasks() if not t.done()
                       and "run_track" in t.get_coro().__qualname__]  # type: ignore[union-attr]
            assert len(readers) == 1
        finally:
            await trainee.leave()
            await surgeon.leave()
            await server.close()

    run(scenario())
