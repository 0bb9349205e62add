"""Echo cancellation and noise suppression, measured on signals with a known answer.

The echo path is simulated as the benchmark does it on real devices: what the speaker
played comes back into the microphone 60 ms later at half the level. The processor is
fed exactly as the microphone and speaker threads feed it (10 ms blocks, the speaker's
blocks through :class:`EchoReference`).
"""

from __future__ import annotations

import numpy as np
import pytest

from bench.voice_signals import burst, burst_train, erle_db, power_db, to_int16
from surgery_teach.audio import processing
from surgery_teach.audio.processing import BLOCK, EchoReference, VoiceProcessing

RATE = 48000
ECHO_DELAY = 0.060
ECHO_GAIN = 0.5

needs_apm = pytest.mark.skipif(not VoiceProcessing().available,
                               reason="the livekit package is not installed")


def far_end_voice(seconds: float) -> np.ndarray:
    shape = burst(0.3, 300.0, 2000.0, amplitude=0.35)
    signal, _ = burst_train(int(seconds / 0.5), 0.5, shape)
    return to_int16(signal[: int(seconds * RATE)])


def echo_of(far: np.ndarray) -> np.ndarray:
    delay = round(ECHO_DELAY * RATE)
    echo = np.zeros(far.size, dtype=np.float64)
    echo[delay:] = ECHO_GAIN * far[:-delay]
    return echo


def run_through(processor: VoiceProcessing, microphone: np.ndarray,
                played: np.ndarray | None = None) -> np.ndarray:
    """Block by block, as the threads do: the speaker plays a block, the microphone
    hears one."""
    out = np.zeros_like(microphone)
    for start in range(0, microphone.size - BLOCK + 1, BLOCK):
        if played is not None:
            processor.reference.played(played[start : start + BLOCK])
        out[start : start + BLOCK] = processor.process(microphone[start : start + BLOCK])
    return out


@needs_apm
def test_echo_is_cancelled_by_at_least_20_db_once_converged() -> None:
    far = far_end_voice(12.0)
    echo = echo_of(far)
    rng = np.random.default_rng(3)
    mic = np.clip(np.round(echo + rng.normal(0, 30, far.size)), -32768, 32767).astype(np.int16)
    processor = VoiceProcessing(EchoReference(), echo_cancellation=True,
                                noise_suppression=False)
    sent = run_through(processor, mic, far)
    converged = slice(4 * RATE, None)
    erle = erle_db(mic[converged], sent[converged])
    assert erle >= 20.0, f"ERLE {erle:.1f} dB"
    assert processor.failures == 0 and processor.blocks > 1000


@needs_apm
def test_the_near_end_voice_goes_through_while_the_far_end_is_silent() -> None:
    near = far_end_voice(6.0)
    processor = VoiceProcessing(EchoReference(), echo_cancellation=True,
                                noise_suppression=True)
    sent = run_through(processor, near, np.zeros_like(near))
    steady = slice(2 * RATE, None)
    assert abs(power_db(sent[steady]) - power_db(near[steady])) < 3.0


@needs_apm
def test_noise_suppression_quietens_steady_noise_between_words() -> None:
    rng = np.random.default_rng(5)
    shape = burst(0.3, 300.0, 2000.0, amplitude=0.35)
    signal, onsets = burst_train(8, 1.0, shape)  # a word a second
    voice = to_int16(signal[: 8 * RATE]).astype(np.float64)
    noise = rng.normal(0, 300, voice.size)  # a fan, about -40 dBFS
    mic = np.clip(np.round(voice + noise), -32768, 32767).astype(np.int16)
    on = VoiceProcessing(EchoReference(), echo_cancellation=False, noise_suppression=True)
    sent = run_through(on, mic)
    pauses = np.ones(sent.size, dtype=bool)
    for onset in onsets:  # between words, leaving the words' tails out
        pauses[max(0, onset - RATE // 20) : onset + shape.samples.size + RATE * 15 // 100] = False
    words = np.abs(voice[: sent.size]) > 3000
    pauses[: 3 * RATE] = words[: 3 * RATE] = False  # the suppressor learns the noise first
    assert power_db(mic[: sent.size][pauses]) - power_db(sent[pauses]) >= 10.0  # noise down
    assert abs(power_db(sent[words]) - power_db(mic[: sent.size][words])) < 3.0  # words kept


def test_with_both_off_the_microphone_is_untouched() -> None:
    mic = far_end_voice(1.0)
    processor = VoiceProcessing(EchoReference(), echo_cancellation=False,
                                noise_suppression=False)
    assert not processor.active
    assert np.array_equal(run_through(processor, mic, mic), mic)


@needs_apm
def test_switching_on_during_the_call_takes_effect_at_the_next_block() -> None:
    far = far_end_voice(8.0)
    mic = to_int16(echo_of(far) / 32768.0)
    processor = VoiceProcessing(EchoReference(), echo_cancellation=False,
                                noise_suppression=False)
    half = 2 * RATE
    first = run_through(processor, mic[:half], far[:half])
    assert np.array_equal(first, mic[: first.size])
    processor.configure(echo_cancellation=True)
    later = run_through(processor, mic[half:], far[half:])
    assert erle_db(mic[half + 4 * RATE :], later[4 * RATE :]) >= 20.0


def test_without_the_library_processing_is_off_and_says_why(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> None:
        raise ImportError("No module named 'livekit'")

    monkeypatch.setattr(processing, "_import_rtc", missing)
    processor = VoiceProcessing(EchoReference())
    assert not processor.available and not processor.active
    assert "livekit" in processor.problem and "make setup" in processor.problem
    mic = far_end_voice(0.5)
    assert np.array_equal(run_through(processor, mic, mic), mic)


def test_the_reference_keeps_whole_10_ms_blocks_and_stays_bounded() -> None:
    reference = EchoReference()
    reference.played(np.arange(700, dtype=np.int16))
    reference.played(np.arange(700, 1000, dtype=np.int16))
    blocks = reference.blocks()
    assert [b.size for b in blocks] == [BLOCK, BLOCK]
    assert np.array_equal(np.concatenate(blocks), np.arange(960, dtype=np.int16))
    assert reference.blocks() == []
    reference.played(np.zeros(BLOCK * 200, dtype=np.int16))  # nobody took it
    assert len(reference.blocks()) == processing.REFERENCE_BLOCKS
