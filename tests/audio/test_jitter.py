"""The voice buffer holds what the measured jitter needs: little on a clean link, more
on a jittery one, less again when it calms down; lost frames are concealed on time.

Simulated in virtual time: frames of 20 ms are spoken every 20 ms and arrive after a
chosen delay; the sound card takes 10 ms every 10 ms.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from surgery_teach.audio.jitter import MIN_MARGIN, VoiceBuffer

RATE = 48000
FRAME = 960
BLOCK = 480


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def voice(index: int, loud: bool = True) -> np.ndarray:
    """Frame ``index``: every sample carries the frame's number (1000 + index) or silence."""
    return np.full(FRAME, 1000 + index if loud else 0, dtype=np.int16)


def simulate(buffer: VoiceBuffer, clock: Clock, seconds: float,
             delay: Callable[[int], float | None], *, start: int = 0,
             loud: Callable[[int], bool] = lambda i: True,
             played: list[tuple[float, np.ndarray]] | None = None) -> list[tuple[float, int]]:
    """Run for ``seconds``: frame i spoken at i*20 ms arrives ``delay(i)`` later (None:
    lost), in order, as the RTP jitter buffer hands frames over (a late frame holds back
    those behind it). Returns (time, samples held) at each sound card block; ``played``
    gets (time, block) of what the sound card played."""
    arrivals: list[tuple[float, int]] = []
    for i in range(start, start + int(seconds / 0.02)):
        d = delay(i)
        if d is not None:
            at = i * 0.02 + d
            arrivals.append((max(at, arrivals[-1][0]) if arrivals else at, i))
    held = []
    tick = start * 0.02
    end = tick + seconds
    out = np.zeros(BLOCK, dtype=np.int16)
    k = 0
    while tick < end:
        while k < len(arrivals) and arrivals[k][0] <= tick:
            clock.now = arrivals[k][0]
            index = arrivals[k][1]
            buffer.put(voice(index, loud(index)), index * 0.02)
            k += 1
        clock.now = tick
        buffer.take(out)
        held.append((tick, buffer.buffered))
        if played is not None:
            played.append((tick, out.copy()))
        tick += BLOCK / RATE
    return held


def test_on_a_clean_link_it_holds_about_one_frame() -> None:
    clock = Clock()
    buffer = VoiceBuffer(clock=clock)
    held = simulate(buffer, clock, 10.0, lambda i: 0.001)
    assert buffer.underruns == 0
    assert buffer.jitter < 0.001
    assert buffer.margin == pytest.approx(MIN_MARGIN)
    average = np.mean([h for t, h in held if t > 1.0]) / RATE
    assert average < 0.030  # 10-30 ms held, not the old fixed 60 ms


def test_jitter_grows_the_margin_so_the_voice_plays_without_gaps() -> None:
    clock = Clock()
    buffer = VoiceBuffer(clock=clock)
    rng = np.random.default_rng(1)
    jitter = rng.uniform(0.0, 0.040, 2000)
    simulate(buffer, clock, 3.0, lambda i: 0.001 + jitter[i])
    assert buffer.jitter > 0.030
    assert buffer.margin > 0.030
    settled = buffer.underruns
    simulate(buffer, clock, 10.0, lambda i: 0.001 + jitter[i], start=150)
    assert buffer.underruns == settled  # no more gaps once it has measured the jitter


def test_when_the_link_calms_down_the_extra_is_cut_in_the_pauses() -> None:
    clock = Clock()
    buffer = VoiceBuffer(clock=clock)
    simulate(buffer, clock, 2.0, lambda i: 0.001 + (0.080 if i % 10 == 0 else 0.0))
    assert buffer.margin > 0.070
    # calm from here, with a pause every half second: held audio comes down
    held = simulate(buffer, clock, 8.0, lambda i: 0.001, start=100,
                    loud=lambda i: i % 25 < 20)
    late = [h for t, h in held if t > 9.0]
    assert buffer.margin < 0.015
    assert max(late) / RATE < 0.045
    assert buffer.dropped > 0 and buffer.underruns <= 1


def test_a_lost_frame_is_concealed_and_the_timing_holds() -> None:
    clock = Clock()
    buffer = VoiceBuffer(clock=clock)
    simulate(buffer, clock, 1.0, lambda i: 0.002)
    before = buffer.underruns
    simulate(buffer, clock, 1.0, lambda i: None if i == 70 else 0.002, start=50)
    assert buffer.concealed == FRAME
    assert buffer.underruns == before  # the hole was filled, not played as a gap


def playing_delay(tick: float, block: np.ndarray) -> float:
    """How long ago the frame ending ``block`` was spoken (frame i holds 1000 + i)."""
    return tick - (int(block[-1]) - 1000) * 0.02


def test_a_late_frame_is_bridged_and_played_as_soon_as_it_comes() -> None:
    """A frame 45 ms late (a stalled sender) is waited for with the last sound carried
    on, not with silence and a refill of the whole margin: the voice goes on no more
    than the frame was late."""
    clock = Clock()
    buffer = VoiceBuffer(clock=clock)
    simulate(buffer, clock, 2.0, lambda i: 0.001)
    played: list[tuple[float, np.ndarray]] = []
    simulate(buffer, clock, 1.0, lambda i: 0.046 if i == 110 else 0.001, start=100,
             played=played)
    assert buffer.underruns == 1
    assert all(block.all() for _, block in played)  # never a silent sample
    before = max(playing_delay(t, b) for t, b in played if t < 2.19)
    after = max(playing_delay(t, b) for t, b in played if 2.3 < t < 2.4)
    assert after - before <= 0.045 + BLOCK / RATE  # not the margin and more on top
    assert buffer.bridged > 0


def test_a_voice_that_stops_falls_silent_and_refills_when_it_is_back() -> None:
    clock = Clock()
    buffer = VoiceBuffer(clock=clock)
    simulate(buffer, clock, 1.0, lambda i: 0.001)
    played: list[tuple[float, np.ndarray]] = []
    simulate(buffer, clock, 1.0, lambda i: None, start=50, played=played)
    silent = [t for t, block in played if not block.any()]
    # what was held (a frame and the margin: 30 ms), then at most CONCEAL_MAX bridged
    assert silent and silent[0] <= 1.0 + 0.030 + 0.120 + BLOCK / RATE
    assert all(not block.any() for t, block in played if t >= silent[0])
    played.clear()
    simulate(buffer, clock, 0.5, lambda i: 0.001, start=100, played=played)
    first = next(t for t, block in played if block.any())
    assert first >= 2.0 + buffer.target / RATE - 0.02 - BLOCK / RATE  # the margin refilled


def test_what_piles_up_in_a_stall_is_dropped_down_to_the_target() -> None:
    clock = Clock()
    buffer = VoiceBuffer(clock=clock)
    for i in range(40):  # 800 ms delivered at once (a speaker that stopped taking)
        buffer.put(voice(i), None)
    assert buffer.buffered <= buffer.limit and buffer.dropped > 0
    out = np.zeros(BLOCK, dtype=np.int16)
    buffer.take(out)
    assert out[-1] >= 1000 + 30  # the newest audio is what is left


def test_clear_forgets_and_refills_before_playing() -> None:
    clock = Clock()
    buffer = VoiceBuffer(clock=clock)
    simulate(buffer, clock, 0.5, lambda i: 0.001)
    buffer.clear()
    assert buffer.buffered == 0
    out = np.ones(BLOCK, dtype=np.int16)
    buffer.take(out)
    assert not out.any()


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError):
        VoiceBuffer(min_margin=0.3, max_margin=0.2)
