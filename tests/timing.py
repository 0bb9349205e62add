"""One scalable time unit for every wait in the tests.

Set ``SURGERY_TEACH_TIME_SCALE`` (default 1) to stretch all timeouts on a slow machine
instead of editing tests. Tests wait on events with these timeouts; they never sleep a
fixed time to let something happen.
"""

from __future__ import annotations

import os

SCALE = float(os.environ.get("SURGERY_TEACH_TIME_SCALE", "1"))


def seconds(n: float) -> float:
    """``n`` seconds stretched by the machine's time scale."""
    return n * SCALE
