"""What leaves the sharer's computer: the picture as encoded, and a small description.

:func:`prepare_share` turns a :class:`~.picture.SharedPicture` into an
:class:`OutgoingShare`: the burned-in text regions the sharer marked are painted over
(:mod:`surgery_teach.privacy.masks`), the pixels are encoded as a PNG (a JPEG only when
the PNG would be larger than :data:`MAX_SHARE_BYTES`) that carries no metadata, and a
description lists only what a viewer needs: size, kind, page or slice, window, modality
and the title the sharer typed. Never the file, its name, or any DICOM attribute that
could identify anyone. :meth:`OutgoingShare.preview` decodes exactly the bytes that will
be sent, so the sharer sees what the others will see.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

import av
import cv2
import numpy as np

from surgery_teach.errors import ShareError, ShareTooLargeError
from surgery_teach.privacy.masks import Mask, apply_masks
from surgery_teach.protocol.messages.shares import MAX_SHARE_BYTES
from surgery_teach.sharing.picture import MAX_SIDE, SharedPicture

# The most a shared picture may weigh as sent (encoded), MAX_SHARE_BYTES, is the wire's
# bound (surgery_teach.protocol.messages.shares): the signaling server keeps to it too.
#: Longest title, in characters, after trimming.
MAX_TITLE_CHARS: Final = 200
DESCRIPTION_VERSION: Final = 1
_JPEG_QUALITIES: Final = (92, 85, 75)


@dataclass(frozen=True)
class OutgoingShare:
    """One share as it goes on the wire: ``share_id`` (random, names nobody),
    ``picture`` (PNG or JPEG bytes) and ``description`` (JSON-ready)."""

    share_id: str
    picture: bytes
    description: dict[str, Any]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.picture).hexdigest()

    def description_text(self) -> str:
        return json.dumps(self.description, ensure_ascii=False, separators=(",", ":"))

    def preview(self) -> np.ndarray:
        """The BGR pixels exactly as a viewer will decode them."""
        return decode_picture(self.picture)

    def titled(self, title: str) -> OutgoingShare:
        """The same picture bytes under another title (the sharer typed it after looking
        at the preview): what was previewed is what goes, not a new encoding of it."""
        return replace(self, description={**self.description, "title": clean_title(title)})


def prepare_share(picture: SharedPicture, *, title: str = "",
                  masks: Sequence[Mask] = ()) -> OutgoingShare:
    """The share of ``picture`` with ``masks`` painted over and ``title`` (typed by the
    sharer: one line, at most :data:`MAX_TITLE_CHARS`)."""
    pixels = picture.pixels
    if masks:
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="bgr24")
        pixels = apply_masks(frame, masks).to_ndarray()
    data, fmt, pixels = _encode(pixels)
    description: dict[str, Any] = {
        "v": DESCRIPTION_VERSION,
        "kind": picture.kind.value,
        "format": fmt,
        "width": int(pixels.shape[1]),
        "height": int(pixels.shape[0]),
        "index": picture.index,
        "count": picture.count,
        "window": picture.window.to_json() if picture.window is not None else None,
        "modality": _safe_code(picture.modality),
        "title": clean_title(title),
        "masked": len(masks),
        "scaled": picture.scaled or pixels.shape[:2] != picture.pixels.shape[:2],
        "bytes": len(data),
    }
    return OutgoingShare(uuid.uuid4().hex, data, description)


def clean_title(title: str) -> str:
    """The title as shown to everyone: one line, trimmed, at most MAX_TITLE_CHARS."""
    text = " ".join(str(title).split())
    if len(text) > MAX_TITLE_CHARS:
        raise ShareError(f"the title is {len(text)} characters long; keep it to "
                         f"{MAX_TITLE_CHARS} (say more in the chat).")
    return text


def _safe_code(modality: str) -> str:
    """A DICOM modality is a short code (``CT``, ``MR``, ``CR``): anything else is dropped."""
    code = modality.strip().upper()
    return code if code.isascii() and code.replace("_", "").isalnum() and len(code) <= 16 else ""


def _encode(pixels: np.ndarray) -> tuple[bytes, str, np.ndarray]:
    """PNG when it fits :data:`MAX_SHARE_BYTES`, else the best JPEG that fits, else the
    picture scaled down until a JPEG fits. PNG and JPEG written by OpenCV carry no text
    chunks or EXIF."""
    ok, png = cv2.imencode(".png", pixels, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if ok and len(png) <= MAX_SHARE_BYTES:
        return png.tobytes(), "png", pixels
    current = pixels
    for _ in range(8):
        for quality in _JPEG_QUALITIES:
            ok, jpeg = cv2.imencode(".jpg", current, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if ok and len(jpeg) <= MAX_SHARE_BYTES:
                return jpeg.tobytes(), "jpeg", current
        height, width = current.shape[:2]
        current = cv2.resize(current, (max(1, int(width * 0.7)), max(1, int(height * 0.7))),
                             interpolation=cv2.INTER_AREA)
    raise ShareTooLargeError("the picture", pixels.nbytes, MAX_SHARE_BYTES)


def picture_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's header or a JPEG's frame header, without decoding;
    None if neither says."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    at = 2
    while data.startswith(b"\xff\xd8") and at + 9 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            at += 2
            continue
        length = int.from_bytes(data[at + 2:at + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a frame header
            return int.from_bytes(data[at + 7:at + 9], "big"), \
                int.from_bytes(data[at + 5:at + 7], "big")
        if length < 2:
            return None
        at += 2 + length
    return None


def decode_picture(data: bytes, expected: tuple[int, int] | None = None) -> np.ndarray:
    """A received picture's BGR pixels; :class:`ShareError` if it is not a PNG or JPEG,
    or its header gives another size than ``expected`` (the share's description) or one
    larger than :data:`MAX_SIDE` a side: a small file can unpack into gigabytes."""
    if not (data.startswith(b"\x89PNG\r\n\x1a\n") or data.startswith(b"\xff\xd8\xff")):
        raise ShareError("the shared picture is neither PNG nor JPEG: ask the sharer to "
                         "share it again.")
    size = picture_size(data)
    if size is None or not (0 < size[0] <= MAX_SIDE and 0 < size[1] <= MAX_SIDE) or (
            expected is not None and size != expected):
        raise ShareError("the shared picture's size does not match what was announced: "
                         "ask the sharer to share it again.")
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if pixels is None or (pixels.shape[1], pixels.shape[0]) != size:
        raise ShareError("the shared picture cannot be decoded: ask the sharer to share it "
                         "again.")
    return pixels
