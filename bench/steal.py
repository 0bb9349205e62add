"""Time the hypervisor took this virtual machine's processors away (``steal`` in
``/proc/stat``), sampled while a benchmark runs.

On a shared virtual machine every thread stops while its virtual processor is taken
away, real-time ones too: a voice or video figure spoiled by that says nothing of the
program. :class:`StealWatch` samples the machine's steal time every
:data:`SAMPLE_EVERY` and tells how much there was, and when, so a report can show it
beside the figures it may have spoiled.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

SAMPLE_EVERY = 0.01
_TICK = 1.0 / os.sysconf("SC_CLK_TCK")
_STAT = Path("/proc/stat")


def read_steal() -> float | None:
    """Seconds of steal summed over the processors since boot; ``None`` where the system
    does not say (not Linux, or a kernel without the field)."""
    try:
        fields = _STAT.read_text(encoding="ascii").split("\n", 1)[0].split()
    except OSError:
        return None
    if fields[0] != "cpu" or len(fields) < 9:
        return None
    return int(fields[8]) * _TICK


class StealWatch:
    """Samples steal time on a thread between :meth:`start` and :meth:`stop`."""

    def __init__(self, every: float = SAMPLE_EVERY) -> None:
        self.every = every
        #: ``(monotonic time, seconds stolen since the sample before)`` for each sample
        #: that saw some.
        self.stolen: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> StealWatch:
        if read_steal() is not None:
            self._thread = threading.Thread(target=self._run, daemon=True, name="steal")
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        last = read_steal() or 0.0
        while not self._stop.wait(self.every):
            now = read_steal() or 0.0
            if now > last:
                self.stolen.append((time.monotonic(), now - last))
            last = now

    def total(self, start: float = 0.0, end: float = float("inf")) -> float:
        """Seconds stolen (over all processors) between two monotonic times."""
        return sum(s for t, s in self.stolen if start <= t <= end)

    def summary(self, start: float = 0.0, end: float = float("inf")) -> dict[str, float]:
        """Steal in a span: the total, and the most in any one second (ms)."""
        inside = [(t, s) for t, s in self.stolen if start <= t <= end]
        worst = window = 0.0
        first = 0
        for t, s in inside:  # a second-long window sliding over the samples
            window += s
            while inside[first][0] <= t - 1.0:
                window -= inside[first][1]
                first += 1
            worst = max(worst, window)
        return {"total_ms": round(1000 * self.total(start, end), 1),
                "worst_second_ms": round(1000 * worst, 1)}
