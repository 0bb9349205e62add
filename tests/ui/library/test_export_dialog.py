"""The export dialog on a real recorded case: sensible defaults, a playable MP4 with the
marks burned in, cancel leaving nothing behind, and errors in plain words."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import av
import pytest
from PyQt6.QtCore import Qt

from surgery_teach.casebook.playable import PlayableCase, open_case
from surgery_teach.casebook.timeline import Timeline, build_timeline
from tests.recording.cases import MARK_BOX, is_mark_colour, recorded_case
from tests.recording.helpers import ffprobe
from tests.timing import seconds
from tests.ui.conftest import until
from ui.library.controls import format_time, parse_time
from ui.library.export_dialog import ExportDialog, default_range
from ui.library.player import open_player

Run = Callable[[Any], Any]


@pytest.fixture
def case(tmp_path: Path) -> tuple[PlayableCase, Timeline]:
    with ThreadPoolExecutor(1) as pool:  # asyncio.run must not unset the test's Qt loop
        folder = pool.submit(recorded_case, tmp_path).result()
    playable = open_case(folder)
    return playable, build_timeline(playable.case, duration=playable.duration)


def exported(run: Run, dialog: ExportDialog) -> None:
    run(until(lambda: not dialog.running, seconds(60), "the export to end"))


def test_defaults_to_the_chapter_at_the_playhead_and_exports_a_playable_mp4(
        run: Run, case: tuple[PlayableCase, Timeline]) -> None:
    playable, timeline = case
    exposure, dissection = timeline.chapters
    dialog = ExportDialog(playable, timeline, source="Endoscope",
                          position=(exposure.time + dissection.time) / 2)
    dialog.show()
    try:
        start, end = parse_time(dialog.start_field.text()), parse_time(dialog.end_field.text())
        assert start == pytest.approx(exposure.time, abs=0.1)
        assert end == pytest.approx(dissection.time, abs=0.1)
        out = Path(dialog.output.text())
        assert out.parent == playable.case.folder and out.suffix == ".mp4"
        # the whole case, marks burned in (the file name follows the range)
        dialog.start_field.setText("0")
        dialog.end_field.setText(format_time(playable.duration, tenths=True))
        out = Path(dialog.output.text())
        assert out.parent == playable.case.folder and "_0-00_" in out.name
        dialog.marks.setChecked(True)
        assert dialog.export_button.isEnabled()
        dialog.export_button.click()
        assert dialog.running and dialog.cancel_button.isVisible()
        exported(run, dialog)
        assert dialog.result_path == out and out.exists()
        assert str(out) in dialog.message.text()
        info = ffprobe(out)
        assert info["codec_name"] == "h264"
        assert int(info["nb_read_packets"]) > 30
        assert dialog.progress.value() == 1000
        assert Path(dialog.output.text()) != out, "the next export must not overwrite it"
        assert burned_in_mark(out)
    finally:
        dialog.close()


def burned_in_mark(path: Path) -> bool:
    """Whether some frame of ``path`` shows the test mark's green at its left stroke."""
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            bgr = frame.to_ndarray(format="bgr24")
            h, w = bgr.shape[:2]
            x, y = int(MARK_BOX[0] * w) + 2, int((MARK_BOX[1] + MARK_BOX[3]) / 2 * h)
            if is_mark_colour(bgr[y, x]):
                return True
    return False


def test_cancel_stops_the_export_and_leaves_no_file(
        run: Run, case: tuple[PlayableCase, Timeline]) -> None:
    playable, timeline = case
    dialog = ExportDialog(playable, timeline, source="Endoscope", position=0.0)
    dialog.show()
    before = set(playable.case.folder.iterdir())
    try:
        out = Path(dialog.output.text())
        # cancel from the export's own thread at its first progress: deterministic
        dialog.progressed.connect(lambda _: dialog.cancel_event.set(),  # type: ignore[union-attr]
                                  Qt.ConnectionType.DirectConnection)
        dialog.start_export()
        dialog.cancel()
        exported(run, dialog)
        assert dialog.result_path is None
        assert not out.exists()
        assert set(playable.case.folder.iterdir()) == before, "a partial file was left"
        assert "cancelled" in dialog.message.text()
        assert dialog.export_button.isEnabled() and not dialog.cancel_button.isVisible()
    finally:
        dialog.close()


def test_closing_the_player_during_an_export_cancels_it(
        run: Run, case: tuple[PlayableCase, Timeline]) -> None:
    playable, _ = case
    player = run(open_player(playable.case.folder, audio=False))
    player.show()
    player.export_button.click()
    dialog = player.export_dialog
    assert isinstance(dialog, ExportDialog) and dialog.isVisible()
    assert dialog.source.currentData() == player.source
    out = Path(dialog.output.text())
    started = threading.Event()

    def hold(_: float) -> None:  # on the export's thread: stay busy until cancelled
        started.set()
        assert dialog.cancel_event is not None
        dialog.cancel_event.wait(seconds(10))

    dialog.progressed.connect(hold, Qt.ConnectionType.DirectConnection)
    dialog.start_export()
    assert started.wait(seconds(10))
    player.close()
    assert not dialog.running
    assert not out.exists()
    assert not [p for p in playable.case.folder.iterdir() if p.suffix == ".mp4"
                or ".mp4" in p.name]


def test_bad_input_and_unwritable_folders_are_explained(
        run: Run, case: tuple[PlayableCase, Timeline], tmp_path: Path) -> None:
    playable, timeline = case
    dialog = ExportDialog(playable, timeline, source="Room camera", position=1.0)
    dialog.show()
    try:
        dialog.end_field.setText("soon")
        assert not dialog.export_button.isEnabled()
        assert "12:31" in dialog.message.text()
        dialog.end_field.setText("0:00.5")
        dialog.start_field.setText("0:02")
        assert "end after it starts" in dialog.message.text()
        dialog.start_field.setText("0")
        dialog.end_field.setText("2")
        blocked = tmp_path / "a file, not a folder"
        blocked.write_text("")
        dialog.output.setText(str(blocked / "clip.mp4"))
        dialog.export_button.click()
        exported(run, dialog)
        assert dialog.result_path is None
        text = dialog.message.text()
        assert str(blocked) in text and "Traceback" not in text
        assert dialog.export_button.isEnabled()
    finally:
        dialog.close()


def test_default_range_without_a_chapter_is_the_last_thirty_seconds(
        case: tuple[PlayableCase, Timeline]) -> None:
    timeline = case[1].with_chapters([])
    assert default_range(timeline, 600.0, 100.0) == (70.0, 100.0)
    assert default_range(timeline, 600.0, 10.0) == (0.0, 30.0)
    assert default_range(timeline, 12.0, 5.0) == (0.0, 12.0)
