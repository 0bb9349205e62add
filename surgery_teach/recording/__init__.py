"""Recording a case: every source's video, the voices and an event log, crash-safe.

:class:`Recorder` writes a case folder (:mod:`surgery_teach.casefile`) from the live shared
encoders without re-encoding; :mod:`.live` records a live session as one participant has
it. Killed at any moment, the files play to within about a second of the kill and the
event log is complete to within 100 ms. Reading cases back is :mod:`surgery_teach.casebook`.
"""

from __future__ import annotations

from surgery_teach.recording.recorder import (
    Recorder,
    RecorderOptions,
    RecorderState,
    RecorderStatus,
)

__all__ = [
    "Recorder",
    "RecorderOptions",
    "RecorderState",
    "RecorderStatus",
]
