"""Microphones and speakers PortAudio can see, and why audio may be unavailable.

This is the only module that imports :mod:`sounddevice`, and only inside functions:
``sounddevice`` raises ``OSError`` at import when the PortAudio library is missing, and
importing :mod:`surgery_teach.audio` must work on such a machine (the session then goes
on without audio and says why).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal, Protocol, TypeVar

from surgery_teach.audio.priority import raise_sound_client_threads
from surgery_teach.errors import AudioDeviceError

logger = logging.getLogger("surgery_teach.audio")

#: The audio format of the session: Opus in WebRTC runs at 48 kHz; aiortc sends 20 ms frames.
SAMPLE_RATE = 48000
SAMPLES_PER_FRAME = 960

PORTAUDIO_MISSING = "PortAudio library not found: install libportaudio2"
SOUNDDEVICE_MISSING = "the sounddevice package is not installed: run make setup"

Kind = Literal["input", "output"]
_KIND_WORD = {"input": "microphone", "output": "speaker"}


@dataclass(frozen=True)
class AudioDevice:
    """One PortAudio device: its index, name, channel counts and whether it is a default.

    A headset usually appears once with both inputs and outputs.
    """

    index: int
    name: str
    inputs: int
    outputs: int
    default_input: bool = False
    default_output: bool = False
    hostapi: str = ""

    @property
    def is_microphone(self) -> bool:
        return self.inputs > 0

    @property
    def is_speaker(self) -> bool:
        return self.outputs > 0

    def has(self, kind: Kind) -> bool:
        """Whether the device can record (``"input"``) or play (``"output"``)."""
        return self.is_microphone if kind == "input" else self.is_speaker

    def is_default(self, kind: Kind) -> bool:
        """Whether PortAudio picks this device when none is named."""
        return self.default_input if kind == "input" else self.default_output

    def __str__(self) -> str:
        return f"{self.index}: {self.name}"


@dataclass(frozen=True)
class AudioDeviceScan:
    """The devices found and, when there are none, the plain-language reason why."""

    devices: tuple[AudioDevice, ...] = ()
    #: Why PortAudio cannot be used at all (not installed, failed to start); ``""`` if it works.
    portaudio_problem: str = ""

    @property
    def problem(self) -> str:
        """Why the list is empty, or ``""`` when devices were found."""
        if self.portaudio_problem:
            return self.portaudio_problem
        return "" if self.devices else "no microphone or speaker found"

    @property
    def microphones(self) -> list[AudioDevice]:
        return [d for d in self.devices if d.is_microphone]

    @property
    def speakers(self) -> list[AudioDevice]:
        return [d for d in self.devices if d.is_speaker]


class AudioStream(Protocol):
    """What the tracks and the player use of a ``sounddevice`` stream (and what fakes provide)."""

    samplerate: float
    channels: int

    def stop(self) -> None: ...

    def close(self) -> None: ...


# Streams we have open: PortAudio can only be restarted (to see a headset plugged in
# after it started) while none is.
_open_streams: set[int] = set()
_open_lock = threading.Lock()
# Streams that failed to start, never closed (see open_portaudio_stream), with when.
_abandoned: list[tuple[float, Any]] = []
#: How long an abandoned stream's late thread may take to show up and stop itself.
ABANDONED_FOR = 5.0
#: PortAudio is restarted at most this often (it probes every device: a fraction of a
#: second of work), however many devices are being waited for.
REFRESH_EVERY = 2.0
_last_refresh = -REFRESH_EVERY


T = TypeVar("T")

def _import_sounddevice() -> ModuleType:
    # The one import of sounddevice; tests replace this function to simulate a machine
    # without PortAudio.
    import sounddevice

    return sounddevice


def load_sounddevice() -> tuple[ModuleType | None, str]:
    """The ``sounddevice`` module, or ``None`` and the reason it cannot be used."""
    try:
        return _import_sounddevice(), ""
    except OSError as exc:
        if "PortAudio library not found" in str(exc):
            return None, PORTAUDIO_MISSING
        return None, f"the PortAudio library could not be loaded ({exc}): reinstall libportaudio2"
    except ImportError:
        return None, SOUNDDEVICE_MISSING
    except Exception as exc:  # sounddevice.PortAudioError from Pa_Initialize
        return None, f"PortAudio could not start ({exc})"


def scan_audio_devices() -> AudioDeviceScan:
    """The audio devices on this machine, with a reason when there are none or no PortAudio.

    PortAudio takes its device list when it starts: a headset plugged in later appears
    only after the program restarts.
    """
    sd, problem = load_sounddevice()
    if sd is None:
        return AudioDeviceScan((), problem)
    try:
        raw = list(sd.query_devices())
        default_in, default_out = (int(i) for i in sd.default.device)
        hostapis = [api["name"] for api in sd.query_hostapis()]
    except Exception as exc:  # sounddevice.PortAudioError
        return AudioDeviceScan((), f"PortAudio could not list the audio devices ({exc})")
    return AudioDeviceScan(tuple(_device_from(i, default_in, default_out, hostapis) for i in raw))


def _device_from(
    info: dict[str, Any], default_in: int, default_out: int, hostapis: list[str]
) -> AudioDevice:
    index = int(info["index"])
    api = int(info.get("hostapi", -1))
    return AudioDevice(
        index=index,
        name=str(info["name"]),
        inputs=int(info["max_input_channels"]),
        outputs=int(info["max_output_channels"]),
        default_input=index == default_in,
        default_output=index == default_out,
        hostapi=hostapis[api] if 0 <= api < len(hostapis) else "",
    )


def list_audio_devices() -> list[AudioDevice]:
    """The audio devices found; ``[]`` when there are none or PortAudio is missing.

    :func:`scan_audio_devices` or :func:`audio_available` say why the list is empty.
    """
    return list(scan_audio_devices().devices)


def audio_available(*, microphone: bool = True, speaker: bool = True) -> tuple[bool, str]:
    """Whether the session can record and play sound here, and if not, why in plain words.

    For example ``(False, "PortAudio library not found: install libportaudio2")`` or
    ``(False, "no microphone found")``. The reason is ``""`` when audio is available.
    """
    scan = scan_audio_devices()
    if scan.portaudio_problem:
        return False, scan.portaudio_problem
    missing = []
    if microphone and not scan.microphones:
        missing.append("microphone")
    if speaker and not scan.speakers:
        missing.append("speaker")
    if missing:
        return False, f"no {' or '.join(missing)} found"
    return True, ""


def describe_choice(device: int | str | None, kind: Kind) -> str:
    """How an error message names the device asked for, e.g. ``default microphone``."""
    return f"default {_KIND_WORD[kind]}" if device is None else str(device)


def choose_device(
    device: int | str | None, devices: Sequence[AudioDevice], kind: Kind
) -> AudioDevice:
    """The device to open for ``device``: ``None`` (the default), an index, or a name.

    A name matches exactly (ignoring case) or, failing that, as the only device whose
    name contains it. Names survive reboots better than indexes, so settings store names.
    Raises :class:`AudioDeviceError` listing the devices of that kind that were found.
    """
    word = _KIND_WORD[kind]
    candidates = [d for d in devices if d.has(kind)]
    available = [str(d) for d in candidates]
    wanted = describe_choice(device, kind)
    if not candidates:
        raise AudioDeviceError(wanted, available, f"no {word} found")
    if device is None:
        defaults = [d for d in candidates if d.is_default(kind)]
        return (defaults or candidates)[0]
    if isinstance(device, int):
        for d in candidates:
            if d.index == device:
                return d
        raise AudioDeviceError(wanted, available, f"no {word} has index {device}")
    exact = [d for d in candidates if d.name.casefold() == device.casefold()]
    if exact:
        return exact[0]
    partial = [d for d in candidates if device.casefold() in d.name.casefold()]
    if len(partial) == 1:
        return partial[0]
    if partial:
        raise AudioDeviceError(wanted, available, f"the name matches several {word}s")
    raise AudioDeviceError(wanted, available, f"no {word} with that name")


def open_portaudio_stream(
    kind: Kind,
    device: int | str | None,
    callback: Callable[..., None],
    *,
    blocksize: int,
) -> tuple[AudioStream, AudioDevice]:
    """Open and start a 48 kHz int16 PortAudio stream on the chosen device.

    Inputs are mono; outputs use up to two channels (many sound cards refuse mono). Every
    failure becomes an :class:`AudioDeviceError` naming the device and those found.
    """
    scan = scan_audio_devices()
    sd, _ = load_sounddevice()
    if sd is None or scan.portaudio_problem:
        raise AudioDeviceError(describe_choice(device, kind), [], scan.portaudio_problem)
    chosen = choose_device(device, scan.devices, kind)
    stream_class = sd.InputStream if kind == "input" else sd.OutputStream
    channels = 1 if kind == "input" else min(2, chosen.outputs)
    alive = [True]

    def guarded(*args: Any) -> None:
        if not alive[0]:  # a stream given up on whose thread started after all
            raise sd.CallbackAbort
        callback(*args)

    try:
        stream = stream_class(
            device=chosen.index,
            samplerate=SAMPLE_RATE,
            channels=channels,
            dtype="int16",
            blocksize=blocksize,
            latency="low",
            callback=guarded,
        )
    except Exception as exc:  # sounddevice.PortAudioError, ValueError
        available = [str(d) for d in scan.devices if d.has(kind)]
        raise AudioDeviceError(str(chosen), available, str(exc)) from exc
    try:
        stream.start()
    except Exception as exc:
        # PortAudio gives up on a callback thread that is slow to start (a sound server
        # coming back) but the thread may still run: closing the stream under it crashes
        # the process. Keep it, and have its callback stop it if it ever runs.
        alive[0] = False
        with _open_lock:
            _abandoned.append((time.monotonic(), stream))
        available = [str(d) for d in scan.devices if d.has(kind)]
        raise AudioDeviceError(str(chosen), available, str(exc)) from exc
    with _open_lock:
        _open_streams.add(id(stream))
    raise_sound_client_threads()  # (the stream's own callback thread raises itself)
    logger.info("opened %s %s", _KIND_WORD[kind], chosen)
    return stream, chosen


def refresh_devices() -> bool:
    """Restart PortAudio so it lists the devices there now (a headset plugged back in, a
    sound server that came back). Only while none of our streams is open, since a
    restart closes them all, and at most every :data:`REFRESH_EVERY`; returns whether
    it restarted."""
    global _last_refresh
    sd, _ = load_sounddevice()
    if sd is None:
        return False
    with _open_lock:
        # (a restart closes every stream, the abandoned ones too: not while one's late
        # thread may still start; and not more often than REFRESH_EVERY, as it costs)
        now = time.monotonic()
        if _open_streams or now - _last_refresh < REFRESH_EVERY or any(
                now - at < ABANDONED_FOR for at, _ in _abandoned):
            return False
        _last_refresh = now
        _abandoned.clear()
        try:
            sd._terminate()
            sd._initialize()
        except Exception as exc:  # sounddevice.PortAudioError
            logger.debug("restarting PortAudio failed: %s", exc)
            return False
    return True


def open_refreshing(opener: Callable[[Any], T], device: Any, *,
                    before: Callable[[], None]) -> T:
    """``opener(device)``; if it fails, once more after PortAudio looks for devices again
    (a device plugged back in may be new to it, or have a new index). ``before`` runs
    before each try (a health watch noting that a stream is being opened)."""
    before()
    try:
        return opener(device)
    except AudioDeviceError:
        if not refresh_devices():
            raise
        before()
        return opener(device)


Opened = tuple[AudioStream, AudioDevice]


async def switch_stream(opener: Callable[[Any], Opened], old: AudioStream | None,
                        device: Any, wanted: Any, *, before: Callable[[], None],
                        ) -> tuple[Opened | None, AudioDeviceError | None]:
    """Close ``old`` and open ``device`` instead (the microphone's and the speaker's
    switch); when that fails, open ``wanted`` (the one in use) again. Returns what is
    open now, if anything, and the error to raise when ``device`` could not be opened.
    ``before`` runs before each try (the health watch noting a new stream)."""
    await asyncio.to_thread(close_stream, old)
    try:
        before()
        return await asyncio.to_thread(opener, device), None
    except AudioDeviceError as exc:
        error = exc
    with contextlib.suppress(AudioDeviceError):  # back to the one in use
        before()
        return await asyncio.to_thread(opener, wanted), error
    return None, error


def stream_active(stream: AudioStream) -> bool:
    """Whether PortAudio still runs ``stream`` (false once its thread gave up on the
    device); streams that cannot tell count as running."""
    try:
        return bool(getattr(stream, "active", True))
    except Exception:  # sounddevice.PortAudioError on a stream whose device vanished
        return False


def close_stream(stream: AudioStream | None) -> None:
    """Stop and close a stream; a device that already vanished must not break shutdown."""
    if stream is None:
        return
    with _open_lock:
        _open_streams.discard(id(stream))
    try:
        stream.stop()
    except Exception:
        logger.debug("stopping an audio stream failed", exc_info=True)
    try:
        stream.close()
    except Exception:
        logger.debug("closing an audio stream failed", exc_info=True)
