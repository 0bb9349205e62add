"""A mark's stored patch of tissue, and finding that tissue again in a new picture.

When a mark is anchored, the working picture around it is kept (:class:`Reference`).
Every frame the tracker looks at the new picture through the predicted transform
(:func:`look`), lines the stored patch up with what it sees by Lucas-Kanade on the
patch's features (:func:`align`), and scores how alike the two look (normalised
correlation). Aligning to the stored patch rather than to the previous frame means
errors do not pile up over minutes. When the mark is lost, :func:`search` looks for the
patch over the whole picture so the mark can re-attach when the tissue comes back.

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
    coordinates) for judging how much of it is in view; ``blocks``: the region cut into
    blocks, each zero-mean and unit-length (``flat_blocks`` marks the featureless ones),
    ready for :func:`resemblance`.
    """

    patch: np.ndarray
    origin: np.ndarray
    features: np.ndarray
    inner: tuple[int, int, int, int]
    samples: np.ndarray
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
                     blocks, spread < _FLAT_STD)


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
    blocks, spread = _unit_blocks(seen, reference.inner)
    scores = np.einsum("ij,ij->i", reference.blocks, blocks)
    scores[reference.flat_blocks | (spread < _FLAT_STD)] = 0.0
    return float(np.median(scores))


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
    placed = reference.samples @ transform[:, :2].T + transform[:, 2]
    width, height = size
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
        seen = look(reference, picture, transform, settings)
    score = resemblance(reference, seen)
    return Alignment(transform, int(agree.sum()), score,
                     visible_share(reference, transform, (width, height)))


def _moves_region(reference: Reference, correction: np.ndarray) -> float:
    """How far (pixels) ``correction`` moves the corners of the region, at most."""
    x0, y0, x1, y1 = reference.inner
    corners = np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]], np.float64)
    moved = corners @ correction[:, :2].T + correction[:, 2]
    return float(np.abs(moved - corners).max())


def search(
    reference: Reference, overview: np.ndarray, last: np.ndarray, factor: float,
    variations: tuple[tuple[float, float], ...] = ((1.0, 0.0),),
) -> tuple[np.ndarray | None, float]:
    """Look for the stored tissue anywhere in the picture (normalised template matching).

    ``overview`` is the picture's detail reduced by ``factor`` (searching a smaller
    picture costs a fraction; :func:`align` then refines at full working size). The patch
    is turned and scaled as the mark last was (``last`` transform) and then by each of
    ``variations`` (scale, radians), since the scope may have zoomed or rolled while the
    tissue was hidden. Returns the best candidate transform (anchor -> working picture)
    and its match score, or (None, 0) when nothing fits.
    """
    best: tuple[np.ndarray | None, float] = (None, 0.0)
    last_linear = np.asarray(last, np.float64)[:, :2]
    x0, y0, x1, y1 = reference.inner
    region = reference.patch[y0:y1, x0:x1]
    if factor < 1:  # smooth before shrinking, as the overview was
        region = cv2.GaussianBlur(region, (0, 0), 0.5 / factor)
    side = np.array([x1 - x0, y1 - y0], np.float64)
    centre_in = (side - 1) / 2
    anchor_centre = reference.origin + np.array([x0, y0]) + centre_in
    for scale, angle in variations:
        cos, sin = scale * np.cos(angle), scale * np.sin(angle)
        linear = np.array([[cos, -sin], [sin, cos]]) @ last_linear
        # The turned region's largest upright rectangle without black corners: ~70%.
        magnification = float(np.sqrt(abs(np.linalg.det(linear))))
        out = np.floor(side * magnification * 0.7 * factor).astype(int)
        if np.any(out < 6) or np.any(out >= overview.shape[1::-1]):
            continue
        centre_out = (out - 1) / 2
        turn = linear * factor
        to_template = np.hstack([turn, (centre_out - turn @ centre_in)[:, None]])
        template = cv2.warpAffine(region, to_template, (int(out[0]), int(out[1])),
                                  flags=cv2.INTER_LINEAR)
        if float(cv2.meanStdDev(template)[1][0, 0]) < _FLAT_STD:
            continue
        scores = cv2.matchTemplate(overview, template, cv2.TM_CCOEFF_NORMED)
        _, score, _, at = cv2.minMaxLoc(scores)
        if score > best[1]:
            # overview pixel -> working pixel: x_work = (x_over + 0.5) / factor - 0.5
            found_centre = (np.array(at, np.float64) + centre_out + 0.5) / factor - 0.5
            shift = found_centre - linear @ anchor_centre
            best = (np.hstack([linear, shift[:, None]]), float(score))
    return best
