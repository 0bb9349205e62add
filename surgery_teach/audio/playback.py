"""Playing received audio on the chosen speaker, with a small bounded jitter buffer.

Frames arrive from the network in bursts and the sound card takes samples at its own
clock. :class:`PlayoutBuffer` sits between them: it waits for ``target`` samples before
playing, plays silence when it runs dry (and waits for ``target`` again), and drops the
oldest audio back down to ``target`` when more than ``limit`` piles up, so delay cannot
creep. :class:`AudioPlayer` pulls frames from a track into it and lets a PortAudio output
stream drain it; without a speaker it consumes and counts frames so the session goes on.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
from typing import Any

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from surgery_teach.audio.analysis import SILENCE_DBFS, dbfs, frame_samples
from surgery_teach.audio.devices import (
    AudioDevice,
    AudioStream,
    close_stream,
    open_portaudio_stream,
)
from surgery_teach.errors import AudioDeviceError

logger = logging.getLogger("surgery_teach.audio")

#: Output callback block: 10 ms at 48 kHz (the jitter buffer takes any size).
OUTPUT_BLOCK = 480
_LAYOUTS = {1: "mono", 2: "stereo"}


class PlayoutBuffer:
    """Samples waiting for the speaker; filled by the network side, drained by the sound card.

    Thread-safe: :meth:`put` runs on the asyncio loop, :meth:`take` on PortAudio's thread.
    Sizes are in samples per channel.
    """

    def __init__(self, *, channels: int, target: int, limit: int) -> None:
        if not 0 < target < limit:
            raise ValueError("need 0 < target < limit")
        self.channels = channels
        self.target = target
        self.limit = limit
        #: Most samples ever held after a :meth:`put` (never above ``limit``).
        self.peak = 0
        #: Samples thrown away because too much had piled up.
        self.dropped = 0
        #: Times the speaker asked for audio and the buffer ran dry.
        self.underruns = 0
        self._chunks: collections.deque[np.ndarray] = collections.deque()
        self._size = 0
        self._priming = True
        self._lock = threading.Lock()

    @property
    def buffered(self) -> int:
        with self._lock:
            return self._size

    def put(self, samples: np.ndarray) -> None:
        """Queue ``samples`` (shape ``(n, channels)``), dropping the oldest beyond ``limit``."""
        with self._lock:
            self._chunks.append(samples)
            self._size += len(samples)
            if self._size > self.limit:
                self._discard(self._size - self.target)
            self.peak = max(self.peak, self._size)

    def _discard(self, count: int) -> None:
        self.dropped += count
        self._size -= count
        while count:
            head = self._chunks[0]
            if len(head) <= count:
                self._chunks.popleft()
                count -= len(head)
            else:
                self._chunks[0] = head[count:]
                count = 0

    def take(self, out: np.ndarray) -> None:
        """Fill ``out`` (shape ``(frames, channels)``) with the oldest samples or silence."""
        wanted = len(out)
        with self._lock:
            if self._priming and self._size < self.target:
                out[:] = 0
                return
            self._priming = False
            filled = 0
            while filled < wanted and self._chunks:
                head = self._chunks[0]
                n = min(len(head), wanted - filled)
                out[filled : filled + n] = head[:n]
                filled += n
                if n == len(head):
                    self._chunks.popleft()
                else:
                    self._chunks[0] = head[n:]
            self._size -= filled
            if filled < wanted:
                out[filled:] = 0
                self.underruns += 1
                self._priming = True


class AudioPlayer:
    """Plays a received audio track on a speaker, or just consumes it when there is none.

    ``device`` is ``None`` (the default speaker), a PortAudio index or a name. Opening
    the speaker failing raises :class:`~surgery_teach.errors.AudioDeviceError`; with
    ``required=False`` the player instead runs with :attr:`sink` ``None`` and says why in
    :attr:`problem`. ``output=False`` asks for that mode outright (no PortAudio at all).
    Call :meth:`start` on the running loop, and ``await`` :meth:`stop` at the end.
    """

    def __init__(
        self,
        track: MediaStreamTrack,
        device: int | str | None = None,
        *,
        output: bool = True,
        required: bool = True,
        target_latency: float = 0.060,
        max_latency: float = 0.200,
    ) -> None:
        self.track = track
        #: The output stream the audio goes to; ``None`` when frames are only counted.
        self.sink: AudioStream | None = None
        #: The speaker opened, if any.
        self.device: AudioDevice | None = None
        #: Why there is no sound (``""`` while playing on a speaker).
        self.problem = "" if output else "audio output is turned off"
        #: The device error behind :attr:`problem`, for the UI to offer other devices.
        self.error: AudioDeviceError | None = None
        self.frames_received = 0
        self.buffer: PlayoutBuffer | None = None
        self._level = SILENCE_DBFS
        self._resampler: av.AudioResampler | None = None
        self._task: asyncio.Task[None] | None = None
        if not output:
            return
        try:
            self.sink, self.device = self._open_stream(device)
        except AudioDeviceError as exc:
            if required:
                raise
            self.error = exc
            self.problem = str(exc)
            logger.warning("playing no sound: %s", exc)
            return
        if self.sink.channels not in _LAYOUTS:
            close_stream(self.sink)
            raise ValueError(f"speaker streams have 1 or 2 channels, not {self.sink.channels}")
        rate = int(self.sink.samplerate)
        self.buffer = PlayoutBuffer(
            channels=self.sink.channels,
            target=round(target_latency * rate),
            limit=round(max_latency * rate),
        )

    def _open_stream(self, device: int | str | None) -> tuple[AudioStream, AudioDevice]:
        """Open and start the output stream drained by :meth:`_on_output`: the PortAudio seam.

        Tests override this to stand a fake device in for the sound card. The stream's
        ``samplerate`` and ``channels`` set the format frames are converted to.
        """
        return open_portaudio_stream("output", device, self._on_output, blocksize=OUTPUT_BLOCK)

    @property
    def level(self) -> float:
        """RMS level of the last received frame in dBFS (also without a speaker)."""
        return self._level

    @property
    def running(self) -> bool:
        """Whether frames are still being pulled from the track."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start pulling frames from the track on the running loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._pull())

    async def stop(self) -> None:
        """Stop pulling and close the speaker; safe to call twice."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        sink, self.sink = self.sink, None
        close_stream(sink)

    async def finished(self) -> None:
        """Wait until the track has ended and every frame was taken from it."""
        if self._task is not None:
            await asyncio.shield(self._task)

    def _on_output(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        """PortAudio callback thread: hand the sound card the next samples."""
        if status:
            logger.debug("speaker %s reported %s", self.device, status)
        if self.buffer is None:
            outdata[:] = 0
        else:
            self.buffer.take(outdata)

    async def _pull(self) -> None:
        try:
            await self._pull_frames()
        except Exception as exc:
            # The speaker goes quiet but the session must not fall over with it.
            self.problem = f"received audio could not be played ({type(exc).__name__}: {exc})"
            logger.exception("playing received audio failed")

    async def _pull_frames(self) -> None:
        while True:
            try:
                frame = await self.track.recv()
            except MediaStreamError:
                return
            self.frames_received += 1
            if not isinstance(frame, av.AudioFrame):
                continue
            self._level = dbfs(frame_samples(frame))
            if self.buffer is None:
                continue
            for converted in self._convert(frame):
                self.buffer.put(converted)

    def _convert(self, frame: av.AudioFrame) -> list[np.ndarray]:
        """``frame`` as int16 arrays of shape ``(n, channels)`` at the speaker's rate."""
        assert self.sink is not None
        channels = self.sink.channels
        layout = _LAYOUTS[channels]
        rate = int(self.sink.samplerate)
        frames = [frame]
        if (frame.format.name, frame.layout.name, frame.sample_rate) != ("s16", layout, rate):
            if self._resampler is None:
                self._resampler = av.AudioResampler(format="s16", layout=layout, rate=rate)
            frames = self._resampler.resample(frame)
        return [f.to_ndarray().reshape(-1, channels) for f in frames]
