"""Test signals and measurements for voice: tone bursts, delay by cross-correlation,
gaps, concealment artefacts and echo return loss enhancement (ERLE).

A "tone burst" here is a short swept tone (a chirp) with a soft envelope: speech-like
enough that echo cancellation and noise suppression treat it as a voice (a steady sine
is what a noise suppressor removes), and with a sharp cross-correlation peak, so its
arrival time is exact to a sample. Bursts are spaced so that each one is found alone.
Pure numpy, no devices: used by ``bench/voice.py`` and the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

RATE = 48000
#: One 10 ms window, the unit gaps and artefacts are counted in.
WINDOW = RATE // 100


@dataclass(frozen=True)
class Burst:
    """One burst: its samples (float, [-1, 1]) and its frequency sweep."""

    samples: np.ndarray
    low: float
    high: float


def burst(duration: float = 0.24, low: float = 400.0, high: float = 2400.0,
          amplitude: float = 0.4, rate: int = RATE) -> Burst:
    """A swept tone from ``low`` to ``high`` Hz with raised-cosine edges (20 ms) and a
    4 Hz syllable-like wobble."""
    n = round(duration * rate)
    t = np.arange(n) / rate
    phase = 2 * math.pi * (low * t + (high - low) * t**2 / (2 * duration))
    edge = round(0.02 * rate)
    envelope = np.ones(n)
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, math.pi, edge))
    envelope[:edge], envelope[-edge:] = ramp, ramp[::-1]
    wobble = 0.75 + 0.25 * np.sin(2 * math.pi * 4 * t)
    return Burst(amplitude * envelope * wobble * np.sin(phase), low, high)


def burst_train(count: int, period: float, shape: Burst, *, start: float = 0.0,
                rate: int = RATE) -> tuple[np.ndarray, list[int]]:
    """``count`` copies of ``shape``, one every ``period`` s from ``start``: the signal
    (float) and each burst's first sample."""
    onsets = [round((start + i * period) * rate) for i in range(count)]
    total = onsets[-1] + shape.samples.size + rate // 10 if onsets else 0
    signal = np.zeros(total)
    for onset in onsets:
        signal[onset : onset + shape.samples.size] += shape.samples
    return signal, onsets


def to_int16(signal: np.ndarray) -> np.ndarray:
    return np.clip(np.round(signal * 32767), -32768, 32767).astype(np.int16)


def to_float(samples: np.ndarray) -> np.ndarray:
    array = np.asarray(samples)
    if np.issubdtype(array.dtype, np.integer):
        return array.astype(np.float64) / 32768.0
    return array.astype(np.float64)


def find_burst(recording: np.ndarray, shape: Burst, around: int, search: int,
               *, min_peak: float = 0.3) -> tuple[int, float] | None:
    """Where ``shape`` starts in ``recording`` within ``search`` samples after
    ``around``, and how well it matches (normalised correlation, 0..1); ``None`` when
    nothing there matches at least ``min_peak``."""
    x = to_float(recording)
    template = shape.samples
    lo = max(0, around)
    hi = min(x.size, around + search + template.size)
    segment = x[lo:hi]
    if segment.size < template.size:
        return None
    n = 1 << (segment.size + template.size - 1).bit_length()
    spectrum = np.fft.rfft(segment, n) * np.conj(np.fft.rfft(template, n))
    corr = np.fft.irfft(spectrum, n)[: segment.size - template.size + 1]
    energy = np.sqrt(np.convolve(segment**2, np.ones(template.size), "valid"))
    norm = float(np.linalg.norm(template))
    score = corr / np.maximum(energy * norm, 1e-12)
    best = int(np.argmax(score))
    if score[best] < min_peak:
        return None
    return lo + best, float(score[best])


def delays(mouth: np.ndarray, ear: np.ndarray, shape: Burst, onsets: list[int], *,
           max_delay: float = 0.5, rate: int = RATE) -> list[float | None]:
    """For each burst played at ``onsets`` in ``mouth``: seconds until it reached ``ear``
    (both recordings on one clock), ``None`` where it never arrived."""
    found: list[float | None] = []
    search = round(max_delay * rate)
    for onset in onsets:
        said = find_burst(mouth, shape, onset - rate // 20, rate // 10)
        heard = find_burst(ear, shape, onset - rate // 20, search) if said else None
        found.append((heard[0] - said[0]) / rate if said and heard else None)
    return found


def damaged_windows(ear: np.ndarray, reference: Burst | np.ndarray, at: int, *,
                    tolerance_db: float = 6.0) -> tuple[int, int]:
    """How many 10 ms windows of the burst heard at ``at`` are damaged, out of how many
    the burst has. ``reference`` is what was said (the burst, or the mouth's recording
    of it); after matching the path's gain, a window whose difference from it is within
    ``tolerance_db`` of its own level is damaged: silent, concealed, cut or distorted."""
    ref = to_float(reference.samples if isinstance(reference, Burst) else reference)
    x = to_float(ear)[at : at + ref.size]
    ref = ref[: x.size]
    scale = float(np.dot(x, ref) / max(np.dot(ref, ref), 1e-12))  # the path's gain
    damaged = total = 0
    for start in range(2 * WINDOW, ref.size - 2 * WINDOW, WINDOW):  # not the soft edges
        r = ref[start : start + WINDOW] * scale
        y = x[start : start + WINDOW]
        ref_power = float(np.mean(r**2))
        if ref_power <= 1e-9:
            continue
        total += 1
        err_power = float(np.mean((y - r) ** 2))
        if err_power > ref_power * 10 ** (-tolerance_db / 10):
            damaged += 1
    return damaged, total


def power_db(samples: np.ndarray) -> float:
    x = to_float(samples)
    return 10 * math.log10(max(float(np.mean(x**2)), 1e-20))


def erle_db(echo_at_microphone: np.ndarray, echo_left: np.ndarray) -> float:
    """Echo return loss enhancement: how much quieter the echo is after cancellation
    than at the microphone, over the same stretch, in dB."""
    return power_db(echo_at_microphone) - power_db(echo_left)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")
