"""Delivery statistics for a received video track: pure counting, no I/O."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field


def percentile(sorted_values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of already sorted values, linearly interpolated."""
    if not sorted_values:
        return math.nan
    pos = (len(sorted_values) - 1) * q
    low = math.floor(pos)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (pos - low)


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
    latencies_ms: list[float] = field(default_factory=list)
    latency_times: list[float] = field(default_factory=list)
    frame_times: deque[float] = field(default_factory=lambda: deque(maxlen=256))

    def add(self, *, now: float, width: int, height: int, stamp: tuple[int, float] | None,
            expect_stamp: bool) -> None:
        """Count one decoded frame; ``stamp`` is ``(seq, captured_at)`` when readable."""
        self.frames += 1
        self.width, self.height = width, height
        if self.first_at is None:
            self.first_at = now
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
        self.latencies_ms.append((now - captured_at) * 1000.0)
        self.latency_times.append(now)

    def recent(self, now: float, window: float = 2.0) -> tuple[float, float | None]:
        """Frame rate and median latency (ms, ``None`` if unmeasured) over the last
        ``window`` seconds."""
        count = sum(1 for t in self.frame_times if now - t <= window)
        delays = []
        for at, value in zip(reversed(self.latency_times), reversed(self.latencies_ms),
                             strict=True):
            if now - at > window:
                break
            delays.append(value)
        delay = percentile(sorted(delays), 0.5) if delays else None
        return count / window, delay

    @property
    def fps(self) -> float:
        if self.first_at is None or self.last_at is None or self.frames < 2:
            return 0.0
        span = self.last_at - self.first_at
        return (self.frames - 1) / span if span > 0 else 0.0

    def by_minute(self) -> list[dict[str, float]]:
        """Latency p50/p95 for each minute since the first frame (to see drift)."""
        if not self.latency_times:
            return []
        start = self.latency_times[0]
        buckets: dict[int, list[float]] = {}
        for at, value in zip(self.latency_times, self.latencies_ms, strict=True):
            buckets.setdefault(int((at - start) // 60), []).append(value)
        rows = []
        for minute in sorted(buckets):
            values = sorted(buckets[minute])
            rows.append({"minute": minute, "count": len(values),
                         "p50": round(percentile(values, 0.5), 2),
                         "p95": round(percentile(values, 0.95), 2)})
        return rows

    def summary(self) -> dict[str, object]:
        """A JSON-ready summary (the ``watch --stats-json`` format, per track)."""
        values = sorted(self.latencies_ms)
        latency = None
        if values:
            latency = {
                "count": len(values),
                "p50": round(percentile(values, 0.50), 2),
                "p95": round(percentile(values, 0.95), 2),
                "p99": round(percentile(values, 0.99), 2),
                "max": round(values[-1], 2),
            }
        return {
            "label": self.label,
            "participant": self.participant,
            "frames_decoded": self.frames,
            "fps": round(self.fps, 2),
            "resolution": [self.width, self.height],
            "latency_ms": latency,
            "unreadable_stamps": self.unreadable_stamps,
            "out_of_order": self.out_of_order,
            "missing_frames": self.missing,
            "latency_by_minute": self.by_minute(),
        }
