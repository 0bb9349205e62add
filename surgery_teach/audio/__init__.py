"""Sound in the session: microphones and speakers, the tracks we send, and playback.

The surgeon's microphone goes to everyone and mentors' microphones to the surgeon;
received audio plays on the chosen speaker. Importing this package never needs PortAudio:
:func:`audio_available` says in plain words why sound is off when it is missing.
"""

from __future__ import annotations

from surgery_teach.audio.analysis import SILENCE_DBFS, dbfs, frame_samples, tone_power
from surgery_teach.audio.devices import (
    PORTAUDIO_MISSING,
    SAMPLE_RATE,
    SAMPLES_PER_FRAME,
    AudioDevice,
    AudioDeviceScan,
    audio_available,
    choose_device,
    list_audio_devices,
    scan_audio_devices,
)
from surgery_teach.audio.playback import AudioPlayer, PlayoutBuffer
from surgery_teach.audio.tracks import LocalAudioTrack, MicrophoneTrack, ToneTrack

__all__ = [
    "PORTAUDIO_MISSING",
    "SAMPLES_PER_FRAME",
    "SAMPLE_RATE",
    "SILENCE_DBFS",
    "AudioDevice",
    "AudioDeviceScan",
    "AudioPlayer",
    "LocalAudioTrack",
    "MicrophoneTrack",
    "PlayoutBuffer",
    "ToneTrack",
    "audio_available",
    "choose_device",
    "dbfs",
    "frame_samples",
    "list_audio_devices",
    "scan_audio_devices",
    "tone_power",
]
