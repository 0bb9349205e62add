"""The library window on real recorded cases: listing, search, sort, problems, opening."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtTest import QTest

from surgery_teach.casebook.playable import open_case
from surgery_teach.casefile import RecordingState, read_manifest, write_manifest
from tests.recording.cases import HOSPITAL, TITLE, recorded_case
from tests.timing import seconds
from tests.ui.conftest import until
from ui.library.controls import format_time
from ui.library.player import PlayerWindow
from ui.library.window import LibraryWindow, entry_details

Run = Callable[[Any], Any]


def recorded(into: Path) -> Path:
    """The core's test case, recorded on its own thread (``asyncio.run`` would unset the
    Qt loop of the ``run`` fixture)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(recorded_case, into).result()


def copy_case(case: Path, root: Path, name: str, *, title: str, hospital: str,
              days_ago: int) -> Path:
    """Another case in the library: the recording with its manifest retitled and dated."""
    folder = root / name
    shutil.copytree(case, folder)
    manifest = read_manifest(folder)
    assert manifest.started_at is not None and manifest.ended_at is not None
    shift = dt.timedelta(days=days_ago)
    write_manifest(folder, replace(manifest, title=title, hospital=hospital,
                                   started_at=manifest.started_at - shift,
                                   ended_at=manifest.ended_at - shift,
                                   date=(manifest.started_at - shift).date()))
    return folder


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """Three cases: yesterday's cholecystectomy and two older ones."""
    root = tmp_path / "recordings"
    root.mkdir()
    case = recorded(tmp_path)
    copy_case(case, root, "2025-04-10_0900_appendectomy", title="Laparoscopic appendectomy",
              hospital="Zepu County Hospital", days_ago=20)
    copy_case(case, root, "2025-04-20_1400_hernia", title="Inguinal hernia repair",
              hospital="St Mary's, theatre 1", days_ago=10)
    copy_case(case, root, "2025-04-29_1000_chole", title=TITLE, hospital=HOSPITAL, days_ago=1)
    return root


def open_library(run: Run, folder: Path) -> LibraryWindow:
    async def make() -> LibraryWindow:
        window = LibraryWindow(folder, audio=False)
        window.resize(1000, 700)
        window.show()
        await window.refresh()
        return window

    return run(make())


def titles(window: LibraryWindow) -> list[str]:
    return [window.list.item(row).text() for row in range(window.list.count())]


def test_lists_cases_newest_first_with_title_duration_and_filters_by_search(
        run: Run, library: Path) -> None:
    window = open_library(run, library)
    try:
        assert titles(window) == [TITLE, "Inguinal hernia repair", "Laparoscopic appendectomy"]
        entry = window.visible_entries()[0]
        played = open_case(library / "2025-04-29_1000_chole").duration
        assert entry.duration == pytest.approx(played, abs=0.05)
        assert 2.0 < played < 6.0
        assert format_time(played) in entry_details(entry)
        assert HOSPITAL in entry_details(entry)
        assert entry.problems == ()

        window.search.setText("zepu")  # hospital
        assert titles(window) == ["Laparoscopic appendectomy"]
        window.search.setText("okafor hernia")  # a participant and a word of the title
        assert titles(window) == ["Inguinal hernia repair"]
        window.search.setText("no such case")
        assert window.stack.currentWidget() is window.empty
        assert "no such case" in window.empty.text()
        window.search.clear()
        window.sort.setCurrentIndex(window.sort.findData("title"))
        assert titles(window) == ["Inguinal hernia repair", "Laparoscopic appendectomy", TITLE]
        run(until(lambda: all(window.list.item(r).data(Qt.ItemDataRole.DecorationRole)
                              for r in range(window.list.count())),
                  seconds(20), "thumbnails"))
    finally:
        window.close()


def test_an_interrupted_and_cut_recording_says_how_far_it_plays(run: Run,
                                                                tmp_path: Path) -> None:
    root = tmp_path / "recordings"
    root.mkdir()
    case = recorded(tmp_path)
    broken = root / "2025-05-01_1002_cut"
    shutil.copytree(case, broken)
    manifest = read_manifest(broken)
    # as after a power cut: the manifest still says "recording", the files end early
    write_manifest(broken, replace(manifest, state=RecordingState.RECORDING, ended_at=None))
    for source in manifest.sources:
        path = broken / source.file
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    an_hour_ago = time.time() - 3600  # a case still being written is not "interrupted"
    for path in broken.iterdir():
        os.utime(path, (an_hour_ago, an_hour_ago))
    window = open_library(run, root)
    try:
        [entry] = window.visible_entries()
        assert entry.playable
        assert entry.problems, "a cut recording must say so"
        assert "interrupted" in entry.problems[0]
        assert f"plays up to {format_time(entry.duration or 0)}" in entry.problems[0]
        assert entry.problems[0] in window.list.item(0).toolTip()
    finally:
        window.close()


def test_an_empty_folder_explains_where_recordings_come_from(run: Run, tmp_path: Path) -> None:
    window = open_library(run, tmp_path / "not made yet")
    try:
        assert window.stack.currentWidget() is window.empty
        assert str(tmp_path / "not made yet") in window.empty.text()
        assert "Record" in window.empty.text()
        assert window.open_button.isHidden()
    finally:
        window.close()


def test_enter_opens_the_selected_case_in_the_player(run: Run, library: Path) -> None:
    window = open_library(run, library)
    opened: list[PlayerWindow] = []
    window.player_opened.connect(opened.append)
    try:
        window.list.setCurrentRow(1)
        window.list.setFocus()
        QTest.keyClick(window.list, Qt.Key.Key_Return)
        run(until(lambda: bool(opened), seconds(10), "the player"))
        player = opened[0]
        assert player.isVisible()
        assert player.playable.manifest.title == "Inguinal hernia repair"
        assert len(opened) == 1 and window.players == [player]
        player.close()
        assert window.players == []
        window.search.setText("appendectomy")  # typing a search and Enter opens the match
        QTest.keyClick(window.search, Qt.Key.Key_Return)
        run(until(lambda: len(opened) == 2, seconds(10), "the second player"))
        assert opened[1].playable.manifest.title == "Laparoscopic appendectomy"
        opened[1].close()
    finally:
        window.close()
