"""Encrypted recordings end to end, with real codecs: nothing readable on disk, the
player and library open them, a kill -9 still plays to within 1.5 s, a changed chunk is
reported while the rest plays, and a wrong passphrase changes nothing."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import signal
import sys
import time
from pathlib import Path

import pytest

from surgery_teach.capture import luma_of, read_stamp
from surgery_teach.casebook import SourcePlayer, open_case, open_recording, scan_library
from surgery_teach.casebook.problems import CHUNKS_TAMPERED, LOCKED
from surgery_teach.casefile.keys import PASSPHRASE_ENV, KeyRing, random_key
from surgery_teach.casefile.layout import new_case_folder
from surgery_teach.casefile.sealing import HEADER_SIZE, OVERHEAD, SealedReader
from surgery_teach.errors import CaseLockedError, WrongPassphraseError
from tests.recording.cases import _record
from tests.timing import seconds

ROOT = Path(__file__).resolve().parents[2]
PASSPHRASE = "theatre three, blue door"
PLAINTEXT_MARKS = (b"ftyp", b"moof", b"\x1a\x45\xdf\xa3", b"matroska", b"Lavf", b"OpusHead",
                   b"Laparoscopic", b"Ana Lima", b"clip here", b'"kind"')



def stamps(case_folder: Path, label: str) -> list[float]:
    """Capture times of every frame the player shows of ``label``, start to end."""
    case = open_recording(case_folder)
    shown = []
    with SourcePlayer(case, label) as player:
        frame = player.next()  # from the file's first frame
        while frame is not None:
            stamp = read_stamp(luma_of(frame.frame))
            if stamp is not None:
                shown.append(stamp.captured_at)
            frame = player.next()
    return shown


@pytest.mark.slow
def test_an_encrypted_case_has_nothing_readable_on_disk_and_plays(
        tmp_path: Path, ring: KeyRing) -> None:
    folder = new_case_folder(tmp_path, "Laparoscopic cholecystectomy", key=ring.add(random_key()))
    asyncio.run(_record(folder, audio=True))

    names = sorted(p.name for p in folder.iterdir())
    assert names == ["audio.mka", "endoscope.mkv", "events.jsonl", "manifest.json",
                     "room-camera.mkv", "sealed.json"]
    for name in names:
        raw = (folder / name).read_bytes()
        if name == "sealed.json":
            assert set(json.loads(raw)) == {"version", "cipher", "key_id", "kdf"}
            continue
        for mark in PLAINTEXT_MARKS:
            assert mark not in raw, f"{mark!r} readable in {name}"

    playable = open_case(folder)
    assert playable.playable == ("Endoscope", "Room camera") and playable.audio
    assert playable.problems == () and playable.manifest.title == "Laparoscopic cholecystectomy"
    shown = stamps(folder, "Endoscope")
    assert len(shown) >= 90 and shown == sorted(shown)
    [entry] = scan_library(tmp_path)
    assert entry.title == "Laparoscopic cholecystectomy" and entry.thumbnail is not None
    for name in ("thumbnail.jpg", "library.json"):  # the library's own files are sealed too
        raw = (folder / name).read_bytes()
        assert raw.startswith(b"\x89STCASE\n") and b"JFIF" not in raw and b"Lapar" not in raw


@pytest.mark.slow
def test_a_changed_chunk_is_reported_and_the_rest_plays(tmp_path: Path, ring: KeyRing) -> None:
    folder = new_case_folder(tmp_path, "case", key=ring.add(random_key()))
    asyncio.run(_record(folder, audio=False))
    clean = stamps(folder, "Endoscope")
    path = folder / "endoscope.mkv"
    with SealedReader(path) as reader:
        chunk, slots = reader.header.chunk_size, -(-reader.size // reader.header.chunk_size)
    assert slots >= 4
    raw = bytearray(path.read_bytes())
    raw[HEADER_SIZE + 2 * (chunk + OVERHEAD) + 1000] ^= 0x40  # one bit in the 3rd chunk
    path.write_bytes(raw)

    playable = open_case(folder)
    [problem] = [p for p in playable.problems if p.template == CHUNKS_TAMPERED]
    assert problem.values == {"file": "endoscope.mkv", "count": "1"}
    assert "Endoscope" in playable.playable
    shown = stamps(folder, "Endoscope")
    lost = [t for t in clean if t not in shown]
    assert shown[-1] == clean[-1], "the frames after the changed chunk must still play"
    assert 0 < len(lost) < len(clean) // 2, f"{len(lost)} of {len(clean)} frames lost"


def test_a_wrong_passphrase_is_a_clear_error_and_changes_nothing(
        tmp_path: Path, ring: KeyRing, monkeypatch: pytest.MonkeyPatch) -> None:
    from surgery_teach.casefile import Manifest, write_manifest
    from surgery_teach.casefile.keys import recording_key

    monkeypatch.setenv(PASSPHRASE_ENV, PASSPHRASE)
    key = recording_key(encrypt=True)
    assert key is not None and key.kdf is not None
    folder = new_case_folder(tmp_path, "case", key=key)
    write_manifest(folder, Manifest(title="Whipple"))
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    monkeypatch.delenv(PASSPHRASE_ENV)  # another computer: the passphrase is not given
    ring.forget()

    [entry] = scan_library(tmp_path)  # listed as locked, nothing read, nothing written
    assert entry.locked is not None and entry.problems[0].template == LOCKED
    assert entry.title == folder.name and not entry.playable
    with pytest.raises(CaseLockedError):
        open_case(folder)
    with pytest.raises(WrongPassphraseError, match="Nothing was changed"):
        ring.unlock("theatre three, red door", entry.locked.key_id, key.kdf, str(folder))
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    assert after == before

    ring.unlock(PASSPHRASE, entry.locked.key_id, key.kdf, str(folder))
    assert open_recording(folder).manifest.title == "Whipple"


async def _record_then_kill(folder: Path, after: float) -> tuple[float, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.recording.record_child", str(folder), "--sealed",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        env={**os.environ, PASSPHRASE_ENV: PASSPHRASE},
    )
    assert proc.stdout is not None
    try:
        ready = json.loads(await asyncio.wait_for(proc.stdout.readline(), seconds(30)))
        await asyncio.sleep(after)  # the test is the length of the recording
        killed_at = time.time()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
    return killed_at, ready["file"]


@pytest.mark.slow
async def test_a_killed_encrypted_recording_plays_to_within_1_5_s(
        tmp_path: Path, ring: KeyRing) -> None:
    moments = [round(random.uniform(2, 5), 2) for _ in range(2)]
    runs = await asyncio.gather(*(
        _record_then_kill(tmp_path / f"run{i}", seconds(after))
        for i, after in enumerate(moments)
    ))
    ring.add_passphrase(PASSPHRASE)
    for i, (killed_at, file) in enumerate(runs):
        folder = tmp_path / f"run{i}"
        where = f"killed {moments[i]:.2f} s in ({folder.name})"
        assert b"ftyp" not in (folder / file).read_bytes()[:4096]
        with SealedReader(folder / file) as reader:
            check = reader.verify()
        assert check.complete is False, f"a killed file has no final chunk, {where}"
        assert check.damaged == [], where

        case = open_case(folder)
        assert case.case.interrupted and "Endoscope" in case.playable, where
        shown = stamps(folder, "Endoscope")
        assert shown, f"no playable frame, {where}"
        lost = killed_at - shown[-1]
        assert lost < 1.5, f"the last playable frame is {lost:.2f} s before the kill, {where}"
        assert any(e.kind == "chat" for e in case.case.events), where
