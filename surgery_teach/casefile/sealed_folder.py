"""Which case folders are encrypted, and reading and writing their files either way.

A folder made with a key (:func:`seal_folder`, called by
:func:`~surgery_teach.casefile.layout.new_case_folder`) holds ``sealed.json``: the key's
id and, for a passphrase key, the scrypt salt and cost; nothing secret, nothing about the
patient. Every writer of a case file asks :func:`folder_key` first: in a sealed folder it
gets the key from :func:`~surgery_teach.casefile.keys.unlocked` or
:class:`~surgery_teach.errors.CaseLockedError`, **never a plaintext fallback**. Readers
look at each file's own header, so a sealed file is read as such wherever it lies.

``sealed.json`` is also how the library tells an encrypted case (and which passphrase
prompt to show) without decrypting anything.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any, Final

from surgery_teach.casefile.keys import CaseKey, KdfParams, unlocked
from surgery_teach.casefile.sealing import (
    HEADER_SIZE,
    MEDIA_CHUNK_SHIFT,
    PlainSink,
    SealedFile,
    SealedReader,
    is_sealed_bytes,
    parse_header,
)
from surgery_teach.errors import RecordingError

SEAL_FILE: Final = "sealed.json"
_SEAL_VERSION: Final = 1


def seal_folder(folder: Path, key: CaseKey) -> Path:
    """Mark ``folder`` as encrypted with ``key`` (before any other file is written)."""
    body: dict[str, Any] = {"version": _SEAL_VERSION, "cipher": "AES-256-GCM",
                            "key_id": key.key_id, "kdf": None}
    if key.kdf is not None:
        body["kdf"] = {"name": "scrypt", "salt": key.kdf.salt.hex(), "log_n": key.kdf.log_n,
                       "r": key.kdf.r, "p": key.kdf.p}
    path = folder / SEAL_FILE
    with open(path, "x", encoding="utf-8") as file:
        file.write(json.dumps(body) + "\n")
        file.flush()
        os.fsync(file.fileno())
    unlocked().add(key)
    return path


def folder_seal(folder: Path) -> tuple[str, KdfParams | None] | None:
    """``(key id, passphrase parameters)`` if ``folder`` is encrypted, else ``None``.

    A folder whose ``sealed.json`` is gone but whose manifest is sealed still counts as
    encrypted (its header names the key), so deleting the marker cannot make the next
    write plaintext. :class:`RecordingError` if the marker is damaged.
    """
    path = folder / SEAL_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return _seal_from_manifest(folder)
    except OSError as exc:
        raise RecordingError(f"cannot read {path}: {exc}", str(folder)) from exc
    try:
        body = json.loads(text)
        key_id = body["key_id"]
        if body.get("version") != _SEAL_VERSION or not isinstance(key_id, str) \
                or len(key_id) != 16:
            raise ValueError("unknown version or key id")
        bytes.fromhex(key_id)
        kdf = body.get("kdf")
        params = None if kdf is None else KdfParams(
            bytes.fromhex(kdf["salt"]), int(kdf["log_n"]), int(kdf["r"]), int(kdf["p"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise RecordingError(f"{path} is damaged ({exc}); the case's files still name "
                             "their key in their own headers", str(folder)) from exc
    return key_id, params


def _seal_from_manifest(folder: Path) -> tuple[str, KdfParams | None] | None:
    try:
        with open(folder / "manifest.json", "rb") as file:
            head = file.read(HEADER_SIZE)
    except OSError:
        return None
    if not is_sealed_bytes(head):
        return None
    header = parse_header(head, str(folder / "manifest.json"))
    return header.key_id, header.kdf


def folder_key(folder: Path) -> CaseKey | None:
    """The key new files in ``folder`` must be written with; ``None`` for a plain folder.
    :class:`~surgery_teach.errors.CaseLockedError` if the folder is encrypted and its key
    is not unlocked: nothing may then be written there."""
    seal = folder_seal(folder)
    if seal is None:
        return None
    key_id, kdf = seal
    return unlocked().require(key_id, kdf, str(folder))


def is_sealed_file(path: Path) -> bool:
    try:
        with open(path, "rb") as file:
            return is_sealed_bytes(file.read(HEADER_SIZE))
    except OSError:
        return False


def open_case_file(path: Path) -> IO[bytes]:
    """``path`` opened for reading: its plaintext, decrypted as it is read if it is sealed
    (raises ``OSError``, :class:`~surgery_teach.errors.CaseLockedError`)."""
    file = open(path, "rb")
    try:
        head = file.read(HEADER_SIZE)
        if not is_sealed_bytes(head):
            file.seek(0)
            return file
    except BaseException:
        file.close()
        raise
    file.close()
    return SealedReader(path)  # type: ignore[return-value]


def read_case_file(path: Path) -> bytes:
    """All of ``path``'s plaintext (a chunk changed on disk reads as zeros)."""
    with open_case_file(path) as file:
        return file.read()


def create_case_file(path: Path, *, chunk_shift: int = MEDIA_CHUNK_SHIFT) -> IO[bytes]:
    """A new file at ``path`` for writing: sealed when its folder is encrypted."""
    key = folder_key(path.parent)
    if key is None:
        return open(path, "xb")
    return SealedFile(PlainSink(path), key, chunk_shift=chunk_shift,  # type: ignore[return-value]
                      name=path.name)


def write_case_file(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (temporary file, ``fsync``, rename),
    sealed when its folder is encrypted. Raises ``OSError`` or
    :class:`~surgery_teach.errors.CaseLockedError`; the old file then stays."""
    key = folder_key(path.parent)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)
    try:
        if key is None:
            with open(temporary, "xb") as plain:
                plain.write(data)
                plain.flush()
                os.fsync(plain.fileno())
        else:
            sink = PlainSink(temporary)
            sealed = SealedFile(sink, key, name=path.name)
            sealed.write(data)
            sealed.close()  # seals the final chunk, fsyncs
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
