"""The case's sound on the speaker at the player's speed, keeping the picture in step.

A producer thread takes blocks from the core's :class:`RecordedAudio` (pitch kept at
0.25x to 2x) starting at the playhead and queues about a quarter second; the PortAudio
callback plays them and tells the :class:`PlaybackClock` which case time is sounding, so
the video follows the sound card rather than drifting from it. Without a speaker or
PortAudio, :meth:`AudioOutput.open` returns the reason and the player plays silently.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from surgery_teach.audio.devices import AudioStream, close_stream, open_portaudio_stream
from surgery_teach.casebook.audio import SAMPLE_RATE, RecordedAudio
from surgery_teach.casebook.case import RecordedCase
from surgery_teach.errors import AudioDeviceError, SurgeryTeachError
from ui.library.clock import PlaybackClock

logger = logging.getLogger("ui.library.player")

BLOCK = 480  # samples per callback: 10 ms
QUEUED = SAMPLE_RATE // 4  # samples the producer keeps ahead of the speaker


class AudioOutput:
    """Plays ``case``'s audio following ``clock``; :meth:`open` first, :meth:`close` last."""

    def __init__(self, case: RecordedCase, clock: PlaybackClock, *,
                 start: float | None = None, device: int | str | None = None,
                 recorded: Callable[[], RecordedAudio] | None = None) -> None:
        self.case = case
        self.clock = clock
        self.start = start
        self.device = device
        # what is played: the case's audio, or another file's (an exported clip's)
        self._recorded = recorded or (lambda: RecordedAudio(self.case, start=self.start))
        self.problem = ""
        self.samples_played = 0
        self._audio: RecordedAudio | None = None
        self._stream: AudioStream | None = None
        self._cond = threading.Condition()
        # (generation, int16 samples (n, 1), case time of the first, speed)
        self._queue: collections.deque[tuple[int, np.ndarray, float, float]] = (
            collections.deque())
        self._queued = 0
        self._stopping = False
        self._thread = threading.Thread(target=self._produce, name="player audio", daemon=True)

    def open(self) -> bool:
        """Open the audio and the speaker; ``False`` with :attr:`problem` set if either
        is missing (the player then plays without sound)."""
        try:
            self._audio = self._recorded()
            self._stream = self._open_stream()
        except (SurgeryTeachError, OSError) as exc:
            # "no speaker found" says it; the device error's advice is about live sessions
            self.problem = exc.reason if isinstance(exc, AudioDeviceError) and exc.reason \
                else str(exc)
            self.close()
            return False
        self._thread.start()
        return True

    def _open_stream(self) -> AudioStream:
        """The speaker (the seam a test replaces with a fake sound card)."""
        stream, _device = open_portaudio_stream("output", self.device, self._callback,
                                                blocksize=BLOCK)
        return stream

    def restart(self) -> None:
        """The clock jumped, paused or changed speed: drop what is queued, refill."""
        with self._cond:
            self._queue.clear()
            self._queued = 0
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        close_stream(self._stream)
        self._stream = None
        if self._thread.is_alive():
            self._thread.join(5)
        if self._audio is not None:
            self._audio.close()
            self._audio = None

    # -- producer thread -------------------------------------------------------------------

    def _produce(self) -> None:
        try:
            while self._fill():
                pass
        except (SurgeryTeachError, OSError) as exc:
            self.problem = str(exc)
            logger.warning("player audio stopped: %s", exc)

    def _fill(self) -> bool:
        with self._cond:
            while not self._stopping and not self.clock.playing:
                self._cond.wait(0.05)
            if self._stopping:
                return False
        generation = self.clock.generation
        assert self._audio is not None
        for chunk in self._audio.chunks(self.clock.position(), self.clock.speed, block=BLOCK):
            pcm = (np.clip(chunk.samples[:, :1], -1.0, 1.0) * 32767).astype(np.int16)
            with self._cond:
                while (self._queued >= QUEUED and not self._stopping
                       and generation == self.clock.generation and self.clock.playing):
                    self._cond.wait(0.05)
                if (self._stopping or generation != self.clock.generation
                        or not self.clock.playing):
                    return not self._stopping
                self._queue.append((generation, pcm, chunk.time, chunk.speed))
                self._queued += len(pcm)
        with self._cond:  # the end of the audio: wait for the next jump
            while not self._stopping and generation == self.clock.generation:
                self._cond.wait(0.05)
        return not self._stopping

    # -- PortAudio's thread ----------------------------------------------------------------

    def _callback(self, outdata: np.ndarray, frames: int, _time: Any, _status: Any) -> None:
        outdata[:] = 0
        filled = 0
        sounding: float | None = None
        generation = self.clock.generation
        with self._cond:
            while filled < frames and self._queue:
                gen, pcm, at, speed = self._queue[0]
                if gen != generation:
                    self._queue.popleft()
                    self._queued -= len(pcm)
                    continue
                if sounding is None:
                    sounding = at
                n = min(len(pcm), frames - filled)
                outdata[filled:filled + n] = pcm[:n]  # mono into every channel
                filled += n
                if n == len(pcm):
                    self._queue.popleft()
                else:
                    self._queue[0] = (gen, pcm[n:], at + n / SAMPLE_RATE * speed, speed)
                self._queued -= n
            self._cond.notify_all()
        self.samples_played += filled
        if sounding is not None:
            self.clock.follow(sounding)
