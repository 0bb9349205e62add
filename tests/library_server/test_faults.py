"""Bad input and faults: corrupt uploads, a full disk, a server killed mid-publish."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from library_server.config import LibraryConfig
from library_server.store import CaseStore
from surgery_teach.caselibrary.connection import LibraryConnection
from surgery_teach.caselibrary.passes import LibraryRole
from surgery_teach.caselibrary.publish import Phase, PublishProgress, case_files, publish_case
from surgery_teach.caselibrary.wire import (
    FileEntry,
    PublishRequest,
    parse_case_list,
    parse_upload_status,
    publish_request_to_json,
)
from surgery_teach.errors import LibraryError
from tests.library_server.helpers import (
    SECRET,
    Certificate,
    LibraryProcess,
    LibraryThread,
    case_variant,
    token,
)
from tests.timing import seconds

MENTOR = token(LibraryRole.MENTOR, ["hospital:zepu"])
JSON = {"Content-Type": "application/json"}


def _begin(connection: LibraryConnection, folder: Path,
           declared: dict[str, str] | None = None) -> str:
    """Start a publish by hand (``declared`` overrides some files' SHA-256); the case id."""
    text, paths = case_files(folder)
    files = tuple(FileEntry(p.name, p.stat().st_size, (declared or {}).get(
        p.name, hashlib.sha256(p.read_bytes()).hexdigest())) for p in paths)
    body = publish_request_to_json(PublishRequest(manifest=text, files=files))
    status = parse_upload_status(connection.request("POST", "/publish", body=body,
                                                    headers=JSON)[2])
    return status.case


def _put(connection: LibraryConnection, case: str, path: Path, data: bytes, offset: int = 0,
         digest: str | None = None) -> None:
    connection.request(
        "PUT", f"/uploads/{case}/files/{path.name}?offset={offset}", body=data,
        headers={"X-Chunk-SHA256": digest or hashlib.sha256(data).hexdigest()})


def _listed(connection: LibraryConnection) -> list[str]:
    return [c.id for c in parse_case_list(connection.request("GET", "/cases")[2])[0]]


def test_a_chunk_damaged_on_the_way_is_refused_and_not_kept(
    library: LibraryThread, certificate: Certificate, case: Path
) -> None:
    media = case / "endoscope.mkv"
    data = media.read_bytes()[:100_000]
    with library.connect(MENTOR, ca=certificate) as connection:
        case_id = _begin(connection, case)
        damaged = bytes([data[0] ^ 0xFF]) + data[1:]
        with pytest.raises(LibraryError, match="arrived corrupt") as refused:
            _put(connection, case_id, media, damaged, digest=hashlib.sha256(data).hexdigest())
        status = parse_upload_status(connection.request("GET", f"/uploads/{case_id}")[2])
    assert refused.value.status == 422 and refused.value.code == "corrupt-chunk"
    assert {f.name: f.received for f in status.files}["endoscope.mkv"] == 0


def test_a_file_that_does_not_match_its_checksum_is_refused_naming_it(
    library: LibraryThread, certificate: Certificate, case: Path
) -> None:
    wrong = hashlib.sha256(b"not the recording").hexdigest()
    with library.connect(MENTOR, ca=certificate) as connection:
        case_id = _begin(connection, case, declared={"room-camera.mkv": wrong})
        for path in case_files(case)[1]:
            _put(connection, case_id, path, path.read_bytes())
        with pytest.raises(LibraryError, match=r"room-camera\.mkv arrived corrupt") as refused:
            connection.request("POST", f"/uploads/{case_id}/finish")
        assert refused.value.status == 422 and refused.value.code == "corrupt-file"
        assert _listed(connection) == []
        status = parse_upload_status(connection.request("GET", f"/uploads/{case_id}")[2])
        # The bad file was dropped so that publishing again sends it anew; the rest stays.
        received = {f.name: f.received for f in status.files}
        assert received["room-camera.mkv"] == 0 and received["endoscope.mkv"] > 0
        result = publish_case(case, connection)
        assert _listed(connection) == [result.case.id] == [case_id]


def test_bad_publish_requests_say_what_is_wrong(
    library: LibraryThread, certificate: Certificate, case: Path
) -> None:
    with library.connect(MENTOR, ca=certificate) as connection:
        for body, reason in [
            (b"{", "not JSON"),
            (b'{"version": 1, "manifest": "{}", "files": []}', "manifest.json is not valid"),
            (b'{"version": 2}', "must be 1"),
            (publish_request_to_json(PublishRequest(
                manifest=(case / "manifest.json").read_text(), files=(
                    FileEntry("../../etc/passwd", 1, "0" * 64),))), "is not part of a case"),
        ]:
            with pytest.raises(LibraryError, match=reason) as refused:
                connection.request("POST", "/publish", body=body, headers=JSON)
            assert refused.value.status == 400


def test_a_full_disk_refuses_new_publishes_and_keeps_stored_cases(
    tmp_path: Path, certificate: Certificate, case: Path
) -> None:
    data = tmp_path / "library"
    first = LibraryThread(LibraryConfig(data_dir=data, secret=SECRET, port=0, min_free_bytes=0,
                                        cert_file=certificate.cert, key_file=certificate.key))
    with first.connect(MENTOR, ca=certificate) as connection:
        stored = publish_case(case, connection).case
    first.stop()
    free = shutil.disk_usage(data).free
    full = LibraryThread(LibraryConfig(
        data_dir=data, secret=SECRET, port=0, min_free_bytes=free + (1 << 40),
        cert_file=certificate.cert, key_file=certificate.key))
    try:
        other = case_variant(case, tmp_path, title="Appendectomy")
        with full.connect(MENTOR, ca=certificate) as connection:
            with pytest.raises(LibraryError, match="disk is full") as refused:
                publish_case(other, connection)
            assert refused.value.status == 507 and "Every stored case is kept" in str(
                refused.value)
            assert _listed(connection) == [stored.id]
            _, _, media = connection.request("GET", f"/cases/{stored.id}/files/endoscope.mkv")
        assert media == (case / "endoscope.mkv").read_bytes()
    finally:
        full.stop()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 6 MB tmpfs (root only: CI and this machine run the tests as root)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path, leave: int) -> Path:
    filler = disk / "filler"
    with open(filler, "wb") as file:
        file.write(b"\0" * max(0, shutil.disk_usage(disk).free - leave))
    return filler


def test_a_disk_that_really_fills_mid_publish_keeps_every_stored_case(
    small_disk: Path, tmp_path: Path, certificate: Certificate, case: Path
) -> None:
    library = LibraryThread(LibraryConfig(
        data_dir=small_disk / "library", secret=SECRET, port=0, min_free_bytes=0,
        cert_file=certificate.cert, key_file=certificate.key))
    try:
        with library.connect(MENTOR, ca=certificate) as connection:
            stored = publish_case(case, connection).case
            other = case_variant(case, tmp_path, title="Appendectomy")
            case_id = _begin(connection, other)
            filler = _fill(small_disk, leave=200_000)
            with pytest.raises(LibraryError, match="disk is full") as refused:
                publish_case(other, connection, chunk_bytes=64 * 1024)
            assert refused.value.status == 507 and _listed(connection) == [stored.id]
            held = parse_upload_status(connection.request("GET", f"/uploads/{case_id}")[2])
            assert 0 < held.missing
            filler.unlink()  # the administrator adds space: the publish resumes
            result = publish_case(other, connection, chunk_bytes=64 * 1024)
            assert 0 < result.sent <= held.missing
            assert sorted(_listed(connection)) == sorted([stored.id, result.case.id])
            _, _, media = connection.request("GET", f"/cases/{stored.id}/files/endoscope.mkv")
        assert media == (case / "endoscope.mkv").read_bytes()
    finally:
        library.stop()


def test_a_write_that_hits_a_full_disk_is_cut_back(small_disk: Path) -> None:
    """The store's own answer to ENOSPC: 507, and the chunk's bytes removed again."""
    store = CaseStore(small_disk / "library", min_free_bytes=0)
    upload = store.uploads_dir / ("a" * 32)
    upload.mkdir()
    path = upload / "endoscope.mkv"
    path.write_bytes(b"x" * 1000)
    _fill(small_disk, leave=0)
    with open(path, "ab") as file:
        with pytest.raises(LibraryError, match="disk is full") as refused:
            for _ in range(64):
                store.write("a" * 32, "endoscope.mkv", file, b"y" * 65536)
                file.flush()
        store.cut_back("a" * 32, "endoscope.mkv", file, 1000)
    assert refused.value.status == 507 and path.read_bytes() == b"x" * 1000


@pytest.mark.slow
def test_a_server_killed_mid_publish_lists_no_half_case_and_the_publish_resumes(
    tmp_path: Path, certificate: Certificate, case: Path
) -> None:
    data = tmp_path / "library"
    secret_file = tmp_path / "secret"
    secret_file.write_bytes(SECRET)
    server = LibraryProcess(data, secret_file, certificate)
    chunks = 0

    def kill_after_five_chunks(progress: PublishProgress) -> None:
        nonlocal chunks
        if progress.phase is Phase.SENDING:
            chunks += 1
            if chunks == 6:
                server.kill()

    with LibraryConnection(server.url, MENTOR, tls=certificate.client_context(),
                           timeout=seconds(30)) as connection, \
            pytest.raises(LibraryError, match="cannot reach"):
        publish_case(case, connection, chunk_bytes=64 * 1024, give_up_after=0,
                     progress=kill_after_five_chunks, sleep=lambda s: None)
    assert server.process.returncode == -9

    restarted = LibraryProcess(data, secret_file, certificate)
    try:
        with LibraryConnection(restarted.url, MENTOR, tls=certificate.client_context(),
                               timeout=seconds(30)) as connection:
            assert _listed(connection) == []
            result = publish_case(case, connection, chunk_bytes=64 * 1024)
            size = sum(f.size for f in result.case.files)
            # The five chunks that arrived before the kill (the event log, four of the video's)
            # were kept and not sent again.
            assert size - result.sent >= 4 * 64 * 1024
            assert _listed(connection) == [result.case.id]
    finally:
        assert restarted.stop() == 0


def test_a_restarted_server_brings_its_index_in_line_with_the_stored_cases(
    tmp_path: Path, certificate: Certificate, case: Path
) -> None:
    """A kill between a case's move into place and its index row leaves an unindexed
    folder (indexed at the next start); a folder removed by hand loses its row."""
    data = tmp_path / "library"
    config = LibraryConfig(data_dir=data, secret=SECRET, port=0, min_free_bytes=0,
                           cert_file=certificate.cert, key_file=certificate.key)
    library = LibraryThread(config)
    with library.connect(MENTOR, ca=certificate) as connection:
        kept = publish_case(case, connection).case
        gone = publish_case(case_variant(case, tmp_path, title="Appendectomy"), connection).case
    library.stop()
    for suffix in ("", "-wal", "-shm"):
        (data / f"index.sqlite3{suffix}").unlink(missing_ok=True)
    shutil.rmtree(data / "cases" / gone.id)
    library = LibraryThread(config)
    try:
        with library.connect(MENTOR, ca=certificate) as connection:
            assert _listed(connection) == [kept.id]
    finally:
        library.stop()
