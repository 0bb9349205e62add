from __future__ import annotations

import math

from surgery_teach.media.stats import ReceiveStats, percentile


def test_percentile_interpolates() -> None:
    values = [10.0, 20.0, 30.0, 40.0]
    assert percentile(values, 0.0) == 10.0
    assert percentile(values, 1.0) == 40.0
    assert percentile(values, 0.5) == 25.0
    assert math.isnan(percentile([], 0.5))


def test_latency_order_and_losses_are_counted_from_stamps() -> None:
    stats = ReceiveStats(label="Laparoscope")
    base = 1000.0
    for seq, delay_ms in [(1, 10), (2, 20), (4, 30), (3, 99), (5, 40)]:
        stats.add(now=base + seq / 30 + delay_ms / 1000, width=1280, height=720,
                  stamp=(seq, base + seq / 30), expect_stamp=True)
    stats.add(now=base + 1, width=1280, height=720, stamp=None, expect_stamp=True)
    summary = stats.summary()
    assert summary["frames_decoded"] == 6
    assert summary["out_of_order"] == 1
    assert summary["missing_frames"] == 1
    assert summary["unreadable_stamps"] == 1
    latency = summary["latency_ms"]
    assert latency["count"] == 4
    assert latency["max"] == 40.0
    assert latency["p50"] == 25.0
    assert summary["resolution"] == [1280, 720]


def test_unstamped_sources_do_not_count_unreadable_stamps() -> None:
    stats = ReceiveStats(label="Room camera")
    stats.add(now=1.0, width=640, height=360, stamp=None, expect_stamp=False)
    stats.add(now=2.0, width=640, height=360, stamp=None, expect_stamp=False)
    summary = stats.summary()
    assert summary["unreadable_stamps"] == 0
    assert summary["latency_ms"] is None
    assert summary["fps"] == 1.0


def test_latency_is_reported_per_minute_to_show_drift() -> None:
    stats = ReceiveStats(label="Laparoscope")
    for i in range(1, 181):  # three minutes at one frame a second, latency growing by minute
        captured = 1000.0 + i
        stats.add(now=captured + 0.010 * (1 + (i - 1) // 60), width=640, height=360,
                  stamp=(i, captured), expect_stamp=True)
    minutes = stats.by_minute()
    assert [m["minute"] for m in minutes] == [0, 1, 2]
    assert [round(m["p50"]) for m in minutes] == [10, 20, 30]
    assert [m["count"] for m in minutes] == [60, 60, 60]
