"""Masks: rectangles of a video source painted over before anyone sees the frame.

A laparoscopic tower burns the patient's name, ID and date into its picture, always in the
same places. A :class:`Mask` names one such place in normalised coordinates (0..1 of the
frame's width and height, so it survives a change of resolution) and how to cover it:
painted solid (black or grey, the default) or strongly blurred (coarse blocks smoothed,
so no letter survives). :func:`apply_masks` covers every mask of a source in one frame.

Rectangles are rounded *outwards* to whole pixels (and to whole chroma samples), so a mask
always covers at least what it names.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import av
import cv2
import numpy as np
from av.video.reformatter import VideoReformatter

from surgery_teach.errors import ConfigError

#: The smallest mask side, as a fraction of the frame: anything thinner is a slip of the mouse.
MIN_SIDE = 0.005
#: Blur cell, in pixels of the frame: each cell becomes one colour before smoothing.
BLUR_CELL = 24

# Colours in limited-range YUV (what the sources and the H.264 encoder use) and in BGR.
_YUV = {"black": (16, 128, 128), "grey": (128, 128, 128)}
_BGR = {"black": (0, 0, 0), "grey": (128, 128, 128)}


class MaskStyle(StrEnum):
    """How a mask covers its rectangle."""

    BLACK = "black"
    GREY = "grey"
    BLUR = "blur"


@dataclass(frozen=True)
class Mask:
    """One rectangle of a source to cover: ``x``, ``y`` its top left corner and ``w``, ``h``
    its size, all fractions of the frame (0..1); ``style`` how it is covered."""

    x: float
    y: float
    w: float
    h: float
    style: MaskStyle = MaskStyle.BLACK

    def __post_init__(self) -> None:
        for name in ("x", "y", "w", "h"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not math.isfinite(value):
                raise ConfigError(f"mask {name} must be a number from 0 to 1, not {value!r}")
            object.__setattr__(self, name, float(value))
        if not (0 <= self.x < 1 and 0 <= self.y < 1):
            raise ConfigError(
                f"mask corner {self.x:g},{self.y:g} is outside the picture: x and y are "
                "fractions of the width and height, from 0 (left, top) to below 1")
        if self.w < MIN_SIDE or self.h < MIN_SIDE:
            raise ConfigError(
                f"mask size {self.w:g}x{self.h:g} is too small: width and height are "
                f"fractions of the picture, at least {MIN_SIDE:g} (e.g. 0.3,0.1)")
        if self.x + self.w > 1 + 1e-9 or self.y + self.h > 1 + 1e-9:
            raise ConfigError(
                f"mask {self.x:g},{self.y:g},{self.w:g},{self.h:g} reaches past the picture's "
                "edge: x + w and y + h must be at most 1")
        try:
            object.__setattr__(self, "style", MaskStyle(self.style))
        except ValueError:
            raise ConfigError(
                f"mask style {self.style!r} is unknown; use one of "
                f"{', '.join(s.value for s in MaskStyle)}") from None

    def box(self, width: int, height: int) -> tuple[int, int, int, int]:
        """The pixels this mask covers in a ``width`` x ``height`` frame: ``x0, y0, x1, y1``
        (end exclusive), rounded outwards."""
        x0 = max(0, math.floor(self.x * width))
        y0 = max(0, math.floor(self.y * height))
        x1 = min(width, math.ceil(min(1.0, self.x + self.w) * width))
        y1 = min(height, math.ceil(min(1.0, self.y + self.h) * height))
        return x0, y0, x1, y1

    def to_json(self) -> dict[str, object]:
        return {"x": self.x, "y": self.y, "w": self.w, "h": self.h, "style": self.style.value}

    @classmethod
    def from_json(cls, data: object) -> Mask:
        """A mask from :meth:`to_json`'s form; :class:`ConfigError` if malformed."""
        if not isinstance(data, dict):
            raise ConfigError(f"a mask must be an object with x, y, w, h, not {data!r}")
        missing = [k for k in ("x", "y", "w", "h") if k not in data]
        if missing:
            raise ConfigError(f"mask {data!r} lacks {', '.join(missing)}")
        return cls(data["x"], data["y"], data["w"], data["h"],
                   data.get("style", MaskStyle.BLACK.value))


def apply_masks(frame: av.VideoFrame, masks: Sequence[Mask]) -> av.VideoFrame:
    """A new frame: ``frame`` with every mask covered. ``frame`` itself is not changed.

    ``yuv420p`` and ``bgr24`` frames keep their format; any other format comes back as
    ``yuv420p`` (what the encoders want anyway). Raises whatever the conversion raises:
    the caller (:class:`~surgery_teach.privacy.guard.PrivacyGuard`) fails closed.
    """
    if not masks:
        return frame
    name = frame.format.name
    if name == "bgr24":
        image = frame.to_ndarray()
        _cover_bgr(image, masks)
        return av.VideoFrame.from_numpy_buffer(image, format="bgr24")
    if name != "yuv420p":
        # our own reformatter: the frame's built-in one may be in use on another thread
        frame = VideoReformatter().reformat(frame, format="yuv420p")
    i420 = frame.to_ndarray()  # a copy, (h * 3 / 2, w)
    _cover_i420(i420, frame.width, frame.height, masks)
    return av.VideoFrame.from_numpy_buffer(i420, format="yuv420p")


def _cover_i420(i420: np.ndarray, width: int, height: int, masks: Sequence[Mask]) -> None:
    if width % 2 or height % 2:
        raise ValueError(f"a yuv420p frame must have even sides, not {width}x{height}")
    flat = i420.reshape(-1)
    cw, ch = width // 2, height // 2
    planes = (
        flat[: width * height].reshape(height, width),
        flat[width * height : width * height + cw * ch].reshape(ch, cw),
        flat[width * height + cw * ch : width * height + 2 * cw * ch].reshape(ch, cw),
    )
    for mask in masks:
        x0, y0, x1, y1 = mask.box(width, height)
        # chroma: the 2x2 blocks any covered pixel touches, so no colour leaks at the rim
        boxes = ((x0, y0, x1, y1),) + ((x0 // 2, y0 // 2, (x1 + 1) // 2, (y1 + 1) // 2),) * 2
        for index, (plane, (a, b, c, d)) in enumerate(zip(planes, boxes, strict=True)):
            region = plane[b:d, a:c]
            if mask.style is MaskStyle.BLUR:
                _blur(region, BLUR_CELL if index == 0 else BLUR_CELL // 2)
            else:
                region[:] = _YUV[mask.style.value][index]


def _cover_bgr(image: np.ndarray, masks: Sequence[Mask]) -> None:
    height, width = image.shape[:2]
    for mask in masks:
        x0, y0, x1, y1 = mask.box(width, height)
        region = image[y0:y1, x0:x1]
        if mask.style is MaskStyle.BLUR:
            _blur(region, BLUR_CELL)
        else:
            region[:] = _BGR[mask.style.value]


def _blur(region: np.ndarray, cell: int) -> None:
    """Average ``region`` over cells of ``cell`` pixels, then smooth the blocks: letters
    and faces are far smaller than a cell, so nothing readable is left. (The region is
    padded to whole cells so the area average takes OpenCV's fast integer-ratio path.)"""
    h, w = region.shape[:2]
    if h == 0 or w == 0:
        return
    cols, rows = -(-w // cell), -(-h // cell)
    padded = cv2.copyMakeBorder(region, 0, rows * cell - h, 0, cols * cell - w,
                                cv2.BORDER_REPLICATE)
    means = cv2.resize(padded, (cols, rows), interpolation=cv2.INTER_AREA)
    smooth = cv2.resize(means, (cols * cell, rows * cell), interpolation=cv2.INTER_LINEAR)
    np.copyto(region, smooth[:h, :w].reshape(region.shape))
