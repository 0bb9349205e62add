"""The image work behind tracking: small grey pictures, features, Lucas-Kanade, robust fits.

Pure functions over numpy arrays (cv2 does the pixel work). Tracking runs on a reduced
copy of each frame ("working picture"): a quarter of the pixels at ``scale`` 0.5, which
keeps ten marks well within a few milliseconds a frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# detail() output: standard deviation of the fine detail, and the spread below which a
# picture counts as flat (nothing to follow: covered, smoke, out of view).
_DETAIL_CONTRAST = 40.0
_FLAT_DETAIL = 0.5


@dataclass(frozen=True, kw_only=True)
class FlowSettings:
    """Lucas-Kanade and fitting parameters, in working-picture pixels.

    ``window``: LK window side; ``levels``: pyramid levels above the picture (each halves
    it, so the largest motion followed is about ``window * 2**levels / 2``);
    ``round_trip``: largest forward-backward error a point may have and still count;
    ``min_eigen``: LK's texture threshold (a window flatter than this is not followed:
    smoke, a gauze, an instrument's plain shaft); ``fit_tolerance``: RANSAC inlier distance;
    ``detail_blur``: scale of the shading removed by :func:`detail` (Gaussian sigma).
    """

    window: int = 11
    levels: int = 2
    round_trip: float = 0.7
    min_eigen: float = 5e-4
    fit_tolerance: float = 1.5
    iterations: int = 20
    detail_blur: float = 4.0


def working_picture(frame: np.ndarray, scale: float) -> np.ndarray:
    """A grey ``uint8`` copy of ``frame`` reduced by ``scale`` (area averaging).

    ``frame`` is a grey/luma ``H x W`` array (cheapest: the Y plane of a yuv420p frame)
    or a BGR ``H x W x 3`` array.
    """
    if frame.ndim == 3:
        frame = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    if scale == 1:
        return np.ascontiguousarray(frame)
    height, width = frame.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def detail(picture: np.ndarray, blur: float) -> np.ndarray:
    """The fine detail of a grey picture, contrast-normalised, as ``uint8`` around 128.

    Shading is subtracted (a Gaussian blur of ``blur`` pixels) and the rest scaled to a
    standard contrast. Lucas-Kanade assumes a point keeps its brightness; under a
    scope's light the tissue darkens towards the rim of the view and brightens nearer the
    tip, which on soft tissue texture moved points by several pixels. On detail they
    hold to a tenth of a pixel.
    """
    grey = picture.astype(np.float32)
    side = 2 * round(2 * blur) + 1  # +-2 sigma is plenty to take shading out
    fine = cv2.subtract(grey, cv2.GaussianBlur(grey, (side, side), blur))
    spread = float(cv2.meanStdDev(fine)[1][0, 0])
    if spread < _FLAT_DETAIL:
        return np.full(picture.shape, 128, np.uint8)
    # saturating fine * gain + 128, straight to uint8
    return cv2.addWeighted(fine, _DETAIL_CONTRAST / spread, fine, 0.0, 128.0, dtype=cv2.CV_8U)


def find_features(
    picture: np.ndarray, count: int, min_distance: float, mask: np.ndarray | None = None
) -> np.ndarray:
    """Up to ``count`` well-textured corners (Shi-Tomasi) as an ``N x 2`` float32 array."""
    corners = cv2.goodFeaturesToTrack(
        picture, maxCorners=count, qualityLevel=0.01, minDistance=min_distance,
        mask=mask, blockSize=5,
    )
    if corners is None:
        return np.empty((0, 2), np.float32)
    return corners.reshape(-1, 2).astype(np.float32)


def follow(
    before: np.ndarray,
    after: np.ndarray,
    points: np.ndarray,
    settings: FlowSettings,
    guesses: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Follow ``points`` from picture ``before`` to ``after``.

    Returns the moved points and a mask of the ones to trust: found both ways (forward
    over the pyramid, then back from where they landed at full size only) and back within
    ``round_trip`` of the start.
    ``guesses`` are starting positions in ``after`` (a prediction), if any.
    """
    start = np.ascontiguousarray(points, np.float32).reshape(-1, 1, 2)
    if len(start) == 0:
        return np.empty((0, 2), np.float32), np.zeros(0, bool)
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, settings.iterations, 0.03)
    window = (settings.window, settings.window)
    flags = 0
    initial = None
    if guesses is not None:
        initial = np.ascontiguousarray(guesses, np.float32).reshape(-1, 1, 2).copy()
        flags = cv2.OPTFLOW_USE_INITIAL_FLOW
    moved, found, _ = cv2.calcOpticalFlowPyrLK(
        before, after, start, initial, winSize=window, maxLevel=settings.levels,
        criteria=criteria, flags=flags, minEigThreshold=settings.min_eigen,
    )
    # Back from where each point landed, starting at where it came from: a point that
    # followed its own texture stays there, one that slid onto something else (an
    # instrument's edge, a smear) drifts off. Starting at the answer needs no pyramid,
    # which halves the cost of the check.
    back, found_back, _ = cv2.calcOpticalFlowPyrLK(
        after, before, moved, start.copy(), winSize=window, maxLevel=0,
        criteria=criteria, flags=cv2.OPTFLOW_USE_INITIAL_FLOW,
        minEigThreshold=settings.min_eigen,
    )
    miss = (back - start).reshape(-1, 2)
    round_trip_squared = np.einsum("ij,ij->i", miss, miss)
    good = ((found.ravel() == 1) & (found_back.ravel() == 1)
            & (round_trip_squared < settings.round_trip**2))
    return moved.reshape(-1, 2), good


def fit_similarity(
    source: np.ndarray, target: np.ndarray, tolerance: float
) -> tuple[np.ndarray | None, np.ndarray]:
    """The rotation + uniform scale + shift best taking ``source`` to ``target`` (RANSAC).

    Returns the 2x3 transform (None when fewer than 3 points or no fit) and the mask of
    points that agree with it within ``tolerance`` pixels.
    """
    if len(source) < 3:
        return None, np.zeros(len(source), bool)
    transform, inliers = cv2.estimateAffinePartial2D(
        np.ascontiguousarray(source, np.float32), np.ascontiguousarray(target, np.float32),
        method=cv2.RANSAC, ransacReprojThreshold=tolerance, maxIters=100,
        confidence=0.99, refineIters=10,
    )
    if transform is None or inliers is None:
        return None, np.zeros(len(source), bool)
    return np.asarray(transform, np.float64), inliers.ravel().astype(bool)
