"""Frame-exact playback of a real recording, and of recordings a crash or a bad disk left
behind: the stamp in each returned picture proves which frame it is."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from surgery_teach.capture import luma_of, read_stamp
from surgery_teach.casebook import SourcePlayer, build_timeline, open_case, open_recording
from surgery_teach.casebook.playback import PlaybackFrame
from surgery_teach.casefile import RecordingState, read_manifest, write_manifest
from surgery_teach.errors import RecordingError
from tests.recording.cases import MARK_COLOUR, recorded_case

FRAME = 1 / 30


@pytest.fixture
def case_folder(tmp_path: Path) -> Path:
    return recorded_case(tmp_path)


def captured(frame: PlaybackFrame) -> tuple[int, float]:
    stamp = read_stamp(luma_of(frame.frame))
    assert stamp is not None, f"no stamp in the frame at {frame.time:.3f} s"
    return stamp.seq, stamp.captured_at


def test_seek_returns_the_frame_on_screen_at_that_moment(case_folder: Path) -> None:
    case = open_recording(case_folder)
    start = build_timeline(case).start
    with SourcePlayer(case, "Endoscope") as player:
        assert (player.width, player.height, player.fps) == (320, 240, 30.0)
        assert 2.7 < player.end < 3.3
        targets = [1.234, 2.5, 0.7, 2.95, 0.35, 1.9, 1.91, 0.1 + FRAME]
        for t in targets:
            frame = player.seek(t)
            assert frame is not None
            _seq, at = captured(frame)
            # The last frame captured at or before t: at most one frame interval earlier.
            assert at - start <= t + 0.002, (t, at - start)
            assert at - start > t - FRAME - 0.002, (t, at - start)
            assert frame.time == pytest.approx(at - start, abs=0.002)  # media -> case time

        # Stepping on from a seek gives every following frame, in order.
        first = player.seek(1.0)
        assert first is not None
        seqs = [captured(first)[0]]
        while (following := player.next()) is not None:
            seqs.append(captured(following)[0])
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
        assert len(seqs) > 50

        # Past the end the last frame stays; before the first frame there is none.
        last = player.seek(100.0)
        assert last is not None and captured(last)[0] == seqs[-1]
        assert player.seek(player.origin - 0.01) is None


def test_each_source_keeps_to_its_own_clock(case_folder: Path) -> None:
    """The room camera runs at 15 fps from its own first frame; both line up on case time."""
    case = open_recording(case_folder)
    start = build_timeline(case).start
    with SourcePlayer(case, "Endoscope") as scope, SourcePlayer(case, "Room camera") as room:
        for t in (0.5, 1.5, 2.5):
            a, b = scope.seek(t), room.seek(t)
            assert a is not None and b is not None
            assert t - FRAME - 0.002 < captured(a)[1] - start <= t + 0.002
            assert t - 2 * FRAME - 0.002 < captured(b)[1] - start <= t + 0.002


def test_the_timeline_of_a_real_recording(case_folder: Path) -> None:
    timeline = build_timeline(open_recording(case_folder))
    assert [c.title for c in timeline.chapters] == ["Exposure", "Dissection"]
    assert [c.text for c in timeline.chat] == ["clip here"]
    assert [(p.name, p.joined) for p in timeline.presence] == [
        ("Sam Okafor", True), ("Sam Okafor", False)]
    [freeze] = timeline.freezes
    assert freeze.source == "Endoscope" and 0.3 < freeze.end - freeze.start < 0.6  # type: ignore[operator]
    [tick] = timeline.mark_ticks
    assert timeline.marks_at(tick.time - 0.01, "Endoscope") == []
    [(shape, opacity)] = timeline.marks_at(tick.time, "Endoscope")
    assert shape.colour == MARK_COLOUR and opacity == 1.0
    assert timeline.marks_at(tick.time + 60, "Endoscope") != []  # pinned: stays
    assert timeline.marks_at(tick.time, "Room camera") == []


def test_a_corrupt_file_is_named_with_what_still_plays(case_folder: Path) -> None:
    path = case_folder / "room-camera.mkv"
    path.write_bytes(b"\x00garbage" * 4096)
    case = open_recording(case_folder)
    with pytest.raises(RecordingError) as caught:
        SourcePlayer(case, "Room camera")
    message = str(caught.value)
    assert "room-camera.mkv (Room camera) is damaged" in message
    assert "Still plays: Endoscope, the audio." in message
    opened = open_case(case_folder)
    assert opened.playable == ("Endoscope",) and opened.audio
    assert any("room-camera.mkv is damaged" in p for p in opened.problems)
    with pytest.raises(RecordingError, match="no source 'Microscope'"):
        SourcePlayer(case, "Microscope")


def test_damage_inside_a_file_is_skipped(case_folder: Path) -> None:
    path = case_folder / "endoscope.mkv"
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 3000] = os.urandom(3000)
    path.write_bytes(bytes(data))
    case = open_recording(case_folder)
    start = build_timeline(case).start
    with SourcePlayer(case, "Endoscope") as player:
        for t in (0.4, 2.8, 1.2):
            frame = player.seek(t)
            assert frame is not None
            stamp = read_stamp(luma_of(frame.frame))
            if stamp is not None and t < 1.0:  # before the damage: exact
                assert abs(stamp.captured_at - start - t) < FRAME + 0.002
        player.seek(0.0)
        count = 0
        while player.next() is not None:
            count += 1
        assert count > 60  # most of the 90 frames still decode


def interrupt(folder: Path, *, keep: float) -> None:
    """Make ``folder`` look like a recording killed mid-way: the manifest still says
    "recording", the files end ``keep`` of the way through in a half-written cluster, and
    the event log ends in half a line."""
    manifest = read_manifest(folder)
    write_manifest(folder, replace(
        manifest, ended_at=None, state=RecordingState.RECORDING,
        sources=tuple(replace(s, clock_origin=None) for s in manifest.sources),
        audio=replace(manifest.audio, clock_origin=None),  # type: ignore[type-var]
    ))
    for name in ("endoscope.mkv", "room-camera.mkv", "audio.mka"):
        data = (folder / name).read_bytes()
        (folder / name).write_bytes(data[: int(len(data) * keep)])
    events = (folder / "events.jsonl").read_text().splitlines(keepends=True)
    kept = [e for e in events if json.loads(e)["t"] < manifest.started_at.timestamp() + 1.5]  # type: ignore[union-attr]
    (folder / "events.jsonl").write_text("".join(kept) + '{"t":17,"kind":"ch')


def test_an_interrupted_recording_plays_up_to_where_it_stops(case_folder: Path) -> None:
    interrupt(case_folder, keep=0.6)
    opened = open_case(case_folder)
    assert opened.case.interrupted and opened.case.events_truncated
    assert opened.playable == ("Endoscope", "Room camera")
    assert 1.0 < opened.duration < 2.6
    assert opened.problems[0].startswith("recording was interrupted; plays up to 0:0")
    assert any("events log truncated" in p for p in opened.problems)
    timeline = build_timeline(opened.case, duration=opened.duration)
    assert timeline.duration == opened.duration
    with SourcePlayer(opened.case, "Endoscope") as player:
        assert player.end < opened.duration
        last = player.seek(opened.duration + 5)
        assert last is not None and last.time == pytest.approx(player.end, abs=0.002)
        _seq, at = captured(last)
        assert at - timeline.start == pytest.approx(last.time, abs=0.002)
        middle = player.seek(0.9)
        assert middle is not None
        assert abs(captured(middle)[1] - timeline.start - 0.9) < FRAME + 0.002


def test_a_file_shorter_than_the_manifest_says_is_reported(case_folder: Path) -> None:
    path = case_folder / "room-camera.mkv"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 4])
    opened = open_case(case_folder)
    assert opened.playable == ("Endoscope", "Room camera")
    assert any(p.startswith("Room camera: the video ends at 0:00, before the recording's end")
               for p in opened.problems), opened.problems


def test_a_case_without_a_manifest_is_rebuilt_from_its_media(case_folder: Path) -> None:
    reference = open_recording(case_folder)
    start = build_timeline(reference).start
    (case_folder / "manifest.json").unlink()
    opened = open_case(case_folder)
    assert "manifest missing or unreadable" in " ".join(opened.problems)
    assert opened.playable == ("Endoscope", "Room camera") and opened.audio
    assert opened.start == pytest.approx(start)
    assert [s.clock_origin for s in opened.manifest.sources] == pytest.approx(
        [reference.manifest.source(s.label).clock_origin for s in opened.manifest.sources])
    with SourcePlayer(opened.case, "Endoscope") as player:
        frame = player.seek(2.0)
        assert frame is not None
        assert abs(captured(frame)[1] - start - 2.0) < FRAME + 0.002


def test_a_folder_with_nothing_recorded_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a case")
    with pytest.raises(RecordingError, match="holds no recording"):
        open_case(tmp_path)


@pytest.mark.slow
def test_a_recording_killed_by_sigkill_plays(tmp_path: Path) -> None:
    """A real kill -9 (tests/recording/record_child.py), not a simulated one."""
    from tests.recording.test_kill import record_then_kill

    run = asyncio.run(record_then_kill(tmp_path / "killed", 2.5))
    opened = open_case(run.folder)
    assert opened.case.interrupted and opened.playable == ("Endoscope",)
    assert opened.problems[0].startswith("recording was interrupted; plays up to 0:0")
    timeline = build_timeline(opened.case, duration=opened.duration)
    assert run.killed_at - 1.5 < timeline.clock_time(opened.duration) <= run.killed_at + 0.1
    with SourcePlayer(opened.case, "Endoscope") as player:
        for t in (0.5, 1.2, player.end):
            frame = player.seek(t)
            assert frame is not None
            assert abs(captured(frame)[1] - timeline.clock_time(t)) < FRAME + 0.002
    shutil.rmtree(run.folder)
