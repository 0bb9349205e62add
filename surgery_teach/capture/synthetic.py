"""A generated laparoscopy-like scene: the source for tests, demos and latency runs.

Everything expensive is done once: the tissue texture is rendered larger than the scope
view and panned by slicing, the scope's vignette is a precomputed weight map, and the
frame outside the scope's bounding square stays black. Per frame the work is a copy, a
few cv2 drawing calls, one multiply, the stamp, and the BGR -> I420 conversion (about
4 ms at 1080p on one core).
"""

from __future__ import annotations

import math
import time

import av
import cv2
import numpy as np

from surgery_teach.capture.pacing import Pacer
from surgery_teach.capture.spec import SYNTHETIC_LABEL
from surgery_teach.capture.stamp import band_height, write_stamp
from surgery_teach.capture.synthetic_motion import ScopeMotion
from surgery_teach.capture.threaded import ThreadedSource

_TISSUE_DARK = np.array([38, 30, 128], np.float32)  # BGR
_TISSUE_LIGHT = np.array([150, 140, 232], np.float32)
_VESSEL = (30, 18, 105)
_SHAFT = (140, 140, 146)
_SHAFT_SHINE = (205, 205, 212)
_JAW = (70, 70, 74)


class LaparoscopyScene:
    """Renders frame after frame of the scene at ``width`` x ``height`` (BGR, uint8).

    The returned array is reused by the next :meth:`render` call; copy it to keep it.
    ``seed`` fixes the tissue texture. With ``motion`` the scope pans, zooms and rolls
    and the tissue breathes exactly as that :class:`ScopeMotion` says (ground truth for
    tracking); without it the view drifts slowly as it always did.
    """

    def __init__(
        self, width: int, height: int, *, seed: int = 7, motion: ScopeMotion | None = None
    ) -> None:
        if width < 64 or height < 64 or width % 2 or height % 2:
            raise ValueError(f"scene size {width}x{height} must be even and at least 64x64")
        self.width = width
        self.height = height
        rng = np.random.default_rng(seed)

        # The scope's circular view, a little taller than the frame as on real towers.
        self.radius = int(min(width, height) * 0.54)
        self.center = (width // 2, height // 2)
        x0 = max(0, self.center[0] - self.radius)
        x1 = min(width, self.center[0] + self.radius)
        y0 = max(0, self.center[1] - self.radius)
        y1 = min(height, self.center[1] + self.radius)
        self._roi = (slice(y0, y1), slice(x0, x1))
        self._roi_origin = (x0, y0)
        roi_w, roi_h = x1 - x0, y1 - y0

        self._pad = max(16, int(min(width, height) * 0.12))
        self._texture = _tissue_texture(roi_w + 2 * self._pad, roi_h + 2 * self._pad, rng)
        self._vignette = _vignette(roi_w, roi_h, self.center, self._roi_origin, self.radius)
        self._sparkle = _sparkle(max(9, int(min(width, height) * 0.08)))
        self._sparkle_at = [
            (int(rng.integers(self._pad, roi_w)), int(rng.integers(self._pad, roi_h)))
            for _ in range(3)
        ]
        self._canvas = np.zeros((height, width, 3), np.uint8)
        self.motion = motion
        if motion is not None:
            self._moving_tissue(motion, rng, max(self._texture.shape[:2]))

    def _moving_tissue(self, motion: ScopeMotion, rng: np.random.Generator, size: int) -> None:
        """Tissue for the moving scope: big enough for all it visits, just as detailed."""
        reach_x, reach_y = motion.scene_reach(self.radius)
        tex_w, tex_h = 2 * math.ceil(reach_x), 2 * math.ceil(reach_y)
        self._texture = _tissue_texture(tex_w, tex_h, rng, detail=max(tex_w, tex_h) / size)
        for _ in range(round(3 * tex_w * tex_h / (size * size))):
            x, y = int(rng.integers(0, tex_w)), int(rng.integers(0, tex_h))
            _add_sprite(self._texture, self._sparkle, x, y)
        self._texture_centre = np.array([tex_w / 2, tex_h / 2])

    def render(self, t: float) -> np.ndarray:
        """The scene ``t`` seconds into the animation."""
        canvas = self._canvas
        view = canvas[self._roi]
        roi_h, roi_w = view.shape[:2]
        pad = self._pad
        if self.motion is not None:
            maps = self.motion.texture_maps(t, self._roi_origin, (roi_w, roi_h),
                                            self._texture_centre)
            np.copyto(view, cv2.remap(self._texture, *maps, cv2.INTER_LINEAR,
                                      borderMode=cv2.BORDER_REFLECT))
            self._draw_instrument(view, t)
            cv2.multiply(view, self._vignette, dst=view, scale=1 / 255)
            return canvas

        # Slow pan over the tissue, as if the camera assistant drifted.
        dx = int(pad * (1 + 0.9 * math.sin(2 * math.pi * t / 17)))
        dy = int(pad * (1 + 0.9 * math.sin(2 * math.pi * t / 23 + 1.0)))
        np.copyto(view, self._texture[dy : dy + roi_h, dx : dx + roi_w])

        # Specular highlights are wet spots on the tissue: they move with it.
        for sx, sy in self._sparkle_at:
            _add_sprite(view, self._sparkle, sx + pad - dx, sy + pad - dy)

        self._draw_instrument(view, t)
        cv2.multiply(view, self._vignette, dst=view, scale=1 / 255)
        return canvas

    def _draw_instrument(self, view: np.ndarray, t: float) -> None:
        """A grasper entering from the lower right, its tip wandering, jaws opening."""
        roi_h, roi_w = view.shape[:2]
        size = min(roi_w, roi_h)
        cx, cy = self.center[0] - self._roi_origin[0], self.center[1] - self._roi_origin[1]
        tip = (
            int(cx + size * 0.16 * math.sin(2 * math.pi * t / 6.0)),
            int(cy + size * 0.10 * math.sin(2 * math.pi * t / 4.3)),
        )
        entry = (int(cx + size * 0.62), int(cy + size * 0.55))
        thickness = max(4, int(size * 0.055))
        cv2.line(view, entry, tip, _SHAFT, thickness, cv2.LINE_AA)
        norm = math.hypot(tip[0] - entry[0], tip[1] - entry[1]) or 1.0
        ux, uy = (tip[0] - entry[0]) / norm, (tip[1] - entry[1]) / norm
        shine = max(1, thickness // 4)
        off = thickness * 0.22
        cv2.line(
            view,
            (int(entry[0] - uy * off), int(entry[1] + ux * off)),
            (int(tip[0] - uy * off), int(tip[1] + ux * off)),
            _SHAFT_SHINE,
            shine,
            cv2.LINE_AA,
        )
        opening = 0.25 + 0.2 * math.sin(2 * math.pi * t / 1.7)
        jaw_len = thickness * 2.2
        base = math.atan2(uy, ux)
        for side in (-1, 1):
            angle = base + side * opening
            end = (int(tip[0] + math.cos(angle) * jaw_len), int(tip[1] + math.sin(angle) * jaw_len))
            cv2.line(view, tip, end, _JAW, max(2, thickness // 2), cv2.LINE_AA)


class SyntheticSource(ThreadedSource):
    """Generated scene paced to ``fps``, each frame stamped with its seq and capture time.

    Frames are ``yuv420p`` :class:`av.VideoFrame` s with the stamp band
    (:mod:`surgery_teach.capture.stamp`) across the top and the frame number in the
    lower left corner. With ``motion`` the scope moves over breathing tissue as
    :attr:`motion` says (frame ``seq`` is at :func:`~.synthetic_motion.frame_time`).
    """

    def __init__(
        self,
        width: int = 1280,
        height: int = 720,
        fps: float = 30.0,
        label: str = SYNTHETIC_LABEL,
        *,
        motion: bool = False,
    ) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be positive, not {fps}")
        options = ",motion" if motion else ""
        super().__init__(f"synthetic:{width}x{height}@{fps:g}{options}", label)
        self._width = width
        self._height = height
        self._fps = float(fps)
        self._scene: LaparoscopyScene | None = None
        #: The true motion of the scene (ground truth for tracking), or None if still.
        self.motion = ScopeMotion(width, height) if motion else None

    @property
    def size(self) -> tuple[int, int]:
        return self._width, self._height

    @property
    def fps(self) -> float:
        return self._fps

    def render(self, seq: int, t: float, captured_at: float) -> av.VideoFrame:
        """Make frame ``seq`` of the scene at animation time ``t``, stamped ``captured_at``."""
        if self._scene is None:
            self._scene = LaparoscopyScene(self._width, self._height, motion=self.motion)
        canvas = self._scene.render(t)
        write_stamp(canvas, seq, captured_at)
        _draw_frame_number(canvas, seq)
        i420 = np.asarray(cv2.cvtColor(canvas, cv2.COLOR_BGR2YUV_I420), np.uint8)
        return av.VideoFrame.from_numpy_buffer(i420, format="yuv420p")

    def _prepare(self) -> None:
        # Build the texture before start() returns, so the first frame is not late.
        if self._scene is None:
            self._scene = LaparoscopyScene(self._width, self._height, motion=self.motion)

    def _run(self) -> None:
        pacer = Pacer(self._fps)
        while self._wait(pacer.next_delay(time.monotonic())):
            seq = self._seq + 1
            captured_at = time.time()
            self._publish(self.render(seq, pacer.media_time, captured_at), captured_at)


def _draw_frame_number(canvas: np.ndarray, seq: int) -> None:
    height, width = canvas.shape[:2]
    scale = max(0.4, height / 720 * 0.8)
    thickness = max(1, round(scale * 2))
    text = f"#{seq:07d}"
    (text_w, text_h), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    margin = max(4, text_h // 2)
    x, y = margin, height - margin - baseline
    top = max(band_height(width), y - text_h - margin // 2)
    canvas[top:height, 0 : x + text_w + margin] = 0
    cv2.putText(
        canvas,
        text,
        (x, y),
        cv2.FONT_HERSHEY_SIMPLEX,
        scale,
        (255, 255, 255),
        thickness,
        cv2.LINE_AA,
    )


def _tissue_texture(
    width: int, height: int, rng: np.random.Generator, *, detail: float = 1.0
) -> np.ndarray:
    """Pink-red tissue: layered smooth noise, a few vessels, slightly blurred.

    ``detail`` > 1 makes a larger piece of the same tissue: that many times more noise
    cells and vessel steps across, ``detail`` squared times more vessels.
    """
    field = np.zeros((height, width), np.float32)
    for base_cells, weight in ((6, 0.5), (24, 0.3), (90, 0.2)):
        cells = base_cells * detail
        grid_w = max(2, int(cells * width / max(width, height)))
        grid_h = max(2, int(cells * height / max(width, height)))
        noise = rng.random((grid_h, grid_w), dtype=np.float32)
        field += weight * cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    field -= field.min()
    field /= max(float(field.max()), 1e-6)
    texture = _TISSUE_DARK + field[:, :, None] * (_TISSUE_LIGHT - _TISSUE_DARK)
    image = np.clip(texture, 0, 255).astype(np.uint8)

    scale = max(width, height) / detail
    for _ in range(round(14 * detail * detail)):
        points = [rng.random(2) * (width, height)]
        heading = rng.random() * 2 * math.pi
        for _ in range(12):
            heading += rng.normal(0, 0.5)
            step = scale * 0.04
            points.append(points[-1] + step * np.array([math.cos(heading), math.sin(heading)]))
        curve = np.array(points, np.int32).reshape(-1, 1, 2)
        thick = int(rng.integers(1, max(2, int(scale) // 250) + 2))
        cv2.polylines(image, [curve], False, _VESSEL, thick, cv2.LINE_AA)
    return cv2.GaussianBlur(image, (0, 0), max(1.0, scale / 800))


def _vignette(
    width: int, height: int, center: tuple[int, int], origin: tuple[int, int], radius: int
) -> np.ndarray:
    """Weight map (3 channels, 0..255): bright centre, dark falloff, black outside the scope."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    dist = np.hypot(xs + origin[0] - center[0], ys + origin[1] - center[1]) / radius
    weight = np.clip(1.0 - 0.55 * dist**2.5, 0.0, 1.0)
    edge = np.clip((1.0 - dist) / 0.015, 0.0, 1.0)  # soft but sharp rim of the scope
    weight = (weight * edge * 255).astype(np.uint8)
    return np.ascontiguousarray(np.repeat(weight[:, :, None], 3, axis=2))


def _sparkle(size: int) -> np.ndarray:
    """A soft white blob to add onto the tissue as a specular reflection."""
    ax = np.linspace(-1, 1, size, dtype=np.float32)
    blob = np.exp(-(ax[None, :] ** 2 + (1.6 * ax[:, None]) ** 2) * 4.0)
    return np.repeat((blob * 230).astype(np.uint8)[:, :, None], 3, axis=2)


def _add_sprite(view: np.ndarray, sprite: np.ndarray, x: int, y: int) -> None:
    """Saturating add of ``sprite`` centred at (x, y), clipped to ``view``."""
    h, w = sprite.shape[:2]
    x0, y0 = x - w // 2, y - h // 2
    vx0, vy0 = max(0, x0), max(0, y0)
    vx1, vy1 = min(view.shape[1], x0 + w), min(view.shape[0], y0 + h)
    if vx0 >= vx1 or vy0 >= vy1:
        return
    region = view[vy0:vy1, vx0:vx1]
    cv2.add(region, sprite[vy0 - y0 : vy1 - y0, vx0 - x0 : vx1 - x0], dst=region)
