"""Finding microphones and speakers, choosing one, and saying plainly why audio is off."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from surgery_teach.audio import (
    PORTAUDIO_MISSING,
    AudioDevice,
    AudioPlayer,
    MicrophoneTrack,
    ToneTrack,
    audio_available,
    choose_device,
    list_audio_devices,
    scan_audio_devices,
)
from surgery_teach.audio import devices as audio_devices
from surgery_teach.errors import AudioDeviceError, MediaError
from tests.audio.fakes import FAKE_DEVICES
from tests.timing import seconds

ROOT = Path(__file__).resolve().parents[2]


class PortAudioError(Exception):
    """Stands in for ``sounddevice.PortAudioError``."""


def fake_sounddevice(
    devices: list[dict[str, Any]], default: tuple[int, int] = (-1, -1), **attrs: Any
) -> ModuleType:
    """Just the part of ``sounddevice`` the device code uses, over a list of device dicts."""
    module = ModuleType("sounddevice")
    module.query_devices = lambda: list(devices)  # type: ignore[attr-defined]
    module.query_hostapis = lambda: ({"name": "ALSA"},)  # type: ignore[attr-defined]
    module.default = SimpleNamespace(device=list(default))  # type: ignore[attr-defined]
    module.PortAudioError = PortAudioError  # type: ignore[attr-defined]
    for name, value in attrs.items():
        setattr(module, name, value)
    return module


def device_dict(index: int, name: str, inputs: int, outputs: int) -> dict[str, Any]:
    return {"index": index, "name": name, "hostapi": 0, "max_input_channels": inputs,
            "max_output_channels": outputs, "default_samplerate": 48000.0}


def use_sounddevice(monkeypatch: pytest.MonkeyPatch, make: Any) -> None:
    """Replace the one lazy import of sounddevice; ``make`` returns a module or raises."""
    monkeypatch.setattr(audio_devices, "_import_sounddevice", make)


def portaudio_missing() -> ModuleType:
    raise OSError("PortAudio library not found")


# -- choosing a device -------------------------------------------------------------------

def test_no_device_named_means_the_default_microphone_or_speaker() -> None:
    assert choose_device(None, FAKE_DEVICES, "input").name == "Jabra Evolve2 headset"
    assert choose_device(None, FAKE_DEVICES, "output").name == "Jabra Evolve2 headset"


def test_without_a_default_the_first_device_of_that_kind_is_used() -> None:
    plain = [AudioDevice(4, "HDMI 0", 0, 2), AudioDevice(7, "Line in", 2, 0)]
    assert choose_device(None, plain, "input").index == 7


def test_a_device_is_found_by_index_exact_name_or_unique_part_of_its_name() -> None:
    assert choose_device(1, FAKE_DEVICES, "input").name == "USB Audio Microphone"
    assert choose_device("hdmi 0", FAKE_DEVICES, "output").index == 2
    assert choose_device("Jabra", FAKE_DEVICES, "input").index == 0


def test_a_missing_microphone_is_named_with_the_microphones_found() -> None:
    with pytest.raises(AudioDeviceError) as caught:
        choose_device("Stethoscope mic", FAKE_DEVICES, "input")
    error = caught.value
    assert isinstance(error, MediaError)
    assert error.device == "Stethoscope mic"
    assert error.available == ["0: Jabra Evolve2 headset", "1: USB Audio Microphone"]
    assert "Stethoscope mic" in str(error) and "1: USB Audio Microphone" in str(error)


def test_an_index_of_a_device_of_the_other_kind_is_refused() -> None:
    with pytest.raises(AudioDeviceError, match="no speaker has index 1") as caught:
        choose_device(1, FAKE_DEVICES, "output")
    assert caught.value.available == ["0: Jabra Evolve2 headset", "2: HDMI 0"]


def test_a_name_matching_several_devices_is_refused_rather_than_guessed() -> None:
    with pytest.raises(AudioDeviceError, match="several"):
        choose_device("a", FAKE_DEVICES, "input")


def test_no_microphone_at_all_says_so() -> None:
    with pytest.raises(AudioDeviceError, match="no microphone found") as caught:
        choose_device(None, [AudioDevice(2, "HDMI 0", 0, 8)], "input")
    assert caught.value.device == "default microphone"
    assert caught.value.available == []


# -- scanning, through a stand-in sounddevice ---------------------------------------------

def test_scan_reads_names_channels_defaults_and_host_api(monkeypatch: pytest.MonkeyPatch) -> None:
    module = fake_sounddevice(
        [device_dict(0, "HDA Intel PCH: ALC257", 2, 2), device_dict(1, "HDMI 0", 0, 8)],
        default=(0, 1),
    )
    use_sounddevice(monkeypatch, lambda: module)
    assert list_audio_devices() == [
        AudioDevice(0, "HDA Intel PCH: ALC257", 2, 2, default_input=True, hostapi="ALSA"),
        AudioDevice(1, "HDMI 0", 0, 8, default_output=True, hostapi="ALSA"),
    ]
    assert audio_available() == (True, "")


def test_speakers_without_a_microphone_are_not_enough_to_talk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_sounddevice(monkeypatch, lambda: fake_sounddevice([device_dict(0, "HDMI 0", 0, 8)]))
    assert audio_available() == (False, "no microphone found")
    assert audio_available(microphone=False) == (True, "")


def test_without_portaudio_the_reason_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_sounddevice(monkeypatch, portaudio_missing)
    scan = scan_audio_devices()
    assert scan.devices == () and scan.problem == PORTAUDIO_MISSING
    assert list_audio_devices() == []
    assert audio_available() == (False, "PortAudio library not found: install libportaudio2")


def test_without_portaudio_opening_a_microphone_or_speaker_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_sounddevice(monkeypatch, portaudio_missing)
    with pytest.raises(AudioDeviceError) as caught:
        MicrophoneTrack("Jabra")
    assert (caught.value.device, caught.value.reason) == ("Jabra", PORTAUDIO_MISSING)
    player = AudioPlayer(ToneTrack(), required=False)
    assert player.sink is None
    assert player.error is not None and player.error.reason == PORTAUDIO_MISSING
    assert "install libportaudio2" in player.problem


def test_without_the_sounddevice_package_the_reason_says_how_to_set_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def not_installed() -> ModuleType:
        raise ImportError("No module named 'sounddevice'")

    use_sounddevice(monkeypatch, not_installed)
    available, reason = audio_available()
    assert not available and "sounddevice package is not installed" in reason


def test_portaudio_refusing_to_open_the_device_becomes_an_audio_device_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def busy(**kwargs: Any) -> None:
        raise PortAudioError("Device unavailable [PaErrorCode -9985]")

    module = fake_sounddevice([device_dict(0, "USB Headset", 1, 2)], InputStream=busy)
    use_sounddevice(monkeypatch, lambda: module)
    with pytest.raises(AudioDeviceError, match="Device unavailable") as caught:
        MicrophoneTrack()
    assert caught.value.device == "0: USB Headset"
    assert caught.value.available == ["0: USB Headset"]
    assert isinstance(caught.value.__cause__, PortAudioError)


def test_the_real_stream_is_opened_48_khz_int16_mono_in_5_ms_blocks_at_low_latency(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened: list[dict[str, Any]] = []

    class Stream:
        samplerate = 48000.0
        channels = 1

        def __init__(self, **kwargs: Any) -> None:
            opened.append(kwargs)

        def start(self) -> None: ...
        def stop(self) -> None: ...
        def close(self) -> None: ...

    module = fake_sounddevice([device_dict(3, "USB Headset", 1, 2)], InputStream=Stream)
    use_sounddevice(monkeypatch, lambda: module)
    track = MicrophoneTrack("USB")
    track.stop()
    assert track.device is not None and track.device.index == 3
    (kwargs,) = opened
    # 5 ms blocks: PortAudio keeps two in flight, so the block is the device's delay
    assert {k: kwargs[k] for k in ("device", "samplerate", "channels", "dtype", "blocksize",
                                   "latency")} == {
        "device": 3, "samplerate": 48000, "channels": 1, "dtype": "int16", "blocksize": 240,
        "latency": "low",
    }


# -- this machine -------------------------------------------------------------------------

def _machine_has_a_microphone() -> bool:
    return bool(scan_audio_devices().microphones)


@pytest.mark.skipif(_machine_has_a_microphone(), reason="this machine has a microphone")
def test_on_a_machine_without_a_sound_card_audio_is_unavailable_with_a_reason() -> None:
    available, reason = audio_available()
    assert not available
    assert reason in ("no microphone or speaker found", "no microphone found", PORTAUDIO_MISSING)


@pytest.mark.skipif(_machine_has_a_microphone(), reason="this machine has a microphone")
def test_on_a_machine_without_a_sound_card_the_default_microphone_is_a_clear_error() -> None:
    with pytest.raises(AudioDeviceError) as caught:
        MicrophoneTrack()
    assert caught.value.device == "default microphone"
    assert caught.value.available == []
    assert caught.value.reason in ("no microphone found", PORTAUDIO_MISSING)


def test_importing_the_audio_package_does_not_load_portaudio() -> None:
    """sounddevice raises at import without PortAudio, so it is only imported when used."""
    code = "import sys, surgery_teach.audio; print('sounddevice' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=seconds(30), check=True)
    assert result.stdout.strip() == "False"
