"""When the shared encoder must emit a keyframe: pure timing rules, no I/O.

Viewers ask for keyframes when they join and when they lose packets (PLI/FIR). With one
encoder shared by every viewer, a burst of requests must collapse into one keyframe, and a
request that arrives too soon after the last keyframe is deferred, never dropped.
"""

from __future__ import annotations


class KeyframePolicy:
    """Decides per frame whether to force an IDR.

    ``min_gap`` (seconds) rate-limits requested keyframes; ``interval`` (seconds) forces a
    periodic one so a viewer whose requests are lost still recovers.
    """

    def __init__(self, *, min_gap: float = 0.25, interval: float = 4.0,
                 urgent_gap: float = 0.25) -> None:
        if min_gap < 0 or interval <= 0 or urgent_gap < 0:
            raise ValueError("min_gap and urgent_gap must be >= 0 and interval > 0")
        self.min_gap = min_gap
        self.interval = interval
        self.urgent_gap = min(urgent_gap, min_gap)
        self._last: float | None = None
        self._pending = False
        self._urgent = False

    @property
    def pending(self) -> bool:
        return self._pending

    def request(self, *, urgent: bool = False) -> None:
        """Note a keyframe request (a new viewer, PLI or FIR). ``urgent``: a viewer moves
        to this layer and shows nothing until it comes (rare: layer switches are
        rate-limited themselves), so only ``urgent_gap`` applies."""
        self._pending = True
        self._urgent = self._urgent or urgent

    def should_force(self, now: float) -> bool:
        """True when the frame about to be encoded at ``now`` must be a keyframe."""
        if self._last is None:
            return True
        since = now - self._last
        gap = self.urgent_gap if self._urgent else self.min_gap
        if self._pending and since >= gap:
            return True
        return since >= self.interval

    def encoded(self, now: float, *, keyframe: bool) -> None:
        """Record what the encoder produced for the frame at ``now``."""
        if keyframe:
            self._last = now
            self._pending = self._urgent = False
