"""Audio we send: the microphone, and a generated tone that stands in for it.

Both are aiortc audio tracks: ``recv()`` returns 20 ms ``av.AudioFrame``s (s16 mono,
48 kHz, ``pts`` counting samples). Muting sends silence instead of stopping, so the
stream keeps its timing; push-to-talk is :meth:`~LocalAudioTrack.unmute` while a key is
held and :meth:`~LocalAudioTrack.mute` when it is released, from any thread.
"""

from __future__ import annotations

import asyncio
import collections
import fractions
import logging
import math
import threading
import time
from typing import Any

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from surgery_teach.audio.analysis import SILENCE_DBFS, dbfs
from surgery_teach.audio.devices import (
    SAMPLE_RATE,
    SAMPLES_PER_FRAME,
    AudioDevice,
    AudioStream,
    close_stream,
    open_portaudio_stream,
)

logger = logging.getLogger("surgery_teach.audio")

TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)


class LocalAudioTrack(MediaStreamTrack):
    """An audio track we produce: thread-safe mute, a level for the meter, frame stamping."""

    kind = "audio"

    def __init__(self, *, muted: bool = False) -> None:
        super().__init__()
        self._muted = threading.Event()
        if muted:
            self._muted.set()
        self._level = SILENCE_DBFS
        self._pts = 0

    @property
    def muted(self) -> bool:
        return self._muted.is_set()

    def mute(self) -> None:
        """Send silence from now on (safe from any thread, e.g. a push-to-talk key handler)."""
        self._muted.set()

    def unmute(self) -> None:
        """Send the sound again (safe from any thread)."""
        self._muted.clear()

    @property
    def level(self) -> float:
        """RMS level of the last 20 ms produced, in dBFS, measured before muting.

        Reading it while muted shows whether someone is talking into a muted microphone.
        """
        return self._level

    def _measure_and_mute(self, samples: np.ndarray) -> np.ndarray:
        """Update :attr:`level` from ``samples``; silence instead of them while muted.

        Call when the sound is made, so sound made while muted never goes out, even if it
        is read after :meth:`unmute`.
        """
        self._level = dbfs(samples)
        return np.zeros_like(samples) if self.muted else samples

    def _frame(self, samples: np.ndarray) -> av.AudioFrame:
        """The next 20 ms frame carrying ``samples`` (int16 mono)."""
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.time_base = TIME_BASE
        frame.pts = self._pts
        self._pts += samples.size
        return frame


class ToneTrack(LocalAudioTrack):
    """A sine tone paced in real time: a stand-in microphone and the speaker test tone."""

    def __init__(
        self, frequency: float = 1000.0, amplitude: float = 0.3, *, muted: bool = False
    ) -> None:
        if not 0 < frequency < SAMPLE_RATE / 2:
            raise ValueError(f"tone frequency {frequency} Hz is outside (0, {SAMPLE_RATE // 2})")
        if not 0.0 <= amplitude <= 1.0:
            raise ValueError(f"tone amplitude {amplitude} is outside [0, 1]")
        super().__init__(muted=muted)
        self.frequency = frequency
        self.amplitude = amplitude
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        """The next 20 ms of tone, no earlier than its time since the first frame."""
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            wait = self._start + self._pts / SAMPLE_RATE - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        index = np.arange(self._pts, self._pts + SAMPLES_PER_FRAME, dtype=np.float64)
        wave = self.amplitude * np.sin(2 * math.pi * self.frequency * index / SAMPLE_RATE)
        return self._frame(self._measure_and_mute(np.round(wave * 32767).astype(np.int16)))


class MicrophoneTrack(LocalAudioTrack):
    """The microphone as an aiortc track, paced by the sound card.

    A PortAudio callback thread cuts the input into 20 ms blocks and keeps the newest
    ``buffer_frames`` of them (older ones are dropped and counted in
    :attr:`dropped_frames`), so audio nobody reads yet costs no memory and adds no delay
    once read. Opening fails with :class:`~surgery_teach.errors.AudioDeviceError` naming
    the device and the microphones found.

    ``device`` is ``None`` (the default microphone), a PortAudio index or a name.
    """

    def __init__(
        self, device: int | str | None = None, *, muted: bool = False, buffer_frames: int = 5
    ) -> None:
        if buffer_frames < 1:
            raise ValueError("buffer_frames must be at least 1")
        super().__init__(muted=muted)
        self.dropped_frames = 0
        self._blocks: collections.deque[np.ndarray] = collections.deque(maxlen=buffer_frames)
        self._partial = np.zeros(0, dtype=np.int16)
        self._lock = threading.Lock()
        self._ready = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stream: AudioStream | None = None
        #: The microphone opened (set once the stream is open).
        self.device: AudioDevice | None = None
        self._stream, self.device = self._open_stream(device)

    def _open_stream(self, device: int | str | None) -> tuple[AudioStream, AudioDevice]:
        """Open and start the input stream feeding :meth:`_on_input`: the PortAudio seam.

        Tests override this to stand a fake device in for the sound card.
        """
        return open_portaudio_stream("input", device, self._on_input, blocksize=SAMPLES_PER_FRAME)

    @property
    def buffered_frames(self) -> int:
        """How many 20 ms blocks wait for :meth:`recv`."""
        with self._lock:
            return len(self._blocks)

    def _on_input(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        """PortAudio callback thread: queue the block, waking :meth:`recv` if it waits."""
        if status:
            logger.debug("microphone %s reported %s", self.device, status)
        # The meter follows the sound card, whether or not anyone reads the track yet.
        samples = self._measure_and_mute(np.array(indata, dtype=np.int16).reshape(frames, -1)[:, 0])
        with self._lock:
            if self._partial.size:
                samples = np.concatenate([self._partial, samples])
            whole = samples.size - samples.size % SAMPLES_PER_FRAME
            for start in range(0, whole, SAMPLES_PER_FRAME):
                if len(self._blocks) == self._blocks.maxlen:
                    self.dropped_frames += 1
                self._blocks.append(samples[start : start + SAMPLES_PER_FRAME])
            self._partial = samples[whole:]
            loop = self._loop
        if loop is not None and whole:
            try:
                loop.call_soon_threadsafe(self._ready.set)
            except RuntimeError:  # the loop has closed; nobody is waiting any more
                pass

    async def recv(self) -> av.AudioFrame:
        """The next 20 ms from the microphone, waiting for the sound card to deliver it."""
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            self._ready.clear()
            with self._lock:
                self._loop = asyncio.get_running_loop()
                samples = self._blocks.popleft() if self._blocks else None
            if samples is not None:
                return self._frame(samples)
            await self._ready.wait()

    def stop(self) -> None:
        """Close the microphone and end the track; a waiting :meth:`recv` raises."""
        stream, self._stream = self._stream, None
        close_stream(stream)
        super().stop()
        self._ready.set()
