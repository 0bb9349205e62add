from __future__ import annotations

import math

import pytest

from surgery_teach.media.health import Health, LinkReport, classify_delay


@pytest.mark.parametrize(
    ("delay", "health"),
    [(20, Health.GOOD), (149.9, Health.GOOD), (150, Health.FAIR), (299, Health.FAIR),
     (300, Health.POOR), (2000, Health.POOR), (None, Health.UNKNOWN), (math.nan, Health.UNKNOWN)],
)
def test_delay_thresholds_are_150_and_300_ms(delay: float | None, health: Health) -> None:
    assert classify_delay(delay) is health


def report(**kw: float | None) -> LinkReport:
    values: dict[str, float | None] = dict(fps=30.0, kbit_per_s=2500.0, loss=0.0, rtt_ms=10.0,
                                            delay_ms=40.0)
    values.update(kw)
    return LinkReport(label="Laparoscope", **values)  # type: ignore[arg-type]


def test_good_link() -> None:
    assert report().health is Health.GOOD
    assert not report().too_late_to_guide


def test_late_video_is_red_and_flagged() -> None:
    late = report(delay_ms=450.0)
    assert late.health is Health.POOR
    assert late.too_late_to_guide


def test_loss_and_low_frame_rate_degrade_a_fast_link() -> None:
    assert report(loss=0.02).health is Health.FAIR
    assert report(loss=0.08).health is Health.POOR
    assert report(fps=10.0).health is Health.POOR


def test_unstamped_source_falls_back_to_half_the_round_trip() -> None:
    assert report(delay_ms=None, rtt_ms=100.0).health is Health.GOOD
    assert report(delay_ms=None, rtt_ms=400.0).health is Health.FAIR
    assert report(delay_ms=None, rtt_ms=None).health is Health.UNKNOWN
