"""Retry delays after a dropped link: jittered exponential backoff, pure."""

from __future__ import annotations

import random
from collections.abc import Iterator


def backoff_delays(*, first: float = 0.5, factor: float = 2.0, cap: float = 8.0,
                   jitter: float = 0.3, rng: random.Random | None = None) -> Iterator[float]:
    """Endless delays: ``first``, ×``factor`` each time, at most ``cap``, each ±``jitter``
    (a fraction), so many clients cut off at once do not retry in lockstep."""
    rng = rng or random.Random()
    delay = first
    while True:
        yield max(0.0, delay * (1 + rng.uniform(-jitter, jitter)))
        delay = min(delay * factor, cap)
