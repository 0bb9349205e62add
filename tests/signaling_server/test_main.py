"""``python -m signaling_server`` as a user runs it: a real subprocess on a free port."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from signaling_server import RunningServer
from tests.signaling_server.conftest import http_get
from tests.timing import seconds

REPO = Path(__file__).resolve().parents[2]


async def _launch(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "signaling_server",
        *args,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


@pytest.fixture
async def process() -> AsyncIterator[asyncio.subprocess.Process]:
    proc = await _launch("--host", "127.0.0.1", "--port", "0", "--log-level", "info")
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def _port_of(proc: asyncio.subprocess.Process) -> int:
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), seconds(10))
    found = re.search(rb"listening on ws://127\.0\.0\.1:(\d+)", line)
    assert found, f"unexpected first line: {line!r}"
    return int(found.group(1))


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_runs_answers_healthz_and_stops_cleanly_on_signal(
    process: asyncio.subprocess.Process, signum: signal.Signals
) -> None:
    port = await _port_of(process)
    status, _, body = await http_get("127.0.0.1", port, "/healthz")
    assert status == 200
    assert json.loads(body)["status"] == "ok"

    process.send_signal(signum)
    _, stderr = await asyncio.wait_for(process.communicate(), seconds(10))
    assert process.returncode == 0
    assert b"Traceback" not in stderr
    assert b"stopped" in stderr


async def test_port_in_use_exits_2_with_one_clear_line(server: RunningServer) -> None:
    proc = await _launch("--port", str(server.port))
    stdout, stderr = await asyncio.wait_for(proc.communicate(), seconds(10))
    assert proc.returncode == 2
    lines = [line for line in stderr.decode().splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "already in use" in lines[0]
    assert "--port" in lines[0]
    assert stdout == b""


async def test_bad_option_exits_2_without_traceback() -> None:
    proc = await _launch("--max-room-size", "0")
    _, stderr = await asyncio.wait_for(proc.communicate(), seconds(10))
    assert proc.returncode == 2
    assert b"Traceback" not in stderr
    assert b"max room size" in stderr
