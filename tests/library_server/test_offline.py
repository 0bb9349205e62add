"""Keeping a library case for offline viewing: the whole case on this computer, encrypted
at rest, checked against the library's checksums, playing with the library stopped; a
dropped link leaves no half case and the next try resumes; a file that arrives corrupt
is refused."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from surgery_teach.casebook import SourcePlayer, open_case
from surgery_teach.casebook.media import stop_streaming
from surgery_teach.casefile.keys import PASSPHRASE_ENV, KeyRing, recording_key, use_key_ring
from surgery_teach.casefile.sealed_folder import SEAL_FILE, is_sealed_file, read_case_file
from surgery_teach.caselibrary.offline import KEPT_FILE
from surgery_teach.caselibrary.passes import LibraryRole
from surgery_teach.caselibrary.publish import publish_case
from surgery_teach.caselibrary.remote import RemoteLibrary
from surgery_teach.caselibrary.wire import CaseSummary
from surgery_teach.errors import LibraryError
from tests.library_server.helpers import Certificate, LibraryThread, token

MENTOR = token(LibraryRole.MENTOR, ["hospital:zepu"])
STUDENT = token(LibraryRole.STUDENT, ["hospital:zepu"], name="Aynur")
MEDIA = ("endoscope.mkv", "room-camera.mkv", "audio.mka")


@pytest.fixture
def ring(monkeypatch: pytest.MonkeyPatch) -> Iterator[KeyRing]:
    """The student's computer: a hospital passphrase, no keyring."""
    monkeypatch.setenv(PASSPHRASE_ENV, "student laptop passphrase")
    ring = KeyRing(use_os_keyring=False)
    previous = use_key_ring(ring)
    try:
        yield ring
    finally:
        use_key_ring(previous)


@pytest.fixture
def published(library: LibraryThread, certificate: Certificate, case: Path) -> CaseSummary:
    with library.connect(MENTOR, ca=certificate) as connection:
        return publish_case(case, connection).case


def _first_frames(folder: Path) -> list[bytes]:
    playable = open_case(folder)
    with SourcePlayer(playable.case, "Endoscope", start=playable.start) as player:
        frames = [player.next() for _ in range(3)]
    return [f.to_rgb().tobytes() for f in frames if f is not None]


def test_a_kept_case_is_encrypted_whole_and_plays_with_the_library_stopped(
    library: LibraryThread, certificate: Certificate, case: Path, published: CaseSummary,
    tmp_path: Path, ring: KeyRing,
) -> None:
    remote = RemoteLibrary(library.url, STUDENT, cache=tmp_path / "cache",
                           ca_file=certificate.cert)
    [found] = remote.entries()
    seen: list[tuple[int, int]] = []
    folder = remote.keep(found.summary, key=recording_key(encrypt=True),
                         progress=lambda done, total: seen.append((done, total)))
    assert seen[-1][0] == seen[-1][1] == sum(f.size for f in found.summary.files)
    for name in (*MEDIA, "manifest.json", "events.jsonl", KEPT_FILE):
        assert is_sealed_file(folder / name), name  # nothing readable at rest
    for name in MEDIA:
        assert read_case_file(folder / name) == (case / name).read_bytes(), name
    assert not list(tmp_path.glob("cache/.keeping-*"))

    library.stop()  # no library: the kept case is listed and plays
    offline = RemoteLibrary(library.url, STUDENT, cache=tmp_path / "cache",
                            ca_file=certificate.cert)
    with pytest.raises(LibraryError):
        offline.entries()
    [kept] = offline.kept()
    assert kept.summary.id == found.summary.id and kept.entry.title == found.entry.title
    assert offline.prepare(kept.summary) == folder
    try:
        assert _first_frames(folder) == _first_frames(case)
    finally:
        stop_streaming(folder)


def test_a_dropped_link_keeps_no_half_case_and_the_next_try_resumes(
    library: LibraryThread, certificate: Certificate, published: CaseSummary,
    tmp_path: Path, ring: KeyRing,
) -> None:
    cache = tmp_path / "cache"
    remote = RemoteLibrary(library.url, STUDENT, cache=cache, ca_file=certificate.cert)
    [found] = remote.entries()
    first = found.summary.files[0]

    def stop_after_the_first_file(done: int, total: int) -> None:
        if done >= first.size:
            library.stop()  # the link is gone mid-keep

    with pytest.raises(LibraryError) as dropped:
        remote.keep(found.summary, key=recording_key(encrypt=True),
                    progress=stop_after_the_first_file)
    assert dropped.value.code == "unreachable"
    assert remote.kept() == [] and not (cache / found.summary.id / KEPT_FILE).exists()
    [building] = cache.glob(".keeping-*")
    assert {p.name for p in building.iterdir() if not p.name.startswith(".")} == {
        first.name, SEAL_FILE}
    assert not list(building.glob(".*.part"))  # a cut file is dropped, not kept half

    before = (building / first.name).stat()
    kept_before = (before.st_ino, before.st_mtime_ns)
    again = LibraryThread(library.config)  # the library is back
    try:
        resumed = RemoteLibrary(again.url, STUDENT, cache=cache, ca_file=certificate.cert)
        folder = resumed.keep(found.summary, key=recording_key(encrypt=True))
        # the file kept before was not fetched again (a new download is a new file)
        after = (folder / first.name).stat()
        assert (after.st_ino, after.st_mtime_ns) == kept_before
        assert [k.summary.id for k in resumed.kept()] == [found.summary.id]
        assert read_case_file(folder / first.name) == read_case_file(
            library.config.data_dir / "cases" / found.summary.id / first.name)
    finally:
        again.stop()


def test_a_file_that_arrives_corrupt_is_not_kept(
    library: LibraryThread, certificate: Certificate, published: CaseSummary,
    tmp_path: Path, ring: KeyRing,
) -> None:
    stored = library.config.data_dir / "cases" / published.id / "room-camera.mkv"
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0xFF  # the server's copy changed on its disk
    stored.write_bytes(bytes(data))
    remote = RemoteLibrary(library.url, STUDENT, cache=tmp_path / "cache",
                           ca_file=certificate.cert)
    [found] = remote.entries()
    with pytest.raises(LibraryError) as corrupt:
        remote.keep(found.summary, key=recording_key(encrypt=True))
    assert corrupt.value.code == "corrupt-file" and "room-camera.mkv" in str(corrupt.value)
    assert remote.kept() == []
    assert hashlib.sha256(data).hexdigest() != next(
        f.sha256 for f in found.summary.files if f.name == "room-camera.mkv")
