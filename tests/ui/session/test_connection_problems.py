"""Why there is no connection to someone, in the link panel: from the panel alone, then from
a real session whose offer a participant never answers."""

from __future__ import annotations

import pytest

from signaling_server.server import ServerConfig, start_server
from surgery_teach.protocol.messages import ParticipantInfo, Role
from surgery_teach.rtc.session import SessionConfig
from surgery_teach.rtc.signaling_client import SignalingClient
from tests.timing import seconds
from tests.ui.conftest import until
from ui.session.controller import SessionController
from ui.session.panels import LinkHealthPanel
from ui.session.window import SessionWindow

LI = ParticipantInfo("p-0a1b2c3d", "Dr Li", Role.MENTOR)
OSH = ParticipantInfo("p-5e6f7a8b", "Trainee Osh", Role.TRAINEE)


def test_each_problem_is_shown_until_solved_or_its_participant_left(qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = LinkHealthPanel()
    qtbot.addWidget(panel)
    problems = panel.problems
    assert not problems.isVisibleTo(panel)
    problems.show_problem(LI, "no connection to Dr Li's computer: the TURN relay at "
                              "turn.example-hospital.cn:3478 refused the credentials.")
    problems.show_problem(OSH, "Trainee Osh's computer did not answer.")
    assert problems.isVisibleTo(panel)
    assert problems.text().splitlines() == [
        "No connection to some participants:",
        "• no connection to Dr Li's computer: the TURN relay at turn.example-hospital.cn:3478 "
        "refused the credentials.",
        "• Trainee Osh's computer did not answer.",
    ]
    problems.show_problem(LI, "")  # connected after all
    assert problems.text().splitlines()[1:] == ["• Trainee Osh's computer did not answer."]
    problems.keep({LI.id})  # Osh left the room
    assert not problems.isVisibleTo(panel) and problems.problems == {}


@pytest.mark.slow
def test_the_surgeon_sees_within_20_s_that_a_computer_does_not_answer(qtbot, run) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        server = await start_server(ServerConfig(port=0))
        surgeon = SessionController.from_specs(
            SessionConfig(server=server.url, room="case", name="Dr Wang", role=Role.SURGEON),
            ["Laparoscope=synthetic:320x180@15"])
        silent = None
        try:
            await surgeon.start()
            window = SessionWindow(surgeon)
            qtbot.addWidget(window)
            window.show()
            silent = await SignalingClient.join(server.url, room="case", name="Dr Silent",
                                                role=Role.TRAINEE)  # never answers
            problems = window.links.problems
            await until(lambda: problems.isVisibleTo(window), seconds(20),
                        "the problem in the link panel")
            assert "Dr Silent's computer did not answer" in problems.text()
            assert "Dr Silent's computer did not answer" in window.chat.log.toPlainText()
            await silent.close()  # they leave: nothing is wrong any more
            silent = None
            await until(lambda: not problems.isVisibleTo(window), seconds(10),
                        "the problem to go with them")
        finally:
            if silent is not None:
                await silent.close()
            await surgeon.leave()
            await server.close()

    run(scenario())
