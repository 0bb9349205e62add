"""Hostile names, titles and chat in real windows: nothing another participant or a file
says is ever read as rich text, and no chat line can pass for another message.

A participant named ``<img src=...>`` who records, starts a chapter, chats and removes
us; a recorded case whose title, hospital, people, chapters and chat are hostile. Then
every widget of every window is walked: a label, a message box or a tooltip that Qt would
read as rich text with hostile text in it fails the test.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QAbstractItemView, QApplication, QLabel, QWidget
from websockets.asyncio.client import connect

from signaling_server.server import ServerConfig, start_server
from surgery_teach.protocol.messages import (
    ChapterStart,
    Chat,
    Record,
    RemoveParticipant,
    Role,
)
from tests.recording.cases import recorded_case
from tests.signaling_server.conftest import Client
from tests.timing import seconds
from tests.ui.conftest import until
from ui.common.plain import CONTINUATION, message_lines, tip
from ui.library.player import open_player
from ui.library.window import LibraryWindow
from ui.session.controller import SessionController
from ui.session.window import SessionWindow

HOSTILE = "<img src=/nonexistent/surgery_teach-hostile.png>"
"""Loaded by any label that reads it as rich text (a named pipe there froze a client)."""
BOLD = "<b>Dr Wang</b> <a href='x'>link</a>"
FORGED = "[12:00:00] Dr Wang (Surgeon): please stop the recording"

Run = Callable[[Any], Any]


def _widgets(roots: Iterable[QWidget]) -> list[QWidget]:
    found: list[QWidget] = []
    for root in roots:
        found += [root, *root.findChildren(QWidget)]
    return found


def _hostile(text: str) -> bool:
    return "<img" in text or "<b>" in text or "<a " in text


def rich_text_leaks(roots: Iterable[QWidget]) -> list[str]:
    """Every place where Qt would read hostile text as rich text."""
    leaks = []
    for widget in _widgets(roots):
        where = f"{type(widget).__name__} {widget.objectName()!r}"
        if isinstance(widget, QLabel) and _hostile(widget.text()) and (
                widget.textFormat() != Qt.TextFormat.PlainText
                and Qt.mightBeRichText(widget.text())):
            leaks.append(f"{where} shows {widget.text()!r} as rich text")
        if _hostile(widget.toolTip()) and Qt.mightBeRichText(widget.toolTip()):
            leaks.append(f"{where} has the tooltip {widget.toolTip()!r}")
        if isinstance(widget, QAbstractItemView) and widget.model() is not None:
            model = widget.model()
            for row in range(model.rowCount()):
                text = model.data(model.index(row, 0), Qt.ItemDataRole.ToolTipRole)
                if isinstance(text, str) and _hostile(text) and Qt.mightBeRichText(text):
                    leaks.append(f"{where} row {row} has the tooltip {text!r}")
    return leaks


def test_the_walk_finds_a_label_and_a_tooltip_that_would_read_rich_text(qtbot) -> None:  # type: ignore[no-untyped-def]
    """The check itself: an ordinary QLabel and a raw tooltip are caught, ours are not."""
    root = QWidget()
    qtbot.addWidget(root)
    label = QLabel(f"● REC — {HOSTILE} recording", root)
    assert rich_text_leaks([root]) != []
    label.setTextFormat(Qt.TextFormat.PlainText)
    root.setToolTip(BOLD)
    assert len(rich_text_leaks([root])) == 1
    root.setToolTip(tip(BOLD))
    assert rich_text_leaks([root]) == []


def test_a_hostile_participant_reaches_every_widget_only_as_plain_text(
        qtbot, run: Run) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        server = await start_server(ServerConfig(port=0))
        me = SessionController.from_specs(
            _config(server.url, "Dr Li", Role.MENTOR), [])
        try:
            await me.start()
            window = SessionWindow(me)
            qtbot.addWidget(window)
            window.show()
            async with connect(server.url, open_timeout=seconds(5)) as link:
                hostile = Client(link)
                await hostile.join("case", HOSTILE, Role.MENTOR)
                await hostile.send(Record(on=True))
                await hostile.send(ChapterStart(title=f"{BOLD} {HOSTILE}", time=time.time()))
                await hostile.send(Chat(f"hello\n{FORGED}\u2028{FORGED}"))
                await until(lambda: HOSTILE in window.recording.indicator.text(), seconds(10),
                            "the REC indicator to name the hostile recorder")
                await until(lambda: any(FORGED in line for line in window.chat.log.lines()),
                            seconds(10), "the forged chat message")

                # the chat: one item per message, no line of it passes for a message
                lines = [line for item in window.chat.log.lines() for line in item.split("\n")]
                assert not any(line.startswith(FORGED) for line in lines)
                forged = [line for line in lines if FORGED in line]
                assert forged == [CONTINUATION + FORGED] * 2

                others = me.session.participants.values()
                other = next(p for p in others if p.name == HOSTILE)
                window.participants.confirm_removal(other)
                box = window.participants.confirmation
                assert box is not None and HOSTILE in box.text()
                assert rich_text_leaks([window, box]) == []
                box.reject()

                await hostile.send(RemoveParticipant(me.session.me.id))
                await until(lambda: HOSTILE in window.banner.text(), seconds(10),
                            "the banner saying who removed us")
                assert rich_text_leaks(QApplication.topLevelWidgets()) == []
        finally:
            await me.leave()
            await server.close()

    run(scenario())


def _config(url: str, name: str, role: Role) -> Any:
    from surgery_teach.rtc.session import SessionConfig

    return SessionConfig(server=url, room="case", name=name, role=role, reconnect=False)


@pytest.fixture
def hostile_case(tmp_path: Path) -> Path:
    """The core's test case with a hostile title, hospital, people, chapters and chat."""
    with ThreadPoolExecutor(1) as pool:
        folder: Path = pool.submit(recorded_case, tmp_path).result()
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest.update(title=f"{HOSTILE} cholecystectomy", hospital=BOLD)
    manifest["participants"][0]["name"] = HOSTILE
    (folder / "manifest.json").write_text(json.dumps(manifest))
    events = (folder / "events.jsonl").read_text()
    events = events.replace('"Exposure"', json.dumps(HOSTILE)).replace(
        '"clip here"', json.dumps(f"clip here\n{FORGED}"))
    (folder / "events.jsonl").write_text(events)
    return folder


def test_a_hostile_case_file_reaches_the_library_and_player_only_as_plain_text(
        qtbot, run: Run, hostile_case: Path) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        library = LibraryWindow(hostile_case.parent, audio=False)
        qtbot.addWidget(library)
        library.show()
        await library.refresh()
        assert library.list.count() == 1
        player = await open_player(hostile_case, audio=False)
        qtbot.addWidget(player)
        player.show()
        chapters = [player.chapters.list.item(row) for row in range(
            player.chapters.list.count())]
        assert any(HOSTILE in item.text() for item in chapters)
        assert rich_text_leaks([library, player]) == []
        chat = [player.chat.list.item(row).text() for row in range(player.chat.list.count())]
        clip = next(text for text in chat if "clip here" in text)
        assert clip.split("\n")[1] == CONTINUATION + FORGED
        player.close()

    run(scenario())


def test_every_kind_of_line_break_starts_a_marked_continuation() -> None:
    text = "one\ntwo\rthree\u2028four\u2029five\x85six"
    assert message_lines("[10:00:00] Dr Li (Mentor): ", text).split("\n") == [
        "[10:00:00] Dr Li (Mentor): one", *(CONTINUATION + word for word in
                                           ("two", "three", "four", "five", "six"))]
