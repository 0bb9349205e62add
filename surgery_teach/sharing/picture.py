"""A shareable picture: what every kind of file becomes before it can be shared.

Whatever was opened (a photo, a PDF page, a DICOM slice), the session only ever handles
a :class:`SharedPicture`: 8-bit BGR pixels at the resolution to show, plus the few facts a
viewer needs (which page or slice, which window). Nothing here names the patient or
the file: the file's name may itself be a patient's name, so it stays on the sharer's
computer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import cv2
import numpy as np

from surgery_teach.errors import ShareTooLargeError, UnsupportedShareError

#: The largest file that can be opened for sharing (issue 17: "huge (> 50 MB)").
MAX_FILE_BYTES: Final = 50 * 1000 * 1000
#: The longest side of a shared picture; larger pictures are scaled down to it.
MAX_SIDE: Final = 8192


class FileKind(StrEnum):
    """What a file was opened as."""

    IMAGE = "image"  # PNG, JPEG, TIFF
    PDF = "pdf"
    DICOM = "dicom"


@dataclass(frozen=True)
class Window:
    """A DICOM window: ``center`` and ``width`` in the image's modality units (Hounsfield
    units for CT), ``name`` the preset it came from (``soft-tissue``, ``file``...)."""

    center: float
    width: float
    name: str

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "center": round(self.center, 3), "width": round(self.width, 3)}


@dataclass(frozen=True)
class SharedPicture:
    """One picture ready to share: ``pixels`` (height x width x 3, uint8, BGR).

    ``index``/``count``: the page of a PDF or the slice of a DICOM series (0-based) and
    how many there are (1 for a plain image). ``window``: the DICOM window the pixels
    were made with. ``modality``: the DICOM modality (``CT``, ``CR``...), "" otherwise.
    ``burned_in``: the file says (or may say) patient data is drawn into the pixels, so
    the sharer should mask it before sharing. ``scaled``: the original was larger than
    :data:`MAX_SIDE` and was scaled down. ``dataset``: for DICOM, the de-identified
    dataset the picture was made from (kept with the case; never sent).
    """

    pixels: np.ndarray
    kind: FileKind
    index: int = 0
    count: int = 1
    window: Window | None = None
    modality: str = ""
    burned_in: bool = False
    scaled: bool = False
    dataset: Any = field(default=None, repr=False, compare=False)

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


def check_file(path: Path) -> int:
    """The size of ``path`` in bytes, once it is known to exist and not be too large."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise UnsupportedShareError(
            f"{path} does not exist: choose the file again.", str(path)) from None
    except OSError as exc:
        raise UnsupportedShareError(
            f"cannot read {path} ({exc.strerror}): check that it is a file you may read.",
            str(path)) from exc
    if not path.is_file():
        raise UnsupportedShareError(f"{path} is a folder, not a file: choose one file "
                                    "(for a DICOM series, choose the series' folder with "
                                    "open_series).", str(path))
    if size > MAX_FILE_BYTES:
        raise ShareTooLargeError(str(path), size, MAX_FILE_BYTES)
    if size == 0:
        raise UnsupportedShareError(f"{path} is empty: choose the file again.", str(path))
    return size


def to_bgr8(image: np.ndarray) -> np.ndarray:
    """Any decoded image (grey, grey+alpha, BGR, BGRA; 8 or 16 bit or float) as 8-bit BGR.

    Transparent parts are shown over white (a scanned page or chart is drawn on white).
    A 16-bit or float grey image is stretched over its own range, the usual way to look
    at a raw X-ray or microscope export.
    """
    if image.dtype != np.uint8:
        if image.dtype == np.uint16 and image.max(initial=0) > 0 and image.ndim == 3:
            image = (image / 257.0 + 0.5).astype(np.uint8)
        else:
            data = image.astype(np.float64)
            low, high = float(np.nanmin(data)), float(np.nanmax(data))
            span = high - low or 1.0
            image = np.clip((np.nan_to_num(data, nan=low) - low) * (255.0 / span) + 0.5,
                            0, 255).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    channels = image.shape[2]
    if channels == 1:
        return cv2.cvtColor(image[:, :, 0], cv2.COLOR_GRAY2BGR)
    if channels == 2:  # grey + alpha
        grey, alpha = image[:, :, 0].astype(np.float32), image[:, :, 1].astype(np.float32) / 255
        out = (grey * alpha + 255 * (1 - alpha) + 0.5).astype(np.uint8)
        return cv2.cvtColor(out, cv2.COLOR_GRAY2BGR)
    if channels == 4:
        bgr = image[:, :, :3].astype(np.float32)
        alpha = image[:, :, 3:4].astype(np.float32) / 255
        return (bgr * alpha + 255 * (1 - alpha) + 0.5).astype(np.uint8)
    if channels == 3:
        return np.ascontiguousarray(image)
    raise UnsupportedShareError(f"an image with {channels} colour channels cannot be shown: "
                                "export it as an ordinary RGB image first.")


def fit(pixels: np.ndarray) -> tuple[np.ndarray, bool]:
    """``pixels`` scaled down (area average) so neither side exceeds :data:`MAX_SIDE`;
    whether it was scaled."""
    height, width = pixels.shape[:2]
    longest = max(height, width)
    if longest <= MAX_SIDE:
        return pixels, False
    ratio = MAX_SIDE / longest
    size = (max(1, round(width * ratio)), max(1, round(height * ratio)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA), True
