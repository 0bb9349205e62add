"""The surgeon's tracking worker: anchored marks followed on one live source, off the hot path.

Tracking runs on the computer that publishes the source, because it has the original
frames. :class:`LiveTracking` owns one worker thread per source. It takes the newest
frame whenever it is ready for one, so capture and encoding never wait for it and a slow
machine tracks fewer frames instead of falling behind; its share of a core is capped
(:attr:`LiveSettings.max_core_share`). About ten times a second it hands every anchored
mark's pose, with the number of the frame it belongs to, to ``on_poses`` (the session
sends them to the room as one ``poses`` op).

Marks come in as :class:`MarkRequest` (points in frame pixels, the capture time of the
frame they were drawn on). A mark drawn on a frame seen a moment ago by a viewer far
away is anchored on that frame, kept in a short history of reduced pictures, so it sits
on the tissue the viewer saw rather than where that tissue has moved since.

No Qt, no network, no knowledge of sources or annotations: the caller brings frames and
marks (:mod:`surgery_teach.rtc.tracking_link` does, for a live session).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from surgery_teach.errors import TrackingError
from surgery_teach.tracking.pose import (
    MarkPose,
    TrackState,
    apply,
    compose,
    identity,
    to_full_size,
)
from surgery_teach.tracking.tracker import Tracker, TrackerSettings

logger = logging.getLogger("surgery_teach.tracking")

Frame = tuple[int, float, np.ndarray]
"""A frame for tracking: its stamped number, its capture time, its grey (luma) picture."""
NextFrame = Callable[[int, float], "Frame | None"]
"""``next_frame(after, timeout)``: the newest frame numbered above ``after``, waiting up to
``timeout`` s; None on timeout or when the source has ended."""
FRAME_TOLERANCE = 0.05
"""Seconds between a mark's frame time and the nearest kept frame beyond which the mark
is not anchored (it would sit on other tissue) but shown lost: every captured frame is
kept, so a mark drawn on the live picture finds its very frame."""
OnPoses = Callable[[int, float, dict[str, MarkPose]], None]
"""``on_poses(frame, frame_time, poses)``, called on the worker thread."""


@dataclass(frozen=True)
class MarkRequest:
    """An anchored mark to follow: its ``points`` (N x 2, frame pixels) on the frame
    captured at ``frame_time`` (0: the newest frame)."""

    points: tuple[tuple[float, float], ...]
    frame_time: float = 0.0


@dataclass(frozen=True, kw_only=True)
class LiveSettings:
    """How the live worker runs.

    ``send_every``: seconds between pose batches (0.1: ten a second). ``history``:
    seconds of reduced pictures kept to anchor marks drawn on a recent frame.
    ``max_core_share``: most of one core tracking may take; past it frames are skipped.
    ``settle``: seconds a mark being drawn must stay unchanged before it is anchored
    again on its new shape (a drawing hand changes it thirty times a second).
    ``every_frame_below``: with fewer anchored marks than this every mark is measured on
    every frame (cheap with few marks, and the most exact on a busy machine whose frames
    come unevenly); with more they take turns (``tracker.measure_every``), which keeps
    ten marks within a quarter of a core.
    ``tracker``: the tracker's own settings.
    """

    send_every: float = 0.1
    history: float = 2.5
    max_core_share: float = 0.5
    settle: float = 0.25
    every_frame_below: int = 4
    tracker: TrackerSettings = field(default_factory=TrackerSettings)


@dataclass
class _Wanted:
    request: MarkRequest
    since: float  # monotonic time it last changed


class LiveTracking:
    """Anchored marks of one source, followed on a worker thread (``start``/``stop``).

    :meth:`set_marks` may be called from any thread with every anchored mark of the
    source (mark id -> :class:`MarkRequest`); marks left out are released.
    """

    def __init__(self, name: str, next_frame: NextFrame, on_poses: OnPoses,
                 settings: LiveSettings | None = None) -> None:
        self.name = name
        self.settings = settings or LiveSettings()
        self._next_frame = next_frame
        self._on_poses = on_poses
        self._lock = threading.Lock()
        self._wanted: dict[str, _Wanted] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tracker = Tracker(self.settings.tracker)
        self._anchored: dict[str, MarkRequest] = {}
        self._unanchorable: dict[str, MarkRequest] = {}
        self._history: deque[tuple[int, float, np.ndarray]] = deque()
        self._size: tuple[int, int] | None = None
        self._last: dict[str, MarkPose] = {}
        self._base: dict[str, np.ndarray] = {}  # drawn frame -> frame it was anchored on
        self.frames_tracked = 0
        self.frames_skipped = 0
        self.busy_seconds = 0.0  # CPU time of the worker thread, all told
        self.anchoring_seconds = 0.0  # of which anchoring and catching marks up

    # -- control, from any thread -----------------------------------------------------

    def set_marks(self, marks: Mapping[str, MarkRequest]) -> None:
        """The anchored marks to follow now; the worker picks them up on its next frame."""
        now = time.monotonic()
        with self._lock:
            wanted = {}
            for mark_id, request in marks.items():
                known = self._wanted.get(mark_id)
                same = known is not None and known.request == request
                wanted[mark_id] = known if same else _Wanted(request, now)  # type: ignore[assignment]
            self._wanted = wanted

    def start(self) -> None:
        """Start the worker thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"tracking {self.name}",
                                            daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the worker and wait for it; safe to call twice."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- the worker ---------------------------------------------------------------------

    def _run(self) -> None:
        last_frame, last_sent = 0, 0.0
        rest_until = 0.0
        try:
            while not self._stop.is_set():
                asked = time.monotonic()
                frame = self._next_frame(last_frame, 0.5)
                if frame is None:
                    if time.monotonic() - asked < 0.25:  # at once: the source has ended
                        self._stop.wait(0.5)  # (not a busy loop on a full core)
                    if self._stop.is_set():
                        return
                    continue
                number, captured_at, grey = frame
                if number < last_frame:  # the source restarted its count
                    self._reset()
                if last_frame and number > last_frame + 1:
                    self.frames_skipped += number - last_frame - 1
                last_frame = number
                self._keep(number, captured_at, grey)  # even when resting: marks drawn on it
                now = time.monotonic()
                if now < rest_until:
                    self.frames_skipped += 1
                    continue
                started, anchoring = time.thread_time(), self.anchoring_seconds
                poses = self._track(number, captured_at, grey)
                busy = time.thread_time() - started
                self.busy_seconds += busy
                self.frames_tracked += 1
                # anchoring a mark is a one-off: resting for it would skip the very frames
                # the new mark needs to stay on its tissue
                following = max(0.0, busy - (self.anchoring_seconds - anchoring))
                share = self.settings.max_core_share
                rest_until = time.monotonic() + following * (1.0 / share - 1.0)
                if poses is not None and now - last_sent >= self.settings.send_every:
                    last_sent = now
                    self._on_poses(number, captured_at, poses)
        except Exception:
            logger.exception("tracking %s failed; anchored marks stay where they are", self.name)

    def _track(self, number: int, captured_at: float, grey: np.ndarray
               ) -> dict[str, MarkPose] | None:
        """Follow the marks into this frame; their poses, or None when there are none."""
        size = (grey.shape[1], grey.shape[0])
        if self._size is not None and size != self._size:
            self._reset()  # another picture size: anchor again from here
        self._size = size
        self._reconcile(grey)
        if not self._anchored and not self._unanchorable:
            return None
        few = len(self._anchored) < self.settings.every_frame_below
        every = 1 if few else self.settings.tracker.measure_every
        if self._tracker.settings.measure_every != every:
            self._tracker.settings = replace(self._tracker.settings, measure_every=every)
        poses = self._tracker.update(grey) if self._anchored else {}
        for mark_id, pose in poses.items():  # from the frame it was drawn on
            poses[mark_id] = MarkPose(compose(pose.transform, self._base[mark_id]),
                                      pose.state, pose.confidence)
        self._last.update(poses)
        for mark_id in self._unanchorable:  # lost where last trusted (or as drawn)
            last = self._last.get(mark_id)
            poses[mark_id] = MarkPose(last.transform if last is not None else identity(),
                                      TrackState.LOST, 0.0)
        return poses

    def _reconcile(self, grey: np.ndarray) -> None:
        """Anchor new and settled changed marks, release those gone."""
        now = time.monotonic()
        with self._lock:
            wanted = dict(self._wanted)
        for mark_id in [m for m in [*self._anchored, *self._unanchorable] if m not in wanted]:
            self._tracker.release(mark_id)
            self._anchored.pop(mark_id, None)
            self._unanchorable.pop(mark_id, None)
            self._last.pop(mark_id, None)
        for mark_id, want in wanted.items():
            current = self._anchored.get(mark_id) or self._unanchorable.get(mark_id)
            if current == want.request:
                continue
            if current is not None and now - want.since < self.settings.settle:
                continue  # still being drawn: keep following the shape it had
            self._anchor(mark_id, want.request, grey)

    def _anchor(self, mark_id: str, request: MarkRequest, grey: np.ndarray) -> None:
        """Anchor a mark on the frame it was drawn on, and catch it up to this one.

        The mark was drawn on a frame a viewer saw a moment ago; the tissue has moved
        since. A tracker of its own follows it through the kept frames from that one to
        this (reduced pictures, every frame, so no step is too large), then the source's
        tracker takes it on from here; its poses are composed with that catch-up.
        """
        self._tracker.release(mark_id)
        self._anchored.pop(mark_id, None)
        self._unanchorable.pop(mark_id, None)
        points = np.array(request.points, np.float64).reshape(-1, 2)
        started = time.thread_time()
        try:
            caught_up = self._catch_up(mark_id, points, request.frame_time)
            self._tracker.anchor(mark_id, apply(caught_up, points), grey)
        except TrackingError as exc:
            logger.info("a mark cannot be anchored on %s: %s", self.name, exc)
            self._unanchorable[mark_id] = request
            return
        finally:
            self.anchoring_seconds += time.thread_time() - started
        self._base[mark_id] = caught_up
        self._anchored[mark_id] = request

    def _catch_up(self, mark_id: str, points: np.ndarray, frame_time: float) -> np.ndarray:
        """The transform from the frame captured at ``frame_time`` (0: this one) to this
        one, for the tissue under ``points``; TrackingError if it is lost on the way."""
        history = list(self._history)
        if frame_time <= 0:
            return identity()
        if not history:
            raise TrackingError("no frame to anchor the mark on yet")
        start = min(range(len(history)), key=lambda n: abs(history[n][1] - frame_time))
        off = abs(history[start][1] - frame_time)
        if off > FRAME_TOLERANCE:
            raise TrackingError(
                "the frame the mark was drawn on is no longer at hand (drawn "
                f"{off:.1f} s away from any kept frame); draw it again")
        if start == len(history) - 1:
            return identity()
        scale = self.settings.tracker.scale
        tracker = Tracker(replace(self.settings.tracker, scale=1.0, measure_every=1,
                                  min_region=max(16, round(self.settings.tracker.min_region
                                                           * scale)),
                                  max_region=max(32, round(self.settings.tracker.max_region
                                                           * scale))))
        tracker.anchor(mark_id, (points + 0.5) * scale - 0.5, history[start][2])
        pose = None
        for _, _, small in history[start + 1:]:
            pose = tracker.update(small)[mark_id]  # a mark lost on the way may come back
        assert pose is not None
        if pose.state is TrackState.LOST:
            self._last[mark_id] = MarkPose(to_full_size(pose.transform, scale),
                                           TrackState.LOST, 0.0)
            raise TrackingError("the tissue under the mark was lost before it could be "
                                "followed to the live picture")
        return to_full_size(pose.transform, scale)

    def _keep(self, number: int, captured_at: float, grey: np.ndarray) -> None:
        """Keep a reduced copy of the frame, for marks drawn on it a moment from now."""
        scale = self.settings.tracker.scale
        small = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        self._history.append((number, captured_at, small))
        while self._history and captured_at - self._history[0][1] > self.settings.history:
            self._history.popleft()

    def _reset(self) -> None:
        """Start over (the picture size or the frame count changed): marks anchored so
        far cannot be found in the new frames reliably, so they stay lost where they were
        last trusted until drawn again."""
        self._tracker = Tracker(self.settings.tracker)
        self._unanchorable.update(self._anchored)
        self._anchored.clear()
        self._history.clear()
