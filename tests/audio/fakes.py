"""Stand-ins for the sound card: fakes at the PortAudio seam that record what they saw.

:class:`FakeMicrophone` and :class:`FakeSpeakerPlayer` subclass the real track and player
and override only ``_open_stream``; device choice, buffering, muting and conversion are
the real code. The fake streams call the real PortAudio callbacks, either when a test
says so (``feed``/``pull``) or from a thread clocked like a sound card.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from surgery_teach.audio import AudioDevice, AudioPlayer, MicrophoneTrack, choose_device
from surgery_teach.audio.devices import AudioStream
from surgery_teach.audio.speaker import Speaker
from surgery_teach.audio.tracks import LocalAudioTrack
from surgery_teach.audio.voice import Voice

T = TypeVar("T", bound="FakeStream")

#: What the fake machine has: a headset (default both ways), a USB microphone, HDMI out.
FAKE_DEVICES = (
    AudioDevice(0, "Jabra Evolve2 headset", inputs=1, outputs=2,
                default_input=True, default_output=True, hostapi="ALSA"),
    AudioDevice(1, "USB Audio Microphone", inputs=2, outputs=0, hostapi="ALSA"),
    AudioDevice(2, "HDMI 0", inputs=0, outputs=8, hostapi="ALSA"),
)


async def until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait until ``predicate()`` holds, checking every few milliseconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.1f} s waiting for {what}")
        await asyncio.sleep(0.005)


class FakeStream:
    """Common part of the fake streams: format, lifecycle, an optional device clock."""

    def __init__(self, *, samplerate: float, channels: int, blocksize: int) -> None:
        self.samplerate = samplerate
        self.channels = channels
        self.blocksize = blocksize
        self.stopped = False
        self.closed = False
        #: False once the device went away (PortAudio's thread gave up on it).
        self.active = True
        self.dead = False
        self.device: AudioDevice | None = None
        self._halt = threading.Event()
        self._clock: threading.Thread | None = None

    def run_clock(self) -> None:
        """Call :meth:`tick` every block in real time on a thread, as a sound card would."""
        self._clock = threading.Thread(target=self._clock_main, name="fake sound card", daemon=True)
        self._clock.start()

    def _clock_main(self) -> None:
        period = self.blocksize / self.samplerate
        start = time.monotonic()
        ticks = 0
        while not self._halt.wait(max(0.0, start + ticks * period - time.monotonic())):
            self.tick()
            ticks += 1

    def tick(self) -> None:
        raise NotImplementedError

    def die(self, *, still_active: bool = False) -> None:
        """The device went away: no more callbacks, and the stream is no longer active
        (``still_active``: PortAudio does not notice, as with a hung sound server)."""
        self.active = still_active
        self._halt.set()
        self.dead = True

    def stop(self) -> None:
        self.stopped = True
        self._halt.set()
        if self._clock is not None and self._clock is not threading.current_thread():
            self._clock.join()

    def close(self) -> None:
        self.closed = True


class FakeInputStream(FakeStream):
    """A microphone: :meth:`feed` delivers samples to the track's callback."""

    def __init__(self, callback: Callable[..., None], *, channels: int = 1,
                 blocksize: int = 960) -> None:
        super().__init__(samplerate=48000, channels=channels, blocksize=blocksize)
        self.callback = callback
        self.signal: Callable[[int], np.ndarray] = self._tone
        self._fed = 0

    def _tone(self, n: int) -> np.ndarray:
        """A 440 Hz voice-like tone by default (a steady level would be filtered out as
        the DC offset it is)."""
        t = np.arange(self._fed, self._fed + n) / self.samplerate
        return np.round(3000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)

    def feed(self, samples: np.ndarray) -> None:
        """One callback with ``samples`` (int16, one channel; copied to every channel)."""
        block = np.repeat(samples.astype(np.int16).reshape(-1, 1), self.channels, axis=1)
        self.callback(block, len(block), None, None)
        self._fed += len(block)

    def tick(self) -> None:
        self.feed(self.signal(self.blocksize))


class FakeMicrophone(MicrophoneTrack):
    """A :class:`MicrophoneTrack` whose sound card is a :class:`FakeInputStream`, or,
    given a :class:`FakeSoundCard`, one of the card's clocked devices."""

    devices: tuple[AudioDevice, ...] = FAKE_DEVICES

    def __init__(self, device: int | str | None = None, *, card: FakeSoundCard | None = None,
                 **options: Any) -> None:
        self.card = card
        super().__init__(device, **options)

    def _open_stream(self, device: int | str | None) -> tuple[AudioStream, AudioDevice]:
        if self.card is not None:
            self.fake = self.card.open_input(device, self._on_input)
            assert self.fake.device is not None
            return self.fake, self.fake.device
        chosen = choose_device(device, self.devices, "input")
        self.fake = FakeInputStream(self._on_input)
        return self.fake, chosen


class FakeOutputStream(FakeStream):
    """A speaker: :meth:`pull` asks the player's callback for samples and keeps them."""

    def __init__(self, callback: Callable[..., None], *, samplerate: float = 48000,
                 channels: int = 2, blocksize: int = 480) -> None:
        super().__init__(samplerate=samplerate, channels=channels, blocksize=blocksize)
        self.callback = callback
        self.blocks: list[np.ndarray] = []
        self._lock = threading.Lock()

    def pull(self, frames: int) -> np.ndarray:
        out = np.full((frames, self.channels), 12345, dtype=np.int16)  # garbage until filled
        self.callback(out, frames, None, None)
        with self._lock:
            self.blocks.append(out.copy())
        return out

    def tick(self) -> None:
        self.pull(self.blocksize)

    def played(self) -> np.ndarray:
        """Everything played so far, shape ``(samples, channels)``."""
        with self._lock:
            blocks = list(self.blocks)
        return np.concatenate(blocks) if blocks else np.zeros((0, self.channels), np.int16)


class FakeSpeakerPlayer(AudioPlayer):
    """An :class:`AudioPlayer` whose speaker is a :class:`FakeOutputStream`.

    ``clocked=True`` makes the fake speaker take samples in real time; otherwise the
    test calls ``player.fake.pull()`` itself (a stalled device never calls it).
    """

    def __init__(self, track: MediaStreamTrack, device: int | str | None = None, *,
                 samplerate: float = 48000, channels: int = 2, clocked: bool = False,
                 **options: Any) -> None:
        self._fake_format = (samplerate, channels, clocked)
        super().__init__(track, device, **options)

    def _open_stream(self, device: int | str | None) -> tuple[AudioStream, AudioDevice]:
        chosen = choose_device(device, FAKE_DEVICES, "output")
        samplerate, channels, clocked = self._fake_format
        self.fake = FakeOutputStream(self._on_output, samplerate=samplerate, channels=channels)
        if clocked:
            self.fake.run_clock()
        return self.fake, chosen


class FrameListTrack(MediaStreamTrack):
    """Hands out the given frames as fast as they are asked for, then ends."""

    kind = "audio"

    def __init__(self, frames: list[av.AudioFrame]) -> None:
        super().__init__()
        self._frames = list(frames)

    async def recv(self) -> av.AudioFrame:
        if not self._frames:
            self.stop()
            raise MediaStreamError
        return self._frames.pop(0)


def tone_frames(count: int, frequency: float = 1000.0, *, layout: str = "stereo",
                rate: int = 48000, amplitude: float = 0.3) -> list[av.AudioFrame]:
    """``count`` 20 ms s16 frames of a continuous tone, as aiortc's Opus decoder gives them."""
    per_frame = rate // 50
    channels = 1 if layout == "mono" else 2
    frames = []
    for i in range(count):
        t = np.arange(i * per_frame, (i + 1) * per_frame) / rate
        wave = np.round(amplitude * 32767 * np.sin(2 * np.pi * frequency * t)).astype(np.int16)
        packed = np.repeat(wave, channels).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(packed, format="s16", layout=layout)
        frame.sample_rate = rate
        frame.pts = i * per_frame
        frames.append(frame)
    return frames


class FakeSoundCard:
    """The devices plugged into a fake machine now; its streams run on real-time clocks.

    :meth:`unplug` takes a device away (its streams die, opening it fails) and
    :meth:`plug` brings it back, as a USB headset or a restarted sound server would.
    Each microphone device plays its own ``signal`` (a constant level by default).
    """

    def __init__(self, devices: tuple[AudioDevice, ...] = FAKE_DEVICES) -> None:
        self.devices = list(devices)
        self.streams: list[FakeStream] = []
        self.signals: dict[str, Callable[[int], np.ndarray]] = {}
        self._lock = threading.Lock()

    def unplug(self, name: str, *, hang: bool = False) -> AudioDevice:
        """Take the device away; ``hang``: its streams stop calling back but still look
        active (a sound server that hangs rather than dies)."""
        with self._lock:
            device = next(d for d in self.devices if d.name == name)
            self.devices.remove(device)
            doomed = [s for s in self.streams if s.device == device and not s.dead]
        for stream in doomed:
            stream.die(still_active=hang)
        return device

    def plug(self, device: AudioDevice) -> None:
        with self._lock:
            self.devices.append(device)

    def open_input(self, device: int | str | None,
                   callback: Callable[..., None]) -> FakeInputStream:
        with self._lock:
            chosen = choose_device(device, self.devices, "input")
        stream = FakeInputStream(callback)
        stream.device = chosen
        signal = self.signals.get(chosen.name)
        if signal is not None:
            stream.signal = signal
        return self._started(stream)

    def open_output(self, device: int | str | None,
                    callback: Callable[..., None]) -> FakeOutputStream:
        with self._lock:
            chosen = choose_device(device, self.devices, "output")
        stream = FakeOutputStream(callback)
        stream.device = chosen
        return self._started(stream)

    def _started(self, stream: T) -> T:
        with self._lock:
            self.streams.append(stream)
        stream.run_clock()
        return stream

    def playing(self, name: str) -> list[FakeStream]:
        """The live streams on the device called ``name``."""
        with self._lock:
            return [s for s in self.streams
                    if s.device is not None and s.device.name == name and not s.dead
                    and not s.closed]


class FakeSpeaker(Speaker):
    """A :class:`Speaker` playing on a :class:`FakeSoundCard`."""

    def __init__(self, card: FakeSoundCard, device: int | str | None = None,
                 **options: Any) -> None:
        self.card = card
        super().__init__(device, **options)

    def _open_portaudio(self, device: int | str | None) -> tuple[AudioStream, AudioDevice]:
        stream = self.card.open_output(device, self.on_output)
        assert stream.device is not None
        return stream, stream.device


class FakeVoice(Voice):
    """A :class:`Voice` whose microphone and speaker are on a :class:`FakeSoundCard`."""

    def __init__(self, card: FakeSoundCard, **options: Any) -> None:
        self.card = card
        super().__init__(**options)

    def _open_microphone(self, device: str | None) -> LocalAudioTrack:
        return FakeMicrophone(device, card=self.card, processing=self.processing)

    def _open_speaker(self, device: str | None) -> Speaker:
        return FakeSpeaker(self.card, device, output=self.output, required=False,
                           reference=self.reference)
