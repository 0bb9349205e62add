"""A case with shared pictures in the hospital library (really recorded, plain and
encrypted, published to a real library over TLS): the library holds each picture as it
was shared, a student's copy reads every stretch's picture byte for byte and an exported
clip shows it; republishing stores nothing twice, a cut publish resumes, keeping the
case offline keeps its pictures; a picture changed on the library's disk is refused
while the rest shows, and the library refuses files that are no part of the case."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest

from surgery_teach.casebook import build_timeline, export_clip, open_case, open_recording
from surgery_teach.casebook.media import stop_streaming
from surgery_teach.casebook.problems import SHARED_PICTURE_CHANGED
from surgery_teach.casebook.shared_pictures import read_shared_picture
from surgery_teach.casebook.shared_stills import fit
from surgery_teach.casefile.keys import PASSPHRASE_ENV, KeyRing, recording_key, use_key_ring
from surgery_teach.casefile.layout import new_case_folder
from surgery_teach.casefile.sealed_folder import is_sealed_file, read_case_file
from surgery_teach.caselibrary.passes import LibraryRole
from surgery_teach.caselibrary.publish import CHUNK_HEADER, case_files, measure, publish_case
from surgery_teach.caselibrary.remote import RemoteLibrary
from surgery_teach.caselibrary.wire import (
    FileEntry,
    PublishRequest,
    parse_case_list,
    parse_case_summary,
    parse_upload_status,
    publish_request_to_json,
)
from surgery_teach.errors import LibraryError, RecordingError
from tests.library_server.helpers import Certificate, CuttingRelay, LibraryThread, token
from tests.recording.shared_case import SIZE, SharedCase, record_shared_case

PASSPHRASE = "theatre five, green door"
MENTOR = token(LibraryRole.MENTOR, ["hospital:zepu"], name="Dr Wang", user="u-wang")
STUDENT = token(LibraryRole.STUDENT, ["hospital:zepu"], name="Aynur", user="u-aynur")
JSON = {"Content-Type": "application/json"}

pytestmark = pytest.mark.slow  # the case is really recorded (plain and encrypted)


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SharedCase]:
    """The shared case recorded once plain and once encrypted with a hospital passphrase."""
    root = tmp_path_factory.mktemp("shared")
    plain = asyncio.run(record_shared_case(root / "plain", root))
    ring = KeyRing(use_os_keyring=False)
    previous = use_key_ring(ring)
    try:
        key = recording_key(encrypt=True, passphrase=PASSPHRASE)
        folder = new_case_folder(root / "sealed", "Shared pictures", key=key)
        sealed = asyncio.run(record_shared_case(folder, root))
    finally:
        use_key_ring(previous)
    return {"plain": plain, "encrypted": sealed}


@pytest.fixture
def ring(monkeypatch: pytest.MonkeyPatch) -> Iterator[KeyRing]:
    """No key unlocked and no passphrase in the environment: publish gives it."""
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)
    ring = KeyRing(use_os_keyring=False)
    previous = use_key_ring(ring)
    try:
        yield ring
    finally:
        use_key_ring(previous)


def copy_of(original: SharedCase, tmp_path: Path) -> SharedCase:
    return dataclasses.replace(
        original, folder=Path(shutil.copytree(original.folder, tmp_path / "case")))


def pictures_of(case: SharedCase) -> dict[str, bytes]:
    """Each picture's file in the case folder and its bytes as shared."""
    return {next(case.folder.glob(f"shared-{share.share_id}.*")).name: share.picture
            for share in (case.png, case.dicom)}


def student(library: LibraryThread, certificate: Certificate, cache: Path) -> RemoteLibrary:
    return RemoteLibrary(library.url, STUDENT, cache=cache, ca_file=certificate.cert)


def stills_in(clip: Path, start: float, begin: float, end: float) -> list[np.ndarray]:
    """The frames of ``clip`` (exported from case time ``start``) strictly inside
    ``begin``-``end``, BGR."""
    with av.open(str(clip)) as container:
        return [f.to_ndarray(format="bgr24") for f in container.decode(video=0)
                if begin + 0.04 < start + float(f.time) < end - 0.04]


@pytest.mark.parametrize("kind", ["plain", "encrypted"])
def test_a_published_case_carries_its_shared_pictures_to_a_students_player(
    library: LibraryThread, certificate: Certificate, originals: dict[str, SharedCase],
    ring: KeyRing, tmp_path: Path, kind: str,
) -> None:
    case = copy_of(originals[kind], tmp_path)
    pictures = pictures_of(case)
    for name in pictures:
        assert is_sealed_file(case.folder / name) == (kind == "encrypted")
    with library.connect(MENTOR, ca=certificate) as connection:
        result = publish_case(case.folder, connection, passphrase=PASSPHRASE)
        again = publish_case(case.folder, connection, passphrase=PASSPHRASE)
    assert again.already_stored and again.sent == 0 and again.case.id == result.case.id
    listed = {f.name: f for f in result.case.files}
    stored = library.config.data_dir / "cases" / result.case.id
    for name, data in pictures.items():  # the library holds each as it was shared
        assert listed[name] == FileEntry(name, len(data), hashlib.sha256(data).hexdigest())
        assert (stored / name).read_bytes() == data

    remote = student(library, certificate, tmp_path / "cache")
    [found] = remote.entries()
    folder = remote.prepare(found.summary)
    try:
        assert not (folder / "endoscope.mkv").exists()  # the video is streamed
        streamed = open_case(folder)
        assert not streamed.problems
        timeline = build_timeline(streamed.case, duration=streamed.duration)
        local = build_timeline(open_case(case.folder).case)  # the key was unlocked
        assert timeline.shares == local.shares and len(timeline.shares) == 2
        for stretch, share in zip(timeline.shares, (case.png, case.dicom), strict=True):
            assert stretch.share_id == share.share_id
            assert read_case_file(folder / stretch.file) == share.picture  # byte for byte
            assert (read_shared_picture(folder, stretch) == share.preview()).all()
        # opened again: the pictures are not fetched again (a new fetch is a new file)
        before = {name: (folder / name).stat().st_ino for name in pictures}
        remote.prepare(found.summary)
        assert {name: (folder / name).stat().st_ino for name in pictures} == before

        # a clip exported from the student's copy shows the picture in its stretch
        png = timeline.shares[0]
        assert png.end is not None
        start = max(0.0, png.start - 0.3)
        clip = export_clip(open_recording(folder), "Endoscope", start, png.end + 0.3,
                           tmp_path / "clip.mp4")
        fitted = fit(case.png.preview(), *SIZE)
        top, left = (SIZE[1] - fitted.shape[0]) // 2, (SIZE[0] - fitted.shape[1]) // 2
        marked = timeline.case_time(case.png_marked)
        stills = stills_in(clip, start, png.start, marked)
        assert stills
        for bgr in stills:
            region = bgr[top:top + fitted.shape[0], left:left + fitted.shape[1]]
            assert np.abs(region.astype(int) - fitted.astype(int)).mean() < 6
    finally:
        stop_streaming(folder)


def test_a_cut_publish_resumes_and_carries_the_pictures(
    library: LibraryThread, certificate: Certificate, originals: dict[str, SharedCase],
    ring: KeyRing, tmp_path: Path,
) -> None:
    case = copy_of(originals["plain"], tmp_path)
    relay = CuttingRelay(("127.0.0.1", library.running.port), cut_after=200_000,
                         then_down=True)
    try:
        with library.connect(MENTOR, ca=certificate,
                             url=f"https://127.0.0.1:{relay.port}") as connection, \
                pytest.raises(LibraryError, match="cannot reach the library"):
            publish_case(case.folder, connection, chunk_bytes=64 * 1024, give_up_after=0,
                         sleep=lambda s: None)
    finally:
        relay.close()
    with library.connect(MENTOR, ca=certificate) as connection:
        result = publish_case(case.folder, connection, chunk_bytes=64 * 1024)
        status = parse_upload_status(
            connection.request("GET", f"/uploads/{result.case.id}")[2])
    assert 0 < result.sent < sum(f.size for f in result.case.files)  # resumed
    assert status.state.value == "stored"
    stored = library.config.data_dir / "cases" / result.case.id
    for name, data in pictures_of(case).items():
        assert (stored / name).read_bytes() == data


def test_a_kept_case_keeps_its_pictures_encrypted_and_shows_them_offline(
    library: LibraryThread, certificate: Certificate, originals: dict[str, SharedCase],
    ring: KeyRing, tmp_path: Path,
) -> None:
    case = copy_of(originals["plain"], tmp_path)
    with library.connect(MENTOR, ca=certificate) as connection:
        publish_case(case.folder, connection)
    remote = student(library, certificate, tmp_path / "cache")
    [found] = remote.entries()
    folder = remote.keep(found.summary, key=recording_key(encrypt=True,
                                                          passphrase="student laptop passphrase"))
    library.stop()  # no library: the kept copy shows its pictures
    [kept] = student(library, certificate, tmp_path / "cache").kept()
    assert remote.prepare(kept.summary) == folder
    stretches = build_timeline(open_case(folder).case).shares
    for stretch, share in zip(stretches, (case.png, case.dicom), strict=True):
        assert is_sealed_file(folder / stretch.file)  # nothing readable at rest
        assert read_case_file(folder / stretch.file) == share.picture
        assert (read_shared_picture(folder, stretch) == share.preview()).all()


def test_a_picture_changed_on_the_library_is_refused_and_the_rest_shows(
    library: LibraryThread, certificate: Certificate, originals: dict[str, SharedCase],
    ring: KeyRing, tmp_path: Path,
) -> None:
    case = copy_of(originals["plain"], tmp_path)
    with library.connect(MENTOR, ca=certificate) as connection:
        summary = publish_case(case.folder, connection).case
    png_name = next(n for n in pictures_of(case) if case.png.share_id in n)
    on_server = library.config.data_dir / "cases" / summary.id / png_name
    changed = bytearray(on_server.read_bytes())
    changed[len(changed) // 2] ^= 0x01  # the library's disk changed one bit
    on_server.write_bytes(bytes(changed))

    remote = student(library, certificate, tmp_path / "cache")
    [found] = remote.entries()
    folder = remote.prepare(found.summary)  # the case still opens
    try:
        png, dicom = build_timeline(open_case(folder).case).shares
        with pytest.raises(RecordingError) as refused:
            read_shared_picture(folder, png)
        problem = refused.value.args[0]
        assert problem.template == SHARED_PICTURE_CHANGED and png_name in problem
        assert (read_shared_picture(folder, dicom) == case.dicom.preview()).all()
    finally:
        stop_streaming(folder)
    # kept offline, the case is whole and says the same of that picture
    kept = remote.keep(found.summary, key=None)
    assert (kept / "endoscope.mkv").exists()
    png, dicom = build_timeline(open_case(kept).case).shares
    with pytest.raises(RecordingError) as refused:
        read_shared_picture(kept, png)
    assert refused.value.args[0].template == SHARED_PICTURE_CHANGED
    assert (read_shared_picture(kept, dicom) == case.dicom.preview()).all()
    # a media file changed on the library's disk is refused: nothing half kept
    media = library.config.data_dir / "cases" / summary.id / "endoscope.mkv"
    damaged = bytearray(media.read_bytes())
    damaged[len(damaged) // 2] ^= 0x01
    media.write_bytes(bytes(damaged))
    shutil.rmtree(kept)
    with pytest.raises(LibraryError) as corrupt:
        remote.keep(found.summary, key=None)
    assert corrupt.value.code == "corrupt-file" and "endoscope.mkv" in str(corrupt.value)
    assert not kept.exists()


def test_the_library_takes_only_the_pictures_the_case_shared(
    library: LibraryThread, certificate: Certificate, originals: dict[str, SharedCase],
    ring: KeyRing, tmp_path: Path,
) -> None:
    case = copy_of(originals["plain"], tmp_path)
    manifest, paths = case_files(case.folder)
    entries = measure(paths)
    assert {e.name for e in entries} >= set(pictures_of(case))
    png = (case.folder / next(iter(pictures_of(case)))).read_bytes()
    with library.connect(MENTOR, ca=certificate) as connection:
        for name in (f"shared-{'a' * 31}.png", f"shared-{'a' * 32}.gif",
                     f"shared-{'A' * 32}.png", f"shared-{'a' * 32}.jpeg", "scan.png",
                     f"../shared-{'a' * 32}.png"):
            body = publish_request_to_json(PublishRequest(
                manifest=manifest, files=(*entries, FileEntry(name, 1, "0" * 64))))
            with pytest.raises(LibraryError, match="is not part of a case") as refused:
                connection.request("POST", "/publish", body=body, headers=JSON)
            assert refused.value.status == 400 and refused.value.code == "bad-file", name

        # a picture of the right form that the case's events never name: sent whole,
        # then refused at the end, and the case is not listed
        stranger = FileEntry(f"shared-{'b' * 32}.png", len(png),
                             hashlib.sha256(png).hexdigest())
        body = publish_request_to_json(PublishRequest(manifest=manifest,
                                                      files=(*entries, stranger)))
        status = parse_upload_status(
            connection.request("POST", "/publish", body=body, headers=JSON)[2])
        for item in status.files:
            data = png if item.name == stranger.name else read_case_file(
                case.folder / item.name)
            connection.request(
                "PUT", f"/uploads/{status.case}/files/{item.name}?offset=0", body=data,
                headers={"Content-Type": "application/octet-stream",
                         CHUNK_HEADER: hashlib.sha256(data).hexdigest()})
        with pytest.raises(LibraryError, match="names no such shared picture") as refused:
            connection.request("POST", f"/uploads/{status.case}/finish")
        assert refused.value.status == 422 and stranger.name in str(refused.value)
        assert parse_case_list(connection.request("GET", "/cases")[2])[1] == 0

        # the case as it is publishes (the upload picks up what it holds)
        result = publish_case(case.folder, connection)
    assert stranger.name not in {f.name for f in result.case.files}


def test_republishing_never_replaces_a_stored_picture(
    library: LibraryThread, certificate: Certificate, originals: dict[str, SharedCase],
    ring: KeyRing, tmp_path: Path,
) -> None:
    case = copy_of(originals["plain"], tmp_path)
    png_name = next(n for n in pictures_of(case) if case.png.share_id in n)
    without = Path(shutil.copytree(case.folder, tmp_path / "without-png"))
    (without / png_name).unlink()  # a copy that lost one picture: the same case
    with library.connect(MENTOR, ca=certificate) as connection:
        first = publish_case(without, connection)
        assert png_name not in {f.name for f in first.case.files}
        # the whole folder later: the same case, which now gets the picture it lacked
        again = publish_case(case.folder, connection)
        assert again.already_stored and again.pictures_added == 1
        assert {f.name for f in again.case.files} == {f.name for f in first.case.files} | {
            png_name}
        assert (library.config.data_dir / "cases" / first.case.id / png_name
                ).read_bytes() == case.png.picture
        third = publish_case(case.folder, connection)
        assert third.already_stored and third.pictures_added == 0 and third.sent == 0
        # a picture that differs from the stored one is never taken
        dicom_name = next(n for n in pictures_of(case) if case.dicom.share_id in n)
        data = bytearray((without / dicom_name).read_bytes())
        data[-20] ^= 0x01
        (without / dicom_name).write_bytes(bytes(data))
        with pytest.raises(LibraryError) as refused:
            publish_case(without, connection)
    assert refused.value.code == "different-case" and dicom_name in str(refused.value)
    stored = library.config.data_dir / "cases" / first.case.id / dicom_name
    assert stored.read_bytes() == case.dicom.picture


def test_only_a_mentor_adds_only_the_picture_the_case_shared(
    library: LibraryThread, certificate: Certificate, originals: dict[str, SharedCase],
    ring: KeyRing, tmp_path: Path,
) -> None:
    case = copy_of(originals["plain"], tmp_path)
    png_name = next(n for n in pictures_of(case) if case.png.share_id in n)
    png = (case.folder / png_name).read_bytes()
    (case.folder / png_name).rename(tmp_path / png_name)
    with library.connect(MENTOR, ca=certificate) as connection:
        stored = publish_case(case.folder, connection).case
    path = f"/cases/{stored.id}/pictures/{png_name}"
    octets = {"Content-Type": "application/octet-stream"}
    with library.connect(STUDENT, ca=certificate) as connection, \
            pytest.raises(LibraryError) as refused:
        connection.request("PUT", path, body=png, headers=octets)
    assert refused.value.status == 403 and refused.value.code == "not-allowed"
    with library.connect(MENTOR, ca=certificate) as connection:
        other = bytearray(png)
        other[-30] ^= 0x01  # not the picture the case's events name
        with pytest.raises(LibraryError) as refused:
            connection.request("PUT", path, body=bytes(other), headers=octets)
        assert refused.value.status == 422 and refused.value.code == "corrupt-file"
        stranger = f"/cases/{stored.id}/pictures/shared-{'c' * 32}.png"
        with pytest.raises(LibraryError) as refused:
            connection.request("PUT", stranger, body=png, headers=octets)
        assert refused.value.status == 422 and refused.value.code == "bad-file"
        for name in ("manifest.json", "endoscope.mkv", "..", "scan.png"):
            with pytest.raises(LibraryError) as refused:
                connection.request("PUT", f"/cases/{stored.id}/pictures/{name}", body=png,
                                   headers=octets)
            assert refused.value.status in (400, 404), name
        listed = {f.name for f in parse_case_summary(
            connection.request("GET", f"/cases/{stored.id}")[2]).files}
        assert png_name not in listed
        assert not (library.config.data_dir / "cases" / stored.id / png_name).exists()
