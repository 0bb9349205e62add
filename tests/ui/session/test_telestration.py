"""A mentor draws on the live video; the trainee sees the mark at the same place."""

from __future__ import annotations

import numpy as np
import pytest
from PyQt6.QtCore import QPoint, Qt

from signaling_server.server import ServerConfig, start_server
from surgery_teach.annotations import Add, Pen
from surgery_teach.protocol.messages import Role
from surgery_teach.rtc.session import SessionConfig
from tests.timing import seconds
from tests.ui.conftest import until
from tests.ui.session.test_window import rendered_video
from ui.common.video_view import VideoView
from ui.session.controller import SessionController
from ui.session.window import SessionWindow

pytestmark = pytest.mark.slow
BLUE = "#64d2ff"


def at(view: VideoView, x: float, y: float) -> QPoint:
    rect = view.video_rect()
    return QPoint(round(rect.left() + x * rect.width()), round(rect.top() + y * rect.height()))


def drag(qtbot, view: VideoView, start: tuple[float, float], end: tuple[float, float]) -> None:  # type: ignore[no-untyped-def]
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=at(view, *start))
    for i in range(1, 11):
        x = start[0] + (end[0] - start[0]) * i / 10
        y = start[1] + (end[1] - start[1]) * i / 10
        qtbot.mouseMove(view, pos=at(view, x, y))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=at(view, *end))


def blue(rgb: np.ndarray) -> np.ndarray:
    r, g, b = (rgb[..., i].astype(int) for i in range(3))
    return (b > 200) & (g > 160) & (r < 160) & (b > r + 80)  # the mark's #64d2ff


def controller(url: str, name: str, role: Role, specs: list[str] | None = None
               ) -> SessionController:
    return SessionController.from_specs(
        SessionConfig(server=url, room="draw", name=name, role=role), specs or [],
    ) if specs else SessionController(
        SessionConfig(server=url, room="draw", name=name, role=role), [], speak=False)


def test_mentor_arrow_appears_at_the_same_place_for_the_trainee(qtbot, run) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        server = await start_server(ServerConfig(port=0))
        surgeon = controller(server.url, "Dr Wang", Role.SURGEON,
                             ["Laparoscope=synthetic:640x360@30"])
        mentor = controller(server.url, "Prof Li", Role.MENTOR)
        trainee = controller(server.url, "Trainee", Role.TRAINEE)
        problems: list[str] = []
        trainee.problem.connect(problems.append)
        late = None
        try:
            for c in (surgeon, mentor, trainee):
                await c.start()
            windows = {}
            for name, c in (("mentor", mentor), ("trainee", trainee)):
                window = SessionWindow(c)
                qtbot.addWidget(window)
                window.resize(1280, 800)
                window.show()
                windows[name] = window
            mentor_view = windows["mentor"].stage.main
            trainee_view = windows["trainee"].stage.main
            await until(lambda: mentor_view.frames_painted > 3 and trainee_view.frames_painted > 3,
                        seconds(20), "video at both")
            assert mentor_view.drawing and not trainee_view.drawing

            toolbar = windows["mentor"].drawing_toolbar
            windows["mentor"].activateWindow()
            await until(windows["mentor"].isActiveWindow, seconds(5), "the mentor's window")
            qtbot.keyClick(windows["mentor"], Qt.Key.Key_P)
            assert toolbar.tool.value == "pen"
            qtbot.keyClick(windows["mentor"], Qt.Key.Key_A)
            assert toolbar.tool.value == "arrow"
            toolbar.colour.setCurrentIndex(toolbar.colour.findData(BLUE))
            toolbar.pinned.setChecked(True)
            drag(qtbot, mentor_view, (0.25, 0.5), (0.75, 0.5))
            await until(lambda: len(trainee.session.board.shapes("Laparoscope", 0)) == 1,  # type: ignore[union-attr]
                        seconds(10), "the arrow at the trainee")
            await until(lambda: blue(rendered_video(trainee_view)).sum() > 200, seconds(5),
                        "the arrow drawn in the trainee's window")
            mask = blue(rendered_video(trainee_view))
            h, w = mask.shape
            ys, xs = np.nonzero(mask)
            assert abs(ys.mean() / h - 0.5) < 0.02
            assert abs(xs.min() / w - 0.25) < 0.02 and abs(xs.max() / w - 0.75) < 0.02

            # The trainee may not draw until a mentor allows it: the server says no.
            me = trainee.session.me.id  # type: ignore[union-attr]
            stroke = Pen(id=f"{me}:1", author=me, source="Laparoscope", colour=BLUE,
                         width=0.006, points=((0.1, 0.1), (0.2, 0.2)))
            trainee.annotate(Add(stroke))
            await until(lambda: any("trainee" in p for p in problems), seconds(5), "refusal")
            assert len(mentor.session.board.shapes("Laparoscope", 0)) == 1  # type: ignore[union-attr]

            mentor.grant_draw(me, True)
            await until(lambda: trainee_view.drawing, seconds(5), "the right to draw")
            assert windows["trainee"].drawing_toolbar.undo.isEnabled()
            drag(qtbot, trainee_view, (0.4, 0.2), (0.6, 0.3))
            await until(lambda: len(mentor.session.board.shapes("Laparoscope", 0)) == 2,  # type: ignore[union-attr]
                        seconds(10), "the trainee's mark at the mentor")

            # Freeze: everyone's main picture becomes the still; live goes to a thumbnail.
            windows["mentor"].drawing_toolbar.freeze.click()
            await until(lambda: "frozen" in trainee_view.label, seconds(10), "the still")
            assert windows["trainee"].stage.thumbnails[0].label == "Laparoscope"
            live = windows["trainee"].stage.thumbnails[0]
            painted = live.frames_painted
            await until(lambda: live.frames_painted > painted + 5, seconds(10),
                        "live video in the thumbnail")
            shown = trainee_view.current_frame()
            frozen_at = trainee.session.board.frozen("Laparoscope")  # type: ignore[union-attr]
            assert shown is not None and shown.captured_at == frozen_at  # the still itself
            assert blue(rendered_video(trainee_view)).sum() > 200  # marks on the still
            windows["mentor"].drawing_toolbar.freeze.click()
            await until(lambda: trainee_view.label == "Laparoscope", seconds(10), "live again")

            late = controller(server.url, "Student", Role.STUDENT)
            await late.start()
            await until(lambda: late.session is not None and len(
                late.session.board.shapes("Laparoscope", 0)) == 2, seconds(10),
                "the late joiner to get the marks")
        finally:
            for c in (late, trainee, mentor, surgeon):
                if c is not None:
                    await c.leave()
            await server.close()

    run(scenario())
