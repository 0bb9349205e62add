"""Privacy cards: the pictures a source shows instead of the camera's.

Two kinds: **paused** (the surgeon closed the privacy curtain) and **withheld** (masking
failed on a frame, so the frame was not sent). A card has the frame's size, a uniform
background of its own colour and one short line of text, so a viewer, a recording or a
test can tell at a glance what happened. :func:`card_kind` recognises a card in a decoded
frame (from its background, which survives compression) for tests, benches and tools.
"""

from __future__ import annotations

import threading
from enum import StrEnum

import av
import cv2
import numpy as np

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_TEXT = (235, 235, 235)  # BGR


class CardKind(StrEnum):
    """Why a card is shown."""

    PAUSED = "paused"
    WITHHELD = "withheld"


_HEADLINE = {
    CardKind.PAUSED: "Video paused for privacy",
    CardKind.WITHHELD: "Video withheld for privacy",
}
# Far from tissue, scope black and the "source lost" card; told apart after compression.
_BACKGROUND = {CardKind.PAUSED: (110, 70, 40), CardKind.WITHHELD: (40, 80, 130)}  # BGR
#: How far (in 8-bit YUV levels) a decoded card's background may stray from its colour.
TOLERANCE = 12


def card_image(kind: CardKind, width: int, height: int, detail: str = "") -> np.ndarray:
    """The card as a BGR array: the headline in the middle, ``detail`` (e.g. who paused)
    below it. OpenCV 5 draws any script, so a Chinese name shows as written."""
    image = np.empty((height, width, 3), np.uint8)
    image[:] = _BACKGROUND[kind]
    headline = _HEADLINE[kind]
    scale, thickness = _fit(headline, width * 0.8, height / 12)
    (text_w, text_h), _ = cv2.getTextSize(headline, _FONT, scale, thickness)
    cv2.putText(image, headline, ((width - text_w) // 2, height // 2), _FONT, scale, _TEXT,
                thickness, cv2.LINE_AA)
    if detail:
        small, thin = scale * 0.6, max(1, thickness // 2)
        (detail_w, _), _ = cv2.getTextSize(detail, _FONT, small, thin)
        cv2.putText(image, detail, (max(0, (width - detail_w) // 2),
                                    height // 2 + int(text_h * 2.2)),
                    _FONT, small, _TEXT, thin, cv2.LINE_AA)
    return image


class CardPainter:
    """Makes card frames, drawing each (kind, size, format, detail) once.

    Each call returns a new :class:`av.VideoFrame` (consumers set ``pts`` on the frames
    they get) over a shared, read-only picture. Thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[tuple[CardKind, int, int, str, str], np.ndarray] = {}

    def frame(self, kind: CardKind, width: int, height: int, *, fmt: str = "yuv420p",
              detail: str = "") -> av.VideoFrame:
        """A ``width`` x ``height`` card of ``kind``, in ``yuv420p`` (odd sizes and every
        other format are given as ``bgr24``, which every consumer converts)."""
        if fmt != "yuv420p" or width % 2 or height % 2:
            fmt = "bgr24"
        key = (kind, width, height, fmt, detail)
        with self._lock:
            pixels = self._cache.get(key)
            if pixels is None:
                if len(self._cache) > 16:  # sizes change rarely; never grow without end
                    self._cache.clear()
                pixels = card_image(kind, width, height, detail)
                if fmt == "yuv420p":
                    pixels = np.ascontiguousarray(cv2.cvtColor(pixels, cv2.COLOR_BGR2YUV_I420))
                pixels.setflags(write=False)
                self._cache[key] = pixels
        return av.VideoFrame.from_ndarray(pixels, format=fmt)


def card_kind(frame: av.VideoFrame | np.ndarray) -> CardKind | None:
    """Which card ``frame`` shows, or ``None`` if it is not a card.

    Looks at the band above the text (the top fifth, inset from the edges): on a card it
    is one colour, the kind's, within :data:`TOLERANCE` even after lossy coding.
    ``frame`` may be a video frame or a BGR array.
    """
    bgr = frame.to_ndarray(format="bgr24") if isinstance(frame, av.VideoFrame) else frame
    height, width = bgr.shape[:2]
    band = bgr[height // 40 : height // 5, width // 40 : width - width // 40]
    if band.size == 0:
        return None
    yuv = cv2.cvtColor(np.ascontiguousarray(band), cv2.COLOR_BGR2YUV).reshape(-1, 3)
    low, high = yuv.min(axis=0).astype(int), yuv.max(axis=0).astype(int)
    for kind, colour in _BACKGROUND.items():
        ref = cv2.cvtColor(np.array([[colour]], np.uint8), cv2.COLOR_BGR2YUV)[0, 0].astype(int)
        if (np.abs(low - ref) <= TOLERANCE).all() and (np.abs(high - ref) <= TOLERANCE).all():
            return kind
    return None


def _fit(text: str, max_width: float, max_height: float) -> tuple[float, int]:
    (unit_w, unit_h), _ = cv2.getTextSize(text, _FONT, 1.0, 2)
    scale = max(0.3, min(max_width / unit_w, max_height / unit_h))
    return scale, max(1, round(scale * 2))
