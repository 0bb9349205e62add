"""Is the link good enough to guide an operation? Pure thresholds, no I/O.

Under 150 ms glass-to-glass is the aim, under 300 ms the safety bar from telesurgery
studies; a mentor's "stop" arriving later than that cannot guide safely.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

GOOD_DELAY_MS = 150.0
SAFE_DELAY_MS = 300.0
LOW_FPS = 15.0
HIGH_LOSS = 0.05


class Health(StrEnum):
    GOOD = "good"  # green
    FAIR = "fair"  # amber
    POOR = "poor"  # red
    UNKNOWN = "unknown"


def classify_delay(delay_ms: float | None) -> Health:
    if delay_ms is None or math.isnan(delay_ms):
        return Health.UNKNOWN
    if delay_ms < GOOD_DELAY_MS:
        return Health.GOOD
    if delay_ms < SAFE_DELAY_MS:
        return Health.FAIR
    return Health.POOR


@dataclass(frozen=True)
class LinkReport:
    """One remote source's link as a viewer sees it, refreshed about once a second."""

    label: str
    fps: float
    kbit_per_s: float
    loss: float  # fraction of packets lost, 0..1
    rtt_ms: float | None
    delay_ms: float | None  # measured end to end (stamped sources only)
    layer: str = ""  # the layer the sender chose for us ("360p"), "" if it did not say
    top: str = ""  # the best layer the source offers
    reason: str = ""  # why we get that layer (the sender's words, English)

    @property
    def limited(self) -> bool:
        """The sender sends us less than its best, for our link or its upload."""
        return bool(self.layer) and self.layer != self.top

    @property
    def health(self) -> Health:
        """The worst of delay, frame rate and loss."""
        delay = classify_delay(self.delay_ms)
        if delay is Health.UNKNOWN and self.rtt_ms is not None:
            # Without a stamp, half the round trip is a lower bound on the delay.
            delay = classify_delay(self.rtt_ms / 2)
        worst = delay
        if self.fps < LOW_FPS or self.loss >= HIGH_LOSS:
            worst = Health.POOR if worst is not Health.POOR else worst
        elif self.fps < 25 or self.loss >= 0.01:
            worst = Health.FAIR if worst in (Health.GOOD, Health.UNKNOWN) else worst
        return worst

    @property
    def too_late_to_guide(self) -> bool:
        return self.delay_ms is not None and self.delay_ms >= SAFE_DELAY_MS
