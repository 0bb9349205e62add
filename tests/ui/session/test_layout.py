"""The session window fits a laptop screen (1366×768) and 1920×1080 at 150 % (1280×720)
in every language, with 64-character names and a recording running: nothing of it is
off screen, and the name and REC line are shortened with "…" and their whole text in a
tooltip."""

from __future__ import annotations

from pathlib import Path

import pytest
from PyQt6.QtCore import QPoint, QRect
from PyQt6.QtWidgets import QWidget

from signaling_server.server import ServerConfig, start_server
from surgery_teach.protocol.messages import Role
from surgery_teach.rtc.session import SessionConfig
from tests.timing import seconds
from tests.ui.conftest import until
from tests.ui.session.test_top_bar import lines
from ui.i18n import set_language
from ui.session.controller import SessionController
from ui.session.window import SessionWindow

pytestmark = pytest.mark.slow

SCREENS = ((1366, 768), (1280, 720))
SURGEON = "Dr Zhang Wei, Department of Hepatobiliary Surgery, Zepu County H"
TRAINEE = "Айнур Абдыкадырова, ординатор, Ошская межобластная больница № 12"


def inside(widget: QWidget, window: QWidget) -> bool:
    """The whole of ``widget`` is shown within ``window``'s rectangle."""
    top_left = widget.mapTo(window, QPoint(0, 0))
    return (widget.isVisible() and widget.width() > 0 and widget.height() > 0
            and window.rect().contains(QRect(top_left, widget.size())))


def check_fits(window: SessionWindow, size: tuple[int, int]) -> None:
    width, height = size
    hint, minimum = window.minimumSizeHint(), window.minimumSize()
    assert hint.width() <= width and hint.height() <= height, (hint, size)
    assert minimum.width() <= width and minimum.height() <= height, (minimum, size)
    window.resize(width, height)
    assert (window.width(), window.height()) == size  # the window could shrink to it
    window.layout().activate()  # lay out for the new size now, as the next paint would
    window.overflow.fit()  # as the queued call after the resize does
    row = window.top_bar.layout()
    assert row is not None
    row.setGeometry(window.top_bar.contentsRect())  # as the next layout request does
    if width >= 1366:  # a laptop: the top row on one line, the rest in its "⋯" menu
        assert lines(window.top_bar) == 1, [b.text() for b in window.overflow.overflowed]
    assert window.overflow.offers(window.fullscreen_button)  # in the row or the menu
    for row in (window.top_bar, window.drawing_toolbar):  # wrapped lines get room
        for child in row.findChildren(QWidget):
            if child.isVisibleTo(row) and child.parent() is row:
                assert row.rect().contains(child.geometry()), f"{child} spills out of its row"
    controls = {"Leave": window.leave_button, "Send": window.chat.button,
                "chat input": window.chat.input, "participants": window.participants.list,
                "video": window.stage.main}
    for name, widget in controls.items():
        assert inside(widget, window), f"{name} is not within the {width}×{height} window"
    assert window.stage.main.width() >= width // 2  # the video keeps most of the width
    for label in (window.who, window.recording.indicator):
        assert inside(label, window)
        if label.elided():
            assert label.text() in label.toolTip()  # names here hold no markup


@pytest.mark.parametrize("language", ["en", "zh_CN", "ru"])
def test_windows_fit_the_screen_with_long_names_while_recording(
        qtbot, run, tmp_path: Path, language: str) -> None:  # type: ignore[no-untyped-def]
    assert len(SURGEON) == len(TRAINEE) == 64
    set_language(language)

    async def scenario() -> None:
        server = await start_server(ServerConfig(port=0))
        surgeon = SessionController.from_specs(
            SessionConfig(server=server.url, room="layout", name=SURGEON, role=Role.SURGEON),
            ["Laparoscope=synthetic:640x360@15"])
        surgeon.recording.root = tmp_path
        trainee = SessionController(
            SessionConfig(server=server.url, room="layout", name=TRAINEE, role=Role.TRAINEE),
            [])
        try:
            await surgeon.start()
            await trainee.start()
            windows = [SessionWindow(surgeon), SessionWindow(trainee)]
            for window in windows:
                qtbot.addWidget(window)
                window.show()
            surgeon_window, trainee_window = windows
            rec = surgeon_window.recording
            rec.record_button.click()
            assert rec.record_dialog is not None
            rec.record_dialog.buttons.accepted.emit()
            await until(lambda: surgeon.recording.active, seconds(10), "the recording")
            for window in windows:
                await until(window.recording.indicator.isVisible, seconds(5),
                            "the REC line")
            assert SURGEON in trainee_window.recording.indicator.text()
            for window in windows:
                assert SURGEON in window.who.text() or TRAINEE in window.who.text()
                for size in SCREENS:
                    check_fits(window, size)
            # In a window as narrow as it goes, the 64-character names are shortened
            # with "…", and the whole text is the tooltip.
            narrow = trainee_window.minimumSizeHint().width()
            assert narrow < 700
            trainee_window.resize(narrow, 720)
            trainee_window.layout().activate()
            for label in (trainee_window.who, trainee_window.recording.indicator):
                assert inside(label, trainee_window) and label.elided()
            assert TRAINEE in trainee_window.who.toolTip()
            assert SURGEON in trainee_window.recording.indicator.toolTip()
            assert inside(trainee_window.leave_button, trainee_window)

            # Side panels hide (the video takes the width) and come back.
            stage = surgeon_window.stage
            with_panels = stage.width()
            surgeon_window.panels_button.click()
            assert not surgeon_window.side.isVisible()
            await until(lambda: stage.width() > with_panels + 200, seconds(5),
                        "the video to take the side panels' width")
            surgeon_window.panels_button.click()
            assert surgeon_window.side.isVisible()
            rec.record_button.click()  # stop
            await until(lambda: not surgeon.recording.active, seconds(10), "the stop")
        finally:
            set_language("en")
            await trainee.leave()
            await surgeon.leave()
            await server.close()

    run(scenario())
