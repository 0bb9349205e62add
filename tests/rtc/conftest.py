from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from signaling_server.server import ServerConfig, start_server

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def server_url() -> AsyncIterator[str]:
    server = await start_server(ServerConfig(host="127.0.0.1", port=0))
    try:
        yield server.url
    finally:
        await server.close()


class Cli:
    """Runs ``python -m surgery_teach ...`` as real processes and stops them at the end."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[str]] = []

    def start(self, *args: str) -> subprocess.Popen[str]:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        proc = subprocess.Popen(
            [sys.executable, "-m", "surgery_teach", *args],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture
def cli() -> Iterator[Cli]:
    runner = Cli()
    try:
        yield runner
    finally:
        runner.stop_all()
