"""Level and tone measurements used by the level meter and the audio tests."""

from __future__ import annotations

import math

import av
import numpy as np
import pytest

from surgery_teach.audio import SILENCE_DBFS, dbfs, frame_samples, tone_power

RATE = 48000


def sine(frequency: float, seconds: float = 1.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return amplitude * np.sin(2 * math.pi * frequency * t)


def test_full_scale_sine_is_minus_3_dbfs_and_half_scale_6_db_lower() -> None:
    assert dbfs(sine(1000, amplitude=1.0)) == pytest.approx(-3.01, abs=0.01)
    assert dbfs(sine(1000, amplitude=0.5)) == pytest.approx(-9.03, abs=0.01)


def test_int16_and_float_samples_give_the_same_level() -> None:
    x = sine(440)
    assert dbfs((x * 32768).astype(np.int16)) == pytest.approx(dbfs(x), abs=0.01)


def test_silence_and_empty_input_read_as_the_silence_floor_not_minus_infinity() -> None:
    assert dbfs(np.zeros(960, dtype=np.int16)) == SILENCE_DBFS
    assert dbfs(np.zeros(0)) == SILENCE_DBFS


def test_tone_power_finds_the_tone_that_is_there_and_not_another() -> None:
    x = sine(1000)
    assert tone_power(x, RATE, 1000) > 0.99
    assert tone_power(x, RATE, 440) < 0.001
    assert tone_power(sine(440), RATE, 1000) < 0.001


def test_tone_power_works_on_one_20_ms_frame_and_between_fft_bins() -> None:
    frame = sine(1013.7, seconds=0.02)
    assert tone_power(frame, RATE, 1013.7) > 0.95
    assert tone_power(frame, RATE, 600) < 0.01


def test_tone_power_of_noise_and_silence_is_small() -> None:
    noise = np.random.default_rng(1).normal(0, 0.1, RATE)
    assert tone_power(noise, RATE, 1000) < 0.01
    assert tone_power(np.zeros(RATE), RATE, 1000) == 0.0


def test_tone_power_of_a_mix_is_each_tones_share() -> None:
    mix = sine(1000, amplitude=0.5) + sine(3000, amplitude=0.5)
    assert tone_power(mix, RATE, 1000) == pytest.approx(0.5, abs=0.02)


def test_tone_power_rejects_frequencies_it_cannot_measure_and_multichannel_input() -> None:
    with pytest.raises(ValueError, match="outside"):
        tone_power(sine(1000), RATE, 30000)
    with pytest.raises(ValueError, match="one channel"):
        tone_power(np.zeros((2, 960)), RATE, 1000)


def test_frame_samples_averages_packed_and_planar_stereo_to_one_channel() -> None:
    left = np.full(960, 1000, dtype=np.int16)
    right = np.full(960, 3000, dtype=np.int16)
    packed = av.AudioFrame.from_ndarray(
        np.stack([left, right], axis=1).reshape(1, -1), format="s16", layout="stereo"
    )
    planar = av.AudioFrame.from_ndarray(np.stack([left, right]), format="s16p", layout="stereo")
    for frame in (packed, planar):
        mono = frame_samples(frame)
        assert mono.shape == (960,)
        assert mono == pytest.approx(np.full(960, 2000 / 32768))
