"""Clips after the case: a mentor exports a clip from the library's copy (streamed) and adds
it to the case; students see it in the case and play it from the library; the recording
is never touched; a student may not add one, a damaged or misnamed one is refused and
nothing is kept; the clip is still listed after the index is rebuilt."""

from __future__ import annotations

import hashlib
from pathlib import Path

import av
import pytest

from library_server.config import LibraryConfig
from surgery_teach.casebook import open_case
from surgery_teach.casebook.export import export_clip
from surgery_teach.casebook.media import stop_streaming
from surgery_teach.caselibrary.passes import LibraryRole
from surgery_teach.caselibrary.publish import publish_case
from surgery_teach.caselibrary.remote import RemoteLibrary
from surgery_teach.errors import LibraryError
from tests.library_server.helpers import SECRET, Certificate, LibraryThread, token

MENTOR = token(LibraryRole.MENTOR, ["hospital:zepu"], name="Dr Wang", user="u-wang")
STUDENT = token(LibraryRole.STUDENT, ["hospital:zepu"], name="Aynur", user="u-aynur")
RECORDING = ("manifest.json", "events.jsonl", "endoscope.mkv", "room-camera.mkv", "audio.mka")


def _hashes(folder: Path) -> dict[str, str]:
    return {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in RECORDING}


def test_a_mentors_clip_from_the_librarys_copy_reaches_students(
    tmp_path: Path, certificate: Certificate, case: Path
) -> None:
    config = LibraryConfig(data_dir=tmp_path / "library", secret=SECRET, port=0,
                           cert_file=certificate.cert, key_file=certificate.key,
                           min_free_bytes=0)
    server = LibraryThread(config)
    try:
        with server.connect(MENTOR, ca=certificate) as connection:
            summary = publish_case(case, connection).case
        stored = config.data_dir / "cases" / summary.id
        as_published = _hashes(stored)
        mentor = RemoteLibrary(server.url, MENTOR, cache=tmp_path / "mentor",
                               ca_file=certificate.cert)
        folder = mentor.prepare(summary)  # the server's copy, streamed
        try:
            clip = export_clip(open_case(folder).case, "Endoscope", 0.5, 2.0,
                               tmp_path / "calot.mp4")
        finally:
            stop_streaming(folder)
        updated = mentor.add_clip(summary.id, clip)
        assert [c.name for c in updated.clips] == ["calot.mp4"]
        assert _hashes(stored) == as_published  # the recording is never touched

        student = RemoteLibrary(server.url, STUDENT, cache=tmp_path / "student",
                                ca_file=certificate.cert)
        [found] = student.entries()
        [listed] = found.summary.clips
        assert (listed.size, listed.sha256) == (
            clip.stat().st_size, hashlib.sha256(clip.read_bytes()).hexdigest())
        with av.open(student.open_clip(summary.id, "calot.mp4")) as played:  # type: ignore[arg-type]
            frames = sum(1 for _ in played.decode(video=0))
        with av.open(str(clip)) as original:
            assert frames == sum(1 for _ in original.decode(video=0)) > 30

        with pytest.raises(LibraryError) as refused:
            student.add_clip(summary.id, clip, name="mine.mp4")
        assert refused.value.status == 403
        with server.connect(MENTOR, ca=certificate) as connection:
            with pytest.raises(LibraryError) as corrupt:
                connection.request("PUT", f"/cases/{summary.id}/clips/bad.mp4",
                                   body=clip.read_bytes(), headers={"X-Chunk-SHA256": "0" * 64})
            assert corrupt.value.code == "corrupt-file"
            with pytest.raises(LibraryError) as misnamed:
                connection.request("PUT", f"/cases/{summary.id}/clips/..%2Fx.mp4",
                                   body=b"x", headers={"X-Chunk-SHA256": "0" * 64})
            assert misnamed.value.status in (400, 404)
        assert sorted(p.name for p in (stored / "clips").iterdir()) == ["calot.mp4"]
    finally:
        server.stop()

    (config.data_dir / "index.sqlite3").unlink()  # rebuilt from the folders on start
    again = LibraryThread(config)
    try:
        student = RemoteLibrary(again.url, STUDENT, cache=tmp_path / "student2",
                                ca_file=certificate.cert)
        [found] = student.entries()
        assert [c.name for c in found.summary.clips] == ["calot.mp4"]
    finally:
        again.stop()
