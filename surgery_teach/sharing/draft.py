"""A share being prepared: the file, the page or slice, the window, masks and title.

The "Share image…" dialog is a thin view of a :class:`ShareDraft`: it changes the draft
and shows :meth:`ShareDraft.outgoing`'s preview, which is exactly what will be sent.
Opening reads files (a whole DICOM series' headers), so a window calls these methods
from a worker thread; the draft itself holds no Qt and does no networking.
"""

from __future__ import annotations

from pathlib import Path

from surgery_teach.errors import ShareError
from surgery_teach.privacy.masks import MIN_SIDE, Mask, MaskStyle
from surgery_teach.sharing.deidentify import UidMap
from surgery_teach.sharing.dicom import DicomSeries, is_dicom
from surgery_teach.sharing.opening import open_file
from surgery_teach.sharing.outgoing import OutgoingShare, clean_title, prepare_share
from surgery_teach.sharing.pdf import is_pdf, page_count
from surgery_teach.sharing.picture import FileKind, SharedPicture, check_file
from surgery_teach.sharing.windowing import FILE


class ShareDraft:
    """The share of the file at ``path`` as the sharer sets it up.

    A DICOM file brings the slices of its series (the other files of its folder that
    belong to the same series); a PDF its pages; a TIFF its pages.
    """

    def __init__(self, path: str | Path, *, uids: UidMap | None = None,
                 password: str | None = None) -> None:
        self.path = Path(path)
        self.uids = uids if uids is not None else UidMap()
        self.password = password
        self.window = FILE
        self.title = ""
        self.masks: list[Mask] = []
        self.series: DicomSeries | None = None
        check_file(self.path)
        with self.path.open("rb") as handle:
            head = handle.read(1024)
        self.index = 0
        if is_dicom(head):
            try:
                self.series = DicomSeries.open(self.path.parent, series_of=self.path,
                                               uids=self.uids)
            except ShareError:
                self.series = None  # the folder is too large or odd: the file alone
            if self.series is not None and not any(s.path == self.path
                                                   for s in self.series.slices):
                self.series = None
            if self.series is not None:
                self.index = self.series.index_of(self.path)
        self.count = 1
        if is_pdf(head):
            self.count = page_count(self.path, self.path.read_bytes(), password=password)
        self._picture: SharedPicture | None = None
        picture = self.picture()
        self.count = picture.count if self.series is None else len(self.series)
        self.kind: FileKind = picture.kind

    def picture(self) -> SharedPicture:
        """The picture as now set up (page or slice, window), before masks."""
        if self._picture is None:
            if self.series is not None:
                self._picture = self.series.picture(self.index, window=self.window)
            else:
                self._picture = open_file(self.path, page=self.index, window=self.window,
                                          password=self.password, uids=self.uids)
        return self._picture

    @property
    def is_dicom(self) -> bool:
        return self.picture().kind is FileKind.DICOM

    def choose(self, index: int) -> None:
        """Show page or slice ``index`` (0-based). Masks stay: burned-in text sits in
        the same place on every slice of a series."""
        if not 0 <= index < self.count:
            raise ShareError(f"choose a page or slice from 1 to {self.count}.")
        if index != self.index:
            self.index, self._picture = index, None

    def set_window(self, name: str) -> None:
        if name != self.window:
            self.window, self._picture = name, None
            self.picture()  # an unknown window name is refused here, at once

    def set_title(self, title: str) -> None:
        self.title = clean_title(title)

    def add_mask(self, a: tuple[float, float], b: tuple[float, float]) -> Mask | None:
        """A mask over the rectangle dragged from ``a`` to ``b`` (picture fractions,
        clamped to the picture); ``None`` for a drag too small to mean anything."""
        x0, x1 = sorted(min(1.0, max(0.0, v)) for v in (a[0], b[0]))
        y0, y1 = sorted(min(1.0, max(0.0, v)) for v in (a[1], b[1]))
        if x1 - x0 < MIN_SIDE or y1 - y0 < MIN_SIDE or x0 >= 1 or y0 >= 1:
            return None
        mask = Mask(x0, y0, x1 - x0, y1 - y0, MaskStyle.BLACK)
        self.masks.append(mask)
        return mask

    def clear_masks(self) -> None:
        self.masks.clear()

    def outgoing(self) -> OutgoingShare:
        """The share as it would be sent now (its :meth:`~OutgoingShare.preview` is what
        everyone will see)."""
        return prepare_share(self.picture(), title=self.title, masks=self.masks)
