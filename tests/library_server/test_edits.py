"""Edits after the case: a mentor changes the chapters of the library's copy, students see
them at once (and find the case by them), the recording as published is never modified,
a student may not edit, malformed chapters are refused, and the edit survives a
republish of the original and a restart of the server."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from library_server.config import LibraryConfig
from surgery_teach.casebook import build_timeline, open_case
from surgery_teach.casebook.chapters import Chapter
from surgery_teach.casebook.media import stop_streaming
from surgery_teach.caselibrary.passes import LibraryRole
from surgery_teach.caselibrary.publish import publish_case
from surgery_teach.caselibrary.remote import RemoteLibrary
from surgery_teach.caselibrary.wire import parse_case_list
from surgery_teach.errors import LibraryError
from tests.library_server.helpers import (
    SECRET,
    Certificate,
    LibraryThread,
    audit_lines,
    token,
)

MENTOR = token(LibraryRole.MENTOR, ["hospital:zepu"], name="Dr Wang", user="u-wang")
STUDENT = token(LibraryRole.STUDENT, ["hospital:zepu"], name="Aynur", user="u-aynur")
RECORDING = ("manifest.json", "events.jsonl", "endoscope.mkv", "room-camera.mkv", "audio.mka")


def _hashes(folder: Path) -> dict[str, str]:
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
            for name in RECORDING}


def test_a_mentors_chapter_edit_reaches_students_and_the_recording_stays(
    library: LibraryThread, certificate: Certificate, case: Path, tmp_path: Path
) -> None:
    with library.connect(MENTOR, ca=certificate) as connection:
        summary = publish_case(case, connection).case
    stored = library.config.data_dir / "cases" / summary.id
    as_published = _hashes(stored)
    mentor = RemoteLibrary(library.url, MENTOR, cache=tmp_path / "mentor",
                           ca_file=certificate.cert)
    student = RemoteLibrary(library.url, STUDENT, cache=tmp_path / "student",
                            ca_file=certificate.cert)
    edited = [Chapter("e1", "Exposure of Calot's triangle", 0.4),
              Chapter("c-1", "Clipping the cystic artery", 1.5),
              Chapter("e2", "Dissection", 2.2)]
    updated = mentor.save_chapters(summary.id, edited)
    assert [t for t, _ in updated.chapters] == [c.title for c in edited]

    [found] = student.entries("cystic artery")  # searchable by the new title at once
    assert found.summary.id == summary.id
    folder = student.prepare(found.summary)
    try:
        timeline = build_timeline(open_case(folder).case)
        assert [(c.title, round(c.time, 3)) for c in timeline.chapters] == [
            (c.title, c.time) for c in edited]
    finally:
        stop_streaming(folder)
    assert _hashes(stored) == as_published  # the recording itself is never modified
    assert not (case / "chapters.json").exists()  # nor the publisher's folder
    edits = [line for line in audit_lines(library.config.audit_path)
             if line["event"] == "edit"]
    assert [(e["case"], e["user"], e["outcome"]) for e in edits] == [
        (summary.id, "u-wang", "chapters")]

    with pytest.raises(LibraryError) as refused:
        student.save_chapters(summary.id, [Chapter("c-9", "Mine", 1.0)])
    assert refused.value.status == 403 and "mentor" in str(refused.value)
    with library.connect(MENTOR, ca=certificate) as connection:
        with pytest.raises(LibraryError) as bad:
            connection.request("PUT", f"/cases/{summary.id}/chapters",
                               body=json.dumps({"version": 1, "chapters": [
                                   {"id": "x", "title": "", "time": -4}]}).encode())
        assert bad.value.status == 400 and bad.value.code == "bad-chapters"
        again = publish_case(case, connection)  # the original, republished: edits stay
        assert again.already_stored
        _, _, body = connection.request("GET", f"/cases/{summary.id}/chapters")
    assert [c["title"] for c in json.loads(body)["chapters"]] == [c.title for c in edited]


def test_chapters_edited_on_the_publishers_computer_reach_the_library_on_republish(
    library: LibraryThread, certificate: Certificate, case: Path, tmp_path: Path
) -> None:
    """Published, then the mentor edits the chapters in the local copy and publishes
    again: the library's copy gets the new chapters (found by them), the recording it
    stores stays as published, and a third publish changes nothing."""
    from surgery_teach.casebook.chapters import save_chapters

    with library.connect(MENTOR, ca=certificate) as connection:
        first = publish_case(case, connection)
    stored = library.config.data_dir / "cases" / first.case.id
    as_published = _hashes(stored)
    edited = [Chapter("c-1", "Hemostasis of the liver bed", 1.2)]
    save_chapters(case, edited)
    with library.connect(MENTOR, ca=certificate) as connection:
        again = publish_case(case, connection)
        assert again.chapters_updated and again.case.id == first.case.id
        assert [t for t, _ in again.case.chapters] == ["Hemostasis of the liver bed"]
        third = publish_case(case, connection)
        assert third.already_stored and not third.chapters_updated and third.sent == 0
    assert _hashes(stored) == as_published
    student = RemoteLibrary(library.url, STUDENT, cache=tmp_path / "student",
                            ca_file=certificate.cert)
    [found] = student.entries("liver bed")
    assert found.summary.id == first.case.id
    edits = [line for line in audit_lines(library.config.audit_path)
             if line["event"] == "edit"]
    assert [(e["case"], e["user"]) for e in edits] == [(first.case.id, "u-wang")]


def test_edited_chapters_survive_a_restart_of_the_server(
    tmp_path: Path, certificate: Certificate, case: Path
) -> None:
    config = LibraryConfig(data_dir=tmp_path / "library", secret=SECRET, port=0,
                           cert_file=certificate.cert, key_file=certificate.key,
                           min_free_bytes=0)
    first = LibraryThread(config)
    try:
        with first.connect(MENTOR, ca=certificate) as connection:
            summary = publish_case(case, connection).case
        RemoteLibrary(first.url, MENTOR, cache=tmp_path / "c1", ca_file=certificate.cert
                      ).save_chapters(summary.id, [Chapter("c-1", "Closure", 3.0)])
    finally:
        first.stop()
    (config.data_dir / "index.sqlite3").unlink()  # the index is rebuilt from the folders
    second = LibraryThread(config)
    try:
        with second.connect(STUDENT, ca=certificate) as connection:
            cases, _ = parse_case_list(connection.request("GET", "/cases?chapter=closure")[2])
        assert [c.id for c in cases] == [summary.id]
    finally:
        second.stop()
