"""A synthetic tower that burns patient data into its picture, as real towers do.

:class:`TowerSource` is the synthetic laparoscope with white text (a made-up patient's
name, ID and date of birth) drawn in a top band, a bottom band and the four corners, so
tests can check that masks leave none of it. Helpers measure a region of a frame.
"""

from __future__ import annotations

import av
import cv2
import numpy as np

from surgery_teach.capture import SyntheticSource

OVERLAY_TOP = "PATIENT ZHANG WEI  ID 4711-0815  DOB 1962-03-14"
OVERLAY_BOTTOM = "CHOLECYSTECTOMY  OR 3  2026-05-01 10:42"
TOP_BAND = (0.0, 0.0, 1.0, 0.12)
BOTTOM_BAND = (0.0, 0.88, 1.0, 0.12)


class TowerSource(SyntheticSource):
    """The synthetic laparoscope with patient text in the top and bottom bands."""

    def render(self, seq: int, t: float, captured_at: float) -> av.VideoFrame:
        frame = super().render(seq, t, captured_at)
        bgr = frame.to_ndarray(format="bgr24")
        draw_overlay(bgr)
        i420 = np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420), np.uint8)
        return av.VideoFrame.from_numpy_buffer(i420, format="yuv420p")


def draw_overlay(bgr: np.ndarray) -> None:
    """White patient text in the top and bottom bands, as a tower draws it."""
    height, width = bgr.shape[:2]
    scale = height / 720 * 1.1
    thick = max(1, round(scale * 2))
    cv2.putText(bgr, OVERLAY_TOP, (int(width * 0.02), int(height * 0.08)),
                cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick, cv2.LINE_AA)
    cv2.putText(bgr, OVERLAY_BOTTOM, (int(width * 0.30), int(height * 0.96)),
                cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick, cv2.LINE_AA)


def region(frame: av.VideoFrame | np.ndarray, box: tuple[float, float, float, float],
           inset: int = 0) -> np.ndarray:
    """The luma of ``box`` (fractions x, y, w, h) of ``frame``, ``inset`` pixels inside."""
    gray = frame.to_ndarray(format="gray") if isinstance(frame, av.VideoFrame) else frame
    height, width = gray.shape[:2]
    x, y, w, h = box
    x0, y0 = int(x * width) + inset, int(y * height) + inset
    x1, y1 = int((x + w) * width) - inset, int((y + h) * height) - inset
    return gray[y0:y1, x0:x1]


def bright_pixels(luma: np.ndarray, level: int = 200) -> int:
    """How many pixels are as bright as white text."""
    return int((luma >= level).sum())
