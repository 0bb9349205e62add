"""A sound device that goes away is told within 2 s, the call goes on, and it comes back.

The devices are fakes on real-time clocks (:class:`FakeSoundCard`); the microphone,
speaker, mixing, watch and events are the real code. On the old code a lost device
was never noticed: nothing was said, and sound never came back.
"""

from __future__ import annotations

import asyncio
import logging
import time

import numpy as np
import pytest

from surgery_teach.audio import ToneTrack
from surgery_teach.audio.health import START_GRACE
from surgery_teach.audio.voice import VoiceEvent
from surgery_teach.errors import AudioDeviceError
from tests.audio.fakes import (
    FAKE_DEVICES,
    FakeInputStream,
    FakeMicrophone,
    FakeOutputStream,
    FakeSoundCard,
    FakeVoice,
    until,
)
from tests.timing import seconds

HEADSET = FAKE_DEVICES[0].name  # microphone and speaker in one
USB_MIC = FAKE_DEVICES[1].name
#: What the issue asks: told within 2 s of going away, back within 3 s of returning.
TELL_WITHIN = 2.0
BACK_WITHIN = 3.0


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[float, VoiceEvent]] = []

    def __call__(self, event: VoiceEvent) -> None:
        self.seen.append((time.monotonic(), event))

    def when(self, device: str, change: str, after: float) -> float | None:
        for at, event in self.seen:
            if at >= after and event.device == device and event.change == change:
                return at
        return None


class Listener:
    """Reads the microphone track as the network sender does, noting each frame's level."""

    def __init__(self, track: FakeMicrophone) -> None:
        self.frames: list[tuple[float, float]] = []
        self._task = asyncio.ensure_future(self._read(track))

    async def _read(self, track: FakeMicrophone) -> None:
        while True:
            frame = await track.recv()
            samples = frame.to_ndarray().reshape(-1)
            self.frames.append((time.monotonic(), float(np.abs(samples).max())))

    def count(self, start: float, end: float) -> int:
        return sum(1 for at, _ in self.frames if start <= at < end)

    def loud_since(self, start: float) -> bool:
        return any(at >= start and peak > 0 for at, peak in self.frames)

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def open_voice(card: FakeSoundCard, events: Events, **options: object) -> FakeVoice:
    """The headset, chosen by name (the system default would move on to another
    microphone when it goes); echo cancellation and noise suppression have their own
    tests."""
    voice = FakeVoice(card, on_event=events, echo_cancellation=False,  # type: ignore[arg-type]
                      noise_suppression=False, microphone=HEADSET, speaker=HEADSET, **options)
    assert voice.open() == []
    voice.start()
    return voice


@pytest.mark.parametrize("hang", [False, True], ids=["unplugged", "server-hangs"])
async def test_a_lost_microphone_is_told_within_2_s_silence_goes_on_and_it_comes_back(
        hang: bool, caplog: pytest.LogCaptureFixture) -> None:
    card, events = FakeSoundCard(), Events()
    voice = await open_voice(card, events)
    mic = voice.microphone
    assert isinstance(mic, FakeMicrophone)
    opened = time.monotonic()
    listener = Listener(mic)
    try:
        await until(lambda: listener.loud_since(0), seconds(5), "sound from the microphone")
        # past the start (PortAudio over PulseAudio may pause a second after opening)
        await until(lambda: time.monotonic() - opened > START_GRACE, seconds(5), "a settled device")
        caplog.set_level(logging.WARNING, logger="surgery_teach.audio")
        gone_at = time.monotonic()
        headset = card.unplug(HEADSET, hang=hang)
        await until(lambda: events.when("microphone", "lost", gone_at) is not None,
                    seconds(5), "the microphone to be told lost")
        told = events.when("microphone", "lost", gone_at)
        assert told is not None and told - gone_at < TELL_WITHIN
        lost = next(e for _, e in events.seen if e.device == "microphone")
        assert "Microphone lost" in lost.text and HEADSET in lost.text
        assert any("stopped sending sound" in r.getMessage() for r in caplog.records)
        assert mic.lost

        # the call goes on: what was heard before goes out, then silence, on time (a
        # 10 ms frame every 10 ms)
        await until(lambda: mic.buffered_frames == 0, seconds(2), "the last words sent")
        quiet_from = time.monotonic() + 0.05
        await asyncio.sleep(0.55)
        count = listener.count(quiet_from, quiet_from + 0.5)
        assert 35 <= count <= 65
        assert not listener.loud_since(quiet_from)

        back_at = time.monotonic()
        card.plug(headset)
        await until(lambda: events.when("microphone", "back", back_at) is not None,
                    seconds(5), "the microphone to come back")
        returned = events.when("microphone", "back", back_at)
        assert returned is not None and returned - back_at < BACK_WITHIN
        await until(lambda: listener.loud_since(returned), seconds(2), "sound again")
        assert not mic.lost and mic.problem == ""
    finally:
        await listener.stop()
        await voice.close()


async def test_a_lost_speaker_is_told_voices_keep_arriving_and_it_plays_again() -> None:
    card, events = FakeSoundCard(), Events()
    voice = await open_voice(card, events, speak=False)
    tone = ToneTrack(440.0, amplitude=0.5)
    player = voice.play(tone, "mentor")

    def heard(since: float) -> bool:
        """Whether the headset's speaker played sound in its last 10 ms, after ``since``."""
        return time.monotonic() > since and any(
            s.played()[-480:].any() for s in card.playing(HEADSET)
            if isinstance(s, FakeOutputStream))

    opened = time.monotonic()
    try:
        await until(lambda: heard(0), seconds(5), "the mentor on the speaker")
        await until(lambda: time.monotonic() - opened > START_GRACE, seconds(5), "a settled device")
        gone_at = time.monotonic()
        headset = card.unplug(HEADSET)
        await until(lambda: events.when("speaker", "lost", gone_at) is not None,
                    seconds(5), "the speaker to be told lost")
        told = events.when("speaker", "lost", gone_at)
        assert told is not None and told - gone_at < TELL_WITHIN
        received = player.frames_received
        await until(lambda: player.frames_received > received + 10, seconds(2),
                    "the voice to keep arriving")
        assert player.buffer is not None and player.buffer.peak <= player.buffer.limit

        back_at = time.monotonic()
        card.plug(headset)
        await until(lambda: events.when("speaker", "back", back_at) is not None,
                    seconds(5), "the speaker to come back")
        returned = events.when("speaker", "back", back_at)
        assert returned is not None and returned - back_at < BACK_WITHIN
        await until(lambda: heard(returned), seconds(2), "the mentor heard again")
    finally:
        tone.stop()
        await voice.close()


async def test_another_microphone_can_be_picked_during_the_call() -> None:
    card, events = FakeSoundCard(), Events()
    card.signals[USB_MIC] = lambda n: np.full(n, 3000, dtype=np.int16)  # (no filter here)
    voice = await open_voice(card, events)
    mic = voice.microphone
    assert isinstance(mic, FakeMicrophone)
    listener = Listener(mic)
    try:
        await voice.switch_microphone(USB_MIC)
        assert mic.device is not None and mic.device.name == USB_MIC
        assert events.seen[-1][1] == VoiceEvent("microphone", "switched", USB_MIC)
        switched = time.monotonic()
        await until(lambda: any(at > switched and peak == 3000 for at, peak in listener.frames),
                    seconds(3), "the USB microphone's sound")
        # the headset's microphone was closed (its speaker plays on)
        assert not [s for s in card.playing(HEADSET) if isinstance(s, FakeInputStream)]
    finally:
        await listener.stop()
        await voice.close()


async def test_picking_a_microphone_that_is_not_there_keeps_the_one_in_use() -> None:
    card, events = FakeSoundCard(), Events()
    voice = await open_voice(card, events)
    mic = voice.microphone
    assert isinstance(mic, FakeMicrophone)
    listener = Listener(mic)
    try:
        with pytest.raises(AudioDeviceError) as caught:
            await voice.switch_microphone("Bluetooth headset")
        assert HEADSET in " ".join(caught.value.available)
        after = time.monotonic()
        await until(lambda: listener.loud_since(after), seconds(3), "the headset again")
        assert mic.device is not None and mic.device.name == HEADSET
        assert events.when("microphone", "lost", 0) is None  # nothing was lost
    finally:
        await listener.stop()
        await voice.close()


async def test_with_the_system_default_another_microphone_takes_over() -> None:
    card, events = FakeSoundCard(), Events()
    voice = FakeVoice(card, on_event=events, echo_cancellation=False,
                      noise_suppression=False)  # microphone: the system default
    assert voice.open() == []
    voice.start()
    mic = voice.microphone
    assert isinstance(mic, FakeMicrophone) and mic.device is not None
    assert mic.device.name == HEADSET
    try:
        gone_at = time.monotonic()
        card.unplug(HEADSET)
        await until(lambda: events.when("microphone", "back", gone_at) is not None,
                    seconds(5), "another microphone")
        assert mic.device.name == USB_MIC
        back = next(e for _, e in events.seen if e.device == "microphone" and e.change == "back")
        assert USB_MIC in back.text
    finally:
        await voice.close()
