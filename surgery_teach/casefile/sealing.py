"""Encrypted case files: AES-256-GCM in fixed-size chunks, written as they are recorded.

A sealed file is a 64-byte header and then one *slot* per chunk of plaintext::

    header  magic "\\x89STCASE\\n" | version 1 | cipher 1 (AES-256-GCM) | log2 chunk size
            | kdf (0 keyring key, 1 scrypt) | key id (8) | file id (16, random)
            | scrypt salt (16) | scrypt log2 N, r, p | 9 zero bytes
    slot i  generation (4, big-endian) | ciphertext of chunk i | GCM tag (16)

Each file has its own AES key, HKDF-SHA256 of the case key with the file id as salt, so
no two files share a key. Chunk ``i`` is sealed with nonce ``i (8 bytes) || generation
(4)`` and associated data ``header || i || final``: a chunk cannot move, cannot come from
another file, and the last chunk of a file that was closed properly carries ``final = 1``.

Why generations: a recording flushes its newest, partial chunk to disk every time the
muxer writes (at least every second), so a ``kill -9`` loses at most the last flush; the
chunk is sealed again, one generation higher (a fresh nonce, never a reused one), each
time it grows, and the Matroska muxer's one rewrite of its header at the end is sealed
the same way. Reading tells three ends apart: ``final`` (closed properly), a last chunk
without it (the recording was killed, or the file was cut short later: the manifest says
which), and a chunk whose tag fails (changed on disk): that chunk reads as zeros, is
reported, and the rest of the file still decrypts and plays.
"""

from __future__ import annotations

import errno
import io
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from surgery_teach.casefile.keys import CaseKey, KdfParams, unlocked
from surgery_teach.errors import CaseKeyError, RecordingError

logger = logging.getLogger("surgery_teach.recording")

MAGIC: Final = b"\x89STCASE\n"
FORMAT_VERSION: Final = 1
CIPHER_AES_256_GCM: Final = 1
HEADER_SIZE: Final = 64
TAG_SIZE: Final = 16
GEN_SIZE: Final = 4
OVERHEAD: Final = GEN_SIZE + TAG_SIZE
MEDIA_CHUNK_SHIFT: Final = 16  # 64 KiB: media
EVENTS_CHUNK_SHIFT: Final = 12  # 4 KiB: a torn rewrite of the event log's tail loses little
_MAX_GENERATION: Final = 2**32 - 1


# -- the header ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SealedHeader:
    """What a sealed file's first 64 bytes say (nothing secret)."""

    key_id: str
    file_id: bytes
    chunk_shift: int
    kdf: KdfParams | None
    raw: bytes = field(repr=False)

    @property
    def chunk_size(self) -> int:
        return 1 << self.chunk_shift

    @property
    def slot_size(self) -> int:
        return self.chunk_size + OVERHEAD

    @classmethod
    def new(cls, key: CaseKey, chunk_shift: int) -> SealedHeader:
        kdf = key.kdf
        raw = b"".join((
            MAGIC,
            bytes((FORMAT_VERSION, CIPHER_AES_256_GCM, chunk_shift, 0 if kdf is None else 1)),
            bytes.fromhex(key.key_id), os.urandom(16),
            kdf.salt if kdf else bytes(16),
            bytes((kdf.log_n, kdf.r, kdf.p)) if kdf else bytes(3), bytes(9),
        ))
        assert len(raw) == HEADER_SIZE
        return parse_header(raw, "new file")


def is_sealed_bytes(head: bytes) -> bool:
    return head[: len(MAGIC)] == MAGIC


def parse_header(raw: bytes, where: str) -> SealedHeader:
    """The header in ``raw``; :class:`RecordingError` naming ``where`` if it is not one."""
    if len(raw) < HEADER_SIZE or not is_sealed_bytes(raw):
        raise RecordingError(f"{where} is not an encrypted case file (or its header is cut "
                             "short)")
    version, cipher, shift, kdf_kind = raw[8:12]
    if version != FORMAT_VERSION or cipher != CIPHER_AES_256_GCM:
        raise RecordingError(f"{where} is encrypted in format {version}/{cipher}, which this "
                             "version cannot read: update Surgery Teach")
    if not 10 <= shift <= 24 or kdf_kind not in (0, 1) or any(raw[55:64]):
        raise RecordingError(f"{where}: the encryption header is damaged")
    kdf = None
    if kdf_kind == 1:
        try:
            kdf = KdfParams(bytes(raw[36:52]), raw[52], raw[53], raw[54])
        except ValueError as exc:
            raise RecordingError(f"{where}: the encryption header is damaged ({exc})") from exc
    return SealedHeader(raw[12:20].hex(), bytes(raw[20:36]), shift, kdf, bytes(raw[:HEADER_SIZE]))


class _Sealer:
    """Seals and opens one file's chunks."""

    def __init__(self, header: SealedHeader, key: CaseKey) -> None:
        if key.key_id != header.key_id:
            raise CaseKeyError(f"key {key.key_id} is not the key {header.key_id} of this file")
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=header.file_id,
                    info=b"surgery-teach sealed file v1")
        self._aead = AESGCM(hkdf.derive(key.secret))
        self.header = header

    def _aad(self, index: int, final: bool) -> bytes:
        return self.header.raw + index.to_bytes(8, "big") + (b"\x01" if final else b"\x00")

    def seal(self, index: int, generation: int, plain: bytes, final: bool) -> bytes:
        nonce = index.to_bytes(8, "big") + generation.to_bytes(4, "big")
        sealed = self._aead.encrypt(nonce, plain, self._aad(index, final))
        return generation.to_bytes(4, "big") + sealed

    def open(self, index: int, slot: bytes, final: bool) -> bytes:
        """The plaintext of ``slot``; ``InvalidTag`` if it was changed (or ``final`` is wrong)."""
        generation = int.from_bytes(slot[:GEN_SIZE], "big")
        nonce = index.to_bytes(8, "big") + generation.to_bytes(4, "big")
        return self._aead.decrypt(nonce, slot[GEN_SIZE:], self._aad(index, final))


# -- writing ---------------------------------------------------------------------------------


class Sink(Protocol):
    """The plain file a :class:`SealedFile` writes its slots to."""

    def write(self, data: Any) -> int | None: ...
    def seek(self, offset: int, whence: int = ..., /) -> int: ...
    def close(self) -> None: ...


class PlainSink(io.RawIOBase):
    """A file opened for reading and writing, created new (``x``): a sink for small files
    and the event log; ``sync`` is ``fsync``."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._file = open(path, "x+b", buffering=0)  # closed in close()

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        done = 0
        while done < len(view):
            done += self._file.write(view[done:]) or 0
        return done

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def read_at(self, offset: int, size: int) -> bytes:
        return os.pread(self._file.fileno(), size, offset)

    def sync(self) -> None:
        os.fsync(self._file.fileno())

    def close(self) -> None:
        """``fsync`` and close: what a sealed file's :meth:`SealedFile.close` wrote lasts."""
        if not self._file.closed:
            try:
                os.fsync(self._file.fileno())
            finally:
                self._file.close()
        super().close()


class SealedFile(io.RawIOBase):
    """A seekable, write-only file object that encrypts into ``sink`` as it goes.

    PyAV writes through it like through any file object. Every :meth:`write` seals the
    newest, partial chunk to the sink at once, so the sink never lags the writer by more
    than that call; :meth:`close` seals the last chunk as final. A write into an earlier
    chunk (the muxer's header update) re-seals that chunk one generation higher.
    ``sink`` must also offer ``read_at(offset, size)`` for those rewrites; a ``sync()``
    of the sink is passed on.
    """

    def __init__(self, sink: Sink, key: CaseKey, *, chunk_shift: int = MEDIA_CHUNK_SHIFT,
                 name: str = "") -> None:
        super().__init__()
        self._sink = sink
        self.name = name
        self.header = SealedHeader.new(key, chunk_shift)
        self._sealer = _Sealer(self.header, key)
        self._chunk = self.header.chunk_size
        self._size = 0  # plaintext bytes
        self._pos = 0
        self._tail = bytearray()  # plaintext of the last chunk (0 .. chunk size bytes)
        self._tail_index = 0
        self._tail_generation = -1
        self._tail_dirty = True  # an empty file still gets its (final) chunk
        self._sink.seek(0)
        self._sink.write(self.header.raw)

    @property
    def bytes_written(self) -> int:
        """Plaintext bytes in the file."""
        return self._size

    @property
    def error(self) -> OSError | None:
        return getattr(self._sink, "error", None)

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._size}[whence]
        target = base + offset
        if not 0 <= target <= self._size:  # a gap would be a chunk nobody wrote
            raise OSError(errno.EINVAL, f"cannot seek to {target} in a {self._size}-byte "
                                        "sealed file")
        self._pos = target
        return target

    def write(self, data: Any) -> int:
        if self.closed:
            raise ValueError("write to a closed sealed file")
        view = memoryview(data).cast("B")
        count = len(view)
        inside = min(count, self._size - self._pos)
        if inside > 0:
            self._overwrite(self._pos, view[:inside])
            self._pos += inside
        if inside < count:
            self._append(view[inside:])
            self._pos = self._size
        self._seal_tail(final=False)
        return count

    def _append(self, view: memoryview) -> None:
        while view:
            if len(self._tail) == self._chunk:  # full and sealed: the next chunk begins
                self._seal_tail(final=False)
                self._tail_index += 1
                self._tail = bytearray()
                self._tail_generation = -1
            take = min(len(view), self._chunk - len(self._tail))
            self._tail += view[:take]
            self._tail_dirty = True
            self._size += take
            view = view[take:]

    def _overwrite(self, position: int, view: memoryview) -> None:
        while view:
            index, offset = divmod(position, self._chunk)
            take = min(len(view), self._chunk - offset)
            if index == self._tail_index:
                self._tail[offset : offset + take] = view[:take]
                self._tail_dirty = True
            else:
                self._rewrite(index, offset, view[:take])
            position += take
            view = view[take:]

    def _rewrite(self, index: int, offset: int, part: memoryview) -> None:
        where = HEADER_SIZE + index * self.header.slot_size
        read_at: Callable[[int, int], bytes] = self._sink.read_at  # type: ignore[attr-defined]
        slot = read_at(where, self.header.slot_size)
        try:
            plain = bytearray(self._sealer.open(index, slot, final=False))
        except InvalidTag as exc:
            raise OSError(errno.EIO, f"chunk {index} of {self.name or 'a sealed file'} "
                                     "changed on disk while it was written") from exc
        plain[offset : offset + len(part)] = part
        generation = int.from_bytes(slot[:GEN_SIZE], "big") + 1
        self._put(index, self._sealer.seal(index, generation, bytes(plain), final=False))

    def _seal_tail(self, *, final: bool) -> None:
        if not self._tail_dirty and not final:
            return
        self._tail_generation += 1
        if self._tail_generation > _MAX_GENERATION:
            raise OSError(errno.EOVERFLOW, "a chunk was rewritten too often")
        self._put(self._tail_index,
                  self._sealer.seal(self._tail_index, self._tail_generation, bytes(self._tail),
                                    final))
        self._tail_dirty = False

    def _put(self, index: int, slot: bytes) -> None:
        self._sink.seek(HEADER_SIZE + index * self.header.slot_size)
        self._sink.write(slot)

    def sync(self) -> None:
        sync = getattr(self._sink, "sync", None)
        if sync is not None:
            sync()

    def close(self) -> None:
        """Seal the last chunk as final and close the sink (it stays closed on error)."""
        if self.closed:
            return
        try:
            self._seal_tail(final=True)
        finally:
            super().close()
            self._sink.close()


# -- reading ---------------------------------------------------------------------------------


@dataclass
class SealedCheck:
    """What reading a sealed file found: chunks whose tag failed (read as zeros), and
    whether it ended with its final chunk (closed properly)."""

    damaged: list[int] = field(default_factory=list)
    complete: bool | None = None  # None until the last chunk was read


class SealedReader(io.RawIOBase):
    """A read-only, seekable file object with ``path``'s plaintext (PyAV reads it).

    The key comes from :func:`~surgery_teach.casefile.keys.unlocked`
    (:class:`~surgery_teach.errors.CaseLockedError` if it has none). A chunk that fails
    its check reads as zeros and is listed in :attr:`check` (and logged once), so a
    damaged stretch is skipped and the rest of the file still plays. A torn last slot
    (a crash during its write) is left out.
    """

    def __init__(self, path: Path, *, key: CaseKey | None = None) -> None:
        super().__init__()
        self.path = Path(path)
        self._file = open(self.path, "rb", buffering=0)  # closed in close()
        try:
            self.header = parse_header(self._file.read(HEADER_SIZE), str(self.path))
            key = key or unlocked().require(self.header.key_id, self.header.kdf, str(self.path))
            self._sealer = _Sealer(self.header, key)
            stored = os.fstat(self._file.fileno()).st_size - HEADER_SIZE
        except BaseException:
            self._file.close()
            raise
        slot = self.header.slot_size
        whole, rest = divmod(stored, slot)
        self._slots = whole + (1 if rest >= OVERHEAD else 0)
        self._last_plain = (rest - OVERHEAD) if rest >= OVERHEAD else self.header.chunk_size
        self.size = max(0, (self._slots - 1) * self.header.chunk_size + self._last_plain) \
            if self._slots else 0
        self.check = SealedCheck()
        self._pos = 0
        self._cached: tuple[int, bytes] | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view) and self._pos < self.size:
            index, offset = divmod(self._pos, self.header.chunk_size)
            plain = self.chunk(index)
            take = min(len(view) - done, len(plain) - offset)
            if take <= 0:
                break
            view[done : done + take] = plain[offset : offset + take]
            done += take
            self._pos += take
        return done

    def chunk(self, index: int) -> bytes:
        """Chunk ``index``'s plaintext (zeros if it was changed on disk)."""
        if self._cached is not None and self._cached[0] == index:
            return self._cached[1]
        slot_size = self.header.slot_size
        last = index == self._slots - 1
        length = (self._last_plain if last else self.header.chunk_size) + OVERHEAD
        slot = os.pread(self._file.fileno(), length, HEADER_SIZE + index * slot_size)
        plain: bytes | None = None
        for final in ((True, False) if last else (False,)):
            try:
                plain = self._sealer.open(index, slot, final)
            except InvalidTag:
                continue
            if last:
                self.check.complete = final
            break
        if plain is None:
            plain = bytes(max(0, len(slot) - OVERHEAD))
            if index not in self.check.damaged:
                self.check.damaged.append(index)
                logger.warning("%s: chunk %d failed its integrity check (changed on disk); "
                               "skipped", self.path.name, index)
        self._cached = (index, plain)
        return plain

    def verify(self) -> SealedCheck:
        """Check every chunk (reads the whole file); returns :attr:`check`."""
        for index in range(self._slots):
            self.chunk(index)
        if not self._slots:
            self.check.complete = False
        return self.check

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()
        super().close()
