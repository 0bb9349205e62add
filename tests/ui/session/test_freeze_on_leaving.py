"""A picture you froze plays live again for the others when you leave the room, or when
your connection drops and you do not come back (docs/protocol.md 8.3). Real server, real
peers, real windows (offscreen); the mentor asks to leave through the window's question."""

from __future__ import annotations

import pytest

from signaling_server.server import ServerConfig, start_server
from surgery_teach.protocol.messages import Role
from tests.rtc.proxy import StallableProxy
from tests.timing import seconds
from tests.ui.conftest import until
from tests.ui.session.test_drawing_rights import amber
from tests.ui.session.test_telestration import controller
from tests.ui.session.test_window import rendered_video
from ui.session.controller import SessionController
from ui.session.window import SessionWindow

pytestmark = pytest.mark.slow
LAP = "Laparoscope"


async def _freeze_as_mentor(qtbot, server_url: str, mentor_url: str  # type: ignore[no-untyped-def]
                            ) -> tuple[SessionController, SessionController,
                                       SessionWindow, SessionWindow]:
    surgeon = controller(server_url, "Dr Wang", Role.SURGEON, [f"{LAP}=synthetic:640x360@15"])
    mentor = controller(mentor_url, "Dr Li", Role.MENTOR)
    windows = []
    for c in (surgeon, mentor):
        await c.start()
        window = SessionWindow(c)
        qtbot.addWidget(window)
        window.resize(1280, 760)
        window.show()
        windows.append(window)
    surgeon_window, mentor_window = windows
    views = [w.stage.main for w in windows]
    await until(lambda: all(v.frames_painted > 3 for v in views), seconds(30),
                "video in both windows")
    mentor_window.drawing_toolbar.freeze.click()
    await until(lambda: "frozen" in surgeon_window.stage.main.label, seconds(10),
                "the still at the surgeon")
    await until(lambda: amber(rendered_video(surgeon_window.stage.main)) > 500, seconds(5),
                "the frozen frame on the surgeon's screen")
    return surgeon, mentor, surgeon_window, mentor_window


async def _live_again_at(window: SessionWindow, surgeon: SessionController) -> None:
    view = window.stage.main
    await until(lambda: "frozen" not in view.label, seconds(10),
                f"live again at the surgeon ({view.label!r})")
    assert surgeon.session is not None and surgeon.session.board.frozen(LAP) is None
    await until(lambda: amber(rendered_video(view)) < 50, seconds(5), "the still gone")


def test_leaving_through_the_window_unfreezes_the_picture_you_froze(qtbot, run) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        server = await start_server(ServerConfig(port=0))
        surgeon = mentor = None
        try:
            surgeon, mentor, surgeon_window, mentor_window = await _freeze_as_mentor(
                qtbot, server.url, server.url)
            mentor_window.ask_to_leave()
            question = mentor_window.leave_question
            assert question is not None
            assert "plays live again" in question.box.text()
            question.leave_button.click()
            await _live_again_at(surgeon_window, surgeon)
        finally:
            for c in (mentor, surgeon):
                if c is not None:
                    await c.leave()
            await server.close()

    run(scenario())


def test_a_mentor_whose_connection_drops_for_good_releases_the_freeze_after_the_grace(
        qtbot, run) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        server = await start_server(ServerConfig(port=0, rejoin_grace=seconds(1)))
        port = int(server.url.rsplit(":", 1)[1])
        proxy = StallableProxy(port)  # the mentor's only way to the server
        await proxy.start()
        surgeon = mentor = None
        try:
            surgeon, mentor, surgeon_window, _ = await _freeze_as_mentor(
                qtbot, server.url, proxy.url)
            await proxy.close()  # the link is gone, and so is every way back
            await _live_again_at(surgeon_window, surgeon)
        finally:
            for c in (mentor, surgeon):
                if c is not None:
                    await c.leave()
            await proxy.close()
            await server.close()

    run(scenario())
