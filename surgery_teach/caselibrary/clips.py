"""Clips mentors added to a library case, fetched into this computer's cache to be played.

A clip (an exported MP4 a mentor added with
:meth:`~surgery_teach.caselibrary.remote.RemoteLibrary.add_clip`) is short, so the student's
player fetches it whole instead of streaming it: :func:`fetch_clip` downloads it with range
requests (progress can be shown, and a dropped link resumes from what had arrived), checks
it against the size and SHA-256 the library lists, and keeps it at
:func:`clip_path` (``<cache>/clips/<case id>/<name>``, outside the case's own cache folder,
which keeping the case offline replaces). A kept copy that is still the library's is used
again without the link (:func:`cached_clip`); one the mentor has since replaced, or one
damaged on this disk, is fetched anew. Blocking: call from a worker thread.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Final

from surgery_teach.caselibrary.connection import LibraryConnection
from surgery_teach.caselibrary.wire import FileEntry, check_case_id, check_clip_name
from surgery_teach.errors import LibraryError

CLIPS_FOLDER: Final = "clips"
BLOCK_BYTES: Final = 512 * 1024  # one range request; progress moves at least this often
_HASH_BLOCK: Final = 1 << 20

ClipProgress = Callable[[int, int], None]  # (bytes fetched, bytes in all)


def clip_path(cache: Path, case: str, name: str) -> Path:
    """Where clip ``name`` of library case ``case`` is kept under ``cache``."""
    return cache / CLIPS_FOLDER / check_case_id(case) / check_clip_name(name)


def cached_clip(path: Path, clip: FileEntry) -> bool:
    """Whether ``path`` holds ``clip`` as the library lists it (size and SHA-256)."""
    try:
        if path.stat().st_size != clip.size:
            return False
        digest = hashlib.sha256()
        with open(path, "rb") as file:
            while block := file.read(_HASH_BLOCK):
                digest.update(block)
    except OSError:
        return False
    return digest.hexdigest() == clip.sha256


def fetch_clip(connection: LibraryConnection, case: str, clip: FileEntry, path: Path, *,
               progress: ClipProgress | None = None, block_bytes: int | None = None) -> Path:
    """``clip`` of library case ``case`` at ``path``: the copy kept there if it is still
    the library's, else fetched (``progress(done, total)`` after each block) and checked.

    :class:`LibraryError`: the library's refusal (404 when the clip or case is gone),
    ``unreachable``, ``corrupt-file`` when what arrived is not the clip the library lists
    (nothing is kept), or ``cache-unwritable`` when this computer's disk cannot hold it.
    """
    if cached_clip(path, clip):
        if progress is not None:
            progress(clip.size, clip.size)
        return path
    partial = path.with_name(f".{path.name}.part")
    block = block_bytes or BLOCK_BYTES
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        digest, resumed = _download(connection, case, clip, partial, progress, block)
        if digest.hexdigest() != clip.sha256 and resumed:
            partial.unlink()  # what an earlier fetch left was not this clip's: from the top
            digest, _ = _download(connection, case, clip, partial, progress, block)
        if digest.hexdigest() != clip.sha256:
            partial.unlink()
            raise LibraryError(f"the clip {clip.name} arrived damaged (it is not the one the "
                               "library lists); it was not kept, fetch it again",
                               code="corrupt-file")
        os.replace(partial, path)
    except OSError as exc:
        raise LibraryError(f"cannot keep the clip {clip.name} in {path.parent}: "
                           f"{exc.strerror or exc}", code="cache-unwritable") from exc
    return path


def _download(connection: LibraryConnection, case: str, clip: FileEntry, partial: Path,
              progress: ClipProgress | None, block: int) -> tuple[hashlib._Hash, bool]:
    """Fetch what ``partial`` still lacks of ``clip``; the hash of the whole, and whether
    it went on from what an earlier fetch had left."""
    digest, offset = _resume(partial, clip.size)
    resumed = offset > 0
    with open(partial, "ab") as file:
        while offset < clip.size:
            end = min(clip.size, offset + block) - 1
            _, _, data = connection.request(
                "GET", f"/cases/{case}/clips/{clip.name}",
                headers={"Range": f"bytes={offset}-{end}"}, ok=(206,))
            if len(data) != end - offset + 1:
                raise LibraryError(f"the library sent {len(data)} bytes of the clip "
                                   f"{clip.name} for {end - offset + 1} asked",
                                   code="short-read")
            file.write(data)
            digest.update(data)
            offset = end + 1
            if progress is not None:
                progress(offset, clip.size)
    return digest, resumed


def _resume(partial: Path, size: int) -> tuple[hashlib._Hash, int]:
    """The hash of what an earlier, interrupted fetch left in ``partial`` and how much
    that was (nothing, if it is not a beginning of a ``size``-byte clip)."""
    digest = hashlib.sha256()
    if not partial.exists():
        return digest, 0
    if partial.stat().st_size > size:
        partial.unlink()
        return digest, 0
    with open(partial, "rb") as file:
        while block := file.read(_HASH_BLOCK):
            digest.update(block)
    return digest, partial.stat().st_size
