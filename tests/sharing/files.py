"""Real files for the sharing tests, written here: DICOM (with pydicom), PDF (by hand,
optionally encrypted with the PDF standard security handler) and images (OpenCV)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

# Identifying values written into the test DICOM files; none may be sent.
PATIENT = {
    "PatientName": "IVANOVA^GULNARA^T",
    "PatientID": "KSH-0048812",
    "PatientBirthDate": "19610415",
    "PatientSex": "F",
    "PatientAge": "065Y",
    "PatientAddress": "12 Jiefang Road, Kashgar",
    "OtherPatientIDs": "OSH-7731",
    "AccessionNumber": "ACC99887766",
    "InstitutionName": "Kashgar First People's Hospital",
    "InstitutionAddress": "66 Renmin East Road",
    "ReferringPhysicianName": "SMIRNOV^ALEXEI",
    "PerformingPhysicianName": "WANG^LEI",
    "OperatorsName": "TECH^ZHOU",
    "StationName": "CTSCAN-KS3",
    "DeviceSerialNumber": "SN-55501234",
    "StudyDate": "20261201",
    "SeriesDate": "20261202",
    "AcquisitionDate": "20261203",
    "ContentDate": "20261204",
    "StudyTime": "101530",
    "StudyID": "STU-4242",
    "StudyDescription": "CT CHEST IVANOVA FOLLOW-UP",
    "SeriesDescription": "AXIAL LUNG KSH-0048812",
}
PRIVATE_VALUE = "PRIVATE-MRN-313373"

# Hounsfield units of the phantom's four regions.
AIR, LUNG, TISSUE, BONE = -1000, -700, 40, 1000


def phantom(size: int = 64) -> np.ndarray:
    """A CT slice in HU: air above, lung on the left, soft tissue in the middle, bone right."""
    hu = np.full((size, size), TISSUE, np.int32)
    hu[: size // 4, :] = AIR
    hu[size // 4:, : size // 3] = LUNG
    hu[size // 4:, 2 * size // 3:] = BONE
    return hu


def ct_dataset(*, hu: np.ndarray | None = None, study: str | None = None,
               series: str | None = None, instance: int = 1, z: float = 0.0,
               window: tuple[float, float] | None = (40.0, 400.0)) -> Dataset:
    """A CT image dataset with every identifying attribute of :data:`PATIENT` set."""
    hu = phantom() if hu is None else hu
    meta = FileMetaDataset()
    sop = generate_uid()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = sop
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop
    ds.StudyInstanceUID = study or generate_uid()
    ds.SeriesInstanceUID = series or generate_uid()
    ds.FrameOfReferenceUID = generate_uid()
    ds.Modality = "CT"
    for keyword, value in PATIENT.items():
        setattr(ds, keyword, value)
    ds.InstanceNumber = instance
    ds.ImagePositionPatient = [0.0, 0.0, z]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.Rows, ds.Columns = hu.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelRepresentation = 0
    ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    ds.BurnedInAnnotation = "NO"
    block = ds.private_block(0x0041, "KASHGAR PACS", create=True)
    block.add_new(0x10, "LO", PRIVATE_VALUE)
    ds.PixelData = (hu + 1024).astype(np.uint16).tobytes()
    return ds


def write_dicom(path: Path, ds: Dataset) -> Path:
    ds.save_as(path, enforce_file_format=True)
    return path


# -- PDF --------------------------------------------------------------------------------------

_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")


def _rc4(key: bytes, data: bytes) -> bytes:
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    i = j = 0
    out = bytearray()
    for byte in data:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(byte ^ s[(s[i] + s[j]) % 256])
    return bytes(out)


def write_pdf(path: Path, pages: list[bytes], *, user_password: str | None = None) -> Path:
    """A PDF with one A4 page per content stream in ``pages``; with ``user_password`` it is
    encrypted (standard security handler, revision 2, RC4 40-bit) and needs it to open."""
    file_id = hashlib.md5(str(path).encode()).digest()
    key = None
    encrypt_obj = b""
    if user_password is not None:
        padded_user = (user_password.encode("latin-1") + _PAD)[:32]
        owner_key = hashlib.md5((b"owner-secret" + _PAD)[:32]).digest()[:5]
        owner = _rc4(owner_key, padded_user)
        permissions = -4
        key = hashlib.md5(padded_user + owner + permissions.to_bytes(4, "little", signed=True)
                          + file_id).digest()[:5]
        user = _rc4(key, _PAD)
        encrypt_obj = (b"<< /Filter /Standard /V 1 /R 2 /O <" + owner.hex().encode()
                       + b"> /U <" + user.hex().encode() + b"> /P "
                       + str(permissions).encode() + b" >>")
    objects: list[bytes] = []
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(len(pages)))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    for i, content in enumerate(pages):
        number = 4 + 2 * i
        if key is not None:
            object_key = hashlib.md5(key + number.to_bytes(3, "little") + b"\0\0").digest()[:10]
            content = _rc4(object_key, content)
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
                       f"/Contents {number} 0 R >>".encode())
        objects.append(f"<< /Length {len(content)} >>\nstream\n".encode() + content
                       + b"\nendstream")
    if encrypt_obj:
        objects.append(encrypt_obj)
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    trailer = (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R "
               f"/ID [<{file_id.hex()}> <{file_id.hex()}>]")
    if encrypt_obj:
        trailer += f" /Encrypt {len(objects)} 0 R"
    out += trailer.encode() + f" >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(bytes(out))
    return path


def red_box_page(x: int, y: int, w: int, h: int) -> bytes:
    """A page content stream: a filled red rectangle at (x, y) points from bottom left."""
    return f"1 0 0 rg {x} {y} {w} {h} re f".encode()
