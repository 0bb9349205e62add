"""Audio for playback at 0.25x-2x: the right length, and each sound where it belongs.

The recorded test case beeps for 50 ms at every whole second of its audio file, so a beep
heard in the output says which moment of the recording is playing."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest

from surgery_teach.casebook import RecordedAudio, RecordedCase, open_recording
from surgery_teach.casebook.audio import SAMPLE_RATE, AudioChunk, tempo_steps
from surgery_teach.casefile import AudioEntry, Manifest
from surgery_teach.casefile.container import AudioFileWriter
from surgery_teach.errors import RecordingError
from tests.recording.cases import recorded_case

CLOCK = 1.7e9
SMEAR = 0.045  # measured here: onsets 7-36 ms early at 0.25x-2x, none late, no drift


@pytest.fixture
def audio(tmp_path: Path) -> RecordedAudio:
    with RecordedAudio(open_recording(recorded_case(tmp_path))) as recorded:
        yield recorded  # type: ignore[misc]


def onsets(chunks: list[AudioChunk]) -> list[float]:
    """The recording's case time at the start of each beep heard in ``chunks``."""
    found: list[float] = []
    for chunk in chunks:
        loud = np.abs(chunk.samples[:, 0]) > 0.1
        for index in np.flatnonzero(loud):
            t = chunk.time + index / SAMPLE_RATE * chunk.speed
            if not found or t - found[-1] > 0.3:
                found.append(float(t))
    return found


def played(chunks: list[AudioChunk]) -> float:
    return sum(c.duration for c in chunks)


def end_of(chunks: list[AudioChunk]) -> float:
    return chunks[-1].time + chunks[-1].covers


def beeps(audio: RecordedAudio, start: float, end: float) -> list[float]:
    """Case times of the beeps that start between ``start`` and ``end``."""
    return [audio.origin + k for k in range(10) if start < audio.origin + k < end]


def before(times: list[float], end: float) -> list[float]:
    return [t for t in times if t < end]


def test_normal_speed_plays_every_sample_in_place(audio: RecordedAudio) -> None:
    chunks = list(audio.chunks(0.3, 1.0))
    assert all(c.samples.dtype == np.float32 and c.samples.shape[1] == 1 for c in chunks)
    assert all(len(c.samples) == 1024 for c in chunks[:-1])
    end = end_of(chunks) - 0.1
    expected = beeps(audio, 0.3, end)  # where the beeps are on case time
    assert len(expected) >= 2
    assert before(onsets(chunks), end) == pytest.approx(expected, abs=0.002)
    # Chunk times follow the samples exactly.
    for one, following in itertools.pairwise(chunks):
        assert following.time == pytest.approx(one.time + one.covers, abs=1e-9)


@pytest.mark.parametrize("speed", [0.5, 2.0, 0.25])
def test_other_speeds_keep_length_and_sync(audio: RecordedAudio, speed: float) -> None:
    normal = list(audio.chunks(0.3, 1.0))
    chunks = list(audio.chunks(0.3, speed))
    assert played(chunks) == pytest.approx(played(normal) / speed, rel=0.03)
    # Each beep still maps back to its moment in the recording (atempo's overlapping
    # windows make an onset sound up to ~40 ms of recording time early).
    end = end_of(normal) - 0.1
    heard, expected = before(onsets(chunks), end), beeps(audio, 0.3, end)
    assert len(heard) == len(expected) >= 2
    for got, want in zip(heard, expected, strict=True):
        assert -SMEAR < got - want < 0.005, (got, want)


@pytest.mark.parametrize("speed", [0.25, 0.5, 2.0])
def test_a_minute_at_another_speed_does_not_drift(tmp_path: Path, speed: float) -> None:
    """A minute of beeps written straight to an audio file: the last beep is as close to
    its moment as the first, and the length is right to 1%."""
    writer = AudioFileWriter(tmp_path / "audio.mka")
    for first in range(0, 60 * SAMPLE_RATE, 960):
        index = np.arange(first, first + 960)
        tone = 0.5 * np.sin(2 * np.pi * 1000 * index / SAMPLE_RATE) * (index % SAMPLE_RATE < 2400)
        frame = av.AudioFrame.from_ndarray(
            (tone * 32767).astype(np.int16).reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        writer.write(frame, captured_at=CLOCK + first / SAMPLE_RATE)
    writer.close()
    manifest = Manifest(title="beeps", audio=AudioEntry(file="audio.mka", clock_origin=CLOCK),
                        started_at=dt.datetime.fromtimestamp(CLOCK).astimezone())
    case = RecordedCase(tmp_path, manifest, [], interrupted=False, events_truncated=False)
    with RecordedAudio(case) as audio:
        chunks = list(audio.chunks(0.3, speed, block=4096))
    assert played(chunks) == pytest.approx(59.7 / speed, rel=0.01)
    heard = onsets(chunks)
    assert len(heard) == 59
    errors = [got - round(got) for got in heard]
    assert all(-SMEAR < e < 0.005 for e in errors), (min(errors), max(errors))


def test_tempo_below_half_is_a_chain_of_filters() -> None:
    assert tempo_steps(0.25) == [0.5, 0.5]
    assert tempo_steps(0.3) == pytest.approx([0.5, 0.6])
    assert tempo_steps(1.5) == [1.5]
    for bad in (0.2, 2.5, 0.0):
        with pytest.raises(RecordingError, match=r"0\.25x to 2\.0x"):
            tempo_steps(bad)


def test_silence_stands_in_before_the_audio_starts(tmp_path: Path) -> None:
    case = open_recording(recorded_case(tmp_path))
    assert case.manifest.audio is not None and case.manifest.audio.clock_origin is not None
    late = replace(case, manifest=replace(case.manifest, audio=replace(
        case.manifest.audio, clock_origin=case.manifest.audio.clock_origin + 0.5)))
    with RecordedAudio(late) as audio:
        chunks = list(audio.chunks(0.0, 1.0))
        assert chunks[0].time == 0.0
        assert onsets(chunks)[0] == pytest.approx(audio.origin, abs=0.002)
        assert np.all(np.abs(np.concatenate([c.samples for c in chunks])[
            : round((audio.origin - 0.01) * SAMPLE_RATE)]) < 1e-6)


def test_a_case_without_audio_says_so(tmp_path: Path) -> None:
    case = open_recording(recorded_case(tmp_path))
    with pytest.raises(RecordingError, match="recorded without audio"):
        RecordedAudio(replace(case, manifest=replace(case.manifest, audio=None)))
    (case.folder / "audio.mka").write_bytes(b"junk" * 100)
    with pytest.raises(RecordingError, match=r"audio.mka \(the audio\) is damaged.*Still plays"):
        RecordedAudio(case)
