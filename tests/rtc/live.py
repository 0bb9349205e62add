"""Helpers for end-to-end tests: a killable server process, waiting, watching frames."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from surgery_teach.media.receive import VideoReceiver

ROOT = Path(__file__).resolve().parents[2]


async def until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    """Wait until ``predicate()`` is true, checking every 50 ms; fail after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.05)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """``python -m signaling_server`` in its own process on a fixed port, to kill and restart."""

    def __init__(self, port: int, *args: str) -> None:
        self.port = port
        self.args = args
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self, timeout: float) -> None:
        """Start it and wait until it listens."""
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "signaling_server", "--host", "127.0.0.1",
            "--port", str(self.port), "--log-level", "warning", *self.args,
            cwd=ROOT, env=dict(os.environ, PYTHONUNBUFFERED="1"),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        assert re.search(rb"listening on ws://127\.0\.0\.1:\d+", line), line

    async def kill(self) -> None:
        """SIGKILL: no goodbye to anyone, nothing flushed but what the OS already has."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()

    async def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            await self.kill()


@dataclass
class FrameLog:
    """Every frame a receiver decodes: (loop time, stamped frame number), from now on."""

    receiver: VideoReceiver
    frames: list[tuple[float, int]] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    def start(self) -> FrameLog:
        self._task = asyncio.ensure_future(self._follow())
        return self

    async def _follow(self) -> None:
        loop = asyncio.get_running_loop()
        seq = self.receiver.stats.frames
        while (frame := await self.receiver.slot.next_after(seq)) is not None:
            seq = frame.seq
            self.frames.append((loop.time(), self.receiver.stats.last_seq))

    def between(self, start: float, end: float) -> list[tuple[float, int]]:
        return [f for f in self.frames if start <= f[0] <= end]

    @property
    def last_at(self) -> float:
        return self.frames[-1][0] if self.frames else 0.0

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


def largest_gap(frames: list[tuple[float, int]], start: float, end: float) -> float:
    """The longest time without a frame between ``start`` and ``end``."""
    times = [start, *(t for t, _ in frames if start <= t <= end), end]
    return max(b - a for a, b in itertools.pairwise(times))
