"""Finding a lost mark's tissue anywhere in the picture, so the mark can re-attach.

The tracker searches for a lost mark's stored patch every few frames by normalised
template matching on an *overview*: the frame's detail reduced by a factor (a sixteenth
of the working picture's pixels at 0.25), made once a frame for all lost marks. The scope
may have zoomed or rolled while the tissue was hidden, so the patch is tried scaled and
turned (the *variations*). Since a lost mark stays where it was last trusted, its
templates do not change while it is lost: :class:`Templates` makes each one once.
:func:`~surgery_teach.tracking.reference.align` then refines a candidate at working size.

All pure apart from that cache; coordinates are working-picture pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from surgery_teach.tracking.flow import detail, working_picture
from surgery_teach.tracking.reference import Reference

# Below this spread of grey levels a template is flat: nothing to match.
_FLAT_STD = 2.0
# The turned region's largest upright rectangle without black corners: ~70% of its side.
_INSIDE_TURN = 0.7
# Detail this close to its flat level (128) shows nothing (black sides round a scope's
# view); the search keeps to the box round the rest, plus this margin (overview pixels).
_NOTHING = 2
_MARGIN = 4


@dataclass(frozen=True, eq=False)
class Overview:
    """The picture lost marks are searched in (see :func:`overview`): ``picture``, the
    part of it that shows anything, at ``offset`` (x, y) in the whole reduced picture."""

    picture: np.ndarray
    offset: tuple[int, int]


def overview(picture: np.ndarray, factor: float, blur: float) -> Overview:
    """The working ``picture`` reduced by ``factor``, then its detail
    (:func:`~surgery_teach.tracking.flow.detail` with ``blur`` working pixels), cut to
    the box where it shows anything.

    Reduced first: a sixteenth of the pixels to filter at 0.25 (the other order cost
    more than the searches themselves). A scope's round view leaves the sides of a 16:9
    frame black: searching without them costs a third less.
    """
    fine = detail(working_picture(picture, factor), blur * factor)
    shown = cv2.absdiff(fine, 128) > _NOTHING
    columns, rows = np.flatnonzero(shown.any(axis=0)), np.flatnonzero(shown.any(axis=1))
    if len(columns) == 0:
        return Overview(fine, (0, 0))
    height, width = fine.shape[:2]
    x0, x1 = max(0, columns[0] - _MARGIN), min(width, columns[-1] + 1 + _MARGIN)
    y0, y1 = max(0, rows[0] - _MARGIN), min(height, rows[-1] + 1 + _MARGIN)
    return Overview(fine[y0:y1, x0:x1], (int(x0), int(y0)))


@dataclass(frozen=True, eq=False)
class _Template:
    picture: np.ndarray  # uint8, overview scale
    linear: np.ndarray  # anchor -> working picture, linear part
    centre: np.ndarray  # the region's centre in the template, template pixels


@dataclass(eq=False)
class Templates:
    """A lost mark's patch as search templates, made on first use.

    ``last``: the transform (anchor -> working picture) the mark was last trusted with;
    ``factor``: the overview's reduction. Make a new one when the mark is lost anew.
    """

    reference: Reference
    last: np.ndarray
    factor: float
    _region: np.ndarray | None = None
    _made: dict[tuple[float, float], _Template | None] = field(default_factory=dict)

    def get(self, scale: float, angle: float) -> _Template | None:
        """The patch turned and scaled as last seen, then by ``scale`` and ``angle``
        (radians); None when it would be too small or flat to match."""
        key = (scale, angle)
        if key not in self._made:
            self._made[key] = self._make(scale, angle)
        return self._made[key]

    @property
    def anchor_centre(self) -> np.ndarray:
        """The region's centre, in anchor coordinates."""
        return self.reference.centre

    def _make(self, scale: float, angle: float) -> _Template | None:
        reference, factor = self.reference, self.factor
        x0, y0, x1, y1 = reference.inner
        if self._region is None:
            region = reference.patch[y0:y1, x0:x1]
            if factor < 1:  # smooth before shrinking, as the overview was
                region = cv2.GaussianBlur(region, (0, 0), 0.5 / factor)
            self._region = region
        cos, sin = scale * np.cos(angle), scale * np.sin(angle)
        linear = np.array([[cos, -sin], [sin, cos]]) @ np.asarray(self.last, np.float64)[:, :2]
        side = np.array([x1 - x0, y1 - y0], np.float64)
        magnification = float(np.sqrt(abs(np.linalg.det(linear))))
        out = np.floor(side * magnification * _INSIDE_TURN * factor).astype(int)
        if np.any(out < 6):
            return None
        centre_in, centre_out = (side - 1) / 2, (out - 1) / 2
        turn = linear * factor
        to_template = np.hstack([turn, (centre_out - turn @ centre_in)[:, None]])
        picture = cv2.warpAffine(self._region, to_template, (int(out[0]), int(out[1])),
                                 flags=cv2.INTER_LINEAR)
        if float(cv2.meanStdDev(picture)[1][0, 0]) < _FLAT_STD:
            return None
        return _Template(picture, linear, centre_out)


def search(
    templates: Templates, overview: Overview,
    variations: tuple[tuple[float, float], ...] = ((1.0, 0.0),),
) -> tuple[np.ndarray | None, float]:
    """Look for the stored tissue anywhere in ``overview`` (made by :func:`overview`
    with the templates' factor).

    Tries each of ``variations`` (scale, radians) of the patch as last seen. Returns the
    best candidate transform (anchor -> working picture) and its match score
    (normalised correlation), or (None, 0) when nothing fits.
    """
    best: tuple[np.ndarray | None, float] = (None, 0.0)
    factor = templates.factor
    picture, offset = overview.picture, np.array(overview.offset, np.float64)
    height, width = picture.shape[:2]
    for scale, angle in variations:
        template = templates.get(scale, angle)
        if template is None:
            continue
        out_h, out_w = template.picture.shape[:2]
        if out_w >= width or out_h >= height:
            continue
        scores = cv2.matchTemplate(picture, template.picture, cv2.TM_CCOEFF_NORMED)
        _, score, _, at = cv2.minMaxLoc(scores)
        if score > best[1]:
            # overview pixel -> working pixel: x_work = (x_over + 0.5) / factor - 0.5
            found_centre = (offset + at + template.centre + 0.5) / factor - 0.5
            shift = found_centre - template.linear @ templates.anchor_centre
            best = (np.hstack([template.linear, shift[:, None]]), float(score))
    return best
