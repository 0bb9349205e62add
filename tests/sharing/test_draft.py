"""Preparing a share: slices of the chosen file's series, window, masks, title."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom.uid import generate_uid

from surgery_teach.errors import ShareError, UnsupportedShareError
from surgery_teach.sharing.draft import ShareDraft
from tests.sharing.files import AIR, BONE, ct_dataset, red_box_page, write_dicom, write_pdf


def _series(folder: Path, n: int, series: str) -> list[Path]:
    folder.mkdir(exist_ok=True)
    study = generate_uid()
    paths = []
    for k in range(n):
        hu = np.full((64, 64), AIR, np.int32)
        hu[:, : 8 * (k + 1)] = BONE
        paths.append(write_dicom(folder / f"{series[-6:]}-{k}.dcm",
                                 ct_dataset(hu=hu, study=study, series=series,
                                            instance=k + 1, z=float(k))))
    return paths


def test_a_dicom_file_brings_the_slices_of_its_own_series(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    mine = _series(folder, 3, generate_uid())
    _series(folder, 5, generate_uid())  # a bigger series beside it
    draft = ShareDraft(mine[1])
    assert draft.is_dicom and draft.count == 3 and draft.index == 1
    assert int((draft.picture().pixels[32, :, 0] > 128).sum()) == 16
    draft.choose(2)
    assert int((draft.picture().pixels[32, :, 0] > 128).sum()) == 24
    with pytest.raises(ShareError, match="from 1 to 3"):
        draft.choose(3)


def test_window_title_and_masks_shape_what_is_sent(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "ct.dcm", ct_dataset())
    draft = ShareDraft(path)
    draft.set_window("lung")
    draft.set_title("  RUL nodule ")
    assert draft.add_mask((0.6, 0.3), (-0.2, 0.0)) is not None  # dragged up-left, clamped
    assert draft.add_mask((0.5, 0.5), (0.501, 0.9)) is None  # a slip of the mouse
    outgoing = draft.outgoing()
    assert outgoing.description["title"] == "RUL nodule"
    assert outgoing.description["window"]["name"] == "lung"
    assert outgoing.description["masked"] == 1
    seen = outgoing.preview()
    assert (seen[: int(0.3 * 64), : int(0.6 * 64)] == 0).all()
    with pytest.raises(UnsupportedShareError, match="unknown window"):
        draft.set_window("liver")


def test_a_pdf_brings_its_pages(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "ecg.pdf", [red_box_page(0, 0, 10, 10)] * 3)
    draft = ShareDraft(path)
    assert draft.count == 3 and not draft.is_dicom
    draft.choose(2)
    assert draft.outgoing().description["index"] == 2
