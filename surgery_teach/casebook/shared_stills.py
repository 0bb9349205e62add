"""A shared picture as the frames of an exported clip: a still with its marks.

While a picture was shared the room looked at it instead of the video, so a clip of that
stretch shows it too: :class:`SharedStills` fits each picture into the clip's frame
(aspect kept, black around it, as the player shows it) and draws the marks on it as they
were at each moment, with the live look (:func:`~surgery_teach.annotations.render.render_marks`
at the size the picture has in the clip). A picture that cannot be read (a copy of the
case without it) gives ``None``: the clip shows the video there instead.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from surgery_teach.annotations.board import VisibleShape
from surgery_teach.annotations.render import render_marks
from surgery_teach.casebook.shared_pictures import SharedStretch, read_shared_picture
from surgery_teach.errors import RecordingError

logger = logging.getLogger("surgery_teach.recording")


class SharedStills:
    """Frames of ``width`` x ``height`` (BGR) showing the shared pictures of the case in
    ``folder``; each picture is read and fitted once. One thread."""

    def __init__(self, folder: Path, width: int, height: int) -> None:
        self.folder = folder
        self.width = width
        self.height = height
        self._fitted: dict[str, np.ndarray | None] = {}  # share id -> fitted, None: unreadable

    def frame(self, stretch: SharedStretch, marks: Iterable[VisibleShape] = ()
              ) -> np.ndarray | None:
        """The clip's frame during ``stretch`` with ``marks`` (of its source) drawn;
        ``None`` if its picture cannot be read."""
        fitted = self._picture(stretch)
        if fitted is None:
            return None
        picture = fitted.copy()
        render_marks(picture, marks)
        canvas = np.zeros((self.height, self.width, 3), np.uint8)
        h, w = picture.shape[:2]
        top, left = (self.height - h) // 2, (self.width - w) // 2
        canvas[top:top + h, left:left + w] = picture
        return canvas

    def _picture(self, stretch: SharedStretch) -> np.ndarray | None:
        if stretch.share_id not in self._fitted:
            try:
                pixels = read_shared_picture(self.folder, stretch)
            except RecordingError as exc:
                logger.warning("the clip shows the video in place of %s: %s", stretch.file,
                               exc)
                self._fitted[stretch.share_id] = None
            else:
                self._fitted[stretch.share_id] = fit(pixels, self.width, self.height)
        return self._fitted[stretch.share_id]


def fit(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """``pixels`` scaled to the largest size inside ``width`` x ``height``, aspect kept
    (area averaging when shrinking, so fine print stays legible)."""
    h, w = pixels.shape[:2]
    scale = min(width / w, height / h)
    size = (max(1, min(width, round(w * scale))), max(1, min(height, round(h * scale))))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return np.ascontiguousarray(cv2.resize(pixels, size, interpolation=interpolation))
