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


def test_whole_run_percentiles_match_the_exact_ones_in_bounded_memory() -> None:
    """Half an hour at 30 fps: 0.01 ms exact below 100 ms, 0.1 % above, max exact."""
    import random

    from surgery_teach.media.stats import RECENT_SAMPLES

    rng = random.Random(6)
    stats = ReceiveStats(label="Laparoscope")
    delays = []
    base = 1000.0
    for seq in range(1, 30 * 60 * 30 + 1):
        delay = rng.lognormvariate(2.8, 0.35) if seq % 200 else rng.uniform(100, 400)
        delays.append(delay)
        captured = base + seq / 30
        stats.add(now=captured + delay / 1000, width=1920, height=1080,
                  stamp=(seq, captured), expect_stamp=True)
    exact = sorted(delays)
    latency = stats.summary()["latency_ms"]
    assert latency["count"] == len(delays)
    for key, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        want = percentile(exact, q)
        assert abs(latency[key] - want) <= max(0.011, want * 0.001), key
    assert latency["max"] == round(exact[-1], 2)
    # what is held: buckets, the current minute's samples, the last few seconds
    assert len(stats.latency._counts) < 20_000
    assert len(stats._minute_values) <= 60 * 30
    assert len(stats.recent_latencies) <= RECENT_SAMPLES


def test_each_minute_is_summarised_exactly_as_it_ends() -> None:
    import random

    rng = random.Random(2)
    stats = ReceiveStats(label="Laparoscope")
    samples: dict[int, list[float]] = {}
    first = None
    for seq in range(1, 30 * 60 * 5 + 1):  # five minutes at 30 fps, slowly drifting
        captured = 500.0 + seq / 30
        delay = 12 + seq / 2000 + rng.random() * 5
        now = captured + delay / 1000
        first = first if first is not None else now
        samples.setdefault(int((now - first) // 60), []).append(delay)
        stats.add(now=now, width=1920, height=1080, stamp=(seq, captured), expect_stamp=True)
    rows = stats.by_minute()
    assert [r["minute"] for r in rows] == sorted(samples)
    for row in rows:
        values = sorted(samples[row["minute"]])
        assert row["count"] == len(values)
        assert row["p50"] == round(percentile(values, 0.5), 2)
        assert row["p95"] == round(percentile(values, 0.95), 2)
    assert stats.summary()["latency_by_minute"] == rows


def test_a_window_of_the_histogram_gives_the_percentiles_of_that_window() -> None:
    from surgery_teach.media.stats import LatencyHistogram

    histogram = LatencyHistogram()
    for ms in (50.0, 60.0, 70.0):
        histogram.add(ms)
    before = histogram.copy()
    later = [10.0, 20.0, 30.0, 40.0, 250.0]
    for ms in later:
        histogram.add(ms)
    window = histogram.since(before)
    assert window.count == len(later)
    assert window.percentile(0.5) == 30.0
    assert window.percentile(0.0) == 10.0
    assert abs(window.percentile(1.0) - 250.0) < 0.25
    assert histogram.percentile(0.5) == 45.0  # the whole run: all eight samples
    assert math.isnan(LatencyHistogram().percentile(0.5))


def test_recent_rate_of_pictures_that_just_began_is_their_own() -> None:
    """A path opened 0.8 s ago at 30 fps (the room moved onto the media server): 30 fps,
    not the 12 of 24 pictures over the 2 s window; stopped since, its rate falls."""
    stats = ReceiveStats(label="Laparoscope")
    for i in range(24):
        stats.add(now=100.0 + i / 30, width=640, height=360, stamp=None, expect_stamp=False)
    fps, _ = stats.recent(now=100.0 + 0.8)
    assert 28 <= fps <= 31
    fps, _ = stats.recent(now=101.6)  # nothing for 0.8 s
    assert fps <= 16
    first = ReceiveStats(label="Laparoscope")
    for i in range(4):
        first.add(now=100.0 + i / 30, width=640, height=360, stamp=None, expect_stamp=False)
    assert first.recent(now=100.1)[0] == 3 / 0.5  # the first pictures: over half a second
