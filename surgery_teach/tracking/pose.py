"""Where an anchored mark is now: its pose, and the small affine algebra behind it.

A pose's ``transform`` is a 2x3 affine matrix taking a point of the mark as drawn (pixels
of the frame it was anchored on) to the same point of the tissue in the current frame.
Applying it to the mark's points redraws the mark on the tissue. All functions are pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np


class TrackState(StrEnum):
    """Whether a mark follows its tissue or waits, greyed out, where it was last seen."""

    TRACKING = "tracking"
    LOST = "lost"


def identity() -> np.ndarray:
    """The 2x3 transform that leaves points where they are."""
    return np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


@dataclass(frozen=True, eq=False)
class MarkPose:
    """An anchored mark in the current frame.

    ``transform``: 2x3 affine, anchor-frame pixels -> current-frame pixels (full size).
    ``state``: tracking, or lost (the transform is then the last one trusted).
    ``confidence``: 0..1, how sure the tracker is that the mark sits on its tissue.
    """

    transform: np.ndarray = field(default_factory=identity)
    state: TrackState = TrackState.TRACKING
    confidence: float = 1.0

    def apply(self, points: np.ndarray) -> np.ndarray:
        """The mark's ``points`` (N x 2, anchor-frame pixels) in the current frame."""
        return apply(self.transform, points)


def compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The 2x3 transform that applies ``inner`` first, then ``outer``."""
    # On plain floats: numpy's per-call overhead on 2x3 arrays was most of the cost, and
    # the tracker composes dozens of transforms a frame.
    (a, b, c), (d, e, f) = outer.tolist()
    (p, q, r), (s, t, u) = inner.tolist()
    return np.array([[a * p + b * s, a * q + b * t, a * r + b * u + c],
                     [d * p + e * s, d * q + e * t, d * r + e * u + f]])


def invert(transform: np.ndarray) -> np.ndarray:
    """The inverse of an invertible 2x3 affine transform."""
    (a, b, tx), (c, d, ty) = transform.tolist()
    det = a * d - b * c
    ia, ib, ic, id_ = d / det, -b / det, -c / det, a / det
    return np.array([[ia, ib, -(ia * tx + ib * ty)], [ic, id_, -(ic * tx + id_ * ty)]])


def apply(transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``points`` (N x 2) moved by ``transform``; returns float64 N x 2."""
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    matrix = np.asarray(transform, np.float64)
    return pts @ matrix[:, :2].T + matrix[:, 2]


def translation(dx: float, dy: float) -> np.ndarray:
    """The 2x3 transform that shifts by (dx, dy)."""
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])


# The working picture is the frame resized by `scale`; with pixel centres aligned,
# x_work = (x_full + 0.5) * scale - 0.5, i.e. x_full = x_work / scale + o with
# o = 0.5 / scale - 0.5. A transform [A | t] between working pictures keeps its linear
# part A between full frames; only its shift changes: t / scale + o - A (o, o).


def to_full_size(working: np.ndarray, scale: float) -> np.ndarray:
    """A transform between working-size pictures as one between full-size frames."""
    (a, b, tx), (c, d, ty) = np.asarray(working, np.float64).tolist()
    o = 0.5 / scale - 0.5
    return np.array([[a, b, tx / scale + o - (a + b) * o],
                     [c, d, ty / scale + o - (c + d) * o]])


def to_working_size(full: np.ndarray, scale: float) -> np.ndarray:
    """The inverse of :func:`to_full_size`."""
    (a, b, tx), (c, d, ty) = np.asarray(full, np.float64).tolist()
    o = 0.5 / scale - 0.5
    return np.array([[a, b, scale * (tx - o + (a + b) * o)],
                     [c, d, scale * (ty - o + (c + d) * o)]])


def scale_and_angle(transform: np.ndarray) -> tuple[float, float]:
    """Mean magnification and rotation (radians) of a transform's linear part."""
    linear = np.asarray(transform, np.float64)[:, :2]
    scale = float(np.sqrt(abs(np.linalg.det(linear))))
    angle = float(np.arctan2(linear[1, 0] - linear[0, 1], linear[0, 0] + linear[1, 1]))
    return scale, angle
