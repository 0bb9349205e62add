"""Publishing a case recorded encrypted (the default): the publisher decrypts it as it is
sent over TLS, the library keeps a case it can stream, a student finds it, streams a
range and plays its first frame; without the right passphrase nothing is sent and the
error says what to do, in the API and on the command line."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from surgery_teach.casebook import SourcePlayer, open_case
from surgery_teach.casebook.library import ensure_thumbnail
from surgery_teach.casebook.media import stop_streaming
from surgery_teach.casefile.keys import PASSPHRASE_ENV, KeyRing, recording_key, use_key_ring
from surgery_teach.casefile.layout import new_case_folder
from surgery_teach.casefile.sealed_folder import is_sealed_file, read_case_file
from surgery_teach.caselibrary.media import RemoteMediaFile
from surgery_teach.caselibrary.passes import LibraryRole
from surgery_teach.caselibrary.publish import publish_case
from surgery_teach.caselibrary.remote import RemoteLibrary
from surgery_teach.errors import CaseLockedError, WrongPassphraseError
from tests.library_server.helpers import REPO, Certificate, LibraryThread, token
from tests.recording.cases import TITLE, _record
from tests.timing import seconds

PASSPHRASE = "theatre three, blue door"
MENTOR = token(LibraryRole.MENTOR, ["hospital:zepu"], name="Dr Wang", user="u-wang")
CASE_FILES = ("manifest.json", "events.jsonl", "endoscope.mkv", "room-camera.mkv",
              "audio.mka", "thumbnail.jpg")
STUDENT = token(LibraryRole.STUDENT, ["hospital:zepu"], name="Aynur", user="u-aynur")


@pytest.fixture(scope="module")
def sealed_original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One case really recorded encrypted with a hospital passphrase (and its thumbnail,
    sealed too), recorded once for this module."""
    ring = KeyRing(use_os_keyring=False)
    previous = use_key_ring(ring)
    try:
        key = recording_key(encrypt=True, passphrase=PASSPHRASE)
        folder = new_case_folder(tmp_path_factory.mktemp("sealed"), TITLE, key=key)
        asyncio.run(_record(folder, audio=True))
        assert ensure_thumbnail(folder) is not None
    finally:
        use_key_ring(previous)
    return folder


@pytest.fixture
def ring(monkeypatch: pytest.MonkeyPatch) -> Iterator[KeyRing]:
    """This computer has not unlocked the case: no key, no passphrase in the environment."""
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)
    ring = KeyRing(use_os_keyring=False)
    previous = use_key_ring(ring)
    try:
        yield ring
    finally:
        use_key_ring(previous)


@pytest.fixture
def sealed_case(tmp_path: Path, sealed_original: Path) -> Path:
    return Path(shutil.copytree(sealed_original, tmp_path / "case"))


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def test_an_encrypted_case_is_published_and_a_student_streams_and_plays_it(
    library: LibraryThread, certificate: Certificate, sealed_case: Path, ring: KeyRing,
    tmp_path: Path,
) -> None:
    on_disk = _hashes(sealed_case)
    for name in CASE_FILES:
        assert is_sealed_file(sealed_case / name), name
    with library.connect(MENTOR, ca=certificate) as connection:
        result = publish_case(sealed_case, connection, passphrase=PASSPHRASE)
    assert _hashes(sealed_case) == on_disk  # the encrypted original is untouched
    assert result.case.title == TITLE and not result.already_stored
    plain = {name: read_case_file(sealed_case / name) for name in CASE_FILES}
    assert result.sent == sum(len(v) for k, v in plain.items() if k != "manifest.json")
    stored = library.config.data_dir / "cases" / result.case.id
    assert not (stored / "sealed.json").exists()
    for name, data in plain.items():  # the library holds what the recording holds
        assert (stored / name).read_bytes() == data, name

    remote = RemoteLibrary(library.url, STUDENT, cache=tmp_path / "cache",
                           ca_file=certificate.cert)
    [found] = remote.entries("dissection")  # found by a chapter title
    assert found.entry.title == TITLE and found.entry.thumbnail is not None
    assert found.entry.thumbnail.read_bytes()[:3] == b"\xff\xd8\xff"
    with library.connect(STUDENT, ca=certificate) as connection:
        media = RemoteMediaFile(connection, found.summary.id, "endoscope.mkv")
        assert media.size == len(plain["endoscope.mkv"])
        media.seek(100_000)
        assert media.read(5000) == plain["endoscope.mkv"][100_000:105_000]

    started = time.monotonic()
    folder = remote.prepare(found.summary)
    try:
        assert not (folder / "endoscope.mkv").exists()  # streamed, not copied
        streamed = open_case(folder)
        with SourcePlayer(streamed.case, "Endoscope", start=streamed.start) as player:
            first = player.next()
            assert first is not None
            first_after = time.monotonic() - started
            picture = first.to_rgb()
        ring.add_passphrase(PASSPHRASE)  # the mentor's own computer plays the original
        local = open_case(sealed_case)
        with SourcePlayer(local.case, "Endoscope", start=local.start) as player:
            original = player.next()
            assert original is not None
        assert first.time == pytest.approx(original.time, abs=1e-3)
        assert (picture == original.to_rgb()).all()
        assert streamed.duration == local.duration
    finally:
        stop_streaming(folder)
    print(f"first frame of the streamed encrypted case after {first_after * 1000:.0f} ms")
    assert first_after < seconds(2)


def test_a_locked_case_is_refused_before_anything_is_sent(
    library: LibraryThread, certificate: Certificate, sealed_case: Path, ring: KeyRing,
) -> None:
    on_disk = _hashes(sealed_case)
    with library.connect(MENTOR, ca=certificate) as connection:
        with pytest.raises(CaseLockedError) as locked:
            publish_case(sealed_case, connection)
        assert locked.value.passphrase and "hospital passphrase" in str(locked.value)
        with pytest.raises(WrongPassphraseError) as wrong:
            publish_case(sealed_case, connection, passphrase="theatre three, red door")
        assert "does not open" in str(wrong.value)
    data = library.config.data_dir
    assert list((data / "uploads").iterdir()) == [] and list((data / "cases").iterdir()) == []
    assert _hashes(sealed_case) == on_disk


def test_a_case_damaged_on_disk_is_refused_naming_the_file_and_the_fix(
    library: LibraryThread, certificate: Certificate, sealed_case: Path, ring: KeyRing,
) -> None:
    """A chunk of the encrypted endoscope video changed on disk reads as zeros (the player
    skips it); publishing must not send those zeros as the recording."""
    from surgery_teach.casefile.sealing import HEADER_SIZE
    from surgery_teach.errors import LibraryError

    video = sealed_case / "endoscope.mkv"
    with open(video, "r+b") as file:
        file.seek(HEADER_SIZE + 5000)
        byte = file.read(1)
        file.seek(HEADER_SIZE + 5000)
        file.write(bytes([byte[0] ^ 0xFF]))
    with library.connect(MENTOR, ca=certificate) as connection:
        with pytest.raises(LibraryError) as refused:
            publish_case(sealed_case, connection, passphrase=PASSPHRASE)
    assert refused.value.code == "damaged-file"
    assert "endoscope.mkv" in str(refused.value) and "backup" in str(refused.value)
    data = library.config.data_dir
    assert list((data / "uploads").iterdir()) == [] and list((data / "cases").iterdir()) == []


def _publish_command(case: Path, library: LibraryThread, certificate: Certificate,
                     *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != PASSPHRASE_ENV}
    return subprocess.run(
        [sys.executable, "-m", "surgery_teach", "publish-case", str(case), "--library",
         library.url, "--token", MENTOR, "--ca-file", str(certificate.cert), "--quiet",
         *extra], cwd=REPO, capture_output=True, text=True, timeout=seconds(120), env=env)


@pytest.mark.slow
def test_the_command_line_publishes_an_encrypted_case_with_its_passphrase(
    library: LibraryThread, certificate: Certificate, sealed_case: Path, tmp_path: Path,
) -> None:
    missing = _publish_command(sealed_case, library, certificate)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert missing.stderr.startswith("error: ") and missing.stderr.count("\n") == 1
    assert "--case-passphrase-file" in missing.stderr and "encrypted" in missing.stderr
    wrong_file = tmp_path / "wrong"
    wrong_file.write_text("theatre three, red door\n")
    wrong = _publish_command(sealed_case, library, certificate,
                             "--case-passphrase-file", str(wrong_file))
    assert wrong.returncode == 2 and "does not open" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    right_file = tmp_path / "right"
    right_file.write_text(PASSPHRASE + "\n")
    right = _publish_command(sealed_case, library, certificate,
                             "--case-passphrase-file", str(right_file))
    assert right.returncode == 0, right.stderr
    assert right.stdout.startswith(f'published "{TITLE}" as case ')
    assert len(list((library.config.data_dir / "cases").iterdir())) == 1
