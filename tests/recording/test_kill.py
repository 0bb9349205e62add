"""kill -9 mid-recording: the file still plays to within 1.5 s of the kill and the event
log holds every event acknowledged before it, aligned with the video within 100 ms."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from surgery_teach.casebook import open_recording
from surgery_teach.casefile import EventKind, RecordingState
from tests.recording.helpers import DecodedFrame, decode_stamped, ffprobe
from tests.timing import seconds

ROOT = Path(__file__).resolve().parents[2]
RUNS = 3


@dataclass
class KilledRun:
    folder: Path
    file: str
    after: float
    killed_at: float
    acks: list[dict]


async def record_then_kill(folder: Path, after: float) -> KilledRun:
    """Run tests/recording/record_child.py and SIGKILL it ``after`` seconds into recording."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.recording.record_child", str(folder),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        ready = json.loads(await asyncio.wait_for(proc.stdout.readline(), seconds(30)))
        await asyncio.sleep(after)  # the test is the length of the recording
        killed_at = time.time()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
    # Every line still in the pipe was printed, so acknowledged, before the kill.
    acks = [json.loads(line) for line in (await proc.stdout.read()).splitlines()]
    return KilledRun(folder, ready["file"], after, killed_at, acks)


def frame_at(frames: list[DecodedFrame], media_time: float) -> DecodedFrame:
    """The frame a player shows at ``media_time``: the last one starting at or before it."""
    shown = [f for f in frames if f.media_time <= media_time + 1e-6]
    return shown[-1] if shown else frames[0]


@pytest.mark.slow
async def test_a_killed_recording_plays_and_keeps_its_events(tmp_path: Path) -> None:
    moments = [round(random.uniform(2, 6), 2) for _ in range(RUNS)]
    runs = await asyncio.gather(*(
        record_then_kill(tmp_path / f"run{i}", seconds(after))
        for i, after in enumerate(moments)
    ))
    for run in runs:
        where = f"killed {run.after:.2f} s into the recording ({run.folder.name})"
        path = run.folder / run.file

        # Both PyAV and ffprobe open it, and it plays to within 1.5 s of the kill.
        probe = ffprobe(path)
        assert probe["codec_name"] == "h264", where
        frames = decode_stamped(path)
        assert frames, f"no playable frame, {where}"
        lost = run.killed_at - frames[-1].captured_at
        assert lost < 1.5, f"the last playable frame is {lost:.2f} s before the kill, {where}"

        # The case reads back as interrupted, with its clock origin from the event log.
        case = open_recording(run.folder)
        assert case.interrupted and case.manifest.state is RecordingState.RECORDING, where
        origin = case.manifest.source("Endoscope").clock_origin
        assert origin is not None, where
        for frame in frames:  # the file's timeline is the capture clock
            assert abs(origin + frame.media_time - frame.captured_at) < 0.005, where

        # Every acknowledged event is in the log, at the moment it was logged.
        chats = {e.data["n"]: e for e in case.events if e.kind is EventKind.CHAT}
        assert run.acks, where
        for ack in run.acks:
            assert ack["ack"] in chats, f"acknowledged event {ack['ack']} is missing, {where}"
            assert chats[ack["ack"]].t == pytest.approx(ack["t"], abs=1e-6)

        # ...and lines up with the video: the frame a player shows at an event's time was
        # captured within 100 ms of the event.
        aligned = 0
        for event in chats.values():
            media_time = case.media_time("Endoscope", event.t)
            assert media_time is not None
            if not 0 <= media_time <= frames[-1].media_time:
                continue  # logged before the first keyframe or in the lost last second
            aligned += 1
            shown = frame_at(frames, media_time)
            assert abs(shown.captured_at - event.t) < 0.1, (
                f"event {event.data['n']} at {event.t:.3f} shows a frame captured at "
                f"{shown.captured_at:.3f}, {where}"
            )
        assert aligned >= 1, where
