"""The "source lost" placeholder picture a source shows while its device is gone.

Viewers keep receiving frames (so their decoders, recorders and layouts keep running) and
the picture says plainly what happened and that the app is trying to get the source back.
"""

from __future__ import annotations

import av
import cv2
import numpy as np

_BACKGROUND = (28, 24, 24)  # BGR, near black
_HEADLINE = (80, 80, 255)  # BGR, clear red
_DETAIL = (200, 200, 200)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


class LostPicture:
    """Paints placeholder frames ``width`` x ``height`` for the source named ``source``.

    The headline reads ``SOURCE LOST – <source> – reconnecting``; a second line gives the
    source's ``label`` and the seconds since the picture was lost. OpenCV 5 draws Unicode
    text, so Chinese or Russian labels show as written.
    """

    def __init__(self, width: int, height: int, source: str, label: str = "") -> None:
        self.width = width
        self.height = height
        self.label = label
        self.headline = f"SOURCE LOST – {source} – reconnecting"
        self._base = np.empty((height, width, 3), np.uint8)
        self._base[:] = _BACKGROUND
        scale, thickness = _fit(self.headline, width * 0.92, height / 10)
        (text_w, text_h), _ = cv2.getTextSize(self.headline, _FONT, scale, thickness)
        origin = ((width - text_w) // 2, height // 2)
        cv2.putText(
            self._base, self.headline, origin, _FONT, scale, _HEADLINE, thickness, cv2.LINE_AA
        )
        self._detail_scale = scale * 0.6
        self._detail_thickness = max(1, thickness // 2)
        self._detail_y = height // 2 + int(text_h * 2.2)

    def image(self, lost_for: float) -> np.ndarray:
        """The placeholder as a BGR array, saying how many seconds the source has been lost."""
        picture = self._base.copy()
        detail = f"no picture for {int(lost_for)} s"
        if self.label:
            detail = f"{self.label} · {detail}"
        (text_w, _), _ = cv2.getTextSize(detail, _FONT, self._detail_scale, self._detail_thickness)
        cv2.putText(
            picture,
            detail,
            ((self.width - text_w) // 2, self._detail_y),
            _FONT,
            self._detail_scale,
            _DETAIL,
            self._detail_thickness,
            cv2.LINE_AA,
        )
        return picture

    def frame(self, lost_for: float, format: str = "yuv420p") -> av.VideoFrame:
        """The placeholder as a video frame in ``format`` (``yuv420p`` or ``bgr24``, or any
        format PyAV can convert to)."""
        picture = self.image(lost_for)
        if format == "yuv420p" and self.width % 2 == 0 and self.height % 2 == 0:
            i420 = np.asarray(cv2.cvtColor(picture, cv2.COLOR_BGR2YUV_I420), np.uint8)
            return av.VideoFrame.from_numpy_buffer(i420, format="yuv420p")
        frame = av.VideoFrame.from_numpy_buffer(picture, format="bgr24")
        return frame if format == "bgr24" else frame.reformat(format=format)


def _fit(text: str, max_width: float, max_height: float) -> tuple[float, int]:
    """Font scale and thickness that make ``text`` as large as fits the box."""
    (unit_w, unit_h), _ = cv2.getTextSize(text, _FONT, 1.0, 2)
    scale = max(0.3, min(max_width / unit_w, max_height / unit_h))
    return scale, max(1, round(scale * 2))
