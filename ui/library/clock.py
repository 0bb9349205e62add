"""The player's playhead: case seconds that advance at the chosen speed while playing.

Qt-free and thread-safe: the GUI moves it (play, pause, seek, speed), the video worker
reads it to know which frame is due, and the audio output pulls it into step with the
sound card (:meth:`PlaybackClock.follow`), so picture and sound share one clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

SPEEDS = (0.25, 0.5, 1.0, 1.5, 2.0)


class PlaybackClock:
    """Position in case seconds, clamped to ``0..duration``; stops by itself at the end."""

    def __init__(self, duration: float, *, now: Callable[[], float] = time.monotonic) -> None:
        self.duration = max(0.0, duration)
        self._now = now
        self._lock = threading.Lock()
        self._anchor = 0.0  # position at ``_since``
        self._since = now()
        self._playing = False
        self._speed = 1.0
        self.generation = 0  # bumped on every jump (seek, speed, play), for the workers

    @property
    def playing(self) -> bool:
        with self._lock:
            self._check_end()
            return self._playing

    @property
    def speed(self) -> float:
        return self._speed

    def position(self) -> float:
        with self._lock:
            self._check_end()
            return self._position()

    def _position(self) -> float:
        if not self._playing:
            return self._anchor
        moved = (self._now() - self._since) * self._speed
        return min(self.duration, self._anchor + moved)

    def _check_end(self) -> None:
        if self._playing and self._position() >= self.duration:
            self._anchor, self._since, self._playing = self.duration, self._now(), False

    def _jump(self, position: float, playing: bool) -> None:
        self._anchor = min(max(0.0, position), self.duration)
        self._since = self._now()
        self._playing = playing
        self.generation += 1

    def play(self) -> None:
        """Start (from the beginning if at the end)."""
        with self._lock:
            self._check_end()
            start = 0.0 if self._anchor >= self.duration else self._position()
            self._jump(start, self.duration > 0)

    def pause(self) -> None:
        with self._lock:
            self._jump(self._position(), False)

    def seek(self, position: float) -> None:
        with self._lock:
            self._jump(position, self._playing)

    def set_speed(self, speed: float) -> None:
        with self._lock:
            here = self._position()
            self._speed = speed
            self._jump(here, self._playing)

    def follow(self, position: float, tolerance: float = 0.08) -> None:
        """Pull a playing clock to ``position`` (where the sound card is) if it drifted
        more than ``tolerance`` seconds; not counted as a jump."""
        with self._lock:
            if self._playing and abs(self._position() - position) > tolerance:
                self._anchor = min(max(0.0, position), self.duration)
                self._since = self._now()
