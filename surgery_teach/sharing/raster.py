"""PNG, JPEG and TIFF files as shareable pictures (decoded with OpenCV)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from surgery_teach.errors import CorruptShareError, UnsupportedShareError
from surgery_teach.sharing.picture import FileKind, SharedPicture, fit, to_bgr8

#: How each raster kind starts, and its name for messages.
SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "TIFF"),  # BigTIFF
    (b"MM\x00+", "TIFF"),
)


def raster_kind(head: bytes) -> str:
    """``"PNG"``, ``"JPEG"`` or ``"TIFF"`` from a file's first bytes; "" for none of them."""
    for signature, name in SIGNATURES:
        if head.startswith(signature):
            return name
    return ""


def open_raster(path: Path, data: bytes, kind: str, *, page: int = 0) -> SharedPicture:
    """The picture in ``data`` (the bytes of ``path``, a ``kind`` raster file).

    A multi-page TIFF shows ``page`` (0-based). Raises :class:`CorruptShareError` when
    the file cannot be decoded.
    """
    buffer = np.frombuffer(data, np.uint8)
    count = 1
    image: np.ndarray | None
    try:
        if kind == "TIFF":
            ok, pages = cv2.imdecodemulti(buffer, cv2.IMREAD_UNCHANGED)
            pages = list(pages) if ok else []
            count = len(pages)
            if page >= count and count:
                raise UnsupportedShareError(
                    f"{path.name} has {count} page(s); page {page + 1} does not exist: "
                    f"choose a page from 1 to {count}.", str(path))
            image = pages[page] if pages else None
        else:
            image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise CorruptShareError(
            f"{path.name} looks like a {kind} file but cannot be decoded ({_first_line(exc)}). "
            "It may be damaged or cut short: copy it again from where it came from, or "
            "export it anew.", str(path)) from exc
    if image is None or image.size == 0:
        raise CorruptShareError(
            f"{path.name} looks like a {kind} file but cannot be decoded: it may be damaged "
            "or cut short. Copy it again from where it came from, or export it anew.",
            str(path))
    if kind == "JPEG" and image.ndim == 3 and image.shape[2] == 3:
        # IMREAD_UNCHANGED does not apply the EXIF orientation a phone photo relies on
        image = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    pixels, scaled = fit(to_bgr8(image))
    return SharedPicture(pixels=pixels, kind=FileKind.IMAGE, index=page, count=count,
                         scaled=scaled)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__
