"""DICOM images: window presets, the file's own window, series slices, compressed pixels."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pydicom
import pytest
from pydicom.encaps import encapsulate
from pydicom.uid import (
    MPEG4HP41,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    RLELossless,
    generate_uid,
)

from surgery_teach.errors import CorruptShareError, UnsupportedShareError
from surgery_teach.sharing import DicomSeries, FileKind, open_file, supported_compressions
from tests.sharing.files import AIR, BONE, LUNG, TISSUE, ct_dataset, phantom, write_dicom

# where each phantom region is in a 64 x 64 slice (row, column)
AT = {"air": (5, 30), "lung": (40, 5), "tissue": (40, 30), "bone": (40, 60)}


def _grey(pixels: np.ndarray, where: str) -> int:
    value = pixels[AT[where]]
    assert value[0] == value[1] == value[2]
    return int(value[0])


def test_soft_tissue_and_lung_windows_show_different_anatomy(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "ct.dcm", ct_dataset())
    soft = open_file(path, window="soft-tissue")
    assert soft.kind is FileKind.DICOM and soft.modality == "CT"
    assert soft.window is not None and (soft.window.center, soft.window.width) == (40, 400)
    # soft tissue window: lung and air both black, tissue mid-grey, bone white
    assert _grey(soft.pixels, "air") == _grey(soft.pixels, "lung") == 0
    assert 120 <= _grey(soft.pixels, "tissue") <= 135
    assert _grey(soft.pixels, "bone") == 255
    lung = open_file(path, window="lung")
    # lung window: the lung is told apart from the air outside, tissue is bright
    assert 0 < _grey(lung.pixels, "air") < _grey(lung.pixels, "lung") \
        < _grey(lung.pixels, "tissue") < 255
    bone = open_file(path, window="bone")
    assert _grey(bone.pixels, "tissue") < _grey(bone.pixels, "bone") < 255


def test_the_files_own_window_is_used_and_full_range_without_one(tmp_path: Path) -> None:
    own = open_file(write_dicom(tmp_path / "own.dcm", ct_dataset(window=(-600.0, 1500.0))))
    assert own.window is not None and own.window.name == "file"
    assert (own.window.center, own.window.width) == (-600.0, 1500.0)
    bare = open_file(write_dicom(tmp_path / "bare.dcm", ct_dataset(window=None)))
    assert bare.window is not None and bare.window.name == "full"
    assert _grey(bare.pixels, "air") == 0 and _grey(bare.pixels, "bone") == 255


def test_a_custom_window_from_dragging_the_level(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "ct.dcm", ct_dataset())
    picture = open_file(path, center=-700, width=2)
    assert picture.window is not None and picture.window.name == "custom"
    assert _grey(picture.pixels, "air") == 0 and _grey(picture.pixels, "tissue") == 255


def test_monochrome1_is_shown_inverted(tmp_path: Path) -> None:
    ds = ct_dataset()
    ds.PhotometricInterpretation = "MONOCHROME1"
    picture = open_file(write_dicom(tmp_path / "cr.dcm", ds), window="soft-tissue")
    assert _grey(picture.pixels, "air") == 255 and _grey(picture.pixels, "bone") == 0


def test_an_unknown_window_lists_the_known_ones(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "ct.dcm", ct_dataset())
    with pytest.raises(UnsupportedShareError, match=r"unknown window 'liver'.*soft-tissue"):
        open_file(path, window="liver")


def test_a_series_folder_gives_its_slices_in_scanning_order(tmp_path: Path) -> None:
    study, series = generate_uid(), generate_uid()
    folder = tmp_path / "series"
    folder.mkdir()
    # slice k is all bone from column 0 to 8k: each slice is recognisable
    written = []
    for k, z in enumerate([10.0, 20.0, 30.0, 40.0]):
        hu = np.full((64, 64), AIR, np.int32)
        hu[:, : 8 * (k + 1)] = BONE
        ds = ct_dataset(hu=hu, study=study, series=series, instance=9 - k, z=z)
        written.append(write_dicom(folder / f"IM{(k * 7) % 4}", ds))  # names out of order
    other = ct_dataset(series=generate_uid())  # another series, one slice: ignored
    write_dicom(folder / "SCOUT", other)
    (folder / "notes.txt").write_text("not DICOM")
    slices = DicomSeries.open(folder)
    assert len(slices) == 4
    for k in range(4):
        picture = slices.picture(k, window="bone")
        assert (picture.index, picture.count) == (k, 4)
        bright = int((picture.pixels[32, :, 0] > 128).sum())
        assert bright == 8 * (k + 1), (k, bright)
    with pytest.raises(UnsupportedShareError, match=r"slice 5 does not exist"):
        slices.picture(4)


def test_rle_and_jpeg_2000_compressed_slices_decode_to_the_same_picture(tmp_path: Path) -> None:
    plain = open_file(write_dicom(tmp_path / "plain.dcm", ct_dataset()), window="lung")
    for syntax in (RLELossless, JPEG2000Lossless):
        ds = ct_dataset()
        ds.compress(syntax)
        path = write_dicom(tmp_path / f"{syntax.keyword}.dcm", ds)
        assert pydicom.dcmread(path).file_meta.TransferSyntaxUID == syntax
        picture = open_file(path, window="lung")
        assert np.array_equal(picture.pixels, plain.pixels), syntax.name


def test_a_jpeg_baseline_ultrasound_still_decodes(tmp_path: Path) -> None:
    grey = np.zeros((48, 64), np.uint8)
    grey[:, 32:] = 200
    ok, jpeg = cv2.imencode(".jpg", grey, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    ds = ct_dataset(window=None)
    del ds.RescaleIntercept, ds.RescaleSlope
    ds.Modality = "US"
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.Rows, ds.Columns = grey.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelData = encapsulate([jpeg.tobytes()])
    ds["PixelData"].VR = "OB"
    picture = open_file(write_dicom(tmp_path / "us.dcm", ds))
    assert picture.modality == "US"
    assert _grey(picture.pixels, "air") == 0  # full range: the dark half is black
    assert picture.pixels[10, 50, 0] == 255


def test_a_video_compressed_dicom_is_refused_naming_its_compression(tmp_path: Path) -> None:
    ds = ct_dataset()
    ds.file_meta.TransferSyntaxUID = MPEG4HP41
    ds.PixelData = encapsulate([b"\x00\x00\x00\x01" + b"\x67" * 64])
    ds["PixelData"].VR = "OB"
    path = write_dicom(tmp_path / "endo.dcm", ds)
    with pytest.raises(UnsupportedShareError, match=r"MPEG-4 AVC/H.264.*cannot be decoded here"
                       ".*JPEG 2000.*Export the image uncompressed"):
        open_file(path)
    assert "JPEG Baseline (Process 1)" in supported_compressions()


def test_a_truncated_dicom_is_refused_as_damaged(tmp_path: Path) -> None:
    data = write_dicom(tmp_path / "whole.dcm", ct_dataset()).read_bytes()
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(data[: len(data) - 3000])
    with pytest.raises(CorruptShareError, match=r"cut.dcm.*(damaged|cut short)"):
        open_file(cut)


def test_a_dicom_without_an_image_is_refused(tmp_path: Path) -> None:
    ds = ct_dataset()
    del ds.PixelData
    with pytest.raises(UnsupportedShareError, match=r"without an image"):
        open_file(write_dicom(tmp_path / "sr.dcm", ds))


def test_burned_in_annotation_unless_the_file_says_no(tmp_path: Path) -> None:
    assert not open_file(write_dicom(tmp_path / "no.dcm", ct_dataset())).burned_in
    ds = ct_dataset()
    del ds.BurnedInAnnotation  # unknown: assume there may be text in the pixels
    assert open_file(write_dicom(tmp_path / "maybe.dcm", ds)).burned_in
    assert phantom().shape == (64, 64) and {AIR, LUNG, TISSUE, BONE}
