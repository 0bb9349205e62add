"""Playing received audio on the chosen speaker.

Frames arrive from the network in bursts and the sound card takes samples at its own
clock. :class:`AudioPlayer` pulls a voice's frames into an adaptive
:class:`~surgery_teach.audio.jitter.VoiceBuffer` on a
:class:`~surgery_teach.audio.speaker.Speaker` (one shared by every voice of a session, or
its own); without a speaker it consumes and counts frames so the session goes on.

:class:`PlayoutBuffer` is the plain fixed-size buffer (used where a steady, not a
minimal, delay is wanted, such as mixing a recording): it waits for ``target`` samples
before playing, plays silence when it runs dry (and waits for ``target`` again), and drops
the oldest audio back down to ``target`` when more than ``limit`` piles up.
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
from surgery_teach.audio.devices import AudioDevice, AudioStream, open_portaudio_stream
from surgery_teach.audio.jitter import VoiceBuffer
from surgery_teach.audio.speaker import OUTPUT_BLOCK, Speaker
from surgery_teach.errors import AudioDeviceError

logger = logging.getLogger("surgery_teach.audio")

__all__ = ["OUTPUT_BLOCK", "AudioPlayer", "PlayoutBuffer"]


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

    ``speaker`` is the session's shared :class:`Speaker`; without one the player opens
    its own on ``device`` (``None``: the default speaker, a PortAudio index or a name).
    Opening it failing raises :class:`~surgery_teach.errors.AudioDeviceError`; with
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
        speaker: Speaker | None = None,
    ) -> None:
        self.track = track
        self.frames_received = 0
        self._own_speaker = speaker is None
        if speaker is None:
            speaker = Speaker(device, output=output, required=required,
                              opener=self._open_stream)
        self.speaker = speaker
        #: The voice waiting for the speaker (``None`` when nothing is played).
        self.buffer: VoiceBuffer | None = None
        self._problem = "" if speaker.output else "audio output is turned off"
        self._level = SILENCE_DBFS
        self._resampler: av.AudioResampler | None = None
        self._task: asyncio.Task[None] | None = None
        if speaker.output and (speaker.sink is not None or not self._own_speaker):
            self.buffer = VoiceBuffer(rate=speaker.rate)
            speaker.add(self.buffer)

    def _open_stream(self, device: int | str | None) -> tuple[AudioStream, AudioDevice]:
        """Open and start the output stream drained by :meth:`_on_output`: the PortAudio
        seam of a player with its own speaker. Tests override this to stand a fake device
        in for the sound card. The stream's ``samplerate`` sets the rate voices are kept at.
        """
        return open_portaudio_stream("output", device, self._on_output, blocksize=OUTPUT_BLOCK)

    def _on_output(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        """PortAudio callback thread of the player's own speaker."""
        speaker = getattr(self, "speaker", None)  # None while the speaker is being opened
        if speaker is None:
            outdata[:] = 0
            return
        speaker.on_output(outdata, frames, time_info, status)

    @property
    def sink(self) -> AudioStream | None:
        """The output stream the audio goes to; ``None`` when frames are only counted."""
        return self.speaker.sink

    @property
    def device(self) -> AudioDevice | None:
        """The speaker playing, if any."""
        return self.speaker.device

    @property
    def problem(self) -> str:
        """Why there is no sound (``""`` while playing on a speaker)."""
        return self._problem or self.speaker.problem

    @property
    def error(self) -> AudioDeviceError | None:
        """The device error behind :attr:`problem`, for the UI to offer other devices."""
        return self.speaker.error

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
        """Stop pulling and leave the speaker (closing it if it is the player's own);
        safe to call twice."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        if self.buffer is not None:
            self.speaker.remove(self.buffer)
        if self._own_speaker:
            self.speaker.close()

    async def finished(self) -> None:
        """Wait until the track has ended and every frame was taken from it."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def _pull(self) -> None:
        try:
            await self._pull_frames()
        except Exception as exc:
            # The speaker goes quiet but the session must not fall over with it.
            self._problem = f"received audio could not be played ({type(exc).__name__}: {exc})"
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
            media_time = (float(frame.pts * frame.time_base)
                          if frame.pts is not None and frame.time_base is not None else None)
            for samples in self._convert(frame):
                self.buffer.put(samples, media_time)
                media_time = None

    def _convert(self, frame: av.AudioFrame) -> list[np.ndarray]:
        """``frame`` as 1-D int16 mono arrays at the rate the voice is kept at."""
        assert self.buffer is not None
        rate = self.buffer.rate
        if frame.format.name == "s16" and frame.sample_rate == rate and \
                not frame.format.is_planar and len(frame.layout.channels) <= 2:
            packed = frame.to_ndarray().reshape(-1, len(frame.layout.channels))
            if packed.shape[1] == 1:
                return [packed[:, 0].copy()]
            return [((packed[:, 0].astype(np.int32) + packed[:, 1]) // 2).astype(np.int16)]
        if self._resampler is None:
            self._resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
        return [f.to_ndarray().reshape(-1) for f in self._resampler.resample(frame)]
