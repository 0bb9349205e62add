"""Python's cycle collector, run on the GUI thread only.

Python collects reference cycles on whichever thread happens to allocate when a
generation's threshold is crossed. The client allocates on many threads (capture, the
library's decoders, ``asyncio.to_thread`` workers), and a cycle that holds a Qt object (a
window, its lambdas and slots) destroyed on one of them runs Qt's destructors off the GUI
thread, which crashes the process at random. :class:`GuiGarbageCollector` turns automatic
collection off and collects on a timer of the GUI thread instead, by the same per-generation
thresholds, so garbage is still bounded (a second's worth) and every Qt destructor runs
where Qt expects it.
"""

from __future__ import annotations

import gc

from PyQt6.QtCore import QObject, QTimer

INTERVAL_MS = 500


class GuiGarbageCollector(QObject):
    """While it lives, cycles are collected on the thread that made it (the GUI thread)."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        self.was_enabled = gc.isenabled()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.collect_due)
        self.timer.start()

    def collect_due(self) -> None:
        """Collect the generations whose count is over its threshold (oldest wins)."""
        counts = gc.get_count()
        for generation in (2, 1, 0):
            if counts[generation] > self.thresholds[generation]:
                gc.collect(generation)
                return

    def stop(self, *, collect: bool = True) -> None:
        """Back to Python's own collection, after a full collection here if ``collect``."""
        self.timer.stop()
        if collect:
            gc.collect()
        if self.was_enabled:
            gc.enable()
