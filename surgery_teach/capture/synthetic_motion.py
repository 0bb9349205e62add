"""Known camera and tissue motion for the synthetic laparoscope: ground truth for tracking.

With motion switched on (``synthetic:1280x720@30,motion``) the scope pans, zooms and
rolls over the tissue and the tissue swells and shifts with breathing, and this module
knows exactly where every point of the tissue is in every frame. Tests and the tracking
benchmark use :meth:`ScopeMotion.image_of` to measure a tracked mark's error in pixels.

Coordinates: a *scene point* is a point on the tissue, in the pixels of the frame at
``t = 0`` (where the motion is the identity). Two steps take it to the picture:

1. breathing moves tissue point ``P`` to ``D`` with ``P = D - b(t) g(D)``, where ``g`` is
   a smooth bulge (an organ that shifts and swells) and ``b(t)`` goes 0..1 with each
   breath. This form is explicit from picture to tissue, which keeps rendering a single
   ``cv2.remap``; the way back (tissue to picture) solves it by fixed-point iteration,
   which converges quickly because the bulge is gentle (its slope is well below 1).
2. the scope images ``D`` at ``q = centre + z(t) R(theta(t)) (D - c(t))``: pan ``c(t)``,
   zoom ``z(t)``, roll ``theta(t)``, each a sine of its own period so a minute of video
   visits many combinations.

Pure numpy and cv2; no state changes after construction, so one instance can serve the
rendering thread and a measuring thread at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

# Periods (s) of the separate motions: unrelated to each other so they rarely line up.
_PAN_X_PERIOD = 4.0
_PAN_Y_PERIOD = 5.5
_ZOOM_PERIOD = 11.0
_ROLL_PERIOD = 13.0
# How the peak pan speed splits between the axes (a 3-4-5 triangle: never above the peak).
_PAN_X_SHARE, _PAN_Y_SHARE = 0.8, 0.6
# The breathing bulge: where the organ sits, how wide it is, which way it is pushed.
_BULGE_AT = (0.12, -0.08)  # offset from the centre, in frame widths
_BULGE_SIGMA = 0.25  # frame widths
_BULGE_PUSH = (0.6, 0.8)  # unit vector, the way the diaphragm pushes the organ
_BULGE_SWELL = 0.5  # outward swelling, relative to the push
_FIXED_POINT_STEPS = 12
# Breathing displacement is sampled on a grid this many pixels apart and interpolated:
# the bulge is ~300 px wide, so the interpolation error is far below a hundredth of a pixel.
_BREATH_GRID = 8


@dataclass(frozen=True, kw_only=True)
class ScopeMotionSettings:
    """How much the synthetic scope and tissue move.

    ``pan_speed``: peak speed of the picture's content from panning, in frame widths per
    second (at the highest zoom). ``zoom_range``: smallest and largest magnification.
    ``roll_degrees``: the scope rolls between plus and minus this. ``breathing``: the
    largest breathing displacement, in frame widths; ``breath_period`` in seconds.
    """

    pan_speed: float = 0.20
    zoom_range: tuple[float, float] = (0.8, 1.25)
    roll_degrees: float = 15.0
    breathing: float = 0.02
    breath_period: float = 4.0

    def __post_init__(self) -> None:
        low, high = self.zoom_range
        if not 0 < low <= high:
            raise ValueError(f"zoom range {self.zoom_range} must be positive and ordered")
        if self.pan_speed < 0 or self.breathing < 0 or self.breath_period <= 0:
            raise ValueError("pan speed and breathing must be >= 0, the breath period > 0")
        # The tissue-to-picture solve needs a gentle bulge (slope well below 1).
        if self.breathing / _BULGE_SIGMA * 1.5 >= 0.5:
            raise ValueError(f"breathing {self.breathing} is too strong to stay invertible")


class ScopeMotion:
    """The true motion of the synthetic scene: picture <-> tissue, at any time ``t``.

    ``width`` x ``height`` is the frame size. Points are ``(N, 2)`` arrays of x, y pixels.
    """

    def __init__(
        self, width: int, height: int, settings: ScopeMotionSettings | None = None
    ) -> None:
        self.width = width
        self.height = height
        self.settings = settings or ScopeMotionSettings()
        s = self.settings
        self.centre = np.array([width / 2, height / 2])
        zoom_high = s.zoom_range[1]
        # Amplitude of a sine with peak speed v and period T is v T / (2 pi); divide by the
        # highest zoom so the picture never moves faster than asked.
        speed = s.pan_speed * width / zoom_high
        self.pan_amplitude = (
            _PAN_X_SHARE * speed * _PAN_X_PERIOD / (2 * math.pi),
            _PAN_Y_SHARE * speed * _PAN_Y_PERIOD / (2 * math.pi),
        )
        self._log_zoom_mid = (math.log(s.zoom_range[0]) + math.log(zoom_high)) / 2
        self._log_zoom_half = (math.log(zoom_high) - math.log(s.zoom_range[0])) / 2
        self._bulge_at = self.centre + np.array(_BULGE_AT) * width
        self._bulge_sigma = _BULGE_SIGMA * width
        self._bulge_size = s.breathing * width
        self._push = np.array(_BULGE_PUSH)

    # -- the parts of the motion -------------------------------------------------------

    def pan(self, t: float) -> np.ndarray:
        """Where the scope points at time ``t``, in scene pixels (the centre at t=0)."""
        ax, ay = self.pan_amplitude
        return self.centre + np.array(
            [ax * math.sin(2 * math.pi * t / _PAN_X_PERIOD),
             ay * math.sin(2 * math.pi * t / _PAN_Y_PERIOD)]
        )

    def zoom(self, t: float) -> float:
        """Magnification at time ``t``, within the settings' zoom range."""
        phase = math.sin(2 * math.pi * t / _ZOOM_PERIOD)
        return math.exp(self._log_zoom_mid + self._log_zoom_half * phase)

    def roll(self, t: float) -> float:
        """The scope's roll at time ``t``, in radians."""
        return math.radians(self.settings.roll_degrees) * math.sin(2 * math.pi * t / _ROLL_PERIOD)

    def breath(self, t: float) -> float:
        """How far into a breath the tissue is at time ``t``: 0 (out) to 1 (in)."""
        return math.sin(math.pi * t / self.settings.breath_period) ** 2

    def camera(self, t: float) -> np.ndarray:
        """The 2x3 similarity taking breathing-displaced tissue to picture pixels."""
        z, angle = self.zoom(t), self.roll(t)
        linear = z * np.array([[math.cos(angle), -math.sin(angle)],
                               [math.sin(angle), math.cos(angle)]])
        shift = self.centre - linear @ self.pan(t)
        return np.hstack([linear, shift[:, None]])

    def bulge(self, points: np.ndarray) -> np.ndarray:
        """The breathing displacement field ``g`` at ``points`` (at a full breath)."""
        rel = (np.asarray(points, np.float64) - self._bulge_at) / self._bulge_sigma
        weight = self._bulge_size * np.exp(-0.5 * np.sum(rel * rel, axis=-1, keepdims=True))
        return weight * (self._push + _BULGE_SWELL * rel)

    # -- ground truth --------------------------------------------------------------------

    def scene_of(self, points: np.ndarray, t: float) -> np.ndarray:
        """The tissue (scene) points shown at picture ``points`` at time ``t``."""
        displaced = _apply(_invert(self.camera(t)), points)
        return displaced - self.breath(t) * self.bulge(displaced)

    def image_of(self, points: np.ndarray, t: float) -> np.ndarray:
        """Where tissue (scene) ``points`` appear in the picture at time ``t``."""
        tissue = np.asarray(points, np.float64).reshape(-1, 2)
        b = self.breath(t)
        displaced = tissue.copy()
        for _ in range(_FIXED_POINT_STEPS):
            displaced = tissue + b * self.bulge(displaced)
        return _apply(self.camera(t), displaced)

    def scene_reach(self, radius: float) -> tuple[float, float]:
        """Half width and half height of the tissue ever seen within ``radius`` pixels of
        the picture's centre (so the renderer knows how much tissue to make)."""
        seen = radius / self.settings.zoom_range[0]
        swell = 1.5 * self._bulge_size + 2
        return (seen + self.pan_amplitude[0] + swell, seen + self.pan_amplitude[1] + swell)

    # -- rendering -------------------------------------------------------------------------

    def texture_maps(
        self, t: float, origin: tuple[int, int], size: tuple[int, int], texture_centre: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``cv2.remap`` maps for the picture region at ``origin`` of ``size`` (w, h).

        Each map entry is the texture pixel to show there, with the scene's centre at
        ``texture_centre`` in the texture.
        """
        width, height = size
        inverse = _invert(self.camera(t))
        xs = np.arange(origin[0], origin[0] + width, dtype=np.float64)
        ys = np.arange(origin[1], origin[1] + height, dtype=np.float64)
        offset = texture_centre - self.centre
        # Each map is a row term plus a column term: sum two small float32 vectors.
        map_x = ((inverse[0, 0] * xs + inverse[0, 2] + offset[0]).astype(np.float32)[None, :]
                 + (inverse[0, 1] * ys).astype(np.float32)[:, None])
        map_y = ((inverse[1, 0] * xs + inverse[1, 2] + offset[1]).astype(np.float32)[None, :]
                 + (inverse[1, 1] * ys).astype(np.float32)[:, None])
        b = self.breath(t)
        if b > 0 and self._bulge_size > 0:
            # Sample the breathing on a coarse grid at the points cv2.resize interpolates
            # from (cell centres), then spread it over the full region.
            grid_w = -(-width // _BREATH_GRID)
            grid_h = -(-height // _BREATH_GRID)
            gx = origin[0] + (np.arange(grid_w) + 0.5) * (width / grid_w) - 0.5
            gy = origin[1] + (np.arange(grid_h) + 0.5) * (height / grid_h) - 0.5
            grid = np.stack(np.meshgrid(gx, gy), axis=-1)
            shift = (-b * self.bulge(_apply(inverse, grid.reshape(-1, 2)))).astype(np.float32)
            shift = shift.reshape(grid_h, grid_w, 2)
            full = cv2.resize(shift, (width, height), interpolation=cv2.INTER_LINEAR)
            map_x += full[:, :, 0]
            map_y += full[:, :, 1]
        return map_x.astype(np.float32, copy=False), map_y.astype(np.float32, copy=False)


def frame_time(seq: int, fps: float) -> float:
    """Animation time of frame ``seq`` (1, 2, ...) of a paced synthetic source."""
    return (seq - 1) / fps


def _invert(transform: np.ndarray) -> np.ndarray:
    return np.asarray(cv2.invertAffineTransform(transform), np.float64)


def _apply(transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    return pts @ transform[:, :2].T + transform[:, 2]
