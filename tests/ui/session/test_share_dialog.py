"""The Share image dialog: the preview is what will be sent, masks included, for every kind
of file; a protected PDF asks for its password, which goes nowhere."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from pydicom.uid import generate_uid
from PyQt6.QtCore import QPoint, Qt
from PyQt6.QtWidgets import QDialog, QLineEdit
from pytestqt.qtbot import QtBot

from surgery_teach.errors import EncryptedShareError
from surgery_teach.sharing import decode_picture, open_file
from tests.rtc.test_shares import Side, _until, linked
from tests.sharing.files import (
    AIR,
    BONE,
    PATIENT,
    ct_dataset,
    red_box_page,
    write_dicom,
    write_pdf,
)
from tests.timing import seconds
from ui.common.share_words import share_problem
from ui.i18n import set_language
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


# -- a password-protected PDF -----------------------------------------------------------------

SECRET = "Kashgar-2026!"
WRONG = {"en": "This password does not open referral.pdf",
         "ru": "Этот пароль не открывает referral.pdf",
         "zh_CN": "此密码无法打开 referral.pdf"}


@pytest.fixture(params=["en", "ru", "zh_CN"])
def language(request: pytest.FixtureRequest) -> Iterator[str]:
    set_language(request.param)
    yield request.param
    set_language("en")


def test_a_protected_pdf_asks_for_its_password_says_a_wrong_one_and_opens(
        qtbot: QtBot, run: Run, tmp_path: Path, language: str,
        caplog: pytest.LogCaptureFixture) -> None:
    """The password field appears for a PDF that needs one; a wrong password is said in
    the sharer's language and can be typed again; the right one opens every page. The
    password is in no log, no message and nothing sent."""
    caplog.set_level(logging.DEBUG)
    path = write_pdf(tmp_path / "referral.pdf",
                     [red_box_page(50, 50, 200, 100), red_box_page(300, 600, 100, 100)],
                     user_password=SECRET)
    dialog = ShareDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert not dialog.password_row.isVisibleTo(dialog)  # no field before it is needed
    run(dialog.open_path(path))
    assert dialog.password_row.isVisibleTo(dialog) and dialog.password.hasFocus()
    assert dialog.password.echoMode() == QLineEdit.EchoMode.Password
    assert dialog.error.text() == share_problem(EncryptedShareError("", str(path)))
    assert dialog.draft is None and not dialog.share_button.isEnabled()

    qtbot.keyClicks(dialog.password, "kashgar-2026!")  # wrong case
    qtbot.keyClick(dialog.password, Qt.Key.Key_Return)  # Enter opens
    run(dialog.settled())
    assert dialog.error.text().startswith(WRONG[language]), dialog.error.text()
    assert dialog.password_row.isVisibleTo(dialog) and dialog.draft is None
    assert dialog.password.selectedText() == "kashgar-2026!"  # ready to type again

    qtbot.keyClicks(dialog.password, SECRET)  # replaces the selected wrong one
    dialog.unlock_button.click()
    run(dialog.settled())
    assert dialog.error.text() == ""
    assert not dialog.password_row.isVisibleTo(dialog) and dialog.password.text() == ""
    assert dialog.draft is not None and dialog.draft.count == 2
    assert dialog.share_button.isEnabled()
    dialog.index.setValue(2)  # another page opens with the same password
    run(dialog.settled())
    shown = dialog.preview._pixels
    assert shown is not None and dialog.draft.index == 1
    scale = shown.shape[1] / 595
    assert shown[int(shown.shape[0] - 650 * scale), int(350 * scale)].tolist() == [0, 0, 255]
    dialog.title.setText("Referral letter")
    dialog.share_button.click()
    run(dialog.settled())
    outgoing = dialog.outgoing
    assert outgoing is not None and dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.draft is None  # the file and its password are let go on closing
    assert np.array_equal(outgoing.preview(), shown)
    for text in (outgoing.description_text(), caplog.text, dialog.error.toolTip()):
        assert SECRET.lower() not in text.lower()
    assert SECRET.encode() not in outgoing.picture


def test_a_pdf_no_password_opens_says_so_without_asking_for_one(
        qtbot: QtBot, run: Run, tmp_path: Path) -> None:
    """A PDF protected by a certificate (another security handler) is not asked a
    password that could never open it."""
    path = write_pdf(tmp_path / "signed.pdf", [red_box_page(50, 50, 200, 100)],
                     user_password="x")
    path.write_bytes(path.read_bytes().replace(b"/Filter /Standard", b"/Filter /Adobe.PubSec"))
    dialog = ShareDialog()
    qtbot.addWidget(dialog)
    run(dialog.open_path(path))
    assert not dialog.password_row.isVisibleTo(dialog)
    assert "cannot open" in dialog.error.text() and "unprotected copy" in dialog.error.text()


def test_a_protected_file_chosen_after_another_leaves_nothing_to_share(
        qtbot: QtBot, run: Run, tmp_path: Path) -> None:
    """The previous file's picture goes when the next one cannot be opened yet: Share
    cannot send a picture the sharer no longer looks at."""
    png = tmp_path / "photo.png"
    assert cv2.imwrite(str(png), np.full((40, 60, 3), 200, np.uint8))
    locked = write_pdf(tmp_path / "referral.pdf", [red_box_page(5, 5, 20, 20)],
                       user_password=SECRET)
    dialog = ShareDialog()
    qtbot.addWidget(dialog)
    run(dialog.open_path(png))
    assert dialog.share_button.isEnabled()
    run(dialog.open_path(locked))
    assert dialog.draft is None and dialog.preview._pixels is None
    assert not dialog.share_button.isEnabled()
    run(dialog.open_path(png))  # back to a file without a password: no field
    assert not dialog.password_row.isVisibleTo(dialog) and dialog.share_button.isEnabled()


# -- masks on every kind of file --------------------------------------------------------------

NAME_BOX = (0.05, 0.04, 0.55, 0.16)  # where each test file carries a patient's name
DRAG = ((0.03, 0.02), (0.6, 0.2))  # the sharer's drag over it


def _named_file(folder: Path, kind: str) -> Path:
    """A file of ``kind`` with a patient's name written in :data:`NAME_BOX`."""
    width, height = 400, 300
    x0, y0 = int(NAME_BOX[0] * width), int(NAME_BOX[1] * height)
    if kind in ("png", "jpg", "tif"):
        image = np.full((height, width, 3), 180, np.uint8)
        cv2.circle(image, (250, 200), 60, (40, 60, 200), -1)  # the anatomy
        cv2.putText(image, "IVANOVA G.T.", (x0, y0 + 30), cv2.FONT_HERSHEY_SIMPLEX, 1.0,
                    (255, 255, 255), 2)
        path = folder / f"monitor.{kind}"
        assert cv2.imwrite(str(path), image)
        return path
    if kind == "pdf":  # a scanned report: bars of "text" at the top, a drawing below
        top = 842 - 842 * NAME_BOX[1]
        bars = " ".join(f"{40 + 60 * i} {top - 50:.0f} 40 30 re" for i in range(4))
        content = f"0 0 0 rg {bars} f 0 0 1 rg 300 200 150 150 re f".encode()
        return write_pdf(folder / "report.pdf", [content])
    hu = np.full((256, 256), AIR, np.int32)
    hu[120:220, 100:200] = BONE
    text = np.zeros((256, 256), np.uint8)
    cv2.putText(text, "IVANOVA", (int(NAME_BOX[0] * 256), int(NAME_BOX[1] * 256) + 20),
                cv2.FONT_HERSHEY_SIMPLEX, 0.8, 255, 2)
    hu[text > 0] = BONE  # burned into the pixels, as a scanner does
    ds = ct_dataset(hu=hu, window=(40.0, 400.0))
    ds.BurnedInAnnotation = "YES"
    return write_dicom(folder / "IM0001.dcm", ds)


def _box(pixels: np.ndarray, a: tuple[float, float], b: tuple[float, float]) -> np.ndarray:
    height, width = pixels.shape[:2]
    return pixels[int(a[1] * height):int(b[1] * height), int(a[0] * width):int(b[0] * width)]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["png", "jpg", "tif", "pdf", "dcm"])
def test_a_masked_name_never_reaches_a_viewer_whatever_the_file(
        qtbot: QtBot, run: Run, tmp_path: Path, kind: str) -> None:
    """For every kind of file the dialog offers the mask and says what it is for; what a
    viewer receives over a real peer connection is, pixel for pixel, the preview: the
    name blacked out, the rest of the picture as it was."""
    path = _named_file(tmp_path, kind)
    original = open_file(path).pixels
    assert _box(original, NAME_BOX[:2], NAME_BOX[2:]).max() > 100  # a name is there
    dialog = ShareDialog()
    qtbot.addWidget(dialog)
    dialog.resize(1000, 700)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.mask_hint.isVisibleTo(dialog) and "Mask text" in dialog.mask_hint.text()
    run(dialog.open_path(path))
    assert dialog.mask_button.isEnabled()
    dialog.mask_button.setChecked(True)
    preview = dialog.preview
    assert preview.viewport is not None
    start, end = (QPoint(*map(round, preview.viewport.to_window(*p))) for p in DRAG)
    qtbot.mousePress(preview, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseRelease(preview, Qt.MouseButton.LeftButton, pos=end)
    run(dialog.settled())
    assert dialog.draft is not None and len(dialog.draft.masks) == 1
    shown = preview._pixels
    assert shown is not None
    dialog.share_button.click()
    run(dialog.settled())
    outgoing = dialog.outgoing
    assert outgoing is not None and outgoing.description["masked"] == 1

    async def over_a_peer_connection() -> bytes:
        sharer, viewer = Side("trainee"), Side("surgeon")
        async with linked(sharer, viewer) as (channel, _):
            await _until(lambda: channel.readyState == "open", 10)
            sharer.shares.share(outgoing)
            await asyncio.wait_for(viewer.changed.wait(), seconds(20))
        return viewer.shares.viewing["trainee"].picture

    data = run(over_a_peer_connection())
    received = decode_picture(data, (outgoing.description["width"],
                                     outgoing.description["height"]))  # as ShareFeed does
    assert np.array_equal(received, shown)  # what the preview showed is what arrived
    # the mask covers at least the drag (rounded outwards) and nothing of the name is left
    inside = _box(received, (DRAG[0][0] + 0.01, DRAG[0][1] + 0.01),
                  (DRAG[1][0] - 0.01, DRAG[1][1] - 0.01))
    assert inside.size and not inside.any()
    # below the mask the picture is untouched
    height = received.shape[0]
    below = slice(int((DRAG[1][1] + 0.02) * height), height)
    assert np.array_equal(received[below], original[below])
    assert received[below].any()
