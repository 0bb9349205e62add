"""The audio tracks we send: a paced tone, and the microphone behind a fake sound card."""

from __future__ import annotations

import asyncio
import fractions
import threading
import time

import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError

from surgery_teach.audio import SILENCE_DBFS, ToneTrack, tone_power
from surgery_teach.errors import AudioDeviceError
from tests.audio.fakes import FakeMicrophone
from tests.timing import seconds


def block(value: int, n: int = 480) -> np.ndarray:
    """One 10 ms frame's worth from the sound card."""
    return np.full(n, value, dtype=np.int16)


# -- ToneTrack ----------------------------------------------------------------------------

async def test_tone_frames_are_20_ms_of_48_khz_s16_mono_with_pts_counting_samples() -> None:
    track = ToneTrack()
    frames = [await track.recv() for _ in range(3)]
    for i, frame in enumerate(frames):
        assert (frame.samples, frame.sample_rate) == (960, 48000)
        assert (frame.format.name, frame.layout.name) == ("s16", "mono")
        assert frame.time_base == fractions.Fraction(1, 48000)
        assert frame.pts == 960 * i
    track.stop()


async def test_tone_is_paced_in_real_time() -> None:
    track = ToneTrack()
    started = time.monotonic()
    for _ in range(50):
        await asyncio.wait_for(track.recv(), seconds(1))
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed <= 0.98 + seconds(0.5)
    track.stop()


async def test_tone_is_the_frequency_asked_for_and_continuous_across_frames() -> None:
    track = ToneTrack(1000.0, amplitude=0.5)
    samples = np.concatenate([(await track.recv()).to_ndarray()[0] for _ in range(10)])
    assert tone_power(samples, 48000, 1000) > 0.99
    assert tone_power(samples, 48000, 440) < 0.001
    assert track.level == pytest.approx(-9.03, abs=0.05)
    track.stop()


async def test_a_muted_tone_sends_silence_on_time_and_still_shows_its_level() -> None:
    track = ToneTrack(muted=True)
    frame = await track.recv()
    assert not frame.to_ndarray().any()
    assert track.level > -20
    track.unmute()
    assert (await track.recv()).to_ndarray().any()


async def test_an_ended_track_raises_media_stream_error() -> None:
    track = ToneTrack()
    track.stop()
    with pytest.raises(MediaStreamError):
        await track.recv()


def test_a_tone_outside_the_audible_band_or_too_loud_is_refused() -> None:
    with pytest.raises(ValueError):
        ToneTrack(30000)
    with pytest.raises(ValueError):
        ToneTrack(amplitude=1.5)


# -- MicrophoneTrack with a fake sound card ------------------------------------------------

async def test_microphone_blocks_become_frames_in_order() -> None:
    mic = FakeMicrophone()
    for value in (1, 2, 3):
        mic.fake.feed(block(value))
    frames = [await asyncio.wait_for(mic.recv(), seconds(1)) for _ in range(3)]
    assert [int(f.to_ndarray()[0, 0]) for f in frames] == [1, 2, 3]
    assert [f.pts for f in frames] == [0, 480, 960]  # 10 ms frames: the network's packets
    assert all((f.samples, f.sample_rate, f.layout.name) == (480, 48000, "mono") for f in frames)
    assert mic.device is not None and mic.device.name == "Jabra Evolve2 headset"
    mic.stop()


async def test_recv_waits_for_the_sound_card_thread() -> None:
    mic = FakeMicrophone()
    pending = asyncio.ensure_future(mic.recv())
    await asyncio.sleep(0)
    assert not pending.done()
    threading.Thread(target=mic.fake.feed, args=(block(7),)).start()
    frame = await asyncio.wait_for(pending, seconds(2))
    assert int(frame.to_ndarray()[0, 0]) == 7
    mic.stop()


async def test_odd_sized_blocks_from_the_device_are_cut_into_10_ms_frames_without_loss() -> None:
    mic = FakeMicrophone()
    ramp = (np.arange(480 * 4) % 30000).astype(np.int16)
    for start in range(0, ramp.size, 256):
        mic.fake.feed(ramp[start : start + 256])
    out = np.concatenate([(await mic.recv()).to_ndarray()[0] for _ in range(4)])
    assert np.array_equal(out, ramp)
    assert mic.buffered_frames == 0
    mic.stop()


async def test_microphone_frames_follow_the_device_clock() -> None:
    mic = FakeMicrophone()
    mic.fake.run_clock()
    started = time.monotonic()
    for _ in range(50):
        await asyncio.wait_for(mic.recv(), seconds(1))
    assert time.monotonic() - started >= 0.45
    mic.stop()
    assert mic.fake.stopped and mic.fake.closed


async def test_a_muted_microphone_sends_silence_but_the_meter_still_moves() -> None:
    mic = FakeMicrophone(muted=True)
    mic.fake.feed(block(8000))
    frame = await mic.recv()
    assert frame.samples == 480 and not frame.to_ndarray().any()
    assert mic.level == pytest.approx(20 * np.log10(8000 / 32768), abs=0.01)
    mic.unmute()
    mic.fake.feed(block(8000))
    assert int((await mic.recv()).to_ndarray()[0, 0]) == 8000
    mic.stop()


async def test_sound_made_while_muted_stays_silent_even_if_read_after_unmuting() -> None:
    mic = FakeMicrophone(muted=True)
    mic.fake.feed(block(8000))  # spoken while muted, not yet read
    mic.unmute()
    mic.fake.feed(block(9000))
    frames = [await mic.recv() for _ in range(2)]
    assert not frames[0].to_ndarray().any()
    assert int(frames[1].to_ndarray()[0, 0]) == 9000
    mic.stop()


async def test_mute_and_unmute_from_other_threads_push_to_talk() -> None:
    mic = FakeMicrophone(muted=True)
    talk = threading.Thread(target=mic.unmute)
    talk.start()
    talk.join()
    assert not mic.muted
    release = threading.Thread(target=mic.mute)
    release.start()
    release.join()
    assert mic.muted
    mic.stop()


async def test_the_buffer_keeps_only_the_newest_blocks_when_nobody_reads() -> None:
    mic = FakeMicrophone(buffer_frames=5)
    for value in range(100):
        mic.fake.feed(block(value))
    assert mic.buffered_frames == 5
    assert mic.dropped_frames == 95
    first = await mic.recv()
    assert int(first.to_ndarray()[0, 0]) == 95
    mic.stop()


async def test_the_level_reads_silence_before_any_sound() -> None:
    mic = FakeMicrophone()
    assert mic.level == SILENCE_DBFS
    mic.stop()


async def test_stopping_the_microphone_ends_a_waiting_recv_and_closes_the_device() -> None:
    mic = FakeMicrophone()
    pending = asyncio.ensure_future(mic.recv())
    await asyncio.sleep(0)
    mic.stop()
    with pytest.raises(MediaStreamError):
        await asyncio.wait_for(pending, seconds(1))
    assert mic.fake.stopped and mic.fake.closed
    assert mic.readyState == "ended"


def test_a_missing_microphone_names_itself_and_the_microphones_found() -> None:
    with pytest.raises(AudioDeviceError) as caught:
        FakeMicrophone("Stethoscope mic")
    assert caught.value.device == "Stethoscope mic"
    assert caught.value.available == ["0: Jabra Evolve2 headset", "1: USB Audio Microphone"]

