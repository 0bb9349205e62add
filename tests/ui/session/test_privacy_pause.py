"""The surgeon's privacy pause in the desktop client: Ctrl+Shift+P (or the button) turns
every picture the trainee receives into the "paused for privacy" card, the trainee is
told who paused it, and resuming brings the picture back. Real server, peers, windows."""

from __future__ import annotations

import pytest
from PyQt6.QtCore import Qt

from signaling_server.server import ServerConfig, start_server
from surgery_teach.capture import SyntheticSource
from surgery_teach.privacy import CardKind, card_kind
from surgery_teach.protocol.messages import Role
from surgery_teach.rtc.session import SessionConfig
from tests.timing import seconds
from tests.ui.conftest import until
from ui.session.controller import SessionController
from ui.session.window import SessionWindow

pytestmark = pytest.mark.slow


def shown_kind(window: SessionWindow) -> CardKind | str | None:
    frame = window.stage.main.current_frame()
    return "nothing" if frame is None else card_kind(frame.image)


def test_ctrl_shift_p_cards_every_viewer_and_says_who(qtbot, run) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        server = await start_server(ServerConfig(port=0))
        surgeon = SessionController(
            SessionConfig(server=server.url, room="curtain", name="Dr Wang", role=Role.SURGEON),
            [SyntheticSource(640, 360, 15, label="Laparoscope")], speak=False)
        trainee = SessionController(
            SessionConfig(server=server.url, room="curtain", name="Osh", role=Role.TRAINEE),
            [], speak=False)
        try:
            await surgeon.start()
            await trainee.start()
            window, watching = SessionWindow(surgeon), SessionWindow(trainee)
            for shown in (window, watching):
                qtbot.addWidget(shown)
                shown.show()
            assert window.privacy_button.isVisible() and not watching.privacy_button.isVisible()
            await until(lambda: shown_kind(watching) is None, seconds(20), "live video")

            window.activateWindow()  # the surgeon's window has the keyboard
            await until(lambda: window.isActiveWindow(), seconds(5), "the surgeon's window active")
            qtbot.keyClick(window, Qt.Key.Key_P,
                           Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
            assert surgeon.curtain.closed and window.privacy_button.isChecked()
            await until(lambda: shown_kind(watching) is CardKind.PAUSED, seconds(10),
                        "the privacy card at the trainee")
            await until(lambda: "Dr Wang paused the video for privacy"
                        in "\n".join(watching.chat.log.lines()), seconds(10), "who paused it")

            window.privacy_button.click()  # resume
            assert not surgeon.curtain.closed
            await until(lambda: shown_kind(watching) is None, seconds(10), "the picture back")
            await until(lambda: "Dr Wang resumed the video" in "\n".join(watching.chat.log.lines()),
                        seconds(10), "the resume")
        finally:
            await trainee.leave()
            await surgeon.leave()
            await server.close()

    run(scenario())
