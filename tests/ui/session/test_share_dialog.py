"""The Share image dialog: the preview is what will be sent, masks included."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.uid import generate_uid
from PyQt6.QtCore import QPoint, Qt
from PyQt6.QtWidgets import QDialog
from pytestqt.qtbot import QtBot

from tests.sharing.files import AIR, BONE, PATIENT, ct_dataset, write_dicom
from ui.session.share_dialog import ShareDialog

Run = Callable[[Awaitable[Any]], Any]


def _series(folder: Path) -> list[Path]:
    folder.mkdir()
    study, series = generate_uid(), generate_uid()
    paths = []
    for k in range(3):
        hu = np.full((64, 64), AIR, np.int32)
        hu[:, : 8 * (k + 1)] = BONE
        ds = ct_dataset(hu=hu, study=study, series=series, instance=k + 1, z=float(k))
        ds.BurnedInAnnotation = "YES"
        paths.append(write_dicom(folder / f"IM{k}", ds))
    return paths


def test_choose_slice_window_mask_and_share(qtbot: QtBot, run: Run, tmp_path: Path) -> None:
    paths = _series(tmp_path / "ct")
    dialog = ShareDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    run(dialog.open_path(paths[0]))
    assert dialog.index.maximum() == 3 and dialog.index.isEnabled()
    assert dialog.window.isEnabled() and dialog.share_button.isEnabled()
    assert "patient details" in dialog.warning.text()  # burned-in annotation: YES
    dialog.index.setValue(3)
    dialog.window.setCurrentIndex(dialog.window.findData("bone"))
    run(dialog.settled())
    assert dialog.draft is not None and dialog.draft.index == 2
    assert dialog.draft.window == "bone"
    # mask the top half by dragging on the preview
    dialog.mask_button.setChecked(True)
    preview = dialog.preview
    assert preview.viewport is not None
    x, y, w, h = preview.viewport.image_rect()
    qtbot.mousePress(preview, Qt.MouseButton.LeftButton, pos=QPoint(int(x) + 1, int(y) + 1))
    qtbot.mouseRelease(preview, Qt.MouseButton.LeftButton,
                       pos=QPoint(int(x + w) - 1, int(y + h / 2)))
    run(dialog.settled())
    assert len(dialog.draft.masks) == 1 and dialog.clear_button.isEnabled()
    shown = preview._pixels
    assert shown is not None and (shown[:28, 2:60] == 0).all()  # masked: black
    # below the mask, slice 3 in the bone window: bone (columns 0-23) bright, air black
    assert (shown[40:, :20] > 200).all() and (shown[40:, 30:] == 0).all()
    qtbot.keyClicks(dialog.title, "CT chest, slice 3")
    qtbot.mouseClick(dialog.share_button, Qt.MouseButton.LeftButton)
    run(dialog.settled())
    assert dialog.result() == QDialog.DialogCode.Accepted
    outgoing = dialog.outgoing
    assert outgoing is not None
    assert outgoing.description["title"] == "CT chest, slice 3"
    assert outgoing.description["index"] == 2 and outgoing.description["masked"] == 1
    assert np.array_equal(outgoing.preview(), shown)
    assert PATIENT["PatientName"].encode() not in outgoing.picture


def test_a_bad_file_is_explained_in_the_dialog(qtbot: QtBot, run: Run, tmp_path: Path) -> None:
    bad = tmp_path / "report.docx"
    bad.write_bytes(b"PK\x03\x04" + b"\0" * 64)
    dialog = ShareDialog()
    qtbot.addWidget(dialog)
    run(dialog.open_path(bad))
    assert "save it as PDF" in dialog.error.text()
    assert not dialog.share_button.isEnabled() and dialog.draft is None
