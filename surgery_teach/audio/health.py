"""Whether a sound device is still there: its callbacks are the heartbeat.

PortAudio says nothing when a headset is unplugged or the sound server stops: the
stream's callbacks simply stop coming (and ``stream.active`` turns false when its thread
gave up). :class:`DeviceHealth` is told each callback (:meth:`beat`, from the sound
card's thread) and, asked by a watch every :data:`CHECK_EVERY`, says when the device has
been silent too long to be alive. A fresh stream gets :data:`START_GRACE`: PortAudio
over PulseAudio's ALSA plugin delivers a few blocks and then nothing for over a second
before it settles.
"""

from __future__ import annotations

import time
from collections.abc import Callable

#: How often the watch looks at the devices.
CHECK_EVERY = 0.25
#: A running device silent this long is gone (a loaded machine can stall callbacks for
#: a few hundred milliseconds; told within CHECK_EVERY + LOST_AFTER, well under 2 s).
LOST_AFTER = 1.0
#: How long a freshly opened stream may take to deliver its first callback.
START_GRACE = 2.5
#: How often a lost device is tried again.
RETRY_EVERY = 0.25


class DeviceHealth:
    """Heartbeat of one open stream; thread-safe (float writes are atomic in CPython)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._opened_at = clock()
        self._last_beat: float | None = None
        self.beats = 0

    def opened(self) -> None:
        """A new stream was opened: start counting from now, with the start grace."""
        self._opened_at = self._clock()
        self._last_beat = None
        self.beats = 0

    def beat(self) -> None:
        """One callback from the sound card (its thread)."""
        self._last_beat = self._clock()
        self.beats += 1

    def silent_for(self) -> float:
        """Seconds since the last callback (or since opening, before the first one)."""
        since = self._last_beat if self._last_beat is not None else self._opened_at
        return self._clock() - since

    def lost(self, *, active: bool = True) -> bool:
        """Whether the device is gone: its stream stopped, or no callback for too long
        (a stream in its first :data:`START_GRACE` may pause that long: PortAudio over
        PulseAudio delivers a few blocks, then nothing for about a second)."""
        if not active:
            return True
        starting = self._clock() - self._opened_at < START_GRACE
        return self.silent_for() > (START_GRACE if starting else LOST_AFTER)
