"""Decoding one recorded source for the player, on a worker thread of its own.

:class:`VideoWorker` owns a :class:`SourcePlayer` (PyAV decoders stay on one thread) and
hands only the newest frame to a :class:`FrameSlot`, which the Qt :class:`VideoView`
follows, so the GUI thread never decodes and never queues frames. It shows the exact
frame for a seek or a step, follows the :class:`PlaybackClock` while playing (a frame is
published when the clock reaches its time; far behind, it seeks instead of decoding
every frame), and holds the frozen picture while the case was in freeze-frame.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import av
import numpy as np

from surgery_teach.capture.base import CapturedFrame, FrameSlot
from surgery_teach.casebook.case import RecordedCase
from surgery_teach.casebook.playback import PlaybackFrame, SourcePlayer
from surgery_teach.casebook.timeline import FreezeInterval, Timeline
from surgery_teach.errors import SurgeryTeachError
from ui.library.clock import PlaybackClock

logger = logging.getLogger("ui.library.player")

IDLE_WAIT = 0.05  # seconds between looks at the clock when nothing is due
SEEK_WHEN_BEHIND = 0.5  # seconds behind the clock after which skipping beats decoding
BACKWARDS_SLACK = 0.15  # the clock may step back this far (audio sync) without a seek


@dataclass(frozen=True)
class Shown:
    """What the view was last given: the frame's case time (``None``: before the source
    started, a black picture) and the frame itself."""

    time: float | None
    frame: PlaybackFrame | None


class VideoWorker:
    """Shows ``label`` of ``case`` in ``slot`` following ``clock``; one thread.

    ``on_error(message)`` is called (from the worker thread) if the file cannot be
    decoded; the worker then stops. Call :meth:`show` after moving the clock by hand,
    :meth:`step` for a frame step, :meth:`wake` after play or speed changes.
    """

    def __init__(self, case: RecordedCase, label: str, clock: PlaybackClock,
                 timeline: Timeline, slot: FrameSlot, *,
                 on_error: Callable[[str], None] | None = None) -> None:
        self.case = case
        self.label = label
        self.clock = clock
        self.timeline = timeline
        self.slot = slot
        self.shown: Shown | None = None
        self.published: CapturedFrame | None = None  # the last frame handed to the slot
        self.error = ""
        self._on_error = on_error
        self._cond = threading.Condition()
        self._seek: float | None = None
        self._steps = 0
        self._stopping = False
        self._seq = 0
        self._asked = 1  # seeks and steps asked for (the start counts) ...
        self._answered = 0  # ... and shown
        self._player: SourcePlayer | None = None
        self._ahead: PlaybackFrame | None = None  # decoded, not yet due
        self._held: FreezeInterval | None = None
        self._thread = threading.Thread(target=self._run, name=f"player {label}", daemon=True)

    def start(self, position: float) -> None:
        self._seek = position
        self._thread.start()

    @property
    def settled(self) -> bool:
        """Every seek and step asked for so far is on screen (or the worker failed)."""
        return self._answered >= self._asked or bool(self.error)

    def show(self, position: float) -> None:
        """Show the exact frame on screen at case time ``position``."""
        with self._cond:
            self._seek, self._steps = position, 0
            self._asked += 1
            self._cond.notify_all()

    def step(self, frames: int) -> None:
        """Move ``frames`` frames forward (negative: back) from the one shown."""
        with self._cond:
            self._steps += frames
            self._asked += 1
            self._cond.notify_all()

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(5)

    # -- the thread ----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._player = SourcePlayer(self.case, self.label, start=self.timeline.start)
            while self._next_job():
                pass
        except (SurgeryTeachError, av.FFmpegError, OSError) as exc:
            self.error = str(exc) if isinstance(exc, SurgeryTeachError) else (
                f"cannot decode {self.label}: {exc}")
            logger.warning("player: %s", self.error)
            if self._on_error is not None:
                self._on_error(self.error)
        finally:
            if self._player is not None:
                self._player.close()

    def _next_job(self) -> bool:
        with self._cond:
            if self._stopping:
                return False
            seek, steps = self._seek, self._steps
            self._seek, self._steps = None, 0
            asked = self._asked
            if seek is None and steps == 0 and not self.clock.playing:
                self._cond.wait(IDLE_WAIT)
                return True
        if seek is not None:
            self._show_at(seek)
        elif steps:
            self._step(steps)
        else:
            self._follow_clock()
        self._answered = asked
        return True

    def _show_at(self, t: float) -> None:
        held = self.timeline.frozen_at(t, self.label)
        self._held = held
        self._ahead = None
        assert self._player is not None
        frame = self._player.seek(held.frame_time if held is not None else t)
        self._publish(frame)

    def _step(self, steps: int) -> None:
        assert self._player is not None
        self._held = None
        frame: PlaybackFrame | None = None
        if steps > 0:
            if self._ahead is not None:
                frame, self._ahead, steps = self._ahead, None, steps - 1
                self._publish(frame)
            for _ in range(steps):
                frame = self._player.next()
                if frame is None:
                    break
                self._publish(frame)
        else:
            self._ahead = None
            shown = self.shown.time if self.shown and self.shown.time is not None else 0.0
            frame_gap = 1.0 / max(self._player.fps, 1.0)
            frame = self._player.seek(max(0.0, shown + (steps + 0.5) * frame_gap))
            self._publish(frame)
        if self.shown is not None and self.shown.time is not None:
            self.clock.seek(self.shown.time)

    def _follow_clock(self) -> None:
        assert self._player is not None
        t = self.clock.position()
        held = self.timeline.frozen_at(t, self.label)
        if held is not None or self._held is not None:
            if held != self._held:
                self._show_at(t)
            else:
                self._wait(IDLE_WAIT)
            return
        shown = self.shown.time if self.shown is not None else None
        if shown is None or t < shown - BACKWARDS_SLACK:
            self._show_at(t)
            return
        if self._ahead is None:
            self._ahead = self._player.next()
            if self._ahead is None:  # the file ended; the clock stops at the case's end
                self._wait(IDLE_WAIT)
                return
        due = self._ahead.time
        if t - due > SEEK_WHEN_BEHIND:
            self._show_at(t)
        elif due <= t:
            frame, self._ahead = self._ahead, None
            self._publish(frame)
        else:
            self._wait(min(IDLE_WAIT, (due - t) / max(self.clock.speed, 0.01)))

    def _wait(self, seconds: float) -> None:
        with self._cond:
            if self._seek is None and not self._steps and not self._stopping:
                self._cond.wait(max(0.001, seconds))

    def _publish(self, frame: PlaybackFrame | None) -> None:
        self._seq += 1
        if frame is None:  # before the source's first frame: black
            assert self._player is not None
            image = av.VideoFrame.from_ndarray(
                np.zeros((self._player.height, self._player.width, 3), np.uint8),
                format="rgb24")
            shown = Shown(None, None)
            captured = CapturedFrame(image, self._seq, self.timeline.start)
        else:
            shown = Shown(frame.time, frame)
            captured = CapturedFrame(frame.frame, self._seq, self.timeline.clock_time(frame.time))
        self.shown, self.published = shown, captured
        self.slot.put(captured)

