"""The capture schedule: ticks on a fixed grid, skipping ahead after a stall."""

from __future__ import annotations

import pytest

from surgery_teach.capture.pacing import Pacer


def test_first_tick_is_immediate_and_later_ticks_sit_on_a_fixed_grid():
    pacer = Pacer(10)
    assert pacer.next_delay(100.0) == 0.0
    assert pacer.next_delay(100.0) == pytest.approx(0.1)
    # Woken a little late: the next wait is shorter, so there is no drift.
    assert pacer.next_delay(100.13) == pytest.approx(0.07)
    assert pacer.tick == 2
    assert pacer.media_time == pytest.approx(0.2)


def test_slightly_late_tick_fires_at_once():
    pacer = Pacer(10)
    pacer.next_delay(0.0)
    assert pacer.next_delay(0.15) == 0.0
    assert pacer.tick == 1


def test_a_long_stall_skips_missed_ticks_instead_of_bursting():
    pacer = Pacer(10)
    pacer.next_delay(0.0)
    assert pacer.next_delay(1.05) == 0.0
    assert pacer.tick == 10  # ticks 1..9 skipped
    assert pacer.next_delay(1.05) == pytest.approx(0.05)
    assert pacer.tick == 11


def test_rate_must_be_positive():
    with pytest.raises(ValueError):
        Pacer(0)
