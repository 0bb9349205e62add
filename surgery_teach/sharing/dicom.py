"""DICOM images (a CT slice, an X-ray, an ultrasound still) as shareable pictures.

A file is read with ``pydicom``; compressed pixel data is decoded by the plugins
installed with it (``pylibjpeg`` with ``pylibjpeg-libjpeg`` and ``pylibjpeg-openjpeg``,
and pydicom's own RLE decoder): JPEG baseline, extended and lossless, JPEG-LS, JPEG 2000
and High-Throughput JPEG 2000, RLE and deflate. Not supported (the file is refused with a
message naming its compression): the video transfer syntaxes (MPEG-2, MPEG-4, H.264,
H.265), JPIP references, and any other syntax no installed plugin decodes
(:func:`supported_compressions` lists what this installation decodes).

A series is a folder (or list) of files with one Series Instance UID; its slices are in
scanning order and one is chosen by index. Grey images go through a window
(:mod:`.windowing`): a CT preset, the file's own or the full range.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import pydicom.pixels
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID

from surgery_teach.errors import (
    CorruptShareError,
    ShareTooLargeError,
    UnsupportedShareError,
)
from surgery_teach.sharing.deidentify import UidMap, deidentify
from surgery_teach.sharing.picture import (
    MAX_FILE_BYTES,
    FileKind,
    SharedPicture,
    check_file,
    fit,
    to_bgr8,
)
from surgery_teach.sharing.windowing import FILE, apply_window, choose_window

logger = logging.getLogger(__name__)

#: A series as a whole may be larger than one file, within reason.
MAX_SERIES_BYTES = 20 * MAX_FILE_BYTES


def is_dicom(head: bytes) -> bool:
    """A DICOM file (PS3.10) has a 128-byte preamble, then ``DICM``."""
    return len(head) >= 132 and head[128:132] == b"DICM"


def supported_compressions() -> list[str]:
    """The names of the compressed transfer syntaxes this installation can decode."""
    names = []
    for uid in pydicom.uid.AllTransferSyntaxes:
        uid = UID(uid)
        if not uid.is_compressed:
            continue
        try:
            if pydicom.pixels.get_decoder(uid).is_available:
                names.append(uid.name)
        except NotImplementedError:
            continue
    return names


def read_dataset(path: Path, data: bytes | None = None, *,
                 stop_before_pixels: bool = False) -> Dataset:
    """The DICOM dataset in ``path`` (or in ``data``, its bytes)."""
    try:
        source = io.BytesIO(data) if data is not None else str(path)
        return pydicom.dcmread(source, stop_before_pixels=stop_before_pixels)
    except InvalidDicomError as exc:
        raise UnsupportedShareError(
            f"{path.name} is not a DICOM file ({exc}): choose an image of the series.",
            str(path)) from exc
    except (OSError, ValueError, EOFError, KeyError, TypeError, AttributeError) as exc:
        raise CorruptShareError(
            f"{path.name} is a DICOM file that cannot be read ({type(exc).__name__}: "
            f"{exc}). It may be damaged or cut short: export it again from the PACS or "
            "the viewer it came from.", str(path)) from exc


def open_dicom(path: Path, data: bytes, *, frame: int = 0, window: str = FILE,
               center: float | None = None, width: float | None = None,
               uids: UidMap | None = None) -> SharedPicture:
    """Frame ``frame`` (0-based; a multi-frame file's frames are its slices) of the DICOM
    file in ``data``, through ``window`` (or the custom ``center``/``width``).

    The dataset is de-identified first (``uids`` keeps replaced UIDs consistent across
    the files of a consultation): the picture is made from the de-identified dataset
    only, which it carries as ``dataset`` for the case record."""
    return picture_of(path, deidentify(read_dataset(path, data), uids), frame=frame,
                      window=window, center=center, width=width)


def picture_of(path: Path, ds: Dataset, *, frame: int = 0, window: str = FILE,
               center: float | None = None, width: float | None = None,
               index: int | None = None, count: int | None = None) -> SharedPicture:
    """The picture of frame ``frame`` of ``ds`` (read from ``path``, de-identified)."""
    if "PixelData" not in ds and "FloatPixelData" not in ds \
            and "DoubleFloatPixelData" not in ds:
        raise UnsupportedShareError(
            f"{path.name} is a DICOM file without an image (a report, a DICOMDIR or "
            "a presentation state): choose an image of the series instead.", str(path))
    _check_decodable(path, ds)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if not 0 <= frame < frames:
        raise UnsupportedShareError(
            f"{path.name} has {frames} frame(s); frame {frame + 1} does not exist: choose "
            f"one from 1 to {frames}.", str(path))
    try:
        array = pydicom.pixels.pixel_array(ds, index=frame if frames > 1 else None)
    except (ValueError, RuntimeError, NotImplementedError, KeyError, AttributeError,
            TypeError, IndexError) as exc:
        raise CorruptShareError(
            f"the image in {path.name} cannot be decoded ({type(exc).__name__}: {exc}). "
            f"It is stored as {_syntax_name(ds)}; the file may be damaged, or it uses a "
            "variant of that compression the installed decoders do not handle: export it "
            "uncompressed (Explicit VR Little Endian) and share that.", str(path)) from exc
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    modality = str(ds.get("Modality", "") or "")
    burned_in = str(ds.get("BurnedInAnnotation", "") or "").upper() != "NO"
    chosen = None
    if photometric.startswith("MONOCHROME") and array.ndim == 2:
        values = pydicom.pixels.apply_modality_lut(array, ds)
        chosen = choose_window(window, values, _file_window(ds), center=center, width=width)
        grey = apply_window(values, chosen, invert=photometric == "MONOCHROME1")
        pixels = to_bgr8(grey)
    elif photometric == "PALETTE COLOR":
        rgb = pydicom.pixels.apply_color_lut(array, ds)
        pixels = to_bgr8(np.ascontiguousarray(rgb[..., ::-1]))
    elif array.ndim == 3 and array.shape[2] == 3:  # RGB (YBR is converted on decoding)
        pixels = to_bgr8(np.ascontiguousarray(array[..., ::-1]))
    else:
        raise UnsupportedShareError(
            f"{path.name} has {photometric} pixels of shape {array.shape}, which cannot be "
            "shown: export it as an ordinary grey or RGB image.", str(path))
    pixels, scaled = fit(pixels)
    return SharedPicture(
        pixels=pixels, kind=FileKind.DICOM,
        index=frame if index is None else index,
        count=frames if count is None else count,
        window=chosen, modality=modality, burned_in=burned_in, scaled=scaled, dataset=ds)


def _check_decodable(path: Path, ds: Dataset) -> None:
    meta = getattr(ds, "file_meta", None)
    uid = UID(getattr(meta, "TransferSyntaxUID", "") or pydicom.uid.ImplicitVRLittleEndian)
    if not uid.is_compressed:
        return
    try:
        available = pydicom.pixels.get_decoder(uid).is_available
    except NotImplementedError:
        available = False
    if not available:
        raise UnsupportedShareError(
            f"{path.name} is stored as {uid.name or uid}, which cannot be decoded here "
            f"(this program decodes: {', '.join(supported_compressions())}). Export the "
            "image uncompressed (Explicit VR Little Endian) or as JPEG / JPEG 2000 from the "
            "PACS or viewer, and share that.", str(path))


def _syntax_name(ds: Dataset) -> str:
    meta = getattr(ds, "file_meta", None)
    uid = getattr(meta, "TransferSyntaxUID", None)
    return UID(uid).name if uid else "an unknown transfer syntax"


def _file_window(ds: Dataset) -> tuple[float, float] | None:
    center, width = ds.get("WindowCenter"), ds.get("WindowWidth")
    if center is None or width is None:
        return None
    try:
        first_c = center[0] if isinstance(center, pydicom.multival.MultiValue) else center
        first_w = width[0] if isinstance(width, pydicom.multival.MultiValue) else width
        return float(first_c), float(first_w)
    except (TypeError, ValueError, IndexError):
        return None


@dataclass(frozen=True)
class Slice:
    """One slice of a series: frame ``frame`` of the file at ``path``."""

    path: Path
    frame: int


class DicomSeries:
    """The slices of one DICOM series, in scanning order, to choose one to share.

    Build it with :meth:`open` from a folder or from the files of the series.
    """

    def __init__(self, slices: list[Slice], uids: UidMap | None = None) -> None:
        self.slices = slices
        self.uids = uids if uids is not None else UidMap()

    def __len__(self) -> int:
        return len(self.slices)

    @classmethod
    def open(cls, where: Path | Iterable[Path], *, series_of: Path | None = None,
             uids: UidMap | None = None) -> DicomSeries:
        """The series in folder ``where`` (or made of the files ``where``): the one the
        file ``series_of`` belongs to, else the one with the most slices. ``uids`` keeps
        replaced UIDs consistent across the consultation."""
        if isinstance(where, Path):
            if not where.is_dir():
                raise UnsupportedShareError(
                    f"{where} is not a folder: choose the folder of the series.", str(where))
            paths = sorted(p for p in where.iterdir() if p.is_file())
        else:
            paths = list(where)
        series: dict[str, list[tuple[tuple[float, ...], Path, int]]] = {}
        total = 0
        for path in paths:
            with path.open("rb") as handle:
                if not is_dicom(handle.read(132)):
                    continue  # a DICOMDIR's neighbours: notes, thumbnails
            total += check_file(path)
            if total > MAX_SERIES_BYTES:
                raise ShareTooLargeError(str(where), total, MAX_SERIES_BYTES)
            ds = read_dataset(path, stop_before_pixels=True)
            if "Rows" not in ds:
                continue
            key = str(ds.get("SeriesInstanceUID", ""))
            frames = int(ds.get("NumberOfFrames", 1) or 1)
            for frame in range(frames):
                series.setdefault(key, []).append((_order(ds, frame), path, frame))
        if not series:
            raise UnsupportedShareError(
                f"no DICOM image found in {where}: choose the folder of an image series "
                "(CT, MR, X-ray), not a report or a DICOMDIR alone.", str(where))
        wanted = None
        if series_of is not None:
            wanted = series.get(str(read_dataset(series_of, stop_before_pixels=True)
                                    .get("SeriesInstanceUID", "")))
        chosen = wanted if wanted is not None else max(series.values(), key=len)
        chosen.sort(key=lambda item: (item[0], str(item[1]), item[2]))
        return cls([Slice(path, frame) for _, path, frame in chosen], uids)

    def index_of(self, path: Path, frame: int = 0) -> int:
        """The slice number of frame ``frame`` of file ``path`` (0 if not in the series)."""
        for index, item in enumerate(self.slices):
            if item.path == path and item.frame == frame:
                return index
        return 0

    def picture(self, index: int, *, window: str = FILE, center: float | None = None,
                width: float | None = None) -> SharedPicture:
        """Slice ``index`` (0-based) through ``window``."""
        if not 0 <= index < len(self.slices):
            raise UnsupportedShareError(
                f"the series has {len(self.slices)} slice(s); slice {index + 1} does not "
                f"exist: choose one from 1 to {len(self.slices)}.")
        chosen = self.slices[index]
        check_file(chosen.path)
        ds = deidentify(read_dataset(chosen.path), self.uids)
        return picture_of(chosen.path, ds, frame=chosen.frame, window=window, center=center,
                          width=width, index=index, count=len(self.slices))


def _order(ds: Dataset, frame: int) -> tuple[float, ...]:
    """Where a slice lies along the scan: its position along the slice normal when the
    file says, else its instance number."""
    position, orientation = ds.get("ImagePositionPatient"), ds.get("ImageOrientationPatient")
    try:
        if position is not None and orientation is not None and len(orientation) == 6:
            row, col = np.array(orientation[:3], float), np.array(orientation[3:], float)
            return (0.0, float(np.dot(np.cross(row, col), np.array(position, float))),
                    float(frame))
    except (TypeError, ValueError):
        pass
    number = ds.get("InstanceNumber")
    try:
        return (1.0, float(number) if number is not None else 0.0, float(frame))
    except (TypeError, ValueError):
        return (1.0, 0.0, float(frame))
