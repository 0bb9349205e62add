"""A fixed-rate schedule for capture threads: no drift, and no bursts after a stall."""

from __future__ import annotations


class Pacer:
    """Ticks at ``rate`` per second on a monotonic clock the caller passes in.

    Tick ``n`` is due at ``start + n / rate``, so rounding never accumulates into drift.
    A caller more than one period late skips the ticks it missed instead of firing them
    back to back: a viewer wants the newest picture, not a burst of stale ones.
    """

    def __init__(self, rate: float) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, not {rate}")
        self.period = 1.0 / rate
        self.tick = -1
        self._start: float | None = None

    @property
    def media_time(self) -> float:
        """Scheduled time of the current tick, in seconds since the first one."""
        return max(self.tick, 0) * self.period

    def next_delay(self, now: float) -> float:
        """Advance to the next tick and return how long to wait from ``now`` until it is due."""
        if self._start is None:
            self._start = now
            self.tick = 0
            return 0.0
        self.tick += 1
        due = self._start + self.tick * self.period
        if now - due >= self.period:
            self.tick = int((now - self._start) / self.period)
            due = self._start + self.tick * self.period
        return max(0.0, due - now)
