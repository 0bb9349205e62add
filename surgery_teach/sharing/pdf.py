"""One page of a PDF (a referral letter, an ECG strip, a report) as a shareable picture.

Pages are rendered with PDFium (``pypdfium2``) at :data:`PAGE_DPI`, enough to read an
ECG's millimetre grid, with the long side capped at :data:`MAX_PAGE_SIDE` pixels so a
poster-sized page stays a sensible picture.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import cv2
import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from surgery_teach.errors import (
    CorruptShareError,
    EncryptedShareError,
    UnsupportedShareError,
)
from surgery_teach.sharing.picture import FileKind, SharedPicture, fit

PAGE_DPI: Final = 200
MAX_PAGE_SIDE: Final = 4000


def is_pdf(head: bytes) -> bool:
    """A PDF starts with ``%PDF-`` within its first kilobyte (PDF 32000, 7.5.2)."""
    return b"%PDF-" in head[:1024]


def page_count(path: Path, data: bytes, *, password: str | None = None) -> int:
    """How many pages the PDF has (to offer the page choice)."""
    document = _open(path, data, password)
    try:
        return len(document)
    finally:
        document.close()


def open_pdf(path: Path, data: bytes, *, page: int = 0,
             password: str | None = None) -> SharedPicture:
    """Page ``page`` (0-based) of the PDF in ``data`` rendered on white.

    Raises :class:`EncryptedShareError` for a password-protected PDF opened without its
    password (or with a wrong one: ``password_given``), :class:`CorruptShareError` for a
    damaged one and :class:`UnsupportedShareError` for a page that does not exist.
    """
    document = _open(path, data, password)
    try:
        count = len(document)
        if count == 0:
            raise CorruptShareError(f"{path.name} has no pages: export the document again.",
                                    str(path))
        if not 0 <= page < count:
            raise UnsupportedShareError(
                f"{path.name} has {count} page(s); page {page + 1} does not exist: choose a "
                f"page from 1 to {count}.", str(path))
        pdf_page = document[page]
        try:
            width_pt, height_pt = pdf_page.get_size()
            scale = PAGE_DPI / 72
            longest = max(width_pt, height_pt) * scale
            if longest > MAX_PAGE_SIDE:
                scale *= MAX_PAGE_SIDE / longest
            bitmap = pdf_page.render(scale=scale, fill_color=(255, 255, 255, 255),
                                     may_draw_forms=True)
            try:
                pixels = _bgr(np.array(bitmap.to_numpy(), copy=True), bitmap.mode)
            finally:
                bitmap.close()
        except pdfium.PdfiumError as exc:
            raise CorruptShareError(
                f"page {page + 1} of {path.name} cannot be drawn ({exc}): the PDF may be "
                "damaged; print it to a new PDF and share that.", str(path)) from exc
        finally:
            pdf_page.close()
    finally:
        document.close()
    pixels, scaled = fit(pixels)
    return SharedPicture(pixels=pixels, kind=FileKind.PDF, index=page, count=count,
                         scaled=scaled)


def _open(path: Path, data: bytes, password: str | None) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(data, password=password)
    except pdfium.PdfiumError as exc:
        code = getattr(exc, "err_code", None)
        if code == pdfium_c.FPDF_ERR_PASSWORD:
            given = "the password given does not open it" if password else \
                "it needs a password to open"
            raise EncryptedShareError(
                f"{path.name} is a password-protected PDF and {given}. Enter the "
                "document's password, or ask the sender for an unprotected copy.",
                str(path), password_given=bool(password)) from exc
        if code == pdfium_c.FPDF_ERR_SECURITY:  # a certificate or an unknown handler
            raise EncryptedShareError(
                f"{path.name} is protected in a way this program cannot open (a "
                "certificate, or an unknown kind of encryption): ask the sender for an "
                "unprotected copy.", str(path), password_given=bool(password),
                password_helps=False) from exc
        raise CorruptShareError(
            f"{path.name} starts like a PDF but cannot be read (PDFium: {exc}). It may be "
            "damaged or cut short: copy it again, or print it to a new PDF.",
            str(path)) from exc


def _bgr(array: np.ndarray, mode: str) -> np.ndarray:
    """PDFium's bitmap (``BGR``, ``BGRA``, ``BGRX``, ``L``...) as BGR."""
    if array.ndim == 2 or mode == "L":
        return cv2.cvtColor(array.reshape(array.shape[0], array.shape[1]), cv2.COLOR_GRAY2BGR)
    if mode in ("BGRA", "BGRX"):
        return np.ascontiguousarray(array[:, :, :3])
    if mode in ("RGBA", "RGBX"):
        return cv2.cvtColor(array, cv2.COLOR_RGBA2BGR)
    if mode == "RGB":
        return cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    return np.ascontiguousarray(array[:, :, :3])
