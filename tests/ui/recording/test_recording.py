"""Recording from the session window, with real windows, a real server and real peers:
the case folder on disk, the REC indicator on everyone's screen, chapters in the log."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QApplication

from signaling_server.server import ServerConfig, start_server
from surgery_teach.audio import ToneTrack
from surgery_teach.capture import open_source
from surgery_teach.casebook import open_recording
from surgery_teach.casebook.media import open_media
from surgery_teach.casefile import EventKind, RecordingState, read_events
from surgery_teach.casefile.sealed_folder import is_sealed_file
from surgery_teach.protocol.messages import Role
from surgery_teach.recording.writer import DiskSpaceGuard
from surgery_teach.rtc.session import LiveSession, SessionConfig
from surgery_teach.settings import Settings
from tests.recording.helpers import decode_stamped
from tests.timing import seconds
from tests.ui.conftest import until
from ui.session.controller import SessionController
from ui.session.window import SessionWindow

pytestmark = pytest.mark.slow

SCREENSHOT = os.environ.get("SURGERY_TEACH_SCREENSHOT_DIR")


def _events(folder: Path) -> list:  # type: ignore[type-arg]
    path = folder / "events.jsonl"
    return read_events(path).events if path.exists() else []


def test_record_makes_a_case_everyone_sees_it_and_chapters_reach_the_log(
        qtbot, run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        server = await start_server(ServerConfig(port=0))
        surgeon = SessionController.from_specs(
            SessionConfig(server=server.url, room="chole", name="Dr Wang", role=Role.SURGEON),
            ["Laparoscope=synthetic:640x360@30"])
        surgeon.recording.root = tmp_path
        mentor = SessionController(
            SessionConfig(server=server.url, room="chole", name="Dr Li", role=Role.MENTOR), [])
        trainee = SessionController(
            SessionConfig(server=server.url, room="chole", name="Osh", role=Role.TRAINEE), [])
        try:
            await surgeon.start()
            window = SessionWindow(surgeon)
            qtbot.addWidget(window)
            window.resize(1500, 900)
            window.show()
            await mentor.start()
            await trainee.start()
            mentor_window = SessionWindow(mentor)
            trainee_window = SessionWindow(trainee)
            for other in (mentor_window, trainee_window):
                qtbot.addWidget(other)
                other.show()
            rec = window.recording
            assert rec.record_button.isVisible() and not rec.chapter_button.isEnabled()
            assert not trainee_window.recording.record_button.isVisible()  # trainees don't
            assert not trainee_window.recording.chapter_button.isVisible()
            assert not mentor_window.recording.indicator.isVisible()

            rec.record_button.click()
            # First the dialog: the procedure (the room's name to start with) and hospital.
            asked = rec.record_dialog
            assert asked is not None and asked.isVisible() and not surgeon.recording.active
            assert asked.title.text() == "chole" and not rec.record_button.isChecked()
            asked.title.setText("Laparoscopic cholecystectomy")
            asked.hospital.setText("Zepu County Hospital")
            asked.buttons.accepted.emit()
            await until(lambda: surgeon.recording.active, seconds(10), "the recording to start")
            folder = surgeon.recording.folder
            assert folder is not None and folder.parent == tmp_path
            assert (folder / "manifest.json").exists()
            assert rec.record_button.isChecked() and "Stop recording" in rec.record_button.text()

            # Everyone in the room sees who records, the trainee too.
            for other in (mentor_window, trainee_window):
                indicator = other.recording.indicator
                await until(indicator.isVisible, seconds(5), "the REC indicator")
                assert "REC" in indicator.text() and "Dr Wang" in indicator.text()
            assert "you are recording" in rec.indicator.text()

            # The chapter field, inline (no dialog over the video): "Step 1" by default;
            # the title typed reaches the log.
            await until(rec.chapter_button.isEnabled, seconds(5), "the Chapter button")
            rec.chapter_button.click()
            field = rec.chapter_field
            assert field.isVisible() and field.window() is window
            assert not [w for w in QApplication.topLevelWidgets()
                        if w.isVisible() and w.isModal()]
            assert field.title.text() == "Step 1"
            field.title.setText("Calot's triangle")
            qtbot.keyClick(field.title, Qt.Key.Key_Return)
            assert not field.isVisible()
            mentor.send_chat("Show the cystic artery")
            await until(lambda: any(e.kind is EventKind.CHAPTER for e in _events(folder)),
                        seconds(10), "the chapter in events.jsonl")
            (chapter,) = [e for e in _events(folder) if e.kind is EventKind.CHAPTER]
            assert chapter.data["title"] == "Calot's triangle" and chapter.data["seq"] == 1
            await until(lambda: any(e.kind is EventKind.CHAT for e in _events(folder)),
                        seconds(10), "the chat in events.jsonl")
            await until(lambda: (surgeon.recording.status is not None and
                                 surgeon.recording.status.frames.get("Laparoscope", 0) > 45),
                        seconds(20), "video in the file")
            if SCREENSHOT:
                window.grab().save(str(Path(SCREENSHOT) / "recording-surgeon.png"))
                mentor_window.grab().save(str(Path(SCREENSHOT) / "recording-mentor.png"))
            # The next chapter's default title counts on.
            rec.open_chapter_field()
            assert rec.chapter_field.isVisible()
            assert rec.chapter_field.title.text() == "Step 2"
            qtbot.keyClick(rec.chapter_field.title, Qt.Key.Key_Escape)
            assert not rec.chapter_field.isVisible() and surgeon.state == "live"

            # Ctrl+R stops it; the indicator goes away for everyone.
            window.activateWindow()
            await until(window.isActiveWindow, seconds(5), "the window to be active")
            qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
            await until(lambda: not surgeon.recording.active and not surgeon.recording.busy,
                        seconds(20), "the recording to stop")
            await until(lambda: not mentor_window.recording.indicator.isVisible(),
                        seconds(5), "the indicator to go away")
        finally:
            await trainee.leave()
            await mentor.leave()
            await surgeon.leave()
            await server.close()

        case = open_recording(folder)
        assert case.manifest.state is RecordingState.FINISHED
        assert (case.manifest.title, case.manifest.hospital) == (
            "Laparoscopic cholecystectomy", "Zepu County Hospital")
        assert Settings.load().hospital == "Zepu County Hospital"  # offered next time
        people = {(p.role, p.name) for p in case.manifest.participants}
        assert people >= {(Role.SURGEON, "Dr Wang"), (Role.MENTOR, "Dr Li"), (Role.TRAINEE, "Osh")}
        (source,) = case.manifest.sources
        assert is_sealed_file(folder / source.file)  # encrypted at rest by default
        with open_media(folder / source.file) as container:
            assert container.streams.video[0].codec_context.name == "h264"
        frames = decode_stamped(folder / source.file)
        assert len(frames) > 45
        assert [f.seq for f in frames] == sorted(f.seq for f in frames)

    run(scenario())


def test_a_watching_mentor_records_locally_and_closing_the_window_finishes_it(
        qtbot, run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        server = await start_server(ServerConfig(port=0))
        surgeon = SessionController.from_specs(
            SessionConfig(server=server.url, room="case", name="Dr Wang", role=Role.SURGEON),
            ["Laparoscope=synthetic:640x360@30"])
        mentor = SessionController(
            SessionConfig(server=server.url, room="case", name="Dr Li", role=Role.MENTOR), [],
            recordings=tmp_path)
        try:
            await surgeon.start()
            await mentor.start()
            window = SessionWindow(mentor)
            qtbot.addWidget(window)
            window.show()
            await until(lambda: window.stage.main.frames_painted > 3, seconds(20), "video")
            start_recording(window)
            await until(lambda: mentor.recording.status is not None and
                        mentor.recording.status.frames.get("Laparoscope", 0) >= 60,
                        seconds(20), "two seconds of received video recorded")
            folder = mentor.recording.folder
            assert folder is not None
            window.close()  # asks first: the recording would stop
            question = window.leave_question
            assert question is not None and "recording stops" in question.box.text()
            question.leave_button.click()  # the window leaves; the recording stops cleanly
            await until(lambda: mentor.state == "left", seconds(20), "the window to leave")
        finally:
            await mentor.leave()
            await surgeon.leave()
            await server.close()

        case = open_recording(folder)
        assert case.manifest.state is RecordingState.FINISHED and not case.interrupted
        assert {(p.role, p.name) for p in case.manifest.participants} == {
            (Role.MENTOR, "Dr Li"), (Role.SURGEON, "Dr Wang")}
        (source,) = case.manifest.sources
        assert (source.label, source.width, source.height) == ("Laparoscope", 640, 360)
        frames = decode_stamped(folder / source.file)
        assert len(frames) >= 60
        assert [f.seq for f in frames] == sorted({f.seq for f in frames})

    run(scenario())


def _listeners(session: LiveSession) -> int:
    return sum(len(listeners) for listeners in session._listeners.values())


def test_a_full_disk_shows_a_banner_the_live_session_goes_on_and_record_works_again(
        qtbot, run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    free = [10**12]
    monkeypatch.setattr(DiskSpaceGuard, "free", lambda self: free[0])

    async def scenario() -> None:
        server = await start_server(ServerConfig(port=0))
        surgeon = SessionController(
            SessionConfig(server=server.url, room="full", name="Dr Wang", role=Role.SURGEON),
            [open_source("Laparoscope=synthetic:640x360@30")], voice=ToneTrack(440.0, 0.3))
        surgeon.recording.root = tmp_path
        trainee = SessionController(
            SessionConfig(server=server.url, room="full", name="Osh", role=Role.TRAINEE), [])
        try:
            await surgeon.start()
            await trainee.start()
            window = SessionWindow(surgeon)
            qtbot.addWidget(window)
            window.show()
            trainee_window = SessionWindow(trainee)
            qtbot.addWidget(trainee_window)
            trainee_window.show()
            session = surgeon._live
            assert session is not None
            listening = _listeners(session)
            start_recording(window)
            await until(lambda: surgeon.recording.status is not None and
                        surgeon.recording.status.frames.get("Laparoscope", 0) > 10,
                        seconds(20), "recording")
            first = surgeon.recording.recording
            assert first is not None and first.folder is not None
            await until(lambda: bool(first.mix.voices), seconds(10), "our voice in the mix")
            pulling = [voice.task for voice in first.mix._inputs.values()]
            assert _listeners(session) > listening
            free[0] = 10 * 10**6  # the disk fills up
            alarm = window.recording.alarm
            await until(alarm.isVisible, seconds(20), "the full-disk banner")
            assert "Recording stopped" in alarm.text() and "Free some space" in alarm.text()
            assert not window.recording.record_button.isChecked()
            # The live session goes on: the trainee still gets the picture, and learns
            # that nobody records any more.
            await until(lambda: not trainee_window.recording.indicator.isVisible(),
                        seconds(10), "the indicator to go away")
            painted = trainee_window.stage.main.frames_painted
            await until(lambda: trainee_window.stage.main.frames_painted > painted + 10,
                        seconds(10), "more video after the disk filled")
            assert surgeon.state == "live"
            # The stopped recording is shut down: no voice pulled into its mix any more,
            # none of its listeners left on the session.
            await until(lambda: first.mix.readyState == "ended" and not first.mix.voices
                        and all(task is not None and task.done() for task in pulling),
                        seconds(10), "the mix to stop")
            await until(lambda: _listeners(session) == listening, seconds(10),
                        "the recording's listeners to go")

            # Space freed: Record works again, into a new folder.
            free[0] = 10**12
            start_recording(window)
            await until(lambda: surgeon.recording.active, seconds(10), "a new recording")
            second = surgeon.recording.folder
            assert second is not None and second != first.folder
            await until(trainee_window.recording.indicator.isVisible, seconds(10),
                        "the indicator again")
            await until(lambda: surgeon.recording.status is not None and
                        surgeon.recording.status.frames.get("Laparoscope", 0) > 10,
                        seconds(20), "recording again")
            window.recording.record_button.click()  # stop
            await until(lambda: not surgeon.recording.active and not surgeon.recording.busy,
                        seconds(20), "the recording to stop")
        finally:
            await trainee.leave()
            await surgeon.leave()
            await server.close()

        assert open_recording(first.folder).manifest.state is RecordingState.FAILED
        assert open_recording(second).manifest.state is RecordingState.FINISHED

    run(scenario())


def start_recording(window: SessionWindow) -> None:
    """Press Record and start with what the dialog offers."""
    window.recording.record_button.click()
    dialog = window.recording.record_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.buttons.accepted.emit()
