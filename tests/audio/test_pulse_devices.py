"""Real devices: a sound server that dies mid-call is told within 2 s and voice comes
back by itself within 3 s of its return.

A private PulseAudio server (``bench/voice_rig.py``: null sinks, reached through ALSA's
pulse plugin exactly as PortAudio reaches a desktop's sound server) is killed and
restarted under a real :class:`Voice` with a real microphone and speaker.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator

import pytest

from bench.voice_rig import PulseRig, rig_available
from surgery_teach.audio import tracks
from surgery_teach.audio.devices import refresh_devices
from surgery_teach.audio.health import START_GRACE
from surgery_teach.audio.voice import Voice, VoiceEvent
from tests.timing import seconds

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(bool(rig_available()), reason=rig_available() or "ok")]


@pytest.fixture
def rig(monkeypatch: pytest.MonkeyPatch) -> Iterator[PulseRig]:
    rig = PulseRig()
    for name, value in rig.env.items():
        monkeypatch.setenv(name, value)
    rig.start()
    assert refresh_devices()  # PortAudio lists the rig's devices from now on
    try:
        yield rig
    finally:
        rig.close()
        monkeypatch.undo()
        refresh_devices()  # and forgets them again


async def test_a_sound_server_that_dies_is_told_and_voice_comes_back_when_it_returns(
        rig: PulseRig) -> None:
    events: list[tuple[float, VoiceEvent]] = []
    voice = Voice(microphone="a_mic", speaker="a_speaker",
                  on_event=lambda e: events.append((time.monotonic(), e)))
    assert voice.open() == []
    voice.start()
    mic = voice.microphone
    assert isinstance(mic, tracks.MicrophoneTrack)

    async def until(what: str, check: object, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while not check():  # type: ignore[operator]
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {timeout:.1f} s: {events}")
            await asyncio.sleep(0.02)
        return time.monotonic()

    def seen(device: str, change: str, after: float) -> bool:
        return any(at >= after and e.device == device and e.change == change
                   for at, e in events)

    try:
        await asyncio.sleep(START_GRACE + 0.5)  # past PortAudio's start over PulseAudio
        assert not events, events
        killed = time.monotonic()
        rig.stop()
        for device in ("microphone", "speaker"):
            told = await until(f"{device} lost", lambda d=device: seen(d, "lost", killed),
                               seconds(5))
            assert told - killed < 2.0 + 0.1, f"{device} told after {told - killed:.2f} s"
        assert mic.lost and os.environ["PULSE_SERVER"]
        frame = await asyncio.wait_for(mic.recv(), seconds(1))  # silence, the call goes on
        assert not frame.to_ndarray().any()

        await asyncio.sleep(1.0)
        rig.start()
        up = time.monotonic()
        for device in ("microphone", "speaker"):
            back = await until(f"{device} back", lambda d=device: seen(d, "back", up),
                               seconds(6))
            assert back - up < 3.0, f"{device} back after {back - up:.2f} s"
        assert not mic.lost and mic.problem == ""
    finally:
        await voice.close()
