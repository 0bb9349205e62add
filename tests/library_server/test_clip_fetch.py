"""A student fetches a clip a mentor added to a case, to play it: in range requests with
progress, checked against the library's SHA-256, kept in the cache and played from there
again without the library; the library audits the viewing. A clip damaged on the
library's disk is not kept, one the mentor replaced is fetched as it is now, one that is
gone is a 404, and a fetch cut short resumes from what had arrived."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from surgery_teach.casebook import export_clip, open_recording
from surgery_teach.caselibrary.clips import clip_path, fetch_clip
from surgery_teach.caselibrary.passes import LibraryRole
from surgery_teach.caselibrary.publish import publish_case
from surgery_teach.caselibrary.remote import RemoteLibrary
from surgery_teach.caselibrary.wire import CaseSummary
from surgery_teach.errors import LibraryError
from tests.library_server.helpers import Certificate, LibraryThread, audit_lines, token

MENTOR = token(LibraryRole.MENTOR, ["hospital:zepu"], name="Dr Wang", user="u-wang")
STUDENT = token(LibraryRole.STUDENT, ["hospital:zepu"], name="Aynur", user="u-aynur")


def _with_clip(library: LibraryThread, certificate: Certificate, case: Path,
               tmp_path: Path) -> tuple[CaseSummary, Path]:
    """The case published, with a clip of it a mentor exported and added."""
    with library.connect(MENTOR, ca=certificate) as connection:
        summary = publish_case(case, connection).case
    clip = export_clip(open_recording(case), "Endoscope", 0.5, 2.0, tmp_path / "calot.mp4")
    assert clip is not None
    mentor = RemoteLibrary(library.url, MENTOR, cache=tmp_path / "mentor",
                           ca_file=certificate.cert)
    return mentor.add_clip(summary.id, clip), clip


def test_a_student_fetches_a_clip_once_and_plays_it_again_without_the_library(
    library: LibraryThread, certificate: Certificate, case: Path, tmp_path: Path
) -> None:
    summary, clip = _with_clip(library, certificate, case, tmp_path)
    [listed] = summary.clips
    student = RemoteLibrary(library.url, STUDENT, cache=tmp_path / "student",
                            ca_file=certificate.cert)
    target = clip_path(student.cache, summary.id, "calot.mp4")
    seen: list[tuple[int, int]] = []
    with library.connect(STUDENT, ca=certificate) as connection:
        got = fetch_clip(connection, summary.id, listed, target,
                         progress=lambda done, total: seen.append((done, total)),
                         block_bytes=8192)
    assert got == target and target.read_bytes() == clip.read_bytes()
    assert len(seen) == -(-listed.size // 8192) > 3
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and seen[-1] == (
        listed.size, listed.size)
    assert not list(target.parent.glob(".*"))  # no partial file left
    views = [line for line in audit_lines(library.config.audit_path)
             if line["event"] == "view"]
    assert [(v["outcome"], v["case"], v["user"]) for v in views] == [
        ("clip", summary.id, "u-aynur")]

    kept_at = target.stat().st_mtime_ns
    library.stop()  # the kept copy plays without the library
    assert student.fetch_clip(summary, "calot.mp4") == target
    assert target.stat().st_mtime_ns == kept_at


def test_a_clip_damaged_replaced_or_gone_on_the_library(
    library: LibraryThread, certificate: Certificate, case: Path, tmp_path: Path
) -> None:
    summary, _ = _with_clip(library, certificate, case, tmp_path)
    stored = library.config.data_dir / "cases" / summary.id / "clips" / "calot.mp4"
    good = stored.read_bytes()
    damaged = bytearray(good)
    damaged[len(good) // 2] ^= 0x55  # a sector changed on the library's disk
    stored.write_bytes(bytes(damaged))
    student = RemoteLibrary(library.url, STUDENT, cache=tmp_path / "student",
                            ca_file=certificate.cert)
    target = clip_path(student.cache, summary.id, "calot.mp4")
    with pytest.raises(LibraryError) as corrupt:
        student.fetch_clip(summary, "calot.mp4")
    assert corrupt.value.code == "corrupt-file"
    assert not target.parent.exists() or not any(target.parent.iterdir())  # nothing kept

    stored.write_bytes(good)
    half = target.with_name(".calot.mp4.part")  # an earlier fetch cut short
    half.write_bytes(bytes(damaged[:len(good) // 2 + 1]))  # ... with the damaged byte
    assert student.fetch_clip(summary, "calot.mp4").read_bytes() == good  # from the top
    target.unlink()
    half.write_bytes(good[:len(good) // 2])
    seen: list[int] = []
    assert student.fetch_clip(summary, "calot.mp4",
                              progress=lambda done, _: seen.append(done)).read_bytes() == good
    assert seen == [len(good)]  # resumed: only the rest was asked for (one block)
    assert not half.exists()

    other = export_clip(open_recording(case), "Endoscope", 1.0, 2.5, tmp_path / "o.mp4")
    assert other is not None
    mentor = RemoteLibrary(library.url, MENTOR, cache=tmp_path / "mentor",
                           ca_file=certificate.cert)
    mentor.add_clip(summary.id, other, name="calot.mp4")  # replaced since it was listed
    fresh = RemoteLibrary(library.url, STUDENT, cache=tmp_path / "fresh",
                          ca_file=certificate.cert)
    assert fresh.fetch_clip(summary, "calot.mp4").read_bytes() == other.read_bytes()
    assert hashlib.sha256(good).hexdigest() == summary.clips[0].sha256  # the stale listing

    stored.unlink()  # gone from the library's disk, still listed
    gone = RemoteLibrary(library.url, STUDENT, cache=tmp_path / "gone",
                         ca_file=certificate.cert)
    with pytest.raises(LibraryError) as missing:
        gone.fetch_clip(summary, "calot.mp4")
    assert (missing.value.status, missing.value.code) == (404, "no-such-file")
    with pytest.raises(LibraryError) as unknown:
        gone.fetch_clip(summary, "never-added.mp4")
    assert unknown.value.status == 404
