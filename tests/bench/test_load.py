"""The load benchmark, small: 40 clients in 2 rooms, so that it cannot rot unnoticed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.timing import seconds

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_load_benchmark_runs_and_every_message_arrives(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.load", "--clients", "40", "--rooms", "2", "--procs", "2",
         "--seconds", "2", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=seconds(120), check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "chat relay" in done.stdout and "targets" in done.stdout
    result = json.loads(out.read_text())
    assert (result["clients"], result["rooms"], result["client_processes"]) == (40, 2, 2)
    assert result["chat_sent"] >= 4  # two rooms, two a second, two seconds (minus a phase)
    assert result["chat_lost"] == 0 and result["chat_deliveries"] == result["chat_expected"]
    assert result["clients_dropped"] == 0 and result["errors"] == {}
    assert 0 < result["relay_ms"]["p50"] <= result["relay_ms"]["max"]
    assert result["server_rss_mib"]["joined"] > 0
