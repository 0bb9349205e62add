"""Measuring sound: level in dBFS for the level meter, and how much of a signal is one tone.

Samples are signed integers (int16: full scale 32768) or floats in [-1, 1].
"""

from __future__ import annotations

import math

import av
import numpy as np

#: What :func:`dbfs` reports for digital silence (one int16 step RMS is about -90 dBFS).
SILENCE_DBFS = -120.0
# Half-width of a Hann window's main lobe, in FFT bins: a pure tone's energy lands there.
_HANN_LOBE_BINS = 2


def as_float(samples: np.ndarray) -> np.ndarray:
    """Samples as float64 in [-1, 1] (integers divided by their full scale)."""
    array = np.asarray(samples)
    if np.issubdtype(array.dtype, np.signedinteger):
        return array.astype(np.float64) / (float(np.iinfo(array.dtype).max) + 1.0)
    return array.astype(np.float64)


def dbfs(samples: np.ndarray) -> float:
    """RMS level relative to digital full scale, in dB (a full-scale sine is about -3).

    Silence and empty input give :data:`SILENCE_DBFS`, never ``-inf``.
    """
    x = as_float(samples)
    if x.size == 0:
        return SILENCE_DBFS
    rms = math.sqrt(float(np.mean(np.square(x))))
    if rms <= 0.0:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, 20.0 * math.log10(rms))


def tone_power(samples: np.ndarray, sample_rate: int, frequency: float) -> float:
    """The share (0 to 1) of the signal's power that lies at ``frequency``.

    A Hann-windowed FFT; the power within the window's main lobe around ``frequency``
    (two bins either side; a bin is ``sample_rate / len(samples)`` Hz) divided by all
    the power, DC removed. A clean tone gives close to 1, silence or noise close to 0.
    ``samples`` is one channel (1-D).
    """
    if not 0 < frequency < sample_rate / 2:
        raise ValueError(f"frequency {frequency} Hz is outside (0, {sample_rate / 2}) Hz")
    x = as_float(samples)
    if x.ndim != 1:
        raise ValueError(f"tone_power takes one channel (1-D samples), got shape {x.shape}")
    if x.size < 2:
        return 0.0
    x = (x - x.mean()) * np.hanning(x.size)
    power = np.square(np.abs(np.fft.rfft(x)))
    total = float(power.sum())
    if total <= 0.0:
        return 0.0
    centre = frequency * x.size / sample_rate
    low = max(0, math.floor(centre - _HANN_LOBE_BINS))
    high = min(power.size - 1, math.ceil(centre + _HANN_LOBE_BINS))
    return float(power[low : high + 1].sum()) / total


def frame_samples(frame: av.AudioFrame) -> np.ndarray:
    """One channel of float samples in [-1, 1] from an audio frame (channels averaged)."""
    array = as_float(frame.to_ndarray())
    channels = len(frame.layout.channels)
    if frame.format.is_planar:
        return array.mean(axis=0) if channels > 1 else array.reshape(-1)
    return array.reshape(-1, channels).mean(axis=1)
