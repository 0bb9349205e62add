"""The board-flood benchmark, small (no ordinary clients, 3 s), so that it cannot rot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.timing import seconds

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_abuse_benchmark_runs_and_the_flood_meets_the_boards_limits(tmp_path: Path) -> None:
    out = tmp_path / "abuse.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.abuse", "--clients", "0", "--seconds", "3",
         "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=seconds(120), check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "honest ping round trip" in done.stdout and "targets" in done.stdout
    result = json.loads(out.read_text())
    assert result["honest_pings"] > 10 and result["flood_sent"]["add"] > 10
    assert 0 < result["late_joiner_snapshot_bytes"] <= 2**20
    assert result["viewer_largest_message_bytes"] < 200_000
