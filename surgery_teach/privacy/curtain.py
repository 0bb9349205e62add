"""The privacy curtain: one switch that replaces every source's picture with a card.

When the scope comes out of the patient, or someone walks into view, the surgeon closes
the curtain (``curtain.close(by="Dr Wang")``): from the very next frame every source
protected with this curtain (:func:`~surgery_teach.privacy.guard.protect`) emits the
"video paused for privacy" card instead of its picture, to every viewer, the recording,
stills and the preview alike. :meth:`PrivacyCurtain.open` resumes.

The curtain is a plain model: thread-safe (a key, a signal handler or stdin may close it
while capture threads read it) and it tells its listeners each change, so the session
can announce it to the room and the recording can note it in its event log.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger("surgery_teach.privacy")


@dataclass(frozen=True)
class CurtainState:
    """The curtain as it is: ``closed`` or not, ``by`` whom it was last closed or opened,
    and ``since`` when (``time.time()``, the clock frames are captured with)."""

    closed: bool
    by: str = ""
    since: float = 0.0


CurtainListener = Callable[[CurtainState], None]


class PrivacyCurtain:
    """Open or closed, for every source it guards. Listeners hear each change, on the
    thread that made it and in the order the changes happened (one change and its
    listeners at a time); a listener that raises is logged and does not stop the others."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changing = threading.RLock()  # a listener may change the curtain again
        self._state = CurtainState(False)
        self._listeners: list[CurtainListener] = []

    @property
    def state(self) -> CurtainState:
        return self._state

    @property
    def closed(self) -> bool:
        return self._state.closed

    def close(self, by: str = "") -> bool:
        """Pause every guarded source for privacy; ``False`` if it was closed already."""
        return self._set(True, by)

    def open(self, by: str = "") -> bool:
        """Resume the pictures; ``False`` if the curtain was open already."""
        return self._set(False, by)

    def toggle(self, by: str = "") -> CurtainState:
        """Close an open curtain or open a closed one; the new state."""
        with self._changing:
            self._set(not self._state.closed, by)
            return self._state

    def on_change(self, listener: CurtainListener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def off_change(self, listener: CurtainListener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _set(self, closed: bool, by: str) -> bool:
        with self._changing:
            with self._lock:
                if self._state.closed == closed:
                    return False
                self._state = state = CurtainState(closed, by.strip(), time.time())
                listeners = list(self._listeners)
            for listener in listeners:
                try:
                    listener(state)
                except Exception:
                    logger.exception("a privacy curtain listener failed")
            return True
