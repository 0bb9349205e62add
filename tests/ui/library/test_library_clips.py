"""A student plays the clips mentors added to a hospital-library case, from the library
window: listed with the case, fetched with the student's token (the library audits the
viewing) with a progress bar, kept in the cache (played again without the library), and
played in the app with play/pause and seek, its first picture the clip's first frame, its
sound through the speaker. A clip that is gone, arrives damaged or cannot be reached is
said in the user's language with what to do."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtTest import QTest

from library_server.config import LibraryConfig
from surgery_teach.casebook import export_clip, open_recording
from surgery_teach.caselibrary.clips import clip_path
from surgery_teach.caselibrary.passes import LibraryRole
from surgery_teach.caselibrary.publish import publish_case
from surgery_teach.caselibrary.remote import RemoteLibrary
from surgery_teach.caselibrary.wire import CaseSummary
from tests.library_server.helpers import (
    SECRET,
    Certificate,
    LibraryThread,
    audit_lines,
    make_certificate,
    token,
)
from tests.timing import seconds
from tests.ui.conftest import until
from tests.ui.library.test_player import FakeSpeakerOutput, beep_onsets
from tests.ui.library.test_window import recorded
from ui.i18n import set_language
from ui.library.audio import AudioOutput
from ui.library.clip_player import ClipPlayerWindow, open_clip_player
from ui.library.window import CLIPS_ROLE, ENTRY_ROLE, LibraryWindow

Run = Callable[[Any], Any]
MENTOR = token(LibraryRole.MENTOR, ["hospital:zepu"], name="Dr Wang", user="u-wang")
STUDENT = token(LibraryRole.STUDENT, ["hospital:zepu"], name="Aynur", user="u-aynur")

pytestmark = pytest.mark.slow


@dataclass
class Shelf:
    server: LibraryThread
    certificate: Certificate
    case: CaseSummary
    clip: Path  # the clip as the mentor exported it
    stored: Path  # the library's copy of it
    recordings: Path  # this computer's (empty) recordings folder

    def student(self, cache: Path) -> RemoteLibrary:
        return RemoteLibrary(self.server.url, STUDENT, cache=cache,
                             ca_file=self.certificate.cert)


@pytest.fixture
def shelf(tmp_path: Path) -> Iterator[Shelf]:
    """A library holding a really recorded case, and a clip a mentor exported from it with
    the casebook's export and added to it."""
    certificate = make_certificate(tmp_path)
    server = LibraryThread(LibraryConfig(
        data_dir=tmp_path / "library", secret=SECRET, port=0, min_free_bytes=0,
        cert_file=certificate.cert, key_file=certificate.key))
    case = recorded(tmp_path)
    with server.connect(MENTOR, ca=certificate) as connection:
        published = publish_case(case, connection).case
    clip = export_clip(open_recording(case), "Endoscope", 0.5, 2.0, tmp_path / "calot.mp4")
    assert clip is not None
    mentor = RemoteLibrary(server.url, MENTOR, cache=tmp_path / "mentor",
                           ca_file=certificate.cert)
    summary = mentor.add_clip(published.id, clip)
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    yield Shelf(server, certificate, summary, clip,
                tmp_path / "library" / "cases" / summary.id / "clips" / clip.name, recordings)
    server.stop()


def open_window(run: Run, shelf: Shelf, cache: Path) -> LibraryWindow:
    async def make() -> LibraryWindow:
        window = LibraryWindow(shelf.recordings, audio=False, remote=shelf.student(cache))
        window.resize(1366, 768)
        window.show()
        await window.refresh()
        return window

    window = run(make())
    [item] = [window.list.item(r) for r in range(window.list.count())]
    window.list.setCurrentItem(item)
    return window


def decoded(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def shown(player: ClipPlayerWindow) -> np.ndarray:
    frame = player.view.current_frame()
    assert frame is not None
    return frame.image.to_ndarray(format="rgb24")


async def settled(player: ClipPlayerWindow) -> None:
    worker = player.worker
    await until(lambda: worker.settled and worker.published is not None
                and player.view.current_frame() is worker.published, seconds(10),
                "the clip player to show the frame asked for")


def test_a_student_plays_a_mentors_clip_from_the_library_window(
    run: Run, shelf: Shelf, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("surgery_teach.caselibrary.clips.BLOCK_BYTES", 8192)  # progress steps
    window = open_window(run, shelf, tmp_path / "cache")
    panel = window.clips
    progress: list[tuple[int, bool]] = []
    panel.progress.valueChanged.connect(
        lambda value: progress.append((value, panel.progress.isVisible())))
    opened: list[ClipPlayerWindow] = []
    panel.opened.connect(opened.append)
    players: list[ClipPlayerWindow] = []
    try:
        item = window.list.currentItem()
        assert "1 clip from a mentor" in str(item.data(CLIPS_ROLE))
        assert item.data(ENTRY_ROLE).title == shelf.case.title
        assert panel.isVisible()
        assert [panel.list.item(r).text() for r in range(panel.list.count())] == ["calot.mp4"]

        panel.list.setFocus()
        QTest.keyClick(panel.list, Qt.Key.Key_Return)  # Enter (or a double-click) plays
        run(until(lambda: bool(opened), seconds(20), "the clip's player"))
        player = opened[0]
        players.append(player)
        steps = -(-shelf.clip.stat().st_size // 8192)
        assert len(progress) >= steps > 3 and all(visible for _, visible in progress)
        assert progress[-1][0] == 100 and not panel.progress.isVisible()
        assert panel.play_button.isEnabled()
        assert panel.message.text() == ""

        frames = decoded(shelf.clip)
        run(settled(player))
        assert np.array_equal(shown(player), frames[0])  # the clip's first frame
        player.play()
        run(until(lambda: player.clock.position() > 0.5, seconds(10), "playing"))
        assert player.play_button.text() == "Pause"
        player.pause()
        paused_at = player.clock.position()
        assert not player.clock.playing and player.play_button.text() == "Play"
        player.seek(1.0 + 0.001)
        run(settled(player))
        assert np.array_equal(shown(player), frames[30]) and paused_at != 1.001
        player.bar.seek_requested.emit(0.0)  # a click on the seek bar
        run(settled(player))
        assert np.array_equal(shown(player), frames[0])

        views = [line for line in audit_lines(shelf.server.config.audit_path)
                 if line["event"] == "view" and line["outcome"] == "clip"]
        assert [(v["user"], v["role"], v["case"]) for v in views] == [
            ("u-aynur", "student", shelf.case.id)]
        kept = clip_path(tmp_path / "cache", shelf.case.id, "calot.mp4")
        assert kept.read_bytes() == shelf.clip.read_bytes()
        assert "Kept on this computer" in panel.list.item(0).toolTip()
        player.close()

        kept_at = kept.stat().st_mtime_ns
        shelf.server.stop()  # played before: it plays without the library
        task = panel.play("calot.mp4")
        assert task is not None
        again = run(task)
        assert isinstance(again, ClipPlayerWindow), panel.message.text()
        players.append(again)
        run(settled(again))
        assert np.array_equal(shown(again), frames[0])
        assert kept.stat().st_mtime_ns == kept_at  # not fetched again
    finally:
        for player in players:
            player.close()
        window.close()


def test_a_clip_gone_from_the_library_is_said_in_russian(
    run: Run, shelf: Shelf, tmp_path: Path
) -> None:
    shelf.stored.unlink()  # still listed, no longer stored
    set_language("ru")
    window = open_window(run, shelf, tmp_path / "cache")
    try:
        task = window.clips.play_selected()
        assert task is not None and run(task) is None
        text = window.clips.message.text()
        assert "calot.mp4" in text and "больше нет" in text and "«Обновить»" in text, text
        assert window.clips.message.objectName() == "error"
        assert window.clips.play_button.isEnabled()  # to try again
        assert not window.clips.progress.isVisible()
        assert not (tmp_path / "cache" / "clips" / shelf.case.id / "calot.mp4").exists()
    finally:
        set_language("en")
        window.close()


def test_a_damaged_download_and_an_unreachable_library_are_said_in_chinese(
    run: Run, shelf: Shelf, tmp_path: Path
) -> None:
    data = bytearray(shelf.stored.read_bytes())
    data[len(data) // 2] ^= 0x55  # a sector changed on the library's disk
    shelf.stored.write_bytes(bytes(data))
    set_language("zh_CN")
    window = open_window(run, shelf, tmp_path / "cache")
    try:
        task = window.clips.play_selected()
        assert task is not None and run(task) is None
        text = window.clips.message.text()
        assert "calot.mp4" in text and "损坏" in text and "管理员" in text, text
        folder = tmp_path / "cache" / "clips" / shelf.case.id
        assert not folder.exists() or not any(folder.iterdir())  # nothing kept

        shelf.server.stop()
        task = window.clips.play_selected()
        assert task is not None and run(task) is None
        text = window.clips.message.text()
        assert "无法连接" in text and "网络" in text, text
    finally:
        set_language("en")
        window.close()


def test_a_clips_sound_plays_through_the_speaker(run: Run, shelf: Shelf) -> None:
    with av.open(str(shelf.clip)) as container:
        sound = np.concatenate([f.to_ndarray().reshape(-1)
                                for f in container.decode(audio=0)])
    in_clip = beep_onsets((np.clip(sound, -1, 1) * 32767).astype(np.int16).reshape(-1, 1))
    assert in_clip, "the clip has a beep"
    ClipPlayerWindow.audio_output_type = FakeSpeakerOutput
    try:
        player = run(open_clip_player(shelf.clip, shelf.case.title, audio=True))
    finally:
        ClipPlayerWindow.audio_output_type = AudioOutput
    try:
        assert isinstance(player.audio, FakeSpeakerOutput), player.notice.text()
        player.show()
        player.play()
        run(until(lambda: not player.clock.playing, seconds(10), "the end of the clip"))
        heard = beep_onsets(player.audio.fake.played())
        assert len(heard) == len(in_clip), (heard, in_clip)
    finally:
        player.close()
