"""A mark's stored patch of tissue, and finding that tissue again in a new picture.

When a mark is anchored, the working picture around it is kept (:class:`Reference`).
Every frame the tracker looks at the new picture through the predicted transform
(:func:`look`), lines the stored patch up with what it sees by Lucas-Kanade on the
patch's features (:func:`align`), and scores how alike the two look (normalised
correlation). Aligning to the stored patch rather than to the previous frame means
errors do not pile up over minutes. When the mark is lost,
:func:`~surgery_teach.tracking.search.search` looks for the patch over the whole picture
so the mark can re-attach when the tissue comes back.

All pure functions; coordinates are working-picture pixels. "Anchor coordinates" are
those of the working picture the mark was anchored on; a transform takes them to the
current picture.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from surgery_teach.tracking.flow import (
    FlowSettings,
    detail,
    find_features,
    fit_similarity,
    follow,
)
from surgery_teach.tracking.pose import compose, translation

# Below this spread of grey levels a patch is flat: nothing to compare or follow.
_FLAT_STD = 2.0
# Resemblance is judged block by block (BLOCKS x BLOCKS) and the median block counts, so
# an instrument over part of the region lowers it less than a cover over all of it.
_BLOCKS = 3
# A correction smaller than this (pixels) is judged on the picture already resampled.
_RELOOK_PX = 0.3


@dataclass(frozen=True, eq=False)
class Reference:
    """The tissue around a mark when it was anchored.

    ``patch``: the detail (:func:`~.flow.detail`) of the working picture over the region
    plus a margin for LK windows; ``origin``: anchor coordinates of ``patch[0, 0]``;
    ``features``: corners to follow, in patch coordinates; ``inner``: (x0, y0, x1, y1) of
    the region proper in the patch; ``samples``: a grid over the region (anchor
    coordinates) for judging how much of it is in view, ``bounds`` its extremes (x0, y0,
    x1, y1); ``blocks``: the region cut into blocks, each zero-mean and unit-length
    (``flat_blocks`` marks the featureless ones), ready for :func:`resemblance`.
    """

    patch: np.ndarray
    origin: np.ndarray
    features: np.ndarray
    inner: tuple[int, int, int, int]
    samples: np.ndarray
    bounds: tuple[float, float, float, float]
    blocks: np.ndarray
    flat_blocks: np.ndarray

    @property
    def centre(self) -> np.ndarray:
        """Centre of the region, in anchor coordinates."""
        x0, y0, x1, y1 = self.inner
        return self.origin + np.array([(x0 + x1 - 1) / 2, (y0 + y1 - 1) / 2])

    def patch_to_anchor(self) -> np.ndarray:
        """Transform from patch to anchor coordinates."""
        return translation(float(self.origin[0]), float(self.origin[1]))

    def patch_to(self, transform: np.ndarray) -> np.ndarray:
        """Transform from patch coordinates to the picture ``transform`` leads to."""
        result = transform.copy()
        result[:, 2] += transform[:, :2] @ self.origin
        return result


@dataclass(frozen=True, eq=False)
class Alignment:
    """The outcome of lining the stored patch up with a picture.

    ``transform``: anchor -> current picture (None when too few features were followed);
    ``agreeing``: features that follow it; ``resemblance``: how alike the patch and the
    picture seen through ``transform`` are (median block correlation, -1..1; 0 when flat
    or out of view); ``visible``: the share of the region inside the picture.
    """

    transform: np.ndarray | None
    agreeing: int
    resemblance: float
    visible: float


def capture(
    picture: np.ndarray, region: tuple[int, int, int, int], margin: int, count: int,
    settings: FlowSettings,
) -> Reference:
    """Keep the tissue in ``region`` (x0, y0, x1, y1 in ``picture``) and its features."""
    height, width = picture.shape[:2]
    x0, y0, x1, y1 = region
    px0, py0 = max(0, x0 - margin), max(0, y0 - margin)
    px1, py1 = min(width, x1 + margin), min(height, y1 + margin)
    patch = detail(picture[py0:py1, px0:px1], settings.detail_blur)
    inner = (x0 - px0, y0 - py0, min(x1, width) - px0, min(y1, height) - py0)
    mask = np.zeros(patch.shape[:2], np.uint8)
    mask[inner[1] : inner[3], inner[0] : inner[2]] = 255
    spacing = max(3.0, min(inner[2] - inner[0], inner[3] - inner[1]) / 8)
    features = find_features(patch, count, spacing, mask)
    xs, ys = np.meshgrid(np.linspace(x0, x1 - 1, 6), np.linspace(y0, y1 - 1, 6))
    samples = np.stack([xs.ravel(), ys.ravel()], axis=1)
    blocks, spread = _unit_blocks(patch, inner)
    return Reference(patch, np.array([px0, py0], np.float64), features, inner, samples,
                     (float(x0), float(y0), float(x1 - 1), float(y1 - 1)), blocks,
                     spread < _FLAT_STD)


def look(
    reference: Reference, picture: np.ndarray, transform: np.ndarray, settings: FlowSettings
) -> np.ndarray:
    """The detail of ``picture`` resampled onto the patch's grid through ``transform``.

    If ``transform`` is right, this is the stored patch again (give or take deformation).
    """
    height, width = reference.patch.shape[:2]
    seen = cv2.warpAffine(
        picture, reference.patch_to(transform), (width, height),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE,
    )
    return detail(seen, settings.detail_blur)


def resemblance(reference: Reference, seen: np.ndarray) -> float:
    """How alike the region is in the patch and in ``seen``: the median, over a grid of
    blocks, of their normalised correlation (so partial cover lowers it gracefully)."""
    if reference.blocks.size == 0:
        return 0.0
    blocks = _blocks(seen, reference.inner)
    # The stored blocks are zero-mean, so correlating with the raw blocks equals
    # correlating with the zero-mean ones; only their length needs the mean.
    size = blocks.shape[1]
    sums = blocks.sum(axis=1)
    length = np.sqrt(np.maximum(np.einsum("ij,ij->i", blocks, blocks) - sums * sums / size,
                                0.0))
    scores = np.einsum("ij,ij->i", reference.blocks, blocks) / np.maximum(length, 1e-6)
    scores[reference.flat_blocks | (length < _FLAT_STD * np.sqrt(size))] = 0.0
    ranked = sorted(scores.tolist())  # the median of a few: np.median costs 100x more
    middle = len(ranked) // 2
    return ranked[middle] if len(ranked) % 2 else (ranked[middle - 1] + ranked[middle]) / 2


def _blocks(picture: np.ndarray, inner: tuple[int, int, int, int]) -> np.ndarray:
    """The region cut into _BLOCKS x _BLOCKS blocks, one per row (float64)."""
    x0, y0, x1, y1 = inner
    bh, bw = (y1 - y0) // _BLOCKS, (x1 - x0) // _BLOCKS
    region = picture[y0 : y0 + bh * _BLOCKS, x0 : x0 + bw * _BLOCKS].astype(np.float64)
    return region.reshape(_BLOCKS, bh, _BLOCKS, bw).transpose(0, 2, 1, 3).reshape(
        _BLOCKS * _BLOCKS, bh * bw)


def _unit_blocks(
    picture: np.ndarray, inner: tuple[int, int, int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """The region cut into _BLOCKS x _BLOCKS blocks, one per row, each made zero-mean
    and unit-length, and each block's standard deviation."""
    x0, y0, x1, y1 = inner
    bh, bw = (y1 - y0) // _BLOCKS, (x1 - x0) // _BLOCKS
    if bh < 2 or bw < 2:
        return np.empty((0, 0), np.float32), np.empty(0, np.float32)
    region = picture[y0 : y0 + bh * _BLOCKS, x0 : x0 + bw * _BLOCKS].astype(np.float32)
    blocks = region.reshape(_BLOCKS, bh, _BLOCKS, bw).transpose(0, 2, 1, 3)
    blocks = blocks.reshape(_BLOCKS * _BLOCKS, bh * bw)
    blocks -= blocks.mean(axis=1, keepdims=True)
    length = np.sqrt(np.einsum("ij,ij->i", blocks, blocks))
    spread = length / np.sqrt(bh * bw)
    return blocks / np.maximum(length, 1e-6)[:, None], spread


def visible_share(reference: Reference, transform: np.ndarray, size: tuple[int, int]) -> float:
    """The share of the region that ``transform`` puts inside a picture of ``size``."""
    width, height = size
    (a, b, tx), (c, d, ty) = transform.tolist()
    x0, y0, x1, y1 = reference.bounds
    # The placed region is convex: with its four corners inside, all of it is (the usual
    # case, decided without the grid).
    if all(0 <= a * x + b * y + tx <= width - 1 and 0 <= c * x + d * y + ty <= height - 1
           for x in (x0, x1) for y in (y0, y1)):
        return 1.0
    placed = reference.samples @ transform[:, :2].T + transform[:, 2]
    inside = ((placed[:, 0] >= 0) & (placed[:, 0] <= width - 1)
              & (placed[:, 1] >= 0) & (placed[:, 1] <= height - 1))
    return float(inside.mean())


def align(
    reference: Reference, picture: np.ndarray, guess: np.ndarray, settings: FlowSettings
) -> Alignment:
    """Line the stored patch up with ``picture``, starting from transform ``guess``.

    The patch's features are followed from the patch to the picture as seen through the
    guess (forward-backward checked), a similarity is fitted to the ones that survive
    (RANSAC) and composed with the guess; then the result is scored by resemblance.
    """
    height, width = picture.shape[:2]
    visible = visible_share(reference, guess, (width, height))
    if visible < 0.5 or len(reference.features) < 3:
        return Alignment(None, 0, 0.0, visible)
    seen = look(reference, picture, guess, settings)
    moved, good = follow(reference.patch, seen, reference.features, settings)
    correction, agree = fit_similarity(reference.features[good], moved[good],
                                       settings.fit_tolerance)
    if correction is None:
        return Alignment(None, 0, 0.0, visible)
    # The patch's features sit at `correction` of themselves in `seen`, and `seen` is the
    # picture through `guess`: anchor -> patch -> seen -> picture.
    to_patch = translation(-float(reference.origin[0]), -float(reference.origin[1]))
    transform = compose(reference.patch_to(guess), compose(correction, to_patch))
    if _moves_region(reference, correction) > _RELOOK_PX:
        # What the picture shows through `transform`: `seen` moved by the correction
        # (detail is a linear filter up to its gain, which correlation ignores; cheaper
        # than resampling the picture and taking its detail again).
        height_, width_ = seen.shape[:2]
        seen = cv2.warpAffine(seen, correction, (width_, height_),
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)
    score = resemblance(reference, seen)
    return Alignment(transform, int(agree.sum()), score,
                     visible_share(reference, transform, (width, height)))


def _moves_region(reference: Reference, correction: np.ndarray) -> float:
    """How far (pixels) ``correction`` moves the corners of the region, at most."""
    x0, y0, x1, y1 = reference.inner
    (a, b, tx), (c, d, ty) = correction.tolist()
    return max(max(abs((a - 1) * x + b * y + tx), abs(c * x + (d - 1) * y + ty))
               for x in (x0, x1) for y in (y0, y1))
