"""Opening files for sharing: each kind becomes the right picture, bad files a clear error."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from surgery_teach.errors import (
    CorruptShareError,
    EncryptedShareError,
    ShareError,
    ShareTooLargeError,
    UnsupportedShareError,
)
from surgery_teach.sharing import MAX_FILE_BYTES, FileKind, open_file
from tests.sharing.files import red_box_page, write_pdf


def _scene(width: int = 320, height: int = 200) -> np.ndarray:
    image = np.full((height, width, 3), 255, np.uint8)
    cv2.rectangle(image, (40, 30), (120, 90), (0, 0, 255), -1)   # red, top left
    cv2.rectangle(image, (200, 120), (300, 180), (255, 0, 0), -1)  # blue, bottom right
    return image


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif"])
def test_a_photo_or_scan_opens_at_full_resolution_with_its_colours(tmp_path: Path,
                                                                    suffix: str) -> None:
    path = tmp_path / f"wound{suffix}"
    assert cv2.imwrite(str(path), _scene())
    picture = open_file(path)
    assert picture.kind is FileKind.IMAGE
    assert (picture.width, picture.height) == (320, 200)
    assert picture.pixels.dtype == np.uint8 and picture.pixels.shape[2] == 3
    red, blue = picture.pixels[60, 80], picture.pixels[150, 250]
    assert red[2] > 200 and red[0] < 60, red
    assert blue[0] > 200 and blue[2] < 60, blue


def test_the_kind_comes_from_the_content_not_the_name(tmp_path: Path) -> None:
    path = tmp_path / "scan.dcm"
    assert cv2.imwrite(str(path.with_suffix(".png")), _scene())
    path.write_bytes(path.with_suffix(".png").read_bytes())
    assert open_file(path).kind is FileKind.IMAGE


def test_a_16_bit_grey_export_is_stretched_to_its_range(tmp_path: Path) -> None:
    raw = np.zeros((50, 60), np.uint16)
    raw[:, 30:] = 4000  # a 12-bit detector's bright half
    path = tmp_path / "xray16.png"
    assert cv2.imwrite(str(path), raw)
    pixels = open_file(path).pixels
    assert pixels[10, 10].tolist() == [0, 0, 0]
    assert pixels[10, 50].tolist() == [255, 255, 255]


def test_transparent_parts_are_shown_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[:, :10] = (0, 0, 255, 255)  # opaque red left half, transparent right half
    path = tmp_path / "chart.png"
    assert cv2.imwrite(str(path), rgba)
    pixels = open_file(path).pixels
    assert pixels[5, 2].tolist() == [0, 0, 255]
    assert pixels[5, 15].tolist() == [255, 255, 255]


def test_a_chosen_pdf_page_is_rendered_with_its_drawing_in_place(tmp_path: Path) -> None:
    # page 2 has a red box in its bottom-left quarter (PDF y goes up)
    path = write_pdf(tmp_path / "ecg.pdf", [red_box_page(400, 700, 100, 60),
                                           red_box_page(50, 50, 200, 100)])
    picture = open_file(path, page=1)
    assert picture.kind is FileKind.PDF and (picture.index, picture.count) == (1, 2)
    scale = picture.width / 595
    assert abs(picture.height - 842 * scale) <= 2 and picture.width > 1000  # ~200 dpi
    inside = picture.pixels[int(picture.height - 100 * scale), int(150 * scale)]
    outside = picture.pixels[int(picture.height - 700 * scale), int(450 * scale)]
    assert inside.tolist() == [0, 0, 255]
    assert outside.tolist() == [255, 255, 255]


def test_a_pdf_page_that_does_not_exist_names_the_pages_there_are(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "letter.pdf", [red_box_page(0, 0, 10, 10)])
    with pytest.raises(UnsupportedShareError, match=r"page 3 does not exist.*from 1 to 1"):
        open_file(path, page=2)


def test_an_encrypted_pdf_asks_for_its_password_and_opens_with_it(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "referral.pdf", [red_box_page(50, 50, 200, 100)],
                     user_password="osh2026")
    with pytest.raises(EncryptedShareError, match=r"password-protected.*needs a password"):
        open_file(path)
    with pytest.raises(EncryptedShareError, match=r"password given does not open it"):
        open_file(path, password="wrong")
    picture = open_file(path, password="osh2026")  # the encryption is real: the key opens it
    scale = picture.width / 595
    assert picture.pixels[int(picture.height - 100 * scale), int(150 * scale)].tolist() \
        == [0, 0, 255]


@pytest.mark.parametrize("name,cut", [("cut.png", 0.5), ("cut.jpg", 0.3), ("cut.pdf", 0.4)])
def test_a_damaged_file_is_refused_as_damaged(tmp_path: Path, name: str, cut: float) -> None:
    whole = tmp_path / f"whole{Path(name).suffix}"
    if name.endswith(".pdf"):
        write_pdf(whole, [red_box_page(0, 0, 10, 10)])
    else:
        noise = np.random.default_rng(1).integers(0, 255, (200, 200, 3), np.uint8)
        assert cv2.imwrite(str(whole), noise)
    data = whole.read_bytes()
    damaged = tmp_path / name
    damaged.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(CorruptShareError, match=r"damaged|cut short") as caught:
        picture = open_file(damaged)
        # a JPEG decoder may fill in a cut-off tail: then it is still no crash
        pytest.skip(f"decoder recovered a {picture.width}x{picture.height} picture")
    assert name in str(caught.value)


@pytest.mark.parametrize("data,says", [
    (b"PK\x03\x04" + b"\0" * 100, "save it as PDF"),
    (b"GIF89a" + b"\0" * 100, "save it as PNG"),
    (b"just some notes about the patient\n" * 5, "not a PNG, JPEG, TIFF, PDF or DICOM"),
])
def test_an_unsupported_kind_says_what_to_do(tmp_path: Path, data: bytes, says: str) -> None:
    path = tmp_path / "thing.bin"
    path.write_bytes(data)
    with pytest.raises(UnsupportedShareError, match=says):
        open_file(path)


def test_a_file_over_50_mb_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """A real PNG of more than 50 MB (uncompressed noise): refused by its size."""
    rng = np.random.default_rng(7)
    side = 4200  # 4200 x 4200 x 3 = 52.9 MB of pixels; noise does not compress
    path = tmp_path / "huge.png"
    assert cv2.imwrite(str(path), rng.integers(0, 255, (side, side, 3), np.uint8),
                       [cv2.IMWRITE_PNG_COMPRESSION, 0])
    assert path.stat().st_size > MAX_FILE_BYTES
    with pytest.raises(ShareTooLargeError, match=r"more than the 50 MB") as caught:
        open_file(path)
    assert caught.value.size == path.stat().st_size


def test_a_missing_file_and_a_folder_are_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(ShareError, match=r"does not exist"):
        open_file(tmp_path / "gone.png")
    with pytest.raises(ShareError, match=r"is a folder"):
        open_file(tmp_path)
