"""No patient identifier leaves the sharer's computer: DICOM de-identification (PS3.15
E.1 basic profile), burned-in text masked, and what is sent checked byte for byte."""

from __future__ import annotations

import io
import json
from pathlib import Path

import cv2
import numpy as np
import pydicom
import pytest

from surgery_teach.privacy import Mask
from surgery_teach.sharing import UidMap, deidentify, open_file, prepare_share
from surgery_teach.sharing.transfer import ShareReceiver, ShareSender, parse_text
from tests.sharing.files import BONE, PATIENT, PRIVATE_VALUE, ct_dataset, write_dicom

# words of the test's descriptions that name no one (and a title may well use)
_CLINICAL_WORDS = {"AXIAL", "LUNG", "CHEST", "FOLLOW-UP"}


def _needles(values: list[str]) -> set[bytes]:
    """Every identifying value, and each of its words of 4+ characters, as UTF-8 and
    UTF-16 bytes, in the original case and upper and lower case."""
    words: set[str] = set()
    for value in values:
        words.add(value)
        words.update(w for w in value.replace("^", " ").replace(",", " ").split()
                     if len(w) >= 4 and w.upper() not in _CLINICAL_WORDS)
    out = set()
    for word in words:
        for form in {word, word.upper(), word.lower()}:
            out.add(form.encode("utf-8"))
            out.add(form.encode("utf-16-le"))
    return out


def _identifying(ds: pydicom.Dataset) -> list[str]:
    values = [v for k, v in PATIENT.items() if k not in ("PatientSex",)]
    values += [PRIVATE_VALUE, str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID),
               str(ds.SOPInstanceUID), str(ds.FrameOfReferenceUID)]
    return values


def test_deidentified_dataset_keeps_the_image_and_drops_every_identifier(tmp_path: Path) -> None:
    original = ct_dataset()
    clean = deidentify(original)
    buffer = io.BytesIO()
    clean.save_as(buffer, enforce_file_format=True)
    written = buffer.getvalue()
    for needle in _needles(_identifying(original)):
        assert needle not in written, needle
    # what the profile says happens to each
    assert clean.PatientName == "" and clean.PatientID == "" and clean.PatientBirthDate == ""
    assert clean.AccessionNumber == "" and clean.ReferringPhysicianName == ""
    for gone in ("PatientAge", "PatientAddress", "InstitutionName", "OperatorsName",
                 "StationName", "SeriesDate", "AcquisitionDate", "StudyDescription",
                 "SeriesDescription", "DeviceSerialNumber", "OtherPatientIDs"):
        assert gone not in clean, gone
    assert not any(element.tag.is_private for element in clean)
    assert clean.PatientIdentityRemoved == "YES"
    assert clean.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
    # the standard's own UIDs stay, the instance's are new
    assert clean.SOPClassUID == original.SOPClassUID
    assert clean.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID
    assert clean.SOPInstanceUID != original.SOPInstanceUID
    assert clean.file_meta.MediaStorageSOPInstanceUID == clean.SOPInstanceUID
    assert clean.PixelData == original.PixelData
    # the original was not touched
    assert original.PatientName == PATIENT["PatientName"]
    reread = pydicom.dcmread(io.BytesIO(written))
    assert reread.Rows == 64 and reread.pixel_array.shape == (64, 64)


def test_uids_are_replaced_consistently_within_a_consultation() -> None:
    first = ct_dataset()
    second = ct_dataset(study=first.StudyInstanceUID, series=first.SeriesInstanceUID,
                        instance=2)
    uids = UidMap()
    a, b = deidentify(first, uids), deidentify(second, uids)
    assert a.StudyInstanceUID == b.StudyInstanceUID != first.StudyInstanceUID
    assert a.SeriesInstanceUID == b.SeriesInstanceUID != first.SeriesInstanceUID
    assert a.SOPInstanceUID != b.SOPInstanceUID
    assert str(a.SOPInstanceUID).startswith("2.25.") and len(str(a.SOPInstanceUID)) <= 64
    other = deidentify(first, UidMap())  # another consultation: unlinkable
    assert other.StudyInstanceUID != a.StudyInstanceUID


def test_names_and_dates_the_table_does_not_list_are_removed_too() -> None:
    ds = ct_dataset()
    ds.add_new(0x0040A123, "PN", "IVANOVA^GULNARA")  # Person Name, nested in no table row
    seq_item = pydicom.Dataset()
    seq_item.add_new(0x00081050, "PN", "WANG^LEI")  # Performing Physician's Name, in an item
    seq_item.add_new(0x00400244, "DA", "20261201")   # PPS Start Date
    seq_item.CodeMeaning = "CT chest"
    ds.ProcedureCodeSequence = pydicom.Sequence([seq_item])
    clean = deidentify(ds)
    buffer = io.BytesIO()
    clean.save_as(buffer, enforce_file_format=True)
    for needle in _needles(["IVANOVA", "WANG^LEI", "20261201"]):
        assert needle not in buffer.getvalue()
    assert clean.ProcedureCodeSequence[0].CodeMeaning == "CT chest"  # the rest is kept


def _sent_bytes(share_sender: ShareSender) -> tuple[bytes, list[str | bytes]]:
    """Everything the sharer would put on the wire for this share."""
    messages: list[str | bytes] = [share_sender.header.text(), *share_sender.chunks()]
    wire = b"".join(m.encode("utf-8") if isinstance(m, str) else m for m in messages)
    return wire, messages


def test_what_is_sent_for_a_ct_slice_holds_no_identifier(tmp_path: Path) -> None:
    original = ct_dataset()
    path = write_dicom(tmp_path / "IVANOVA_GULNARA_KSH-0048812.dcm", original)
    picture = open_file(path, window="lung")
    share = prepare_share(picture, title="CT chest, lung window: nodule right upper lobe")
    sender = ShareSender(share, chunk_bytes=1024)
    wire, messages = _sent_bytes(sender)
    for needle in _needles([*_identifying(original), "IVANOVA_GULNARA"]):
        assert needle not in wire, needle
    assert not wire.count(b"DICM") and b"\x89PNG" in wire  # a picture, never the file
    # the viewer gets the same picture and only the description
    receiver = ShareReceiver()
    header = parse_text(messages[0])  # type: ignore[arg-type]
    assert receiver.on_header(header).start == 0  # type: ignore[union-attr]
    got = [receiver.on_chunk(m) for m in messages[1:]]  # type: ignore[arg-type]
    received = got[-1]
    assert received is not None and all(g is None for g in got[:-1])
    assert received.picture == share.picture
    description = received.description
    assert set(description) == {"v", "kind", "format", "width", "height", "index", "count",
                                "window", "modality", "title", "masked", "scaled", "bytes"}
    assert description["modality"] == "CT" and description["window"]["name"] == "lung"
    decoded = cv2.imdecode(np.frombuffer(received.picture, np.uint8), cv2.IMREAD_COLOR)
    assert np.array_equal(decoded, picture.pixels)  # full resolution, lossless
    assert json.loads(share.description_text()) == description


def test_burned_in_text_is_painted_over_before_sending(tmp_path: Path) -> None:
    ds = ct_dataset(window=(40.0, 400.0))
    hu = np.frombuffer(ds.PixelData, np.uint16).reshape(64, 64).copy()
    text = np.zeros(hu.shape, np.uint8)
    cv2.putText(text, "IV", (1, 10), cv2.FONT_HERSHEY_PLAIN, 0.7, 255, 1)
    hu[text > 0] = BONE + 1024
    ds.PixelData = hu.tobytes()
    ds.BurnedInAnnotation = "YES"
    picture = open_file(write_dicom(tmp_path / "burned.dcm", ds))
    assert picture.burned_in
    text_box = picture.pixels[:16, :32]
    assert (text_box == 255).any()  # the text is there in the file's picture
    mask = Mask(0.0, 0.0, 0.5, 0.25)
    share = prepare_share(picture, masks=[mask])
    seen = share.preview()  # what the sharer is shown is what will be sent
    assert (seen[:16, :32] == 0).all()
    assert np.array_equal(seen[16:], picture.pixels[16:])
    assert np.array_equal(seen[:, 32:], picture.pixels[:, 32:])
    assert share.description["masked"] == 1


def test_a_long_title_is_refused_not_cut() -> None:
    from surgery_teach.errors import ShareError
    from surgery_teach.sharing.outgoing import clean_title
    assert clean_title("  ECG  page 2\n lead II ") == "ECG page 2 lead II"
    with pytest.raises(ShareError, match="keep it to 200"):
        clean_title("x" * 201)


def test_every_attribute_the_profile_names_is_a_real_dicom_keyword() -> None:
    """A misspelt keyword would silently leave its attribute in place."""
    from pydicom.datadict import tag_for_keyword

    from surgery_teach.sharing.deidentify import PROFILE
    assert [k for k in PROFILE if tag_for_keyword(k) is None] == []


def test_an_opened_dicom_carries_only_its_deidentified_dataset(tmp_path: Path) -> None:
    original = ct_dataset()
    picture = open_file(write_dicom(tmp_path / "ct.dcm", original))
    kept = picture.dataset
    assert kept is not None and kept.PatientIdentityRemoved == "YES"
    assert kept.PatientName == "" and "InstitutionName" not in kept
    assert kept.StudyInstanceUID != original.StudyInstanceUID


def _png_with_text(pixels: np.ndarray, key: bytes, text: bytes) -> bytes:
    import struct
    import zlib
    ok, png = cv2.imencode(".png", pixels)
    assert ok
    data = png.tobytes()
    body = key + b"\0" + text
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body
    chunk += struct.pack(">I", zlib.crc32(b"tEXt" + body) & 0xFFFFFFFF)
    return data[:33] + chunk + data[33:]  # after the signature and IHDR


def test_names_hidden_in_a_photos_metadata_are_not_sent(tmp_path: Path) -> None:
    """A phone photo's comment or a scanner's PNG text may name the patient: only the
    pixels are shared, re-encoded without any of it."""
    pixels = np.full((40, 60, 3), 90, np.uint8)
    ok, jpeg = cv2.imencode(".jpg", pixels)
    assert ok
    comment = b"Patient IVANOVA GULNARA KSH-0048812"
    jpeg_with_comment = jpeg.tobytes()[:2] + b"\xff\xfe" + \
        (len(comment) + 2).to_bytes(2, "big") + comment + jpeg.tobytes()[2:]
    (tmp_path / "wound.jpg").write_bytes(jpeg_with_comment)
    (tmp_path / "scan.png").write_bytes(_png_with_text(pixels, b"Comment", comment))
    for name in ("wound.jpg", "scan.png"):
        assert comment in (tmp_path / name).read_bytes()
        sender = ShareSender(prepare_share(open_file(tmp_path / name)), chunk_bytes=1024)
        wire, _ = _sent_bytes(sender)
        for needle in _needles(["IVANOVA^GULNARA", "KSH-0048812"]):
            assert needle not in wire, (name, needle)
