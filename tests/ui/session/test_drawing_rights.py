"""The drawing side of the session window as a clinical team meets it: the trainee sees
one line instead of a greyed toolbar until allowed, the mentor's button says what it
does, each author has a colour of their own, labels are typed on the picture, a frozen
picture says who froze it and Esc returns to live, and the surgeon can clear the pinned
marks of a mentor who left. Real server, real peers, real windows (offscreen)."""

from __future__ import annotations

import numpy as np
import pytest
from PyQt6.QtCore import Qt

from signaling_server.server import ServerConfig, start_server
from surgery_teach.annotations import Text
from surgery_teach.protocol.messages import Role
from tests.timing import seconds
from tests.ui.conftest import until
from tests.ui.session.test_telestration import at, controller, drag
from tests.ui.session.test_window import rendered_video
from ui.session.inline_text import InlineText
from ui.session.window import SessionWindow

pytestmark = pytest.mark.slow
LAP = "Laparoscope"


def amber(rgb: np.ndarray) -> int:
    """Pixels of the frozen frame's amber (#f0a30a)."""
    r, g, b = (rgb[..., i].astype(int) for i in range(3))
    return int(((r > 215) & (g > 135) & (g < 190) & (b < 70)).sum())


def test_rights_colours_text_in_place_freeze_and_marks_of_those_gone(qtbot, run) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        server = await start_server(ServerConfig(port=0))
        surgeon = controller(server.url, "Dr Wang", Role.SURGEON, [f"{LAP}=synthetic:640x360@15"])
        mentor = controller(server.url, "Dr Li", Role.MENTOR)
        trainee = controller(server.url, "Osh", Role.TRAINEE)
        try:
            windows = {}
            for name, c in (("surgeon", surgeon), ("mentor", mentor), ("trainee", trainee)):
                await c.start()
                window = SessionWindow(c)
                qtbot.addWidget(window)
                window.resize(1280, 760)
                window.show()
                windows[name] = window
            views = {name: w.stage.main for name, w in windows.items()}
            await until(lambda: all(v.frames_painted > 3 for v in views.values()),
                        seconds(30), "video everywhere")
            mentor_window, trainee_window = windows["mentor"], windows["trainee"]

            # A trainee not allowed to draw sees one line, not a greyed toolbar.
            bar = trainee_window.drawing_toolbar
            assert not any(w.isVisible() for w in bar.controls)
            assert bar.status.isVisible() and bar.status.text() == "Drawing: ask the mentor"

            # The mentor's button says what a click does.
            people = mentor_window.participants.list
            row = next(i for i in range(people.count())
                       if people.item(i).data(Qt.ItemDataRole.UserRole)
                       == trainee.session.me.id)  # type: ignore[union-attr]
            people.setCurrentRow(row)
            grant = mentor_window.grant_button
            assert grant.isEnabled() and grant.text() == "Allow to draw"
            grant.click()
            await until(lambda: trainee.can_draw, seconds(10), "the right to draw")
            await until(lambda: grant.text() == "Stop drawing", seconds(5), "the new label")
            assert "Osh" in grant.toolTip()
            assert all(w.isVisible() for w in bar.tool_buttons.values())
            assert not bar.status.isVisible()
            # Each one draws in a colour of their own by default.
            colours = {name: w.drawing_toolbar.colour.currentData()
                       for name, w in windows.items()}
            assert len(set(colours.values())) == 3, colours

            # The text tool: click on the picture, type there, Enter.
            mentor_window.activateWindow()
            await until(mentor_window.isActiveWindow, seconds(5), "the mentor's window")
            qtbot.keyClick(mentor_window, Qt.Key.Key_T)
            view = views["mentor"]
            qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=at(view, 0.3, 0.6))
            editor = mentor_window.telestration.text_editor
            assert isinstance(editor, InlineText) and editor.isVisible()
            assert editor.parent() is view  # on the video, not in a toolbar or a dialog
            qtbot.keyClicks(editor, "Cystic artery")
            qtbot.keyClick(editor, Qt.Key.Key_Return)

            def label() -> list[Text]:
                shapes = trainee.session.board.shapes(LAP, 0)  # type: ignore[union-attr]
                return [s.shape for s in shapes if isinstance(s.shape, Text)]

            await until(lambda: bool(label()), seconds(10), "the label at the trainee")
            (text,) = label()
            assert text.text == "Cystic artery"
            assert abs(text.anchor[0] - 0.3) < 0.02 and abs(text.anchor[1] - 0.6) < 0.02

            # Freeze: every screen says who froze it; Esc returns to live.
            mentor_window.drawing_toolbar.freeze.click()
            await until(lambda: "frozen" in views["trainee"].label
                        and "frozen" in views["surgeon"].label, seconds(10), "the still")
            mentor_id = mentor.session.me.id  # type: ignore[union-attr]
            assert trainee.session.board.held_by[LAP] == mentor_id  # type: ignore[union-attr]
            for name in ("surgeon", "trainee", "mentor"):
                await until(lambda n=name: amber(rendered_video(views[n])) > 500,  # type: ignore[misc]
                            seconds(5), f"the frozen frame at the {name}")
            trainee_window.escape()  # a trainee may not unfreeze: watches live, alone
            assert views["trainee"].label == LAP and amber(rendered_video(views["trainee"])) < 50
            assert surgeon.session.board.frozen(LAP) is not None  # type: ignore[union-attr]
            windows["surgeon"].escape()  # the surgeon returns everyone to live
            await until(lambda: views["mentor"].label == LAP, seconds(10), "live again")

            # A mentor's pinned arrow stays after they leave; the surgeon clears it.
            toolbar = mentor_window.drawing_toolbar
            qtbot.keyClick(mentor_window, Qt.Key.Key_A)
            toolbar.pinned.setChecked(True)
            drag(qtbot, view, (0.2, 0.2), (0.4, 0.4))
            await until(lambda: len(surgeon.session.board.shapes(LAP, 1e12)) == 1,  # type: ignore[union-attr]
                        seconds(10), "the pinned arrow")
            clear_gone = windows["surgeon"].drawing_toolbar.clear_gone
            assert not clear_gone.isVisible()  # Dr Li is still here
            await mentor.leave()
            await until(clear_gone.isVisible, seconds(10), "Clear marks of those who left")
            clear_gone.click()
            await until(lambda: surgeon.session.board.shapes(LAP, 1e12) == [] and  # type: ignore[union-attr]
                        trainee.session.board.shapes(LAP, 1e12) == [],  # type: ignore[union-attr]
                        seconds(10), "the marks gone everywhere")
            assert not clear_gone.isVisible()
        finally:
            for c in (trainee, mentor, surgeon):
                await c.leave()
            await server.close()

    run(scenario())
