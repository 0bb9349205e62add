"""Anchored marks in a live session: the publisher tracks its sources, the room gets poses.

The computer that publishes a video source has its original frames, so it tracks the
source's anchored marks (:class:`~surgery_teach.tracking.live.LiveTracking`, one worker
thread per source, fed the captured luma frames at the capture rate, skipping frames
when behind) and sends their poses to the room, one ``poses`` op per source about ten
times a second, each naming the stamped frame it belongs to. Everyone's board, this
participant's included, then draws the marks on their tissue.

:func:`follow_anchored_marks` wires that to a :class:`~.session.LiveSession`; the session
module itself needs no change. Conversions between the board (fractions of the picture)
and the tracker (pixels) are here too, pure and tested alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from surgery_teach.annotations.board import BoardView
from surgery_teach.annotations.placing import outline
from surgery_teach.annotations.poses import MAX_PLACES, MarkPlace, Poses
from surgery_teach.annotations.shapes import Pointer, Shape
from surgery_teach.capture.base import VideoSource
from surgery_teach.capture.stamp import luma_of
from surgery_teach.errors import ProtocolError, SignalingError
from surgery_teach.protocol.messages import Annotate
from surgery_teach.tracking.live import Frame, LiveSettings, LiveTracking, MarkRequest, NextFrame
from surgery_teach.tracking.pose import MarkPose, TrackState

if TYPE_CHECKING:
    from surgery_teach.rtc.session import LiveSession

logger = logging.getLogger(__name__)

DECIMALS = 6
"""Transform entries are sent to 6 decimals: a millionth of the picture, far below a pixel."""


def mark_points(shape: Shape, width: int, height: int) -> tuple[tuple[float, float], ...]:
    """The points of ``shape`` as drawn, in pixels of a ``width`` x ``height`` frame: what
    the tracker follows (the tissue in and around them)."""
    drawn = outline(shape, None)
    points = [p for line, _ in drawn.lines for p in line]
    if drawn.arrow is not None:
        points += list(drawn.arrow)
    if drawn.anchor is not None:
        points.append(drawn.anchor)
    return tuple((x * width, y * height) for x, y in points)


def requests_for(view: BoardView, source: str, size: tuple[int, int], *,
                 now: float | None = None,
                 cache: dict[str, tuple[Shape, MarkRequest]] | None = None,
                 ) -> dict[str, MarkRequest]:
    """The anchored marks of ``source`` still shown at ``now`` (default: the time now), as
    the tracker wants them: at most :data:`MAX_PLACES` (pinned ones, then the newest), so a
    ``poses`` op can carry them all. ``cache`` keeps each mark's request while the mark is
    unchanged (a long stroke's outline costs milliseconds, and marks change ten times a
    second with the poses)."""
    width, height = size
    shown = [v.shape for v in view.shapes(source, time.time() if now is None else now)
             if v.shape.anchored and not isinstance(v.shape, Pointer)]
    shown.sort(key=lambda s: (not s.pinned, -s.created))
    wanted: dict[str, MarkRequest] = {}
    for shape in shown[:MAX_PLACES]:
        hit = cache.get(shape.id) if cache is not None else None
        if hit is not None and (hit[0] is shape or hit[0] == shape):
            wanted[shape.id] = hit[1]
            continue
        wanted[shape.id] = MarkRequest(mark_points(shape, width, height), shape.frame_time)
        if cache is not None:
            cache[shape.id] = (shape, wanted[shape.id])
    if cache is not None:
        for gone in set(cache) - set(wanted):
            del cache[gone]
    return wanted


def place_of(mark_id: str, pose: MarkPose, size: tuple[int, int]) -> MarkPlace:
    """A tracker's pose (pixels of a ``size`` frame) as the room's :class:`MarkPlace`
    (fractions of the picture). Raises ProtocolError for a pose no picture can show."""
    width, height = size
    (a, b, c), (d, e, f) = pose.transform.tolist()
    transform = (a, b * height / width, c / width, d * width / height, e, f / height)
    return MarkPlace(mark_id, tuple(round(v, DECIMALS) for v in transform),  # type: ignore[arg-type]
                     lost=pose.state is TrackState.LOST,
                     confidence=round(min(1.0, max(0.0, pose.confidence)), 3))


def places_of(poses: dict[str, MarkPose], size: tuple[int, int]) -> tuple[MarkPlace, ...]:
    """The poses that can be sent; one that cannot (flung far off the picture) is left
    out, so viewers keep its previous place."""
    found = []
    for mark_id, pose in poses.items():
        with contextlib.suppress(ProtocolError):
            found.append(place_of(mark_id, pose, size))
    return tuple(found)


def slot_frames(source: VideoSource) -> NextFrame:
    """``next_frame`` for the tracker: the newest captured frame's number, capture time
    and luma plane (a view, no copy), never holding up the capture thread."""

    def next_frame(after: int, timeout: float) -> Frame | None:
        captured = source.slot.wait_after(after, timeout)
        if captured is None:
            return None
        return captured.seq, captured.captured_at, luma_of(captured.image)

    return next_frame


class SourceTracking:
    """One published source's anchored marks: followed on a worker, poses sent to the room.

    ``send`` is called on the worker thread with each ``poses`` op to send (its author
    filled in by ``author()``, which may change after a rejoin).
    """

    def __init__(self, source: VideoSource, send: Callable[[Poses], None],
                 author: Callable[[], str], settings: LiveSettings | None = None) -> None:
        self.source = source
        self.name = source.label
        self._send = send
        self._author = author
        self.worker = LiveTracking(self.name, slot_frames(source), self._on_poses, settings)
        self._requests: dict[str, tuple[Shape, MarkRequest]] = {}

    def marks_changed(self, view: BoardView) -> None:
        """The board changed: follow its anchored marks on this source (any thread)."""
        self.worker.set_marks(requests_for(view, self.name, self.source.size,
                                           cache=self._requests))

    def _on_poses(self, frame: int, frame_time: float, poses: dict[str, MarkPose]) -> None:
        places = places_of(poses, self.source.size)
        try:
            op = Poses(self.name, frame, frame_time, places, author=self._author())
        except ProtocolError:
            logger.exception("poses of %s could not be sent", self.name)
            return
        self._send(op)


class AnchoredMarks:
    """The tracking of every source a session publishes; :meth:`stop` when it ends."""

    def __init__(self, sources: Iterable[SourceTracking]) -> None:
        self.sources = list(sources)

    def marks_changed(self, view: BoardView) -> None:
        for tracking in self.sources:
            tracking.marks_changed(view)

    def start(self) -> None:
        for tracking in self.sources:
            tracking.worker.start()

    def stop(self) -> None:
        """Stop every worker: all are told first, then each is waited for (they end
        within one frame wait, together rather than one after another)."""
        for tracking in self.sources:
            tracking.worker.stop(timeout=0)
        for tracking in self.sources:
            tracking.worker.stop()


def follow_anchored_marks(session: LiveSession,
                          settings: LiveSettings | None = None) -> AnchoredMarks:
    """Track the anchored marks of every source ``session`` publishes and send their
    poses to the room. Call on the session's event loop, right after it started; call
    ``stop()`` on the result when the session closes (it also stops when it ends)."""
    loop = asyncio.get_running_loop()
    sending: set[asyncio.Task[None]] = set()

    async def send(op: Poses) -> None:
        if session.link != "live":
            return  # stale in a moment: the next batch goes out once the link is back
        with contextlib.suppress(SignalingError):
            await session.client.send(Annotate(op=op))

    def start_sending(op: Poses) -> None:
        task = loop.create_task(send(op))
        sending.add(task)
        task.add_done_callback(sending.discard)

    def send_soon(op: Poses) -> None:  # on a worker thread
        with contextlib.suppress(RuntimeError):  # the loop has closed: the session is over
            loop.call_soon_threadsafe(start_sending, op)

    marks = AnchoredMarks(SourceTracking(encoder.source, send_soon, lambda: session.me.id,
                                         settings) for encoder in session.encoders)
    session.on("marks", lambda: marks.marks_changed(session.board.view()))
    session.on("board", lambda board: marks.marks_changed(board.view()))
    session.on("ended", lambda _reason: marks.stop())
    marks.marks_changed(session.board.view())
    marks.start()
    return marks
