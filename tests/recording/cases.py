"""Real recorded cases for the playback, library and export tests.

:func:`recorded_case` records one short case through the real recorder (two synthetic
stamped sources through their shared encoders, a beeping audio track, chat, a chapter,
a join, a freeze and one distinctive mark), once per test run, and copies it into the
test's folder so a test may change it.
"""

from __future__ import annotations

import asyncio
import atexit
import math
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from surgery_teach.annotations.ops import Add, Freeze, Unfreeze
from surgery_teach.annotations.shapes import Ellipse
from surgery_teach.audio.tracks import SAMPLE_RATE, SAMPLES_PER_FRAME, ToneTrack
from surgery_teach.capture import SyntheticSource
from surgery_teach.casefile import Manifest, Participant
from surgery_teach.media.encoder import EncoderSettings, SharedEncoder
from surgery_teach.protocol.messages import Role
from surgery_teach.recording import Recorder, RecorderOptions
from tests.recording.helpers import until
from tests.timing import seconds

TITLE = "Laparoscopic cholecystectomy"
HOSPITAL = "St Mary's, theatre 3"
SIZE = (320, 240)
MARK_COLOUR = "#00ff00"  # green: nowhere in the synthetic tissue
MARK_BOX = (0.15, 0.35, 0.45, 0.75)  # normalised: left, top, right, bottom
MARK_WIDTH = 0.05  # of the picture height: 12 px at 240
BEEP_EVERY = SAMPLE_RATE  # a 1 kHz beep at every whole second of the audio file
BEEP_SAMPLES = 2400  # 50 ms


class BeepTrack(ToneTrack):
    """The tone only for the first 50 ms of every second (sample count), else silence,
    so a position in the recorded audio can be read back from the sound."""

    async def recv(self) -> av.AudioFrame:
        frame = await super().recv()
        samples = frame.to_ndarray().copy()
        first = frame.pts or 0
        index = np.arange(first, first + samples.shape[-1])
        samples[..., (index % BEEP_EVERY) >= BEEP_SAMPLES] = 0
        out = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        out.sample_rate = SAMPLE_RATE
        out.pts, out.time_base = frame.pts, frame.time_base
        return out


assert SAMPLES_PER_FRAME == 960


@dataclass(frozen=True)
class MarkFacts:
    """When the test mark was drawn (capture clock) and where its left edge is, in pixels."""

    drawn_at: float
    left_px: tuple[int, int]


async def _record(folder: Path, *, audio: bool) -> None:
    sources = [SyntheticSource(*SIZE, 30, label="Endoscope"),
               SyntheticSource(*SIZE, 15, label="Room camera")]
    encoders = []
    for source in sources:
        source.start()
        encoder = SharedEncoder(source, EncoderSettings(keyframe_interval=1.0))
        encoder.start()
        encoders.append(encoder)
    manifest = Manifest(
        title=TITLE, hospital=HOSPITAL,
        participants=(Participant(Role.SURGEON, "Dr Ana Lima"),
                      Participant(Role.TRAINEE, "Sam Okafor")),
    )
    recorder = Recorder(
        folder, manifest, [(s.label, e) for s, e in zip(sources, encoders, strict=True)],
        audio=BeepTrack(amplitude=0.5) if audio else None,
        options=RecorderOptions(min_free_bytes=0),
    )
    try:
        await recorder.start()
        await until(lambda: min(recorder.status.frames.values()) >= 5, seconds(10), "frames")
        recorder.log("join", name="Sam Okafor", role="trainee")
        recorder.add_chapter("Exposure")
        await asyncio.sleep(0.5)
        recorder.log("chat", sender="Dr Ana Lima", role="surgeon", text="clip here")
        recorder.log_op(Add(Ellipse(
            id="m-1", author="p-mentor", source="Endoscope", colour=MARK_COLOUR,
            width=MARK_WIDTH, box=MARK_BOX, pinned=True, created=time.time(),
            frame_time=time.time(),
        ), seq=1))
        await asyncio.sleep(0.6)
        held = time.time() - 0.1
        recorder.log_op(Freeze(source="Endoscope", frame_time=held, author="p-mentor", seq=2))
        await asyncio.sleep(0.4)
        recorder.log_op(Unfreeze(source="Endoscope", author="p-mentor", seq=3))
        recorder.add_chapter("Dissection")
        await until(lambda: recorder.status.frames["Endoscope"] >= 90, seconds(10), "frames")
        recorder.log("leave", name="Sam Okafor", role="trainee")
    finally:
        await recorder.stop()
        for encoder in encoders:
            encoder.stop()
        for source in sources:
            source.stop()


_made: dict[bool, Path] = {}


def recorded_case(into: Path, *, audio: bool = True) -> Path:
    """A fresh copy of the test case (about 3.5 s) in ``into/case``; recorded once per run."""
    if audio not in _made:
        root = Path(tempfile.mkdtemp(prefix="surgery_teach-case-"))
        atexit.register(shutil.rmtree, root, True)
        folder = root / "case"
        asyncio.run(_record(folder, audio=audio))
        _made[audio] = folder
    target = into / "case"
    shutil.copytree(_made[audio], target)
    return target


def mark_left_edge(width: int, height: int) -> tuple[int, int]:
    """The pixel at the middle of the mark's left stroke (inside the 12 px line)."""
    left, top, _, bottom = MARK_BOX
    return (math.floor(left * width), round((top + bottom) / 2 * height))


def is_mark_colour(bgr_pixel: np.ndarray) -> bool:
    b, g, r = (int(v) for v in bgr_pixel)
    return g > 180 and r < 110 and b < 110
