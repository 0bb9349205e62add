"""The network lab's report: which freezes count against the targets."""

from __future__ import annotations

import pytest

from bench.netlab.report import late_freeze_s, viewer_row


def test_only_the_part_of_a_freeze_after_the_first_ten_seconds_counts() -> None:
    assert late_freeze_s([]) == 0.0
    assert late_freeze_s([[3.0, 2.5]]) == 0.0  # over before 10 s: finding the layer
    assert late_freeze_s([[9.5, 1.3]]) == pytest.approx(0.8)  # straddles: the late part
    assert late_freeze_s([[7.7, 1.3], [20.4, 1.4], [30.0, 0.2]]) == pytest.approx(1.4)


def test_a_viewer_row_carries_its_late_freeze() -> None:
    stats = {"duration_s": 30.0, "tracks": [{
        "frames_decoded": 800, "fps": 29.0, "latency_ms": {"p50": 15.0, "p95": 40.0},
        "longest_freeze_s": 1.9, "freezes": [[6.0, 1.9], [22.0, 0.6]],
        "resolution": [640, 360], "layer": "360p", "sizes": [[0.0, 640, 360]]}]}
    row = viewer_row("trainee", "trainee", "Trainee", stats, publisher=None, path_bytes={},
                     problem=None)
    assert (row.longest_freeze_ms, row.late_freeze_ms) == (1900.0, 600.0)
