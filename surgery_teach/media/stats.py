"""Delivery statistics for a received video track: pure counting, no I/O.

Memory stays bounded however long a session runs (an operating list of eight hours is
860,000 frames at 30 fps): latencies go into a :class:`LatencyHistogram` (exact to
0.01 ms below 100 ms, within 0.1 % above), each finished minute is kept as an exact
summary, and only the current minute's samples and the last few seconds' are held raw.
"""

from __future__ import annotations

import bisect
import itertools
import math
import time
from collections import deque
from dataclasses import dataclass, field

LINEAR_LIMIT_MS = 100.0  # below: buckets of 0.01 ms; above: buckets 0.1 % wide
_STEP = 100  # buckets per millisecond below the limit
_LINEAR_BUCKETS = int(LINEAR_LIMIT_MS * _STEP)
_GROWTH = 1.001
_LOWEST_MS = -1000.0  # clocks a little apart; anything below counts as this
RECENT_SAMPLES = 512  # raw (time, latency) pairs kept for recent()
YOUNGEST_SPAN = 0.5  # s: recent() measures pictures that just began over at least this
FREEZE_SECONDS = 0.2  # a pause between pictures this long is a freeze someone sees


def percentile(sorted_values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of already sorted values, linearly interpolated."""
    if not sorted_values:
        return math.nan
    pos = (len(sorted_values) - 1) * q
    low = math.floor(pos)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (pos - low)


def _bucket(ms: float) -> int:
    if ms < LINEAR_LIMIT_MS:
        return round(max(ms, _LOWEST_MS) * _STEP)
    return _LINEAR_BUCKETS + math.floor(math.log(ms / LINEAR_LIMIT_MS, _GROWTH))


def _value(bucket: int) -> float:
    if bucket < _LINEAR_BUCKETS:
        return bucket / _STEP
    return LINEAR_LIMIT_MS * _GROWTH ** (bucket - _LINEAR_BUCKETS + 0.5)  # the middle


class LatencyHistogram:
    """Latency samples counted in fine buckets, in memory that does not grow with time.

    :meth:`percentile` interpolates like :func:`percentile` does over the samples
    themselves, each sample taken as its bucket's value: exact to 0.01 ms below
    100 ms, within 0.1 % above. ``max`` is exact. At most ~17,000 buckets exist.
    """

    def __init__(self) -> None:
        self._counts: dict[int, int] = {}
        self.count = 0
        self.max = -math.inf

    def add(self, ms: float) -> None:
        key = _bucket(ms)
        self._counts[key] = self._counts.get(key, 0) + 1
        self.count += 1
        self.max = max(self.max, ms)

    def copy(self) -> LatencyHistogram:
        other = LatencyHistogram()
        other._counts = dict(self._counts)
        other.count, other.max = self.count, self.max
        return other

    def since(self, earlier: LatencyHistogram) -> LatencyHistogram:
        """The samples added after ``earlier`` (a :meth:`copy` of this one) was taken.

        ``max`` is that of the bucket values, as the exact one is not known.
        """
        other = LatencyHistogram()
        for key, count in self._counts.items():
            left = count - earlier._counts.get(key, 0)
            if left > 0:
                other._counts[key] = left
                other.count += left
        if other._counts:
            other.max = _value(max(other._counts))
        return other

    def percentile(self, q: float) -> float:
        """The ``q`` quantile (0..1) of the samples; NaN if there are none."""
        return self.percentiles([q])[0]

    def percentiles(self, qs: list[float]) -> list[float]:
        """Several quantiles at once (one pass over the buckets)."""
        if not self.count:
            return [math.nan] * len(qs)
        keys = sorted(self._counts)
        ends = list(itertools.accumulate(self._counts[k] for k in keys))  # rank after each

        def at_rank(rank: int) -> float:
            return min(_value(keys[bisect.bisect_right(ends, rank)]), self.max)

        found = []
        for q in qs:
            pos = (self.count - 1) * q
            low = math.floor(pos)
            below, above = at_rank(low), at_rank(min(low + 1, self.count - 1))
            found.append(below + (above - below) * (pos - low))
        return found

    def summary(self) -> dict[str, float] | None:
        if not self.count:
            return None
        p50, p95, p99 = self.percentiles([0.50, 0.95, 0.99])
        return {"count": self.count, "p50": round(p50, 2), "p95": round(p95, 2),
                "p99": round(p99, 2), "max": round(self.max, 2)}


@dataclass
class ReceiveStats:
    """What one viewer saw of one track.

    Latency is measured only for frames whose source stamped its capture time into the
    pixels (the synthetic source), from that stamp to the moment the frame was decoded.
    """

    label: str
    participant: str = ""
    frames: int = 0
    width: int = 0
    height: int = 0
    first_at: float | None = None
    last_at: float | None = None
    unreadable_stamps: int = 0
    out_of_order: int = 0
    missing: int = 0
    last_seq: int = 0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    frame_times: deque[float] = field(default_factory=lambda: deque(maxlen=256))
    recent_latencies: deque[tuple[float, float]] = field(
        default_factory=lambda: deque(maxlen=RECENT_SAMPLES))
    # pauses between pictures longer than FREEZE_SECONDS: (seconds since the first
    # picture when it ended, its length); and each change of picture size (a layer switch)
    freezes: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=256))
    sizes: deque[tuple[float, int, int]] = field(default_factory=lambda: deque(maxlen=256))
    _minutes: list[dict[str, float]] = field(default_factory=list, init=False, repr=False)
    _minute: int = field(default=0, init=False, repr=False)
    _minute_values: list[float] = field(default_factory=list, init=False, repr=False)
    _latency_start: float | None = field(default=None, init=False, repr=False)

    def add(self, *, now: float, width: int, height: int, stamp: tuple[int, float] | None,
            expect_stamp: bool) -> None:
        """Count one decoded frame; ``stamp`` is ``(seq, captured_at)`` when readable."""
        self.frames += 1
        if self.first_at is None:
            self.first_at = now
        if (width, height) != (self.width, self.height):
            self.sizes.append((round(now - self.first_at, 3), width, height))
        self.width, self.height = width, height
        if self.last_at is not None and now - self.last_at > FREEZE_SECONDS:
            self.freezes.append((round(now - self.first_at, 3), round(now - self.last_at, 3)))
        self.last_at = now
        self.frame_times.append(now)
        if stamp is None:
            if expect_stamp:
                self.unreadable_stamps += 1
            return
        seq, captured_at = stamp
        if seq <= self.last_seq:
            self.out_of_order += 1
            return
        if self.last_seq:
            self.missing += seq - self.last_seq - 1
        self.last_seq = seq
        self._add_latency(now, (now - captured_at) * 1000.0)

    def _add_latency(self, now: float, ms: float) -> None:
        self.latency.add(ms)
        self.recent_latencies.append((now, ms))
        if self._latency_start is None:
            self._latency_start = now
        minute = int((now - self._latency_start) // 60)
        if minute > self._minute:  # (a clock stepping back stays in the current minute)
            if self._minute_values:
                self._minutes.append(_minute_row(self._minute, self._minute_values))
            self._minute_values = []
            self._minute = minute
        self._minute_values.append(ms)

    def recent(self, now: float, window: float = 2.0) -> tuple[float, float | None]:
        """Frame rate and median latency (ms, ``None`` if unmeasured) over the last
        ``window`` seconds. Pictures that began less than ``window`` ago (a path just
        opened, as when a room moves onto the media server) are measured from the first
        (over at least :data:`YOUNGEST_SPAN`), not as if none came before it."""
        count = sum(1 for t in self.frame_times if now - t <= window)
        delays = sorted(ms for at, ms in self.recent_latencies if now - at <= window)
        delay = percentile(delays, 0.5) if delays else None
        if self.first_at is not None and now - self.first_at < window and count:
            # the intervals since the first picture, not the pictures
            return (count - 1) / max(now - self.first_at, min(YOUNGEST_SPAN, window)), delay
        return count / window, delay

    @property
    def fps(self) -> float:
        if self.first_at is None or self.last_at is None or self.frames < 2:
            return 0.0
        span = self.last_at - self.first_at
        return (self.frames - 1) / span if span > 0 else 0.0

    def by_minute(self) -> list[dict[str, float]]:
        """Latency p50/p95 for each minute since the first measured frame (to see drift);
        exact, the current minute included."""
        rows = list(self._minutes)
        if self._minute_values:
            rows.append(_minute_row(self._minute, self._minute_values))
        return rows

    def summary(self, now: float | None = None) -> dict[str, object]:
        """A JSON-ready summary (the ``watch --stats-json`` format, per track); a pause
        still going on at ``now`` (default: the time) counts as a freeze."""
        now = time.time() if now is None else now
        freezes = list(self.freezes)
        if self.last_at is not None and self.first_at is not None \
                and now - self.last_at > FREEZE_SECONDS:
            freezes.append((round(now - self.first_at, 3), round(now - self.last_at, 3)))
        return {
            "label": self.label,
            "participant": self.participant,
            "frames_decoded": self.frames,
            "fps": round(self.fps, 2),
            "resolution": [self.width, self.height],
            "latency_ms": self.latency.summary(),
            "unreadable_stamps": self.unreadable_stamps,
            "out_of_order": self.out_of_order,
            "missing_frames": self.missing,
            "latency_by_minute": self.by_minute(),
            "longest_freeze_s": max((gap for _, gap in freezes), default=0.0),
            "freezes": [list(f) for f in freezes],
            "sizes": [list(size) for size in self.sizes],
        }


def _minute_row(minute: int, values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"minute": minute, "count": len(ordered),
            "p50": round(percentile(ordered, 0.5), 2),
            "p95": round(percentile(ordered, 0.95), 2)}
