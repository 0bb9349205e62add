"""Open any file the sharer chose as a :class:`~.picture.SharedPicture`.

The kind is told from the file's first bytes, not its name (a PNG called ``scan.dcm``
is still a PNG). Every refusal is a :class:`~surgery_teach.errors.ShareError` that names
the problem and the fix; nothing has been sent when one is raised.
"""

from __future__ import annotations

from pathlib import Path

from surgery_teach.errors import UnsupportedShareError
from surgery_teach.sharing.deidentify import UidMap
from surgery_teach.sharing.dicom import is_dicom, open_dicom
from surgery_teach.sharing.pdf import is_pdf, open_pdf
from surgery_teach.sharing.picture import SharedPicture, check_file
from surgery_teach.sharing.raster import open_raster, raster_kind
from surgery_teach.sharing.windowing import FILE

SUPPORTED = "PNG, JPEG, TIFF, PDF or DICOM"

# Kinds people often try, to say what to do with them.
_KNOWN_OTHERS: tuple[tuple[bytes, str, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive or an Office document",
     "for a Word or PowerPoint file, save it as PDF; for a ZIP, unpack it and share one "
     "image from it"),
    (b"GIF8", "a GIF image", "save it as PNG"),
    (b"BM", "a BMP image", "save it as PNG"),
    (b"\xd0\xcf\x11\xe0", "an old Office document", "save it as PDF"),
    (b"RIFF", "a WebP image or a video", "save a still as PNG"),
)


def open_file(path: str | Path, *, page: int = 0, window: str = FILE,
              center: float | None = None, width: float | None = None,
              password: str | None = None, uids: UidMap | None = None) -> SharedPicture:
    """The picture to share from ``path``.

    ``page``: the PDF page, multi-page TIFF page or multi-frame DICOM frame (0-based).
    ``window``/``center``/``width``: the DICOM window (see :mod:`.windowing`).
    ``password``: a protected PDF's password. ``uids``: the UID map of the consultation
    (DICOM, see :mod:`.deidentify`). For a DICOM series (a folder), use
    :class:`~.dicom.DicomSeries`.
    """
    path = Path(path)
    check_file(path)
    data = path.read_bytes()
    head = data[:1024]
    if is_dicom(head):
        return open_dicom(path, data, frame=page, window=window, center=center, width=width,
                          uids=uids)
    if is_pdf(head):
        return open_pdf(path, data, page=page, password=password)
    kind = raster_kind(head)
    if kind:
        return open_raster(path, data, kind, page=page)
    for signature, what, fix in _KNOWN_OTHERS:
        if head.startswith(signature):
            raise UnsupportedShareError(
                f"{path.name} is {what}, which cannot be shared: {fix}. Shareable files "
                f"are {SUPPORTED}.", str(path))
    raise UnsupportedShareError(
        f"{path.name} is not a {SUPPORTED} file (its first bytes are not those of any of "
        f"them): export or save it as one of these and share that.", str(path))
