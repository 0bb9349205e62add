"""A recorded case's audio for playback at 0.25x to 2x, with the pitch kept.

:class:`RecordedAudio` decodes the case's audio file from a case time and passes it
through FFmpeg's ``atempo`` filter (chained for speeds below 0.5: ``atempo`` keeps the
pitch best between 0.5 and 2), yielding float32 blocks that ``sounddevice`` plays as they
are. Each block says which case time it starts at, so the player can keep the picture in
step with the sound. Use it from one thread.
"""

from __future__ import annotations

import fractions
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import av
import numpy as np

from surgery_teach.casebook.case import RecordedCase
from surgery_teach.casebook.media import media_exists, open_media
from surgery_teach.casebook.playback import decode_tolerantly, still_plays
from surgery_teach.casebook.timeline import case_start
from surgery_teach.errors import RecordingError

MIN_SPEED: Final = 0.25
MAX_SPEED: Final = 2.0
SAMPLE_RATE: Final = 48_000
_TIME_BASE: Final = fractions.Fraction(1, SAMPLE_RATE)
_FROM_THE_TOP: Final = 0.5  # start this close to the file's start: decode from its first packet


@dataclass(frozen=True)
class AudioChunk:
    """Samples to play: float32, shape ``(n, channels)``, at :data:`SAMPLE_RATE`.

    ``time`` is the case time of the recording where this block starts; the block covers
    ``n / SAMPLE_RATE * speed`` seconds of the recording.
    """

    samples: np.ndarray
    time: float
    speed: float

    @property
    def duration(self) -> float:
        """Seconds this block takes to play."""
        return len(self.samples) / SAMPLE_RATE

    @property
    def covers(self) -> float:
        """Seconds of the recording this block holds."""
        return self.duration * self.speed


def tempo_steps(speed: float) -> list[float]:
    """``atempo`` factors whose product is ``speed``, each within 0.5..2."""
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise RecordingError(f"playback speed must be {MIN_SPEED}x to {MAX_SPEED}x, got {speed}x")
    steps = []
    while speed < 0.5:
        steps.append(0.5)
        speed /= 0.5
    return [*steps, speed]


class RecordedAudio:
    """The audio of ``case``; :class:`RecordingError` if it has none or it cannot open.

    ``start`` is the capture-clock time of case time 0 (default :func:`case_start`).
    """

    channels: int = 1

    def __init__(self, case: RecordedCase, *, start: float | None = None) -> None:
        entry = case.manifest.audio
        if entry is None:
            raise RecordingError("this case was recorded without audio", str(case.folder))
        self.path = case.folder / entry.file
        if entry.clock_origin is None or not media_exists(self.path):
            raise RecordingError(
                f"{entry.file} (the audio) was never recorded. "
                f"{still_plays(case, besides='the audio')}", str(case.folder),
            )
        self.origin = entry.clock_origin - (case_start(case) if start is None else start)
        try:
            self._container = open_media(self.path)
        except (av.FFmpegError, OSError) as exc:
            raise RecordingError(
                f"{entry.file} (the audio) is damaged and cannot be opened ({exc}). "
                f"{still_plays(case)}", str(case.folder),
            ) from exc
        if not self._container.streams.audio:
            self._container.close()
            raise RecordingError(f"{entry.file} holds no audio", str(case.folder))
        self._stream = self._container.streams.audio[0]

    @classmethod
    def of_file(cls, path: Path, *, origin: float = 0.0) -> RecordedAudio:
        """The audio of a media file that is not a case's, e.g. an exported clip (its
        case time is its media time plus ``origin``); :class:`RecordingError` if it has
        none or cannot be opened."""
        audio = cls.__new__(cls)
        audio.path, audio.origin = path, origin
        try:
            audio._container = open_media(path)
        except (av.FFmpegError, OSError) as exc:
            raise RecordingError(f"{path.name} cannot be opened ({exc})",
                                 str(path.parent)) from exc
        if not audio._container.streams.audio:
            audio._container.close()
            raise RecordingError(f"{path.name} holds no audio", str(path.parent))
        audio._stream = audio._container.streams.audio[0]
        return audio

    def chunks(self, t: float, speed: float = 1.0, *, block: int = 1024) -> Iterator[AudioChunk]:
        """Audio from case time ``t`` on at ``speed`` (0.25 to 2), in blocks of ``block``
        output samples (the last may be shorter). Silence stands in before the audio file
        starts. A new seek or speed is a new call (and the previous iterator must then be
        dropped: they share one decoder); the iterator ends with the file."""
        steps = tempo_steps(speed)
        if block < 1:
            raise ValueError("block must be at least one sample")
        played = 0  # output samples yielded so far
        pending: list[np.ndarray] = []
        held = 0
        for samples in self._stretched(t, steps if speed != 1.0 else []):
            pending.append(samples)
            held += len(samples)
            while held >= block:
                joined = np.concatenate(pending)
                out, rest = joined[:block], joined[block:]
                pending, held = [rest], len(rest)
                yield AudioChunk(out.reshape(-1, 1), t + played * speed / SAMPLE_RATE, speed)
                played += block
        if held:
            out = np.concatenate(pending)
            yield AudioChunk(out.reshape(-1, 1), t + played * speed / SAMPLE_RATE, speed)

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> RecordedAudio:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- decoding -----------------------------------------------------------------------------

    def _stretched(self, t: float, steps: list[float]) -> Iterator[np.ndarray]:
        """Mono float32 samples from case time ``t``, through the tempo filters."""
        if not steps:
            yield from self._source(t)
            return
        graph = av.filter.Graph()
        nodes = [graph.add_abuffer(
            sample_rate=SAMPLE_RATE, format="flt", layout="mono", time_base=_TIME_BASE
        )]
        nodes += [graph.add("atempo", f"{factor:.6f}") for factor in steps]
        nodes.append(graph.add("abuffersink"))
        graph.link_nodes(*nodes).configure()
        pts = 0
        for samples in self._source(t):
            frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout="mono")
            frame.sample_rate, frame.time_base, frame.pts = SAMPLE_RATE, _TIME_BASE, pts
            pts += len(samples)
            graph.push(frame)
            yield from _drain(graph)
        graph.push(None)
        yield from _drain(graph)

    def _source(self, t: float) -> Iterator[np.ndarray]:
        """Mono float32 samples of the recording from case time ``t`` (silence first if
        ``t`` is before the audio starts)."""
        media = t - self.origin
        if media < 0:
            silence = round(-media * SAMPLE_RATE)
            for at in range(0, silence, SAMPLE_RATE // 10):
                yield np.zeros(min(SAMPLE_RATE // 10, silence - at), np.float32)
            media = 0.0
        first = round(media * SAMPLE_RATE)  # sample index in the file to start at
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        frames = self._frames_from(media)
        position: int | None = None  # file sample index of the next resampled sample
        for frame in frames:
            if position is None:
                position = round((frame.time or 0.0) * SAMPLE_RATE)
                if position > first:  # the file's first packet (Opus pre-roll) was skipped
                    yield np.zeros(position - first, np.float32)
            for out in resampler.resample(frame):
                samples = out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                begin = position
                position += len(samples)
                if position <= first:
                    continue
                yield samples[max(0, first - begin):]

    def _frames_from(self, media: float) -> Iterator[av.AudioFrame]:
        """Decoded frames from at or before media time ``media``: a seek that lands after
        it (no index in the file) is retried further back."""
        for back in (0.0, 1.0, 4.0, 16.0, math.inf):
            at = max(0.0, media - back) if media > _FROM_THE_TOP else 0.0
            try:
                if at == 0.0:
                    self._reopen()  # a seek to 0 skips the first packet (Opus pre-roll)
                else:
                    self._container.seek(int(at / self._stream.time_base),
                                         stream=self._stream, backward=True)
            except (av.FFmpegError, OSError):
                self._reopen()
                at = 0.0
            frames = self._decoded()
            head = next(frames, None)
            if head is None:
                return
            if (head.time or 0.0) <= media + 0.001 or at == 0.0:
                yield head
                yield from frames
                return

    def _reopen(self) -> None:
        self._container.close()
        self._container = open_media(self.path)
        self._stream = self._container.streams.audio[0]

    def _decoded(self) -> Iterator[av.AudioFrame]:
        return decode_tolerantly(self._container, self._stream, self.path)  # type: ignore[return-value]


def _drain(graph: av.filter.Graph) -> Iterator[np.ndarray]:
    while True:
        try:
            frame = graph.pull()
        except (av.BlockingIOError, av.EOFError):
            return
        yield frame.to_ndarray().reshape(-1).astype(np.float32, copy=False)
