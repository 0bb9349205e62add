"""The player on a real recorded case: exact seeks and steps, marks where they were drawn,
chapters, chat at the playhead, speed, and sound at speed through a fake sound card."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PyQt6.QtCore import QPoint, Qt
from PyQt6.QtGui import QColor
from PyQt6.QtTest import QTest

from surgery_teach.capture import luma_of, read_stamp
from surgery_teach.casebook.playable import open_case
from tests.audio.fakes import FakeOutputStream
from tests.recording.cases import MARK_BOX, recorded_case
from tests.recording.helpers import DecodedFrame, decode_stamped
from tests.timing import seconds
from tests.ui.conftest import until
from ui.library.audio import AudioOutput
from ui.library.player import PlayerWindow, open_player

Run = Callable[[Any], Any]


@pytest.fixture
def case_folder(tmp_path: Path) -> Path:
    """The core's test case. Recorded on a thread of its own: ``asyncio.run`` would
    otherwise unset the Qt event loop the ``run`` fixture installed."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(recorded_case, tmp_path).result()


def open_window(run: Run, folder: Path, **options: Any) -> PlayerWindow:
    async def make() -> PlayerWindow:
        player = await open_player(folder, **options)
        player.resize(960, 640)
        player.show()
        await settled(player)
        return player

    return run(make())


async def settled(player: PlayerWindow) -> None:
    """Until every seek or step asked for is on screen."""
    def done() -> bool:
        worker = player.worker
        return (worker is not None and worker.settled and worker.published is not None
                and player.view.current_frame() is worker.published)
    await until(done, seconds(10), "the player to show the frame asked for")


def shown_stamp(player: PlayerWindow) -> int:
    frame = player.view.current_frame()
    assert frame is not None
    stamp = read_stamp(luma_of(frame.image))
    assert stamp is not None, "the frame on screen has no readable stamp"
    return stamp.seq


def expected_frames(player: PlayerWindow, label: str) -> tuple[list[DecodedFrame], float]:
    """Every frame of ``label``'s file (decoded independently) and its case-time origin."""
    entry = player.playable.case.manifest.source(label)
    assert entry.clock_origin is not None
    return (decode_stamped(player.folder / entry.file),
            player.timeline.case_time(entry.clock_origin))


def frame_at(frames: list[DecodedFrame], origin: float, t: float) -> DecodedFrame:
    before = [f for f in frames if origin + f.media_time <= t + 1e-6]
    return before[-1]


def test_seek_lands_on_the_exact_frame_and_steps_one_frame(run: Run,
                                                           case_folder: Path) -> None:
    player = open_window(run, case_folder, audio=False)
    try:
        player.show_source("Room camera")  # no freeze-frame on this one
        frames, origin = expected_frames(player, "Room camera")
        gap = frames[1].media_time - frames[0].media_time
        for t in (origin + 2.2, origin + 0.7, origin + 10 * gap + gap / 2, origin + 1.5):
            player.seek(t)
            run(settled(player))
            assert shown_stamp(player) == frame_at(frames, origin, t).seq, f"seek to {t:.3f}"
        player.seek(origin + 1.0 + gap / 3)
        run(settled(player))
        here = frames.index(frame_at(frames, origin, origin + 1.0 + gap / 3))
        QTest.keyClick(player, Qt.Key.Key_Period)  # a frame forward
        run(settled(player))
        assert shown_stamp(player) == frames[here + 1].seq
        player.forward_button.click()
        run(settled(player))
        assert shown_stamp(player) == frames[here + 2].seq
        QTest.keyClick(player, Qt.Key.Key_Comma)  # a frame back
        run(settled(player))
        assert shown_stamp(player) == frames[here + 1].seq
        assert abs(player.clock.position() - (origin + frames[here + 1].media_time)) < 1e-3
    finally:
        player.close()


def decoding_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("player ")]


def test_switching_sources_keeps_one_decoding_thread_and_closing_ends_it(
        run: Run, case_folder: Path) -> None:
    before = decoding_threads()
    player = open_window(run, case_folder, audio=False)
    try:
        player.show_source("Room camera")  # by hand, as the Tab key does
        run(settled(player))
        player.sources.setCurrentIndex(player.sources.findData("Endoscope"))  # the list
        run(settled(player))
        assert player.worker is not None and player.worker.label == "Endoscope"
        running = [t for t in decoding_threads() if t not in before]
        assert [t.name for t in running] == ["player Endoscope"]
    finally:
        player.close()
    assert [t for t in decoding_threads() if t not in before] == []


def mark_pixel(player: PlayerWindow) -> tuple[int, int]:
    """Where the middle of the test mark's left stroke is in the view, in pixels."""
    rect = player.view.video_rect()
    left, top, _, bottom = MARK_BOX
    return (round(rect.left() + left * rect.width()),
            round(rect.top() + (top + bottom) / 2 * rect.height()))


def is_mark_green(colour: QColor) -> bool:
    return colour.green() > 180 and colour.red() < 110 and colour.blue() < 110


def test_marks_toggle_shows_and_hides_the_mark_where_it_was_drawn(run: Run,
                                                                  case_folder: Path) -> None:
    player = open_window(run, case_folder, audio=False)
    try:
        tick = player.timeline.mark_ticks[0]
        player.seek(tick.time - 0.2)  # before the mark was drawn
        run(settled(player))
        x, y = mark_pixel(player)
        assert not is_mark_green(player.view.grab().toImage().pixelColor(x, y))
        player.seek(tick.time + 0.1)
        run(settled(player))
        assert is_mark_green(player.view.grab().toImage().pixelColor(x, y))
        QTest.keyClick(player, Qt.Key.Key_M)  # the Marks toggle's key
        assert not player.marks_box.isChecked()
        assert not is_mark_green(player.view.grab().toImage().pixelColor(x, y))
        player.marks_box.click()
        assert is_mark_green(player.view.grab().toImage().pixelColor(x, y))
        # inside the mark the tissue shows through: it is a ring, not a blob
        cx = round(player.view.video_rect().left()
                   + (MARK_BOX[0] + MARK_BOX[2]) / 2 * player.view.video_rect().width())
        assert not is_mark_green(player.view.grab().toImage().pixelColor(cx, y))
    finally:
        player.close()


def test_clicking_a_chapter_moves_the_playhead_there_and_chat_follows(run: Run,
                                                                      case_folder: Path) -> None:
    player = open_window(run, case_folder, audio=False)
    try:
        assert [c.title for c in player.timeline.chapters] == ["Exposure", "Dissection"]
        dissection = player.timeline.chapters[1]
        item = player.chapters.list.item(1)
        assert item is not None and "Dissection" in item.text()
        QTest.mouseClick(player.chapters.list.viewport(), Qt.MouseButton.LeftButton,
                         pos=player.chapters.list.visualItemRect(item).center())
        assert player.clock.position() == pytest.approx(dissection.time)
        run(settled(player))
        assert player.worker is not None and player.worker.shown is not None
        assert player.worker.shown.time is not None
        assert player.worker.shown.time <= dissection.time + 1e-6
        player._tick()
        assert any("clip here" in line for line in player.chat.past_lines())
        player.seek(0.0)
        player._tick()
        assert not any("clip here" in line for line in player.chat.past_lines())
        # the seek bar: a tick per chapter with its title on hover; a click seeks there
        bar = player.bar
        assert bar.chapter_near(bar.x_of(dissection.time) + 3) == dissection
        assert bar.chapter_near(bar.x_of(dissection.time) + 30) is None
        QTest.mouseClick(bar, Qt.MouseButton.LeftButton,
                         pos=QPoint(round(bar.x_of(2.0)), bar.height() - 14))
        assert player.clock.position() == pytest.approx(2.0, abs=bar.duration / bar.width())
        run(settled(player))
        # chapters can be edited afterwards and stay edited
        player.chapters.rename(dissection.id, "Calot's triangle")
        player.chapters.add_at("Closure", 2.5)
        assert [c.title for c in player.timeline.chapters] == [
            "Exposure", "Calot's triangle", "Closure"]
        assert [c.title for c in open_timeline(case_folder).chapters] == [
            "Exposure", "Calot's triangle", "Closure"]
    finally:
        player.close()


def test_the_zoom_buttons_zoom_the_timeline_around_the_playhead(run: Run,
                                                                case_folder: Path) -> None:
    player = open_window(run, case_folder, audio=False)
    try:
        bar = player.bar
        dissection = player.timeline.chapters[1]
        assert not player.zoom_out_button.isEnabled() and player.zoom_in_button.isEnabled()
        player.seek(dissection.time)
        player._tick()
        at = bar.x_of(dissection.time)
        player.zoom_in_button.click()
        assert bar.zoom == 2.0 and player.zoom_out_button.isEnabled()
        assert bar.x_of(bar.position) == pytest.approx(at)  # the playhead stayed put
        assert bar.chapter_near(at) == dissection  # and its chapter with it
        player.seek(0.0)  # a seek out of view brings the view along
        player._tick()
        assert bar.window.shows(0.0)
        player.zoom_out_button.click()
        assert bar.zoom == 1.0 and not player.zoom_out_button.isEnabled()
    finally:
        player.close()


def open_timeline(folder: Path):  # type: ignore[no-untyped-def]
    from surgery_teach.casebook.timeline import build_timeline

    playable = open_case(folder)
    return build_timeline(playable.case, duration=playable.duration)


@pytest.mark.parametrize("speed", [2.0, 1.0])
def test_playing_advances_the_picture_at_the_chosen_speed(run: Run, case_folder: Path,
                                                           speed: float) -> None:
    player = open_window(run, case_folder, audio=False)
    try:
        player.show_source("Room camera")
        player.set_speed(speed)
        player.seek(0.3)
        run(settled(player))
        start_media = player.worker.shown.time  # type: ignore[union-attr]
        started = time.monotonic()
        player.play()

        async def played_a_while() -> None:
            await until(lambda: time.monotonic() - started > 0.9 / speed * 1.4
                        or not player.clock.playing, seconds(5), "playing")

        run(played_a_while())
        wall = time.monotonic() - started
        shown = player.worker.shown.time  # type: ignore[union-attr]
        playhead = player.clock.position()
        player.pause()
        assert shown is not None and start_media is not None
        # the picture keeps up with the playhead (within a few frames) ...
        assert playhead - shown < 0.25
        # ... and moved about speed x the time it played
        assert 0.7 * speed < (shown - start_media) / wall < 1.3 * speed
    finally:
        player.close()


class FakeSpeakerOutput(AudioOutput):
    """The real audio output with a fake sound card clocked in real time."""

    def _open_stream(self):  # type: ignore[no-untyped-def]
        self.fake = FakeOutputStream(self._callback, channels=2)
        self.fake.run_clock()
        return self.fake


def beep_onsets(samples: np.ndarray) -> list[int]:
    loud = np.abs(samples[:, 0].astype(np.int32)) > 3000
    onsets, quiet_since = [], -10**9
    for i in np.flatnonzero(loud):
        if i - quiet_since > 4800:  # 100 ms of silence before: a new beep
            onsets.append(int(i))
        quiet_since = i
    return onsets


def test_sound_plays_at_double_speed_with_the_picture_in_step(run: Run,
                                                              case_folder: Path) -> None:
    PlayerWindow.audio_output_type = FakeSpeakerOutput
    try:
        player = open_window(run, case_folder, audio=True)
    finally:
        PlayerWindow.audio_output_type = AudioOutput
    try:
        assert isinstance(player.audio, FakeSpeakerOutput), player.notice.text()
        player.set_speed(2.0)
        player.seek(0.0)
        player.play()

        async def played() -> None:
            await until(lambda: not player.clock.playing, seconds(10), "the end of the case")

        run(played())
        onsets = beep_onsets(player.audio.fake.played())
        # one beep per second of recording: every half second of sound at 2x
        gaps = np.diff(onsets) / 48000
        assert len(gaps) >= 2, f"beeps heard at {onsets}"
        assert np.all(np.abs(gaps - 0.5) < 0.05), gaps
    finally:
        player.close()


def test_without_a_speaker_it_plays_silently_and_says_why(run: Run,
                                                          case_folder: Path) -> None:
    class NoSpeaker(AudioOutput):
        def _open_stream(self):  # type: ignore[no-untyped-def]
            from surgery_teach.errors import AudioDeviceError

            raise AudioDeviceError("default speaker", [], "no speaker found")

    PlayerWindow.audio_output_type = NoSpeaker
    try:
        player = open_window(run, case_folder, audio=True)
    finally:
        PlayerWindow.audio_output_type = AudioOutput
    try:
        assert player.audio is None
        assert player.notice.isVisible()
        assert "without sound" in player.notice.text()
        assert "no speaker found" in player.notice.text()
        player.play()
        run(until(lambda: player.clock.position() > 0.3, seconds(5), "playing on"))
    finally:
        player.close()
