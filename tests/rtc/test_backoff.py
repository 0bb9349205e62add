from __future__ import annotations

import itertools
import random

from surgery_teach.rtc.backoff import backoff_delays


def test_delays_grow_to_the_cap_with_jitter() -> None:
    delays = list(itertools.islice(backoff_delays(rng=random.Random(1)), 10))
    assert 0.35 <= delays[0] <= 0.65
    assert all(d <= 8.0 * 1.3 for d in delays)
    assert delays[-1] >= 8.0 * 0.7
    assert delays[3] > delays[0]


def test_two_clients_do_not_retry_in_lockstep() -> None:
    a = list(itertools.islice(backoff_delays(rng=random.Random(1)), 5))
    b = list(itertools.islice(backoff_delays(rng=random.Random(2)), 5))
    assert a != b
