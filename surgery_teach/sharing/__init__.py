"""Sharing a patient's images and documents into a session (issue 17), without Qt.

- :mod:`.opening`: :func:`open_file` makes a :class:`SharedPicture` of a PNG, JPEG,
  TIFF, PDF page (:mod:`.pdf`) or DICOM image (:mod:`.dicom`, windowed by
  :mod:`.windowing`); :class:`DicomSeries` picks a slice of a series.
- :mod:`.deidentify`: DICOM attributes through the standard's basic confidentiality
  profile (PS3.15 E.1), UIDs replaced consistently.
- :mod:`.outgoing`: :func:`prepare_share`: masks painted over, the picture encoded, a
  description made of nothing that identifies anyone. Only this leaves the computer.
- :mod:`.transfer`: the share cut into numbered chunks with a SHA-256, reassembled and
  checked on arrival, resumed from the last chunk held after a dropped link.

Every refusal is a :class:`~surgery_teach.errors.ShareError`; nothing is sent half-way.
"""

from __future__ import annotations

from surgery_teach.sharing.deidentify import UidMap, deidentify
from surgery_teach.sharing.dicom import DicomSeries, supported_compressions
from surgery_teach.sharing.opening import open_file
from surgery_teach.sharing.outgoing import (
    MAX_SHARE_BYTES,
    OutgoingShare,
    decode_picture,
    prepare_share,
)
from surgery_teach.sharing.picture import MAX_FILE_BYTES, FileKind, SharedPicture, Window
from surgery_teach.sharing.windowing import PRESETS, WINDOW_NAMES

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_SHARE_BYTES",
    "PRESETS",
    "WINDOW_NAMES",
    "DicomSeries",
    "FileKind",
    "OutgoingShare",
    "SharedPicture",
    "UidMap",
    "Window",
    "decode_picture",
    "deidentify",
    "open_file",
    "prepare_share",
    "supported_compressions",
]
