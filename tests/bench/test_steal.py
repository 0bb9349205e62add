"""The voice bench's steal watch: reads the machine's steal time and sums it by span."""

from __future__ import annotations

import pytest

from bench.steal import StealWatch, read_steal


def test_this_machine_tells_its_steal_time() -> None:
    first = read_steal()
    assert first is not None and first >= 0.0  # Linux: the 8th field of /proc/stat
    second = read_steal()
    assert second is not None and second >= first


def test_steal_is_summed_by_span_and_worst_second() -> None:
    watch = StealWatch()
    watch.stolen = [(10.0, 0.01), (10.5, 0.02), (10.9, 0.03), (12.0, 0.01), (20.0, 0.5)]
    assert watch.total(10.0, 12.0) == pytest.approx(0.07)
    summary = watch.summary(10.0, 13.0)
    assert summary == {"total_ms": 70.0, "worst_second_ms": 60.0}
    assert watch.summary()["total_ms"] == 570.0

