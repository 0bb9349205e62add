"""One audio track for the recording: every voice in the room mixed, in real time.

A recording has one audio file, but a live case has several voices: the surgeon's
microphone and each mentor's, received from the network. :class:`AudioMix` is a
``MediaStreamTrack`` that the :class:`~surgery_teach.recording.Recorder` reads like a
microphone. Each input (any audio track: a microphone copy, a received voice) is pulled
on its own task into a small jitter buffer (:class:`~surgery_teach.audio.playback.
PlayoutBuffer`, as for the speaker); every 20 ms of wall-clock time the mix takes 20 ms
from each buffer (silence from one that ran dry), adds them and hands out one 48 kHz
mono frame. Voices come and go (:meth:`add`, :meth:`remove`) while the mix goes on;
before the first voice it waits, so a case without audio leaves no audio file.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import time
from collections.abc import Callable

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from surgery_teach.audio.playback import PlayoutBuffer

logger = logging.getLogger("surgery_teach.recording")

RATE = 48_000
FRAME_SAMPLES = 960  # 20 ms
TIME_BASE = fractions.Fraction(1, RATE)


class _Input:
    """One voice: its track, the task pulling it, its jitter buffer."""

    def __init__(self, track: MediaStreamTrack, *, target: int, limit: int) -> None:
        self.track = track
        self.buffer = PlayoutBuffer(channels=1, target=target, limit=limit)
        self.resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        self.task: asyncio.Task[None] | None = None
        self.frames = 0
        self.on_first: Callable[[], None] | None = None

    async def pull(self) -> None:
        while True:
            try:
                frame = await self.track.recv()
            except MediaStreamError:
                return
            if not isinstance(frame, av.AudioFrame):
                continue
            self.frames += 1
            for chunk in self.resampler.resample(frame):
                self.buffer.put(chunk.to_ndarray().reshape(-1, 1))
            if self.frames == 1 and self.on_first is not None:
                self.on_first()


class AudioMix(MediaStreamTrack):
    """Mixes any number of audio tracks into one 48 kHz mono track, paced by the clock.

    ``target_latency``/``max_latency`` (s) size each voice's jitter buffer. Call
    :meth:`add` and :meth:`remove` on the loop; :meth:`stop` ends every input.
    """

    kind = "audio"

    def __init__(self, *, target_latency: float = 0.06, max_latency: float = 0.3) -> None:
        super().__init__()
        self._target = round(target_latency * RATE)
        self._limit = round(max_latency * RATE)
        self._inputs: dict[str, _Input] = {}
        self._incoming: dict[str, _Input] = {}  # a voice's new track, until it sounds
        self._has_input = asyncio.Event()
        self._started: float | None = None
        self._sent = 0  # samples handed out

    @property
    def voices(self) -> list[str]:
        return list(self._inputs)

    def add(self, key: str, track: MediaStreamTrack) -> None:
        """Mix ``track`` in under ``key``, replacing what ``key`` had: at once if that
        gave nothing yet, else once ``track`` brings its first sound (the same voice on
        a new path, e.g. the room moved onto the media server: no gap while it starts)."""
        voice = _Input(track, target=self._target, limit=self._limit)
        current = self._inputs.get(key)
        self._drop(self._incoming.pop(key, None))
        if current is not None and current.frames > 0:
            self._incoming[key] = voice
            voice.on_first = lambda: self._take_over(key, voice)
        else:
            self.remove(key)
            self._inputs[key] = voice
            self._has_input.set()
        voice.task = asyncio.get_running_loop().create_task(self._pull(key, voice))

    def _take_over(self, key: str, voice: _Input) -> None:
        if self._incoming.get(key) is not voice:
            return
        del self._incoming[key]
        self._drop(self._inputs.pop(key, None))
        self._inputs[key] = voice

    def remove(self, key: str) -> None:
        """Stop mixing ``key`` (its track is stopped)."""
        self._drop(self._incoming.pop(key, None))
        self._drop(self._inputs.pop(key, None))

    @staticmethod
    def _drop(voice: _Input | None) -> None:
        if voice is not None:
            if voice.task is not None and voice.task is not asyncio.current_task():
                voice.task.cancel()
            voice.track.stop()

    async def _pull(self, key: str, voice: _Input) -> None:
        try:
            await voice.pull()
        except asyncio.CancelledError:
            raise
        except Exception:  # one voice's problem must not silence the others
            logger.exception("recording the voice %s failed", key)

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        await self._has_input.wait()
        if self._started is None:
            self._started = time.monotonic()
        due = self._started + (self._sent + FRAME_SAMPLES) / RATE
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -1.0:  # the loop stalled: skip ahead rather than rush to catch up
            self._started += -delay
        if self.readyState != "live":
            raise MediaStreamError
        mixed = np.zeros((FRAME_SAMPLES, 1), dtype=np.int32)
        chunk = np.empty((FRAME_SAMPLES, 1), dtype=np.int16)
        for voice in list(self._inputs.values()):
            voice.buffer.take(chunk)
            mixed += chunk
        samples = np.clip(mixed, -32768, 32767).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._sent
        frame.time_base = TIME_BASE
        self._sent += FRAME_SAMPLES
        return frame

    def stop(self) -> None:
        for key in [*self._inputs, *self._incoming]:
            self.remove(key)
        self._has_input.set()  # wake a waiting recv(), which then ends
        super().stop()
