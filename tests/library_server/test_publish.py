"""Publishing a really recorded case to a real library over TLS, and reading it back."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from surgery_teach.casefile.manifest import read_manifest
from surgery_teach.caselibrary.passes import LibraryRole
from surgery_teach.caselibrary.publish import Phase, PublishProgress, publish_case
from surgery_teach.caselibrary.wire import parse_case_list, parse_upload_status
from surgery_teach.errors import LibraryError
from tests.library_server.helpers import (
    Certificate,
    CuttingRelay,
    LibraryThread,
    audit_lines,
    token,
)
from tests.recording.cases import HOSPITAL, TITLE

CHUNK = 64 * 1024
MENTOR = token(LibraryRole.MENTOR, ["hospital:zepu"], name="Dr Wang", user="u-wang")


def test_a_published_case_is_listed_with_what_the_recording_holds(
    library: LibraryThread, certificate: Certificate, case: Path
) -> None:
    seen: list[PublishProgress] = []
    with library.connect(MENTOR, ca=certificate) as connection:
        result = publish_case(case, connection, progress=seen.append)
        cases, total = parse_case_list(connection.request("GET", "/cases")[2])

    assert not result.already_stored and result.sent == sum(
        p.stat().st_size for p in case.iterdir()
        if p.name not in ("manifest.json", "library.json") and not p.name.startswith("."))
    assert total == 1 and cases[0].id == result.case.id
    listed = cases[0]
    assert listed.title == TITLE and listed.hospital == HOSPITAL
    assert [title for title, _ in listed.chapters] == ["Exposure", "Dissection"]
    assert {p.role.value for p in listed.participants} == {"surgeon", "trainee"}
    assert listed.sources == ("Endoscope", "Room camera") and listed.audio
    assert listed.collections == ("hospital:zepu",) and listed.publisher == "Dr Wang"
    recorded = read_manifest(case).duration
    assert listed.thumbnail and recorded and listed.duration == pytest.approx(recorded, abs=0.01)
    assert next(p.phase for p in seen) is Phase.CHECKING and seen[-1].phase is Phase.DONE
    assert seen[-1].done == seen[-1].total


def test_the_stored_files_are_the_recorded_ones(
    library: LibraryThread, certificate: Certificate, case: Path
) -> None:
    with library.connect(MENTOR, ca=certificate) as connection:
        summary = publish_case(case, connection).case
        for name in ("manifest.json", "events.jsonl", "endoscope.mkv", "audio.mka"):
            _, _, body = connection.request("GET", f"/cases/{summary.id}/files/{name}")
            assert hashlib.sha256(body).digest() == hashlib.sha256(
                (case / name).read_bytes()).digest(), name
        _, headers, thumbnail = connection.request(
            "GET", f"/cases/{summary.id}/files/thumbnail.jpg")
        assert headers["Content-Type"] == "image/jpeg" and thumbnail[:3] == b"\xff\xd8\xff"
        _, _, chapters = connection.request("GET", f"/cases/{summary.id}/chapters")
    assert [c["title"] for c in json.loads(chapters)["chapters"]] == ["Exposure", "Dissection"]
    assert read_manifest(case).title == TITLE  # the published folder itself is unchanged


def test_publishing_twice_stores_once(
    library: LibraryThread, certificate: Certificate, case: Path
) -> None:
    with library.connect(MENTOR, ca=certificate) as connection:
        first = publish_case(case, connection)
        again = publish_case(case, connection)
        _, total = parse_case_list(connection.request("GET", "/cases")[2])
    assert again.already_stored and again.sent == 0 and again.case.id == first.case.id
    assert total == 1
    stored = [p for p in (library.config.data_dir / "cases").iterdir()]
    assert len(stored) == 1
    publishes = [line for line in audit_lines(library.config.audit_path)
                 if line["event"] == "publish"]
    assert [line["outcome"] for line in publishes] == ["stored", "already-stored"]
    assert publishes[0]["user"] == "u-wang" and publishes[0]["case"] == first.case.id


def test_a_publish_cut_mid_file_resumes_where_the_library_stopped(
    library: LibraryThread, certificate: Certificate, case: Path
) -> None:
    relay = CuttingRelay(("127.0.0.1", library.running.port), cut_after=300_000, cuts=2)
    waits: list[PublishProgress] = []
    try:
        with library.connect(MENTOR, ca=certificate,
                             url=f"https://127.0.0.1:{relay.port}") as connection:
            result = publish_case(case, connection, chunk_bytes=CHUNK,
                                  progress=lambda p: waits.append(p)
                                  if p.phase is Phase.WAITING else None,
                                  sleep=lambda s: None)
    finally:
        relay.close()
    size = sum(f.size for f in result.case.files)
    assert relay.cut == 2 and result.resumed == 2 and len(waits) == 2
    # Only the chunks in flight when the link dropped were sent again (what the library
    # had kept of them was not), never the file from its start (300 kB before each cut).
    assert size - 2 * CHUNK <= result.sent <= size + 2 * CHUNK
    with library.connect(MENTOR, ca=certificate) as connection:
        _, _, media = connection.request("GET", f"/cases/{result.case.id}/files/endoscope.mkv")
    assert media == (case / "endoscope.mkv").read_bytes()


def test_a_publish_that_gave_up_resumes_in_the_next_run(
    library: LibraryThread, certificate: Certificate, case: Path
) -> None:
    relay = CuttingRelay(("127.0.0.1", library.running.port), cut_after=400_000,
                         then_down=True)
    relay_url = f"https://127.0.0.1:{relay.port}"
    try:
        with library.connect(MENTOR, ca=certificate, url=relay_url) as connection, \
                pytest.raises(LibraryError, match="cannot reach the library") as refused:
            publish_case(case, connection, chunk_bytes=128 * 1024, give_up_after=0,
                         sleep=lambda s: None)
    finally:
        relay.close()
    assert "publish again later, it resumes" in str(refused.value)
    with library.connect(MENTOR, ca=certificate) as connection:
        result = publish_case(case, connection, chunk_bytes=128 * 1024)
        status = parse_upload_status(
            connection.request("GET", f"/uploads/{result.case.id}")[2])
    size = sum(f.size for f in result.case.files)
    assert 0 < result.sent < size  # the first run's bytes were kept
    assert status.state.value == "stored" and status.missing == 0
