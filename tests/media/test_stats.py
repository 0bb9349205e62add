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


def test_recent_window_reports_current_rate_and_delay() -> None:
    stats = ReceiveStats(label="Laparoscope")
    for i in range(1, 91):  # 3 s at 30 fps; delay 10 ms, then 100 ms in the last second
        captured = 100.0 + i / 30
        delay = 0.100 if i > 60 else 0.010
        stats.add(now=captured + delay, width=640, height=360, stamp=(i, captured),
                  expect_stamp=True)
    fps, delay_ms = stats.recent(now=100.0 + 90 / 30 + 0.1, window=1.0)
    assert 25 <= fps <= 31
    assert delay_ms is not None and round(delay_ms) == 100
    fps, delay_ms = stats.recent(now=200.0, window=1.0)
    assert fps == 0 and delay_ms is None
