"""Sealed (encrypted) case files: what is on disk, what reads back, and what a crash, a
changed byte, a cut file or a wrong key does."""

from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path

import pytest

from surgery_teach.casefile.keys import (
    CaseKey,
    KdfParams,
    KeyRing,
    passphrase_key,
    random_key,
)
from surgery_teach.casefile.sealed_folder import (
    create_case_file,
    folder_key,
    read_case_file,
    seal_folder,
    write_case_file,
)
from surgery_teach.casefile.sealing import (
    GEN_SIZE,
    HEADER_SIZE,
    OVERHEAD,
    PlainSink,
    SealedFile,
    SealedReader,
)
from surgery_teach.errors import CaseLockedError, RecordingError, WrongPassphraseError

CHUNK_SHIFT = 12  # 4 KiB chunks, so a few kB cross several chunks
CHUNK = 1 << CHUNK_SHIFT
CHEAP = 10  # scrypt 2**10 in tests: the format does not depend on the cost



def sealed_writer(path: Path, key: CaseKey) -> SealedFile:
    return SealedFile(PlainSink(path), key, chunk_shift=CHUNK_SHIFT, name=path.name)


def data(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


def slot_generations(path: Path) -> list[int]:
    raw = path.read_bytes()[HEADER_SIZE:]
    step = CHUNK + OVERHEAD
    return [int.from_bytes(raw[i : i + GEN_SIZE], "big") for i in range(0, len(raw), step)]


def test_what_is_written_reads_back_and_nothing_readable_is_on_disk(
        tmp_path: Path, ring: KeyRing) -> None:
    key = ring.add(random_key())
    path = tmp_path / "clip.mkv"
    plain = b"ftypisom moof manifest Dr Ana Lima " * 400 + data(3 * CHUNK + 17)
    with sealed_writer(path, key) as file:
        for at in range(0, len(plain), 1000):  # many small writes, as a muxer makes
            file.write(plain[at : at + 1000])
    on_disk = path.read_bytes()
    assert b"ftyp" not in on_disk and b"moof" not in on_disk and b"Ana Lima" not in on_disk
    assert len(on_disk) == HEADER_SIZE + len(plain) + OVERHEAD * -(-len(plain) // CHUNK)
    with SealedReader(path) as reader:
        assert reader.read() == plain
        reader.seek(CHUNK * 2 - 5)
        assert reader.read(10) == plain[CHUNK * 2 - 5 : CHUNK * 2 + 5]
        assert reader.verify().damaged == [] and reader.check.complete is True


def test_a_write_into_an_earlier_chunk_is_sealed_anew_with_a_fresh_nonce(
        tmp_path: Path, ring: KeyRing) -> None:
    """The muxer rewrites its header at the end: that chunk gets a new generation."""
    key = ring.add(random_key())
    path = tmp_path / "clip.mkv"
    plain = bytearray(data(3 * CHUNK))
    with sealed_writer(path, key) as file:
        file.write(plain)
        first = slot_generations(path)
        file.seek(40)
        file.write(b"SEEKHEAD")
        file.seek(0, os.SEEK_END)
        file.write(b"tail")
    plain[40:48] = b"SEEKHEAD"
    plain += b"tail"
    assert read_case_file(path) == bytes(plain)
    after = slot_generations(path)
    assert after[0] == first[0] + 1  # never the same (key, nonce) for other plaintext
    with pytest.raises(OSError):
        SealedFile(PlainSink(tmp_path / "x"), key).seek(10)  # no gaps past the end


def test_an_unclosed_file_reads_up_to_its_last_write_and_says_it_was_cut(
        tmp_path: Path, ring: KeyRing) -> None:
    """What a kill -9 leaves: every write() is on disk, without the final chunk."""
    key = ring.add(random_key())
    path = tmp_path / "clip.mkv"
    writer = sealed_writer(path, key)
    writer.write(data(CHUNK + 100))
    writer.write(b"last words")
    with SealedReader(path) as reader:  # the writer is still open: as after a kill
        assert reader.read().endswith(b"last words")
        assert reader.verify().complete is False and reader.check.damaged == []
    writer.close()
    with SealedReader(path) as reader:
        assert reader.verify().complete is True


def test_a_changed_byte_is_reported_and_the_rest_still_reads(
        tmp_path: Path, ring: KeyRing) -> None:
    key = ring.add(random_key())
    path = tmp_path / "clip.mkv"
    plain = data(5 * CHUNK)
    with sealed_writer(path, key) as file:
        file.write(plain)
    raw = bytearray(path.read_bytes())
    raw[HEADER_SIZE + 2 * (CHUNK + OVERHEAD) + 100] ^= 0x01  # inside chunk 2
    path.write_bytes(raw)
    with SealedReader(path) as reader:
        back = reader.read()
        check = reader.verify()
    assert check.damaged == [2]
    assert back[: 2 * CHUNK] == plain[: 2 * CHUNK] and back[3 * CHUNK :] == plain[3 * CHUNK :]
    assert back[2 * CHUNK : 3 * CHUNK] == bytes(CHUNK)  # skipped, never garbage


def test_chunks_cannot_be_swapped_or_cut_off_unnoticed(tmp_path: Path, ring: KeyRing) -> None:
    key = ring.add(random_key())
    path = tmp_path / "clip.mkv"
    with sealed_writer(path, key) as file:
        file.write(data(3 * CHUNK + 10))
    raw = path.read_bytes()
    slot = CHUNK + OVERHEAD
    swapped = raw[:HEADER_SIZE] + raw[HEADER_SIZE + slot : HEADER_SIZE + 2 * slot] \
        + raw[HEADER_SIZE : HEADER_SIZE + slot] + raw[HEADER_SIZE + 2 * slot :]
    path.write_bytes(swapped)
    with SealedReader(path) as reader:
        assert reader.verify().damaged == [0, 1]
    path.write_bytes(raw[: HEADER_SIZE + 2 * slot])  # cut at a chunk boundary
    with SealedReader(path) as reader:
        check = reader.verify()
    assert check.damaged == [] and check.complete is False


def test_a_locked_or_wrong_key_is_a_clear_error_and_changes_nothing(
        tmp_path: Path, ring: KeyRing) -> None:
    kdf = KdfParams(salt=os.urandom(16), log_n=CHEAP)
    key = passphrase_key("correct horse battery", kdf)
    folder = tmp_path / "case"
    folder.mkdir()
    seal_folder(folder, key)
    write_case_file(folder / "manifest.json", b'{"title": "secret"}')
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    ring.forget()

    with pytest.raises(CaseLockedError) as locked:
        read_case_file(folder / "manifest.json")
    assert locked.value.passphrase and "passphrase" in str(locked.value)
    with pytest.raises(CaseLockedError):  # and nothing new is written into it either
        write_case_file(folder / "chapters.json", b"[]")
    with pytest.raises(WrongPassphraseError) as wrong:
        ring.unlock("wrong horse battery", key.key_id, kdf, str(folder))
    assert "does not open" in str(wrong.value) and "Nothing was changed" in str(wrong.value)
    with pytest.raises(CaseLockedError):
        read_case_file(folder / "manifest.json")
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    assert after == before

    ring.add_passphrase("correct horse battery")  # typed once, opens every case it made
    assert read_case_file(folder / "manifest.json") == b'{"title": "secret"}'


def test_a_folder_stays_sealed_if_its_marker_is_deleted(tmp_path: Path, ring: KeyRing) -> None:
    key = ring.add(random_key())
    folder = tmp_path / "case"
    folder.mkdir()
    seal_folder(folder, key)
    write_case_file(folder / "manifest.json", b"{}")
    (folder / "sealed.json").unlink()
    assert folder_key(folder) == key
    with create_case_file(folder / "events.jsonl") as file:
        file.write(b"hello\n")
    assert b"hello" not in (folder / "events.jsonl").read_bytes()
    assert folder_key(tmp_path) is None  # a plain folder stays plain


def test_files_that_are_not_sealed_case_files_are_refused_clearly(
        tmp_path: Path, ring: KeyRing) -> None:
    path = tmp_path / "x.mkv"
    path.write_bytes(b"\x89STCASE\n" + bytes(10))
    with pytest.raises(RecordingError, match="cut short"):
        SealedReader(path)
    path.write_bytes(b"\x89STCASE\n" + bytes([9, 1, 16, 0]) + bytes(52))
    with pytest.raises(RecordingError, match="update Surgery Teach"):
        SealedReader(path)
