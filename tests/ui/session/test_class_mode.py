"""The mentor's "Class mode" button: on a server without a media server the request is
refused and said in the window, and the button does not claim a class mode that is not
there. (The move onto a real Janus is tests/rtc/test_class_handover.py.)"""

from __future__ import annotations

import pytest

from signaling_server.server import ServerConfig, start_server
from surgery_teach.protocol.messages import Role
from surgery_teach.rtc.session import SessionConfig
from tests.timing import seconds
from tests.ui.conftest import until
from ui.session.controller import SessionController
from ui.session.window import SessionWindow

pytestmark = pytest.mark.slow


def test_class_mode_refused_is_told_and_the_button_stays_off(qtbot, run) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        server = await start_server(ServerConfig(port=0))
        mentor = SessionController(
            SessionConfig(server=server.url, room="class", name="Dr Li", role=Role.MENTOR),
            [], speak=False)
        trainee = SessionController(
            SessionConfig(server=server.url, room="class", name="Osh", role=Role.TRAINEE),
            [], speak=False)
        try:
            await mentor.start()
            await trainee.start()
            window, watching = SessionWindow(mentor), SessionWindow(trainee)
            for shown in (window, watching):
                qtbot.addWidget(shown)
                shown.show()
            assert window.overflow.offers(window.class_button)  # in the row or its menu
            assert not watching.overflow.offers(watching.class_button)
            window.class_button.click()
            await until(lambda: any("media server" in line for line in window.chat.log.lines()),
                        seconds(10), "the refusal in the window")
            said = "This server has no media server for classes, so the video stays peer to " \
                   "peer. Ask the server's operator to set one up."
            assert any(said in line for line in window.chat.log.lines())  # not the server's
            assert not window.class_button.isChecked()
        finally:
            await trainee.leave()
            await mentor.leave()
            await server.close()

    run(scenario())
