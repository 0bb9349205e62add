"""Audio we send: the microphone, and a generated tone that stands in for it.

Both are aiortc audio tracks: ``recv()`` returns ``av.AudioFrame``s (s16 mono, 48 kHz,
``pts`` counting samples; 10 ms from the microphone, 20 ms of tone). Muting sends
silence instead of stopping, so the stream keeps its timing; push-to-talk is
:meth:`~LocalAudioTrack.unmute` while a key is held and :meth:`~LocalAudioTrack.mute`
when it is released, from any thread.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
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
    open_refreshing,
    stream_active,
    switch_stream,
)
from surgery_teach.audio.health import RETRY_EVERY, DeviceHealth
from surgery_teach.audio.priority import ThreadPriority
from surgery_teach.audio.processing import BLOCK as PROCESSING_BLOCK
from surgery_teach.audio.processing import VoiceProcessing
from surgery_teach.errors import AudioDeviceError

logger = logging.getLogger("surgery_teach.audio")

TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)
#: Samples per frame the microphone hands on: 10 ms, the network's packet.
VOICE_FRAME = SAMPLE_RATE // 100
#: The microphone's block: 5 ms. PortAudio keeps two blocks in flight, so the block sets
#: the device's delay (over PulseAudio: 10 ms blocks cost 20 ms each way, 5 ms blocks 10).
CAPTURE_BLOCK = SAMPLE_RATE // 200


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
        """RMS level of the last block produced, in dBFS, measured before muting.

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
        """The next frame carrying ``samples`` (int16 mono)."""
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

    A PortAudio callback thread takes 5 ms blocks (little delay), passes them through
    :attr:`processing` when there is one (10 ms at a time, its unit), and cuts the
    result into 10 ms frames (the network's packets), keeping the newest
    ``buffer_frames`` (half a second; older ones are dropped and counted in
    :attr:`dropped_frames`), so a reader that stalls loses nothing and audio nobody
    reads costs no memory. Opening fails with
    :class:`~surgery_teach.errors.AudioDeviceError` naming the device and the
    microphones found.

    A microphone that goes away (unplugged, the sound server stopped) is noticed by
    :meth:`check`, which a watch calls every :data:`~surgery_teach.audio.health.CHECK_EVERY`;
    meanwhile the track sends silence on time, so the call goes on, and :meth:`check`
    opens the device again as soon as it is back. :meth:`switch` changes the device.

    ``device`` is ``None`` (the default microphone), a PortAudio index or a name.
    """

    def __init__(
        self, device: int | str | None = None, *, muted: bool = False, buffer_frames: int = 50,
        processing: VoiceProcessing | None = None, frame_samples: int = VOICE_FRAME,
    ) -> None:
        if buffer_frames < 1:
            raise ValueError("buffer_frames must be at least 1")
        super().__init__(muted=muted)
        #: Samples per frame handed on: 10 ms (the network sends 10 ms packets).
        self.frame_samples = frame_samples
        self.dropped_frames = 0
        #: Echo cancellation and noise suppression, when on.
        self.processing = processing
        #: The device asked for (reopened after a loss), and why no sound comes now.
        self.wanted = device
        self.problem = ""
        self.health = DeviceHealth()
        #: The sound card's thread asks for real time on its first block (see priority).
        self.priority = ThreadPriority("microphone")
        self._blocks: collections.deque[np.ndarray] = collections.deque(maxlen=buffer_frames)
        self._partial = np.zeros(0, dtype=np.int16)
        self._raw = np.zeros(0, dtype=np.int16)
        self._lock = threading.Lock()
        self._ready = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stream: AudioStream | None = None
        self._silence_due: float | None = None
        self._retry_at = 0.0
        self._coming_back = False
        #: The microphone opened (set once the stream is open).
        self.device: AudioDevice | None = None
        self._stream, self.device = self._open_stream(device)

    def _open_stream(self, device: int | str | None) -> tuple[AudioStream, AudioDevice]:
        """Open and start the input stream feeding :meth:`_on_input`: the PortAudio seam.

        Tests override this to stand a fake device in for the sound card.
        """
        return open_portaudio_stream("input", device, self._on_input, blocksize=CAPTURE_BLOCK)

    @property
    def buffered_frames(self) -> int:
        """How many frames wait for :meth:`recv`."""
        with self._lock:
            return len(self._blocks)

    @property
    def lost(self) -> bool:
        """Whether the microphone is gone for now (silence is sent meanwhile)."""
        return self._stream is None and self.readyState == "live"

    def _on_input(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        """PortAudio callback thread: queue the block, waking :meth:`recv` if it waits."""
        self.priority.claim()
        self.health.beat()
        if status:
            logger.debug("microphone %s reported %s", self.device, status)
        samples = np.array(indata, dtype=np.int16).reshape(frames, -1)[:, 0]
        processing = self.processing
        if processing is not None and processing.active:
            samples = self._process(processing, samples)
            if not samples.size:
                return
        # The meter follows the sound card, whether or not anyone reads the track yet.
        samples = self._measure_and_mute(samples)
        with self._lock:
            if self._partial.size:
                samples = np.concatenate([self._partial, samples])
            size = self.frame_samples
            whole = samples.size - samples.size % size
            for start in range(0, whole, size):
                if len(self._blocks) == self._blocks.maxlen:
                    self.dropped_frames += 1
                self._blocks.append(samples[start : start + size])
            self._partial = samples[whole:]
            loop = self._loop
        if loop is not None and whole:
            self._wake(loop)

    def _process(self, processing: VoiceProcessing, samples: np.ndarray) -> np.ndarray:
        """``samples`` through echo cancellation and noise suppression, 10 ms at a time
        (a remainder waits for the next callback)."""
        raw = np.concatenate([self._raw, samples]) if self._raw.size else samples
        whole = raw.size - raw.size % PROCESSING_BLOCK
        done = [processing.process(raw[i : i + PROCESSING_BLOCK])
                for i in range(0, whole, PROCESSING_BLOCK)]
        self._raw = raw[whole:]
        return np.concatenate(done) if done else np.zeros(0, dtype=np.int16)

    def _wake(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            loop.call_soon_threadsafe(self._ready.set)
        except RuntimeError:  # the loop has closed; nobody is waiting any more
            pass

    async def recv(self) -> av.AudioFrame:
        """The next frame from the microphone, waiting for the sound card to deliver it;
        silence on time while the microphone is gone."""
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            self._ready.clear()
            with self._lock:
                self._loop = asyncio.get_running_loop()
                samples = self._blocks.popleft() if self._blocks else None
            if samples is not None:
                self._silence_due = None
                return self._frame(samples)
            if self._stream is None:
                silence = await self._silence()
                if silence is not None:
                    return silence
                continue
            await self._ready.wait()

    async def _silence(self) -> av.AudioFrame | None:
        """A frame of silence when it is due (a frame after the last), else ``None`` once
        the wait is over or the sound card delivered."""
        now = time.monotonic()
        period = self.frame_samples / SAMPLE_RATE
        if self._silence_due is None:
            self._silence_due = now + period
        wait = self._silence_due - now
        if wait <= 0:
            self._silence_due += period
            self._level = SILENCE_DBFS
            return self._frame(np.zeros(self.frame_samples, dtype=np.int16))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), wait)
        return None

    async def check(self) -> str | None:
        """Look at the device (the watch calls this): ``"lost"`` when it just went away,
        ``"back"`` when it delivers again after that, else ``None``. While it is gone,
        opening it again is tried every :data:`~surgery_teach.audio.health.RETRY_EVERY`."""
        if self.readyState != "live":
            return None
        stream = self._stream
        if stream is not None:
            if self.health.lost(active=stream_active(stream)):
                return await self._lose(stream)
            if self._coming_back and self.health.beats:
                self._coming_back = False
                self.problem = ""
                logger.info("microphone %s is back", self.device)
                return "back"
            return None
        now = time.monotonic()
        if now < self._retry_at:
            return None
        self._retry_at = now + RETRY_EVERY
        try:
            opened = await asyncio.to_thread(self._reopen)
        except AudioDeviceError as exc:
            logger.debug("microphone still away: %s", exc)
            return None
        self._stream, self.device = opened
        self._coming_back = True
        return None

    async def _lose(self, stream: AudioStream) -> str | None:
        self._stream = None
        self._ready.set()  # a waiting recv() starts sending silence
        announced = not self._coming_back  # a reopened stream that never ran: still away
        self._coming_back = False
        self._retry_at = time.monotonic() + RETRY_EVERY
        await asyncio.to_thread(close_stream, stream)
        if not announced:
            return None
        self.problem = f"the microphone {self.device} stopped sending sound"
        logger.warning("%s: sending silence until it is back", self.problem)
        return "lost"

    def _reopen(self) -> tuple[AudioStream, AudioDevice]:
        return open_refreshing(self._open_stream, self.wanted, before=self.health.opened)

    async def switch(self, device: int | str | None) -> None:
        """Record from ``device`` from now on (raises
        :class:`~surgery_teach.errors.AudioDeviceError` and goes back to the old one if
        it cannot be opened)."""
        old, self._stream = self._stream, None
        opened, error = await switch_stream(self._open_stream, old, device, self.wanted,
                                            before=self.health.opened)
        if opened is not None:
            self._stream, self.device = opened
        if error is not None:
            self._retry_at = 0.0  # (or the watch keeps trying it)
            raise error
        self.wanted = device
        self.problem = ""
        self._coming_back = False
        logger.info("microphone switched to %s", self.device)

    def stop(self) -> None:
        """Close the microphone and end the track; a waiting :meth:`recv` raises."""
        stream, self._stream = self._stream, None
        close_stream(stream)
        super().stop()
        self._ready.set()
