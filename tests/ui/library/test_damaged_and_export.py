"""The player opens on a picture, a case with damaged video still opens with its chat,
chapters and marks, and an exported clip is named after its range and can be shown in
its folder."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from surgery_teach.casebook.playable import open_case
from surgery_teach.casebook.timeline import build_timeline
from tests.recording.cases import recorded_case
from tests.timing import seconds
from tests.ui.conftest import until
from tests.ui.library.test_player import open_window, settled
from ui.library.controls import format_time
from ui.library.export_dialog import ExportDialog
from ui.library.player import PlayerWindow
from ui.library.window import LibraryWindow

Run = Callable[[Any], Any]


@pytest.fixture
def case_folder(tmp_path: Path) -> Path:
    with ThreadPoolExecutor(1) as pool:  # asyncio.run must not unset the test's Qt loop
        return pool.submit(recorded_case, tmp_path).result()


def test_a_case_opens_on_its_first_picture_not_on_black(run: Run, case_folder: Path) -> None:
    player = open_window(run, case_folder, audio=False)
    try:
        first = player.first_picture(player.source)  # the endoscope starts at or after 0
        worker = player.worker
        assert worker is not None and worker.shown is not None
        assert worker.shown.time is not None, "the player opened on black"
        assert player.clock.position() == pytest.approx(first, abs=0.04)
        frame = player.view.current_frame()
        assert frame is not None
        assert float(np.asarray(frame.image.to_ndarray(format="gray")).mean()) > 20
        player.play()  # and it plays on from there
        run(until(lambda: player.clock.position() > first + 0.3, seconds(10), "playing"))
        run(settled(player))
        assert worker.shown.time is not None and worker.shown.time > first
    finally:
        player.close()


def test_a_case_with_damaged_video_opens_with_its_chat_chapters_and_marks(
        run: Run, case_folder: Path) -> None:
    root = case_folder.parent / "library"
    root.mkdir()
    folder = case_folder.rename(root / "2025-05-01_1002_chole")
    for name in ("endoscope.mkv", "room-camera.mkv"):
        (folder / name).write_bytes(b"\x00" * 4096)
    then = time.time() - 3600
    for path in folder.iterdir():
        os.utime(path, (then, then))

    async def scenario() -> PlayerWindow:
        window = LibraryWindow(root, audio=False)
        window.show()
        await window.refresh()
        [entry] = window.entries
        task = window.open_entry(entry)
        assert task is not None, window.status.text()
        player = await task
        assert player is not None, window.status.text()
        window.close()
        return player

    player = run(scenario())
    try:
        assert player.chat.list.count() > 0
        assert any("clip here" in player.chat.list.item(i).text()
                   for i in range(player.chat.list.count()))
        assert player.chapters.list.count() == 2
        assert player.timeline.mark_ticks
        assert "is damaged and cannot be played" in player.notice.text()
        assert "No video plays in this case" in player.notice.text()
        assert not player.export_button.isEnabled()
        player.seek(2.0)  # the chat follows the playhead without a picture
        assert player.clock.position() == pytest.approx(2.0)
    finally:
        player.close()


class RevealingDialog(ExportDialog):
    """The real dialog; the file manager it would open is recorded instead."""

    revealed: list[Path | None]

    def reveal(self, path: Path | None) -> bool:
        self.revealed = [*getattr(self, "revealed", []), path]
        return True


def test_the_clip_is_named_after_its_range_and_can_be_shown_in_its_folder(
        run: Run, case_folder: Path) -> None:
    playable = open_case(case_folder)
    timeline = build_timeline(playable.case, duration=playable.duration)
    dialog = RevealingDialog(playable, timeline, source="Endoscope", position=0.0)
    dialog.show()
    try:
        dialog.start_field.setText("0:01")
        dialog.end_field.setText("0:02.5")
        name = Path(dialog.output.text()).name
        assert "0-01_0-02" in name and name.endswith(".mp4")
        dialog.source.setCurrentIndex(dialog.source.findData("Room camera"))
        assert "room-camera" in Path(dialog.output.text()).name.lower()
        assert not dialog.show_button.isVisible()
        dialog.export_button.click()
        run(until(lambda: not dialog.running, seconds(60), "the export to end"))
        assert dialog.result_path is not None and dialog.result_path.name == Path(
            name.replace("endoscope", "room-camera")).name
        assert dialog.show_button.isVisible()
        dialog.show_button.click()
        assert dialog.revealed == [dialog.result_path]

        mine = str(case_folder / "for the teaching day.mp4")
        dialog.output.setText(mine)  # a name the user chose stays
        dialog.end_field.setText(format_time(2.0))
        assert dialog.output.text() == mine
    finally:
        dialog.close()
