"""Where the player reads a case's media from: its folder, or a library that streams it.

A case opened from the hospital library has a local folder with its small files (manifest,
event log, chapters, thumbnail) but not its media: :func:`stream_folder` says that the
media files of that folder are read through a file object instead (HTTP range requests,
:mod:`surgery_teach.caselibrary.media`). :func:`open_media` and :func:`media_exists` are
what the player, the audio and the probing use, so a streamed case plays, seeks and
exports exactly like a local one.

A media file of an encrypted case is decrypted as it is read
(:class:`~surgery_teach.casefile.sealing.SealedReader`, a seekable file object for PyAV):
no plaintext is written anywhere, and a chunk changed on disk is skipped, the rest plays.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from pathlib import Path
from typing import IO, Any

import av

from surgery_teach.casefile.sealed_folder import is_sealed_file
from surgery_teach.casefile.sealing import SealedReader

_lock = threading.Lock()
_streamed: dict[Path, tuple[Callable[[str], IO[bytes]], frozenset[str]]] = {}


def stream_folder(folder: Path, opener: Callable[[str], IO[bytes]],
                  names: Collection[str]) -> None:
    """Read the media files ``names`` of ``folder`` with ``opener(name)`` from now on
    (one new file object per container opened: each decoding thread has its own)."""
    with _lock:
        _streamed[Path(folder)] = (opener, frozenset(names))


def stop_streaming(folder: Path) -> None:
    with _lock:
        _streamed.pop(Path(folder), None)


def _stream_of(path: Path) -> Callable[[str], IO[bytes]] | None:
    with _lock:
        found = _streamed.get(path.parent)
    return found[0] if found is not None and path.name in found[1] else None


def media_exists(path: Path) -> bool:
    """Whether the media file ``path`` is there (on disk, or in the library)."""
    return _stream_of(path) is not None or path.exists()


def open_media(path: Path) -> Any:
    """``av.open`` of a case's media file, local or streamed (raises like ``av.open``;
    :class:`~surgery_teach.errors.CaseLockedError` for an encrypted file whose key is
    not unlocked)."""
    opener = _stream_of(path)
    if opener is None:
        if is_sealed_file(path):
            return av.open(SealedReader(path))
        return av.open(str(path))
    return av.open(opener(path.name))
