"""The one speaker a participant hears every other voice on.

Every remote voice keeps its own :class:`~surgery_teach.audio.jitter.VoiceBuffer`; one
output stream mixes them, so there is one device to choose, to watch and to bring
back, and one record of what was played for the echo canceller
(:class:`~surgery_teach.audio.processing.EchoReference`).

Like the microphone, the speaker is watched (:meth:`Speaker.check`): when its callbacks
stop (headset unplugged, sound server stopped) it is closed, the voices keep being
received (their buffers stay bounded), and it is opened again as soon as it is back.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from surgery_teach.audio.devices import (
    SAMPLE_RATE,
    AudioDevice,
    AudioStream,
    close_stream,
    open_portaudio_stream,
    open_refreshing,
    stream_active,
    switch_stream,
)
from surgery_teach.audio.health import RETRY_EVERY, DeviceHealth
from surgery_teach.audio.jitter import VoiceBuffer
from surgery_teach.audio.priority import ThreadPriority
from surgery_teach.audio.processing import EchoReference
from surgery_teach.errors import AudioDeviceError

logger = logging.getLogger("surgery_teach.audio")

#: Output callback block: 5 ms at 48 kHz (PortAudio keeps two in flight: 10 ms of delay).
OUTPUT_BLOCK = 240

Opener = Callable[[int | str | None], tuple[AudioStream, AudioDevice]]


class Speaker:
    """Mixes voices onto one output device; reopens it after a loss; can be switched.

    ``opener`` opens the stream (its callback must be :meth:`on_output`); the default
    opens a PortAudio stream, tests pass fakes. With ``required=False`` a speaker that
    cannot be opened leaves :attr:`sink` ``None`` and says why in :attr:`problem`
    (the watch keeps trying); ``output=False`` plays nothing and never tries.
    """

    def __init__(self, device: int | str | None = None, *, output: bool = True,
                 required: bool = True, opener: Opener | None = None,
                 reference: EchoReference | None = None) -> None:
        #: The device asked for (reopened after a loss).
        self.wanted = device
        self.output = output
        #: The stream playing now, and its device; ``None`` while there is none.
        self.sink: AudioStream | None = None
        self.device: AudioDevice | None = None
        #: Why nothing is heard (``""`` while playing), and the error behind it.
        self.problem = "" if output else "audio output is turned off"
        self.error: AudioDeviceError | None = None
        #: Where what is played goes for the echo canceller, if anywhere.
        self.reference = reference
        self.health = DeviceHealth()
        #: The sound card's thread asks for real time on its first block (see priority).
        self.priority = ThreadPriority("speaker")
        self._opener = opener or self._open_portaudio
        self._buffers: tuple[VoiceBuffer, ...] = ()
        self._lock = threading.Lock()
        self._retry_at = 0.0
        self._coming_back = False
        self._closed = False
        if not output:
            return
        try:
            self.sink, self.device = self._opener(device)
        except AudioDeviceError as exc:
            if required:
                raise
            self._fail(exc)
            self._retry_at = time.monotonic() + RETRY_EVERY
            logger.warning("playing no sound: %s", exc)
            return
        if self.sink.channels < 1:
            close_stream(self.sink)
            raise ValueError(f"a speaker stream needs a channel, not {self.sink.channels}")

    def _open_portaudio(self, device: int | str | None) -> tuple[AudioStream, AudioDevice]:
        return open_portaudio_stream("output", device, self.on_output, blocksize=OUTPUT_BLOCK)

    def _fail(self, exc: AudioDeviceError) -> None:
        self.error = exc
        self.problem = str(exc)

    @property
    def rate(self) -> int:
        """Samples per second the voices are kept at (the stream's; 48 kHz without one)."""
        return int(self.sink.samplerate) if self.sink is not None else SAMPLE_RATE

    @property
    def lost(self) -> bool:
        """Whether the speaker is away for now (the watch is bringing it back)."""
        return self.output and self.sink is None and not self._closed

    def add(self, buffer: VoiceBuffer) -> None:
        """Play ``buffer`` on this speaker, mixed with the others."""
        with self._lock:
            self._buffers = (*self._buffers, buffer)

    def remove(self, buffer: VoiceBuffer) -> None:
        with self._lock:
            self._buffers = tuple(b for b in self._buffers if b is not buffer)

    def on_output(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        """PortAudio callback thread: the mix of every voice, on every channel."""
        self.priority.claim()
        self.health.beat()
        if status:
            logger.debug("speaker %s reported %s", self.device, status)
        buffers = self._buffers
        mono = np.zeros(frames, dtype=np.int16)
        if len(buffers) == 1:
            buffers[0].take(mono)
        elif buffers:
            total = np.zeros(frames, dtype=np.int32)
            for buffer in buffers:
                buffer.take(mono)
                total += mono
            mono = np.clip(total, -32768, 32767).astype(np.int16)
        outdata[:] = mono.reshape(-1, 1)
        reference = self.reference
        if reference is not None:
            reference.played(mono)

    # -- the watch ------------------------------------------------------------------------

    async def check(self) -> str | None:
        """``"lost"`` when the speaker just went away, ``"back"`` when it plays again
        after that, else ``None``; while away, reopening is tried every
        :data:`~surgery_teach.audio.health.RETRY_EVERY`."""
        if not self.output or self._closed:
            return None
        sink = self.sink
        if sink is not None:
            if self.health.lost(active=stream_active(sink)):
                return await self._lose(sink)
            if self._coming_back and self.health.beats:
                self._coming_back = False
                self.problem, self.error = "", None
                for buffer in self._buffers:
                    buffer.clear()  # what piled up while away is stale
                logger.info("speaker %s is back", self.device)
                return "back"
            return None
        now = time.monotonic()
        if now < self._retry_at:
            return None
        self._retry_at = now + RETRY_EVERY
        try:
            opened = await asyncio.to_thread(self._reopen)
        except AudioDeviceError as exc:
            if self.error is None:
                self._fail(exc)
            logger.debug("speaker still away: %s", exc)
            return None
        if self._closed:
            close_stream(opened[0])
            return None
        self.sink, self.device = opened
        self._coming_back = True
        return None

    async def _lose(self, sink: AudioStream) -> str | None:
        self.sink = None
        announced = not self._coming_back
        self._coming_back = False
        self._retry_at = time.monotonic() + RETRY_EVERY
        await asyncio.to_thread(close_stream, sink)
        if not announced:
            return None
        self.problem = f"the speaker {self.device} stopped playing"
        logger.warning("%s: the voices are received, and play again when it is back",
                       self.problem)
        return "lost"

    def _reopen(self) -> tuple[AudioStream, AudioDevice]:
        return open_refreshing(self._opener, self.wanted, before=self.health.opened)

    async def switch(self, device: int | str | None) -> None:
        """Play on ``device`` from now on (raises
        :class:`~surgery_teach.errors.AudioDeviceError` and goes back to the old one if
        it cannot be opened)."""
        old, self.sink = self.sink, None
        opened, error = await switch_stream(self._opener, old, device, self.wanted,
                                            before=self.health.opened)
        if opened is not None:
            self.sink, self.device = opened
        if error is not None:
            self._retry_at = 0.0  # (or the watch keeps trying it)
            raise error
        self.wanted = device
        self.problem, self.error = "", None
        self._coming_back = False
        logger.info("speaker switched to %s", self.device)

    def close(self) -> None:
        """Stop playing; safe to call twice."""
        self._closed = True
        sink, self.sink = self.sink, None
        close_stream(sink)
