"""The top row of the session window stays on one line at a laptop's width in every
language: the least-used buttons go into the "⋯" menu (whose entries still work), and
come back when the window is wide enough again."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise

import pytest
from PyQt6.QtWidgets import QWidget

from surgery_teach.protocol.messages import Role
from surgery_teach.rtc.session import SessionConfig
from ui.i18n import set_language
from ui.session.controller import SessionController
from ui.session.window import SessionWindow

NAME = "Dr Zhang Wei, Department of Hepatobiliary Surgery, Zepu County H"


@pytest.fixture(params=["en", "zh_CN", "ru"])
def language(request: pytest.FixtureRequest) -> Iterator[str]:
    set_language(request.param)
    try:
        yield request.param
    finally:
        set_language("en")


def lines(row: QWidget) -> int:
    """How many lines the row's widgets take (a new line starts left of the last)."""
    layout = row.layout()
    assert layout is not None
    shown = [w for i in range(layout.count())
             if (w := layout.itemAt(i).widget()) is not None and w.isVisibleTo(row)]  # type: ignore[union-attr]
    return 1 + sum(b.x() < a.x() for a, b in pairwise(shown))


def settle(qtbot, window: SessionWindow, width: int) -> None:  # type: ignore[no-untyped-def]
    window.resize(width, 768)
    for _ in range(5):  # the row fits itself once a resize is through (a queued call)
        window.layout().activate()
        qtbot.wait(10)


def test_a_crowded_top_row_keeps_one_line_with_a_more_menu(qtbot, run,  # type: ignore[no-untyped-def]
                                                           language: str) -> None:
    # ``run``: the app's asyncio loop (the video views follow their sources on it) and
    # its theme (fonts and paddings)
    controller = SessionController.from_specs(
        SessionConfig(server="ws://127.0.0.1:9", room="layout", name=NAME,
                      role=Role.SURGEON), ["Laparoscope=synthetic:320x180@5"])
    window = SessionWindow(controller)
    qtbot.addWidget(window)
    window.show()
    settle(qtbot, window, 1366)
    bar, overflow = window.top_bar, window.overflow
    assert lines(bar) == 1, [c.text() for c in overflow.overflowed]
    assert window.more_button.isVisible() == bool(overflow.overflowed)
    assert window.leave_button.isVisible() and window.mute_button.isVisible()
    assert window.privacy_button.isVisible() and window.recording.record_button.isVisible()
    assert all(overflow.offers(b) for b in (window.class_button, window.help_button,
                                            window.swap_button, window.fullscreen_button))
    assert window.who.elided() and NAME in window.who.toolTip()
    # least used first; the menu's entries work
    assert overflow.overflowed[:2] == [window.help_button, window.panels_button]
    overflow._fill_menu()
    entries = {a.text(): a for a in overflow.menu.actions()}
    assert window.panels_button.text() in entries
    assert window.help_button.toolTip() in entries  # an icon-only button: its tooltip
    entries[window.panels_button.text()].trigger()
    assert window.side.isHidden()
    entries[window.panels_button.text()].trigger()
    assert not window.side.isHidden()
    # wide again: every button is back in the row and the menu is gone
    settle(qtbot, window, 3000)
    assert overflow.overflowed == [] and not window.more_button.isVisible()
    assert window.help_button.isVisible() and window.panels_button.isVisible()
    assert lines(bar) == 1
