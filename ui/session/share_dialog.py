"""Share image…: choose a file, a page or slice, a window and a title; mask names and
other text in any picture; see exactly what will be sent; share it.

A thin view of :class:`~surgery_teach.sharing.draft.ShareDraft`. Opening and encoding
run on a worker thread (a series' headers, a PDF page at 200 dpi), one step at a time;
the preview always shows the decoded bytes that will leave the computer, masks painted,
and Share sends those very bytes. A password-protected PDF asks for its password in the
dialog; the password opens the file here and goes nowhere else (not in a log, not in
what is sent). On Share, ``outgoing`` holds the
:class:`~surgery_teach.sharing.OutgoingShare` for the session to send
(``SessionShares.share``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from PyQt6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from surgery_teach.errors import EncryptedShareError, ShareError
from surgery_teach.sharing import OutgoingShare, UidMap
from surgery_teach.sharing.draft import ShareDraft
from surgery_teach.sharing.outgoing import MAX_TITLE_CHARS
from surgery_teach.sharing.windowing import FILE, FULL
from ui.common.plain import ElidedLabel, PlainLabel, tip
from ui.common.share_words import share_problem
from ui.common.shared_picture_view import SharedPictureView
from ui.i18n import tr

T = TypeVar("T")

PATTERNS = "*.png *.jpg *.jpeg *.tif *.tiff *.pdf *.dcm *.dicom *"


def window_labels() -> list[tuple[str, str]]:
    """The windows offered for a DICOM image, in the sharer's language."""
    return [(FILE, tr("File's own window")), (FULL, tr("Full range")),
            ("soft-tissue", tr("Soft tissue")), ("lung", tr("Lung")), ("bone", tr("Bone")),
            ("brain", tr("Brain")), ("mediastinum", tr("Mediastinum"))]


class ShareDialog(QDialog):
    """Prepare one share. ``uids`` keeps DICOM UIDs consistent over the consultation."""

    def __init__(self, parent: QWidget | None = None, *, uids: UidMap | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("Share a picture"))
        self.setMinimumSize(720, 640)
        self.uids = uids if uids is not None else UidMap()
        self.draft: ShareDraft | None = None
        self.outgoing: OutgoingShare | None = None
        self._previewed: OutgoingShare | None = None  # what the preview shows, as encoded
        self._locked: Path | None = None  # a PDF waiting for its password
        self._work: asyncio.Task[None] | None = None
        self._mask_start: tuple[float, float] | None = None

        self.file_button = QPushButton(tr("Choose a file…"))
        self.file_button.clicked.connect(self.choose_file)
        self.file_label = ElidedLabel("")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText(tr("The document's password"))
        self.unlock_button = QPushButton(tr("Open"))
        self.unlock_button.clicked.connect(self.unlock)
        self.password_row = QWidget()
        password_line = QHBoxLayout(self.password_row)
        password_line.setContentsMargins(0, 0, 0, 0)
        password_line.addWidget(self.password, 1)
        password_line.addWidget(self.unlock_button)
        self.index = QSpinBox()
        self.index.setMinimum(1)
        self.index.setEnabled(False)
        self.index.valueChanged.connect(
            lambda value: self._step(lambda d: d.choose(value - 1)))
        self.window = QComboBox()
        for name, label in window_labels():
            self.window.addItem(label, name)
        self.window.setEnabled(False)
        self.window.currentIndexChanged.connect(
            lambda _: self._step(lambda d: d.set_window(str(self.window.currentData()))))
        self.title = QLineEdit()
        self.title.setMaxLength(MAX_TITLE_CHARS)
        self.title.setPlaceholderText(tr("e.g. CT chest, nodule in the right upper lobe"))
        self.title.textChanged.connect(self._title_changed)
        self.mask_button = QPushButton(tr("Mask text"))
        self.mask_button.setCheckable(True)
        self.mask_button.toggled.connect(self._masking)
        self.clear_button = QPushButton(tr("Clear masks"))
        self.clear_button.clicked.connect(lambda: self._step(lambda d: d.clear_masks()))
        self.mask_hint = PlainLabel(tr("Names or ID numbers in the picture? Turn on Mask text "
                                       "and drag over them: they are blacked out before "
                                       "anything is sent."))
        self.mask_hint.setWordWrap(True)
        self.mask_hint.setObjectName("muted")
        self.preview = SharedPictureView()
        self.preview.pointer_pressed.connect(self._mask_pressed)
        self.preview.pointer_released.connect(self._mask_released)
        self.warning = PlainLabel("")
        self.warning.setWordWrap(True)
        self.warning.setObjectName("warning")
        self.error = PlainLabel("")
        self.error.setWordWrap(True)
        self.error.setObjectName("error")
        note = PlainLabel(tr("Only this picture and its title are sent: never the file, its "
                             "name or the patient's details."))
        note.setWordWrap(True)
        note.setObjectName("muted")
        self.buttons = QDialogButtonBox()
        self.share_button = self.buttons.addButton(tr("Share"),
                                                   QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.share_button.setEnabled(False)
        self.buttons.accepted.connect(lambda: self._start(self._share()))
        self.buttons.rejected.connect(self.reject)

        top = QHBoxLayout()
        top.addWidget(self.file_button)
        top.addWidget(self.file_label, 1)
        form = QFormLayout()
        form.addRow(tr("Password"), self.password_row)
        form.setRowVisible(self.password_row, False)
        self._form = form
        form.addRow(tr("Page or slice"), self.index)
        form.addRow(tr("Window"), self.window)
        form.addRow(tr("Title"), self.title)
        masks = QHBoxLayout()
        masks.addWidget(self.mask_button)
        masks.addWidget(self.clear_button)
        masks.addWidget(self.mask_hint, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(form)
        layout.addLayout(masks)
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.warning)
        layout.addWidget(self.error)
        layout.addWidget(note)
        layout.addWidget(self.buttons)
        self._update_controls()

    # -- opening ----------------------------------------------------------------------------

    def choose_file(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(
            self, tr("Choose a file to share"), "",
            f"{tr('Images, PDF and DICOM')} ({PATTERNS})")
        if chosen:
            self._start(self.open_path(Path(chosen)))

    async def open_path(self, path: Path, password: str | None = None) -> None:
        """Open ``path`` as a new draft (off the GUI thread) and show its preview; a
        protected PDF asks for its ``password``."""
        self.file_label.setText(path.name)
        self.error.setText("")
        try:
            draft = await self._off_thread(
                lambda: ShareDraft(path, uids=self.uids, password=password))
        except ShareError as exc:
            # the previous file's picture goes: Share must never send what is not chosen
            self.draft, self._previewed = None, None
            self.preview.show_picture(None)
            self.warning.setText("")
            locked = isinstance(exc, EncryptedShareError) and exc.password_helps
            self._ask_password(path if locked else None)
            self._failed(exc)
            return
        self._ask_password(None)
        self.draft = draft
        self.index.blockSignals(True)
        self.index.setMaximum(draft.count)
        self.index.setValue(draft.index + 1)
        self.index.blockSignals(False)
        self.window.blockSignals(True)
        self.window.setCurrentIndex(max(0, self.window.findData(draft.window)))
        self.window.blockSignals(False)
        await self._refresh()

    def unlock(self) -> None:
        """Open the protected PDF with the password typed (Open, or Enter in the field)."""
        locked, password = self._locked, self.password.text()
        if locked is not None and password:
            self._start(self.open_path(locked, password))

    def _ask_password(self, path: Path | None) -> None:
        """Show the password field for the PDF at ``path`` (hide it for None)."""
        asked_before = self._locked is not None and self._locked == path
        self._locked = path
        self._form.setRowVisible(self.password_row, path is not None)
        self.unlock_button.setDefault(path is not None)  # Enter in the field opens
        if path is None:
            self.password.clear()  # the draft keeps it to draw other pages; nothing else
            return
        self.password.setFocus()
        if asked_before:  # a wrong password: ready to type it again
            self.password.selectAll()
        else:
            self.password.clear()

    async def settled(self) -> None:
        """Wait for the step under way (tests, and closing while one runs)."""
        while self._work is not None and not self._work.done():
            await asyncio.shield(self._work)

    # -- steps ------------------------------------------------------------------------------

    def _step(self, change: Callable[[ShareDraft], Any]) -> None:
        draft = self.draft
        if draft is None:
            return

        async def run() -> None:
            try:
                await self._off_thread(lambda: change(draft))
            except ShareError as exc:
                self._previewed = None  # the draft may no longer be what the preview shows
                self._failed(exc)
                return
            await self._refresh()

        self._start(run())

    def _start(self, coro: Any) -> None:
        previous = self._work

        async def after() -> None:
            if previous is not None and not previous.done():
                await asyncio.gather(previous, return_exceptions=True)
            await coro

        self._work = asyncio.ensure_future(after())

    async def _refresh(self) -> None:
        draft = self.draft
        if draft is None:
            return
        try:
            outgoing = await self._off_thread(draft.outgoing)
            preview = await self._off_thread(outgoing.preview)
        except ShareError as exc:
            self._previewed = None
            self._failed(exc)
            return
        self.outgoing = None
        self._previewed = outgoing
        self.error.setText("")
        self.error.setToolTip("")
        self.preview.show_picture(preview, label=" ".join(self.title.text().split()))
        self.warning.setText(
            tr("This picture may show patient details drawn into it: turn on Mask text and "
               "drag over them before sharing.") if draft.picture().burned_in else "")
        self._update_controls()

    async def _share(self) -> None:
        draft, previewed = self.draft, self._previewed
        if draft is None or previewed is None:
            return
        try:
            draft.set_title(self.title.text())
        except ShareError as exc:
            self._failed(exc)
            return
        self.outgoing = previewed.titled(draft.title)  # the very bytes previewed
        self.accept()

    def done(self, result: int) -> None:
        """Closed (shared or not): the file and a PDF's password are let go at once, not
        kept with a dialog the window still refers to."""
        self.draft, self._previewed = None, None
        self._ask_password(None)
        super().done(result)

    def _title_changed(self, text: str) -> None:
        self.preview.label = " ".join(text.split())  # the title as everyone will see it
        self.preview.update()

    def _failed(self, exc: ShareError) -> None:
        self.error.setText(share_problem(exc))
        self.error.setToolTip(tip(str(exc)))  # the core's detail, for whoever helps
        self._update_controls()

    def _update_controls(self) -> None:
        draft = self.draft
        ready = draft is not None
        self.share_button.setEnabled(ready and self._previewed is not None)
        self.index.setEnabled(ready and draft is not None and draft.count > 1)
        self.window.setEnabled(ready and draft is not None and draft.is_dicom)
        self.mask_button.setEnabled(ready)
        self.clear_button.setEnabled(ready and draft is not None and bool(draft.masks))

    @staticmethod
    async def _off_thread(work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(None, work)

    # -- masks ------------------------------------------------------------------------------

    def _masking(self, on: bool) -> None:
        self.preview.drawing = on

    def _mask_pressed(self, x: float, y: float) -> None:
        self._mask_start = (x, y)

    def _mask_released(self, x: float, y: float) -> None:
        start, self._mask_start = self._mask_start, None
        if start is not None:
            self._step(lambda d: d.add_mask(start, (x, y)))
