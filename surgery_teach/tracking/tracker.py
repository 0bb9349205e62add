"""Marks that stay on the tissue: follow each anchored mark from frame to frame.

:class:`Tracker` takes the frames of one video source, one after another, and keeps a
pose for each anchored mark: tracking while its tissue is recognised, lost (and left where
it was last trusted) when the tissue is covered, leaves the view or changes beyond
recognition, and tracking again once the tissue is found anew. It never guesses: a mark
that cannot be confirmed against its stored patch is reported lost, not moved.

Not thread-safe: one tracker belongs to one worker thread (tracking is blocking work).
Cost per frame: one reduced grey copy of the frame, then per mark a resample of its
small patch and Lucas-Kanade on its features; a lost mark adds a template search every
``search_every`` frames.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

from surgery_teach.errors import TrackingError
from surgery_teach.tracking.flow import FlowSettings, working_picture
from surgery_teach.tracking.pose import (
    MarkPose,
    TrackState,
    compose,
    identity,
    invert,
    to_full_size,
)
from surgery_teach.tracking.reference import Alignment, Reference, align, capture
from surgery_teach.tracking.search import Overview, Templates, overview, search

logger = logging.getLogger("surgery_teach.tracking")


@dataclass(frozen=True, kw_only=True)
class TrackerSettings:
    """How the tracker works; the defaults suit 720p-1080p laparoscopy.

    ``scale``: size of the working picture relative to the frame. ``features``: corners
    per mark. ``margin``: how much tissue around the mark to follow, relative to the
    mark's size; ``min_region``/``max_region``: bounds of that region's side, in frame
    pixels. ``min_agreeing``: features that must agree for a pose to be trusted.
    ``measure_every``: measure each tracking mark on every n-th frame only (marks take
    turns) and carry it on with its velocity in between: 2 halves the cost.
    ``lose_below``/``reattach_above``: confidence thresholds (the gap stops flicker).
    ``search_every``: frames between searches for a lost mark, on the working picture
    reduced by ``search_factor``, at the mark's last size and turn times each of
    ``search_scales`` and ``search_turns`` (degrees); a match scoring under
    ``search_score`` is not tried. The scales reach 1.4x either way: the scope may zoom
    that much while tissue is hidden for a few seconds (0.8-1.25x apart is 1.56x).
    ``flow``: Lucas-Kanade parameters, in working-picture pixels.
    """

    scale: float = 0.5
    features: int = 20
    margin: float = 0.5
    min_region: int = 96
    max_region: int = 320
    min_agreeing: int = 8
    measure_every: int = 3
    lose_below: float = 0.35
    reattach_above: float = 0.55
    search_every: int = 3
    search_score: float = 0.5
    search_factor: float = 0.25
    search_scales: tuple[float, ...] = (0.71, 0.8, 0.9, 1.0, 1.12, 1.25, 1.4)
    search_turns: tuple[float, ...] = (-16.0, -8.0, 0.0, 8.0, 16.0)
    flow: FlowSettings = field(default_factory=FlowSettings)


@dataclass(eq=False)
class _Mark:
    reference: Reference
    transform: np.ndarray  # anchor -> current, working pixels (last trusted)
    velocity: np.ndarray  # change per frame, for predicting the next frame
    state: TrackState
    confidence: float
    turn: int  # which of the `measure_every` frames this mark is measured on
    measured: np.ndarray = field(default_factory=identity)  # transform when last measured
    frames_since: int = 0  # frames since it was last measured (or lost)
    neighbours: dict[str, np.ndarray] = field(default_factory=dict)  # others, when lost
    templates: Templates | None = None  # its patch to search for, while lost


SEARCH_ROUNDS = 4
"""Searches over which a lost mark tries every zoom and roll of the settings; each tries
its last size and turn, and a quarter of the others in turn (tissue mostly comes back as
it went; a search costs about a tenth of a frame's time per variation tried)."""


def _variations(settings: TrackerSettings, round_: int) -> tuple[tuple[float, float], ...]:
    """The (scale, radians) a lost mark's ``round_``-th search tries."""
    others = [(scale, math.radians(turn)) for scale in settings.search_scales
              for turn in settings.search_turns if (scale, turn) != (1.0, 0.0)]
    return ((1.0, 0.0), *others[round_ % SEARCH_ROUNDS::SEARCH_ROUNDS])


class Tracker:
    """Anchored marks on one video source, updated frame by frame.

    Frames are grey/luma (``H x W``) or BGR (``H x W x 3``) ``uint8`` arrays, all of the
    same size. Mark points and transforms are in full-frame pixels.
    """

    def __init__(self, settings: TrackerSettings | None = None) -> None:
        self.settings = settings or TrackerSettings()
        self._marks: dict[str, _Mark] = {}
        self._size: tuple[int, int] | None = None
        self._overview: Overview | None = None
        self._frame = 0
        self._anchored = 0

    @property
    def marks(self) -> list[str]:
        """Ids of the anchored marks."""
        return list(self._marks)

    def anchor(self, mark_id: str, points: np.ndarray, frame: np.ndarray) -> MarkPose:
        """Anchor mark ``mark_id`` (its ``points``, N x 2, drawn on ``frame``) to the tissue.

        ``frame`` may be an older frame (a mark drawn on a frozen picture): the next
        :meth:`update` finds the tissue in the live frame, or reports the mark lost.
        Raises :class:`TrackingError` when there is too little texture under the mark.
        """
        picture = self._working(frame)
        settings = self.settings
        pts = np.asarray(points, np.float64).reshape(-1, 2)
        if len(pts) == 0 or not np.all(np.isfinite(pts)):
            raise TrackingError(f"mark {mark_id!r} has no points to anchor")
        reference = capture(picture, self._region(pts, picture.shape), settings.flow.window,
                            settings.features, settings.flow)
        if len(reference.features) < settings.min_agreeing:
            raise TrackingError(
                f"mark {mark_id!r} cannot be anchored: the picture under it has too little "
                f"detail to follow ({len(reference.features)} features, "
                f"{settings.min_agreeing} needed). Anchor it on a structure with visible "
                "texture or edges, or leave it fixed on the screen."
            )
        self._marks[mark_id] = _Mark(reference, identity(), identity(), TrackState.TRACKING,
                                     1.0, self._anchored % settings.measure_every)
        self._anchored += 1
        return MarkPose()

    def release(self, mark_id: str) -> None:
        """Stop following mark ``mark_id`` (no error if it is not anchored)."""
        self._marks.pop(mark_id, None)

    def update(self, frame: np.ndarray) -> dict[str, MarkPose]:
        """Follow every anchored mark into ``frame``; returns each mark's pose."""
        picture = self._working(frame)
        self._overview = None
        self._frame += 1
        poses = {mark_id: self._follow(mark, picture) for mark_id, mark in self._marks.items()}
        for mark in self._marks.values():
            if mark.state is TrackState.LOST and not mark.neighbours and mark.frames_since == 0:
                mark.neighbours = {other: self._marks[other].transform for other in poses
                                   if poses[other].state is TrackState.TRACKING}
        return poses

    # -- one mark, one frame ---------------------------------------------------------

    def _follow(self, mark: _Mark, picture: np.ndarray) -> MarkPose:
        settings = self.settings
        if mark.state is TrackState.TRACKING:
            mark.frames_since += 1
            guess = compose(mark.velocity, mark.transform)
            if (self._frame + mark.turn) % settings.measure_every:
                mark.transform = guess  # not this mark's turn: carry it on
            else:
                found = align(mark.reference, picture, guess, settings.flow)
                confidence = self._confidence(mark.reference, found)
                if found.transform is not None and confidence >= settings.lose_below:
                    self._accept(mark, found.transform, confidence)
                else:
                    mark.transform = mark.measured  # the last pose that was confirmed
                    mark.state, mark.confidence = TrackState.LOST, confidence
                    mark.frames_since, mark.velocity = 0, identity()
                    mark.neighbours, mark.templates = {}, None
        else:
            mark.frames_since += 1
            self._reattach(mark, picture)
        return MarkPose(to_full_size(mark.transform, self._scale), mark.state, mark.confidence)

    def _reattach(self, mark: _Mark, picture: np.ndarray) -> None:
        """Try the tissue where it was last, and every few frames anywhere in view."""
        settings = self.settings
        candidates = [mark.transform]
        for other, then in mark.neighbours.items():
            # Tissue nearby still followed: move the lost mark as its neighbour moved.
            neighbour = self._marks.get(other)
            if neighbour is not None and neighbour.state is TrackState.TRACKING:
                moved = compose(neighbour.transform, invert(then))
                candidates.append(compose(moved, mark.transform))
                break
        searching = mark.frames_since % settings.search_every == 1 or settings.search_every == 1
        if not searching and (self._frame + mark.turn) % settings.measure_every:
            mark.confidence = 0.0  # a lost mark is tried where it was at the cadence a
            return  # followed one is measured at, and searched for every few frames
        if searching:
            variations = _variations(settings, mark.frames_since // settings.search_every)
            if mark.templates is None:
                mark.templates = Templates(mark.reference, mark.transform,
                                           settings.search_factor)
            found, score = search(mark.templates, self._overview_of(picture), variations)
            if found is not None and score >= settings.search_score:
                candidates.insert(0, found)
        for guess in candidates:
            result = align(mark.reference, picture, guess, settings.flow)
            confidence = self._confidence(mark.reference, result)
            if result.transform is not None and confidence >= settings.reattach_above:
                mark.velocity = identity()
                self._accept(mark, result.transform, confidence)
                return
        mark.confidence = 0.0

    def _accept(self, mark: _Mark, transform: np.ndarray, confidence: float) -> None:
        if mark.state is TrackState.TRACKING and mark.frames_since > 0:
            # The change since the last measurement, spread evenly over its frames.
            change = compose(transform, invert(mark.measured))
            mark.velocity = identity() + (change - identity()) / mark.frames_since
        mark.transform = mark.measured = transform
        mark.confidence, mark.state, mark.frames_since = confidence, TrackState.TRACKING, 0

    def _confidence(self, reference: Reference, found: Alignment) -> float:
        """0..1 from the weaker of two pieces of evidence: how many features agree, and
        how much the tissue seen through the pose looks like the stored patch."""
        if found.transform is None:
            return 0.0
        wanted = max(self.settings.min_agreeing, 0.5 * len(reference.features))
        by_features = min(1.0, found.agreeing / wanted)
        if found.agreeing < self.settings.min_agreeing:
            by_features = 0.0
        by_looks = min(1.0, max(0.0, (found.resemblance - 0.3) / 0.5))
        return min(by_features, by_looks) * min(1.0, found.visible / 0.8)

    def _overview_of(self, picture: np.ndarray) -> Overview:
        """The reduced detail picture lost marks are searched in, made once a frame."""
        if self._overview is None:
            self._overview = overview(picture, self.settings.search_factor,
                                      self.settings.flow.detail_blur)
        return self._overview

    # -- frames and regions -----------------------------------------------------------

    @property
    def _scale(self) -> float:
        return self.settings.scale

    def _working(self, frame: np.ndarray) -> np.ndarray:
        array = np.asarray(frame)
        if array.dtype != np.uint8 or array.ndim not in (2, 3):
            raise TrackingError(
                f"tracking needs 8-bit grey or BGR frames, not {array.dtype} {array.shape}"
            )
        size = (array.shape[1], array.shape[0])
        if self._size is None or not self._marks:
            self._size = size
        elif size != self._size:
            raise TrackingError(
                f"the frame size changed from {self._size[0]}x{self._size[1]} to "
                f"{size[0]}x{size[1]}: release the marks and anchor them again"
            )
        return working_picture(array, self._scale)

    def _region(self, points: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
        """The working-picture box of tissue to follow for a mark with ``points``."""
        settings = self.settings
        low, high = points.min(axis=0), points.max(axis=0)
        centre = (low + high) / 2
        side = np.clip((high - low) * (1 + 2 * settings.margin), settings.min_region,
                       settings.max_region)
        corners = np.array([centre - side / 2, centre + side / 2])
        work = (corners + 0.5) * self._scale - 0.5  # frame -> working picture pixels
        height, width = shape[:2]
        x0, y0 = np.floor(work[0]).astype(int)
        x1, y1 = np.ceil(work[1]).astype(int) + 1
        x0, y0 = max(0, x0), max(0, y0)
        x1, y1 = min(width, x1), min(height, y1)
        if x1 - x0 < 8 or y1 - y0 < 8:
            raise TrackingError("the mark lies outside the picture; draw it on the video")
        return int(x0), int(y0), int(x1), int(y1)
