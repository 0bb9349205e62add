"""A shared picture on a data channel: numbered chunks, a SHA-256, resumable.

The messages (docs/protocol.md, section 8.s) on a reliable, ordered channel labelled
``shares``:

- sharer -> viewer, text: ``{"kind":"share","v":1,"id":...,"bytes":N,"sha256":...,
  "chunk_bytes":C,"description":{...}}``: a share is available. Sent when a share starts
  and on every channel that opens while it lasts (late joiners, links that came back).
- viewer -> sharer, text: ``{"kind":"share-resume","v":1,"id":...,"from":K}``: send
  chunks K.. (K is the number of chunks the viewer already holds: 0 for a new share,
  more after a dropped link).
- sharer -> viewer, binary: ``STS1`` + the share id (16 bytes) + chunk number (4 bytes,
  big-endian) + at most ``chunk_bytes`` bytes of the picture.
- viewer -> sharer, text: ``{"kind":"share-received","v":1,"id":...}`` once the
  picture is whole and its SHA-256 matched.
- sharer -> viewer, text: ``{"kind":"share-stop","v":1,"id":...}``: forget it.

Nothing here does I/O: :class:`ShareSender` and :class:`ShareReceiver` turn messages
into messages, and the channel code (:mod:`surgery_teach.rtc.shares`) moves them.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from surgery_teach.errors import ShareTransferError
from surgery_teach.protocol.messages.shares import (
    CHUNK_MAGIC,
    MAX_CHUNK_BYTES,
    MIN_CHUNK_BYTES,
)
from surgery_teach.sharing.outgoing import MAX_SHARE_BYTES, MAX_TITLE_CHARS, OutgoingShare
from surgery_teach.sharing.picture import MAX_SIDE, FileKind

CHANNEL: Final = "shares"
VERSION: Final = 1
CHUNK_BYTES: Final = 64 * 1024
MAGIC: Final = CHUNK_MAGIC  # the layout of a chunk is the same through the server
_CHUNK_HEAD: Final = struct.Struct(">4s16sI")
_ID = re.compile(r"[0-9a-f]{32}")
_SHA = re.compile(r"[0-9a-f]{64}")
MAX_TEXT_BYTES: Final = 8 * 1024  # a header with its description fits well within


@dataclass(frozen=True)
class ShareHeader:
    """A share on offer: its id, size, SHA-256, chunk size and description."""

    share_id: str
    size: int
    sha256: str
    chunk_bytes: int
    description: dict[str, Any]

    @property
    def chunks(self) -> int:
        return math.ceil(self.size / self.chunk_bytes)

    def text(self) -> str:
        return json.dumps({"kind": "share", "v": VERSION, "id": self.share_id,
                           "bytes": self.size, "sha256": self.sha256,
                           "chunk_bytes": self.chunk_bytes, "description": self.description},
                          ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class Resume:
    """A viewer asks for chunks ``start``.. of share ``share_id``."""

    share_id: str
    start: int

    def text(self) -> str:
        return json.dumps({"kind": "share-resume", "v": VERSION, "id": self.share_id,
                           "from": self.start}, separators=(",", ":"))


@dataclass(frozen=True)
class Received:
    """A viewer holds share ``share_id`` whole and checked."""

    share_id: str

    def text(self) -> str:
        return json.dumps({"kind": "share-received", "v": VERSION, "id": self.share_id},
                          separators=(",", ":"))


@dataclass(frozen=True)
class Stop:
    """The sharer stopped sharing ``share_id``."""

    share_id: str

    def text(self) -> str:
        return json.dumps({"kind": "share-stop", "v": VERSION, "id": self.share_id},
                          separators=(",", ":"))


Control = ShareHeader | Resume | Received | Stop


def parse_text(text: str) -> Control:
    """One text message of the ``shares`` channel; :class:`ShareTransferError` names what
    is wrong with a malformed one."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_TEXT_BYTES:
        raise ShareTransferError(f"share message of more than {MAX_TEXT_BYTES} bytes")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # (deeply nested arrays: RecursionError)
        raise ShareTransferError(f"share message is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ShareTransferError("share message is not a JSON object")
    if data.get("v") != VERSION:
        raise ShareTransferError(f"share message of version {data.get('v')!r}; this "
                                 f"program speaks version {VERSION}: update it")
    kind, share_id = data.get("kind"), data.get("id")
    if not isinstance(share_id, str) or not _ID.fullmatch(share_id):
        raise ShareTransferError("share message 'id' must be 32 lowercase hex digits")
    if kind == "share":
        size, sha, chunk = data.get("bytes"), data.get("sha256"), data.get("chunk_bytes")
        if not _integer(size) or not 0 < size <= MAX_SHARE_BYTES:
            raise ShareTransferError(
                f"share 'bytes' must be from 1 to {MAX_SHARE_BYTES} (got {size!r})")
        if not isinstance(sha, str) or not _SHA.fullmatch(sha):
            raise ShareTransferError("share 'sha256' must be 64 lowercase hex digits")
        if not _integer(chunk) or not MIN_CHUNK_BYTES <= chunk <= MAX_CHUNK_BYTES:
            raise ShareTransferError(f"share 'chunk_bytes' must be from {MIN_CHUNK_BYTES} "
                                     f"to {MAX_CHUNK_BYTES} (got {chunk!r})")
        return ShareHeader(share_id, size, sha, chunk,
                           check_description(data.get("description"), size))
    if kind == "share-resume":
        start = data.get("from")
        if not _integer(start) or start < 0:
            raise ShareTransferError(f"share-resume 'from' must be 0 or more (got {start!r})")
        return Resume(share_id, start)
    if kind == "share-received":
        return Received(share_id)
    if kind == "share-stop":
        return Stop(share_id)
    raise ShareTransferError(f"unknown share message kind {kind!r}")


def check_description(value: object, size: int) -> dict[str, Any]:
    """A received description, checked field by field (the viewer shows these)."""
    if not isinstance(value, dict):
        raise ShareTransferError("share 'description' must be a JSON object")
    kinds = {k.value for k in FileKind}
    if value.get("kind") not in kinds:
        raise ShareTransferError(f"description 'kind' must be one of {sorted(kinds)}")
    if value.get("format") not in ("png", "jpeg"):
        raise ShareTransferError("description 'format' must be png or jpeg")
    for name in ("width", "height"):
        side = value.get(name)
        if not _integer(side) or not 0 < side <= MAX_SIDE:
            raise ShareTransferError(f"description '{name}' must be from 1 to {MAX_SIDE}")
    index, count = value.get("index"), value.get("count")
    if not _integer(count) or not _integer(index) or not 0 <= index < count:
        raise ShareTransferError("description 'index' must be from 0 to 'count' - 1")
    title = value.get("title", "")
    if not isinstance(title, str) or len(title) > MAX_TITLE_CHARS or "\n" in title:
        raise ShareTransferError(f"description 'title' must be one line of at most "
                                 f"{MAX_TITLE_CHARS} characters")
    window = value.get("window")
    if window is not None and not (isinstance(window, dict) and all(
            isinstance(window.get(k), int | float) and not isinstance(window.get(k), bool)
            for k in ("center", "width")) and isinstance(window.get("name"), str)):
        raise ShareTransferError("description 'window' must be null or have name, center "
                                 "and width")
    if value.get("bytes", size) != size:
        raise ShareTransferError("description 'bytes' differs from the share's")
    return value


def _integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def chunk_message(share_id: str, index: int, data: bytes) -> bytes:
    return _CHUNK_HEAD.pack(MAGIC, bytes.fromhex(share_id), index) + data


def parse_chunk(message: bytes) -> tuple[str, int, bytes]:
    """``(share id, chunk number, data)`` of a binary message."""
    if len(message) < _CHUNK_HEAD.size or not message.startswith(MAGIC):
        raise ShareTransferError("binary message on the shares channel is not a share chunk")
    _, raw_id, index = _CHUNK_HEAD.unpack_from(message)
    return raw_id.hex(), index, bytes(message[_CHUNK_HEAD.size:])


class ShareSender:
    """The sharer's side of one share: the header to announce, chunks on request."""

    def __init__(self, share: OutgoingShare, *, chunk_bytes: int = CHUNK_BYTES) -> None:
        if not MIN_CHUNK_BYTES <= chunk_bytes <= MAX_CHUNK_BYTES:
            raise ValueError(f"chunk_bytes must be from {MIN_CHUNK_BYTES} to {MAX_CHUNK_BYTES}")
        if len(share.picture) > MAX_SHARE_BYTES:
            raise ShareTransferError(f"a share may weigh at most {MAX_SHARE_BYTES} bytes")
        self.share = share
        self.header = ShareHeader(share.share_id, len(share.picture), share.sha256,
                                  chunk_bytes, share.description)

    def chunks(self, start: int = 0) -> Iterator[bytes]:
        """The chunk messages from number ``start`` on."""
        step = self.header.chunk_bytes
        for index in range(max(0, start), self.header.chunks):
            yield chunk_message(self.share.share_id, index,
                                self.share.picture[index * step:(index + 1) * step])


@dataclass(frozen=True)
class ReceivedShare:
    """A share that arrived whole and checked: ``picture`` bytes and ``description``."""

    share_id: str
    picture: bytes
    description: dict[str, Any]


class ShareReceiver:
    """A viewer's side: the current share's chunks, kept across dropped links.

    :meth:`on_header` says what to ask for (a :class:`Resume`, or :class:`Received` when
    the picture is already here); :meth:`on_chunk` returns the :class:`ReceivedShare`
    once the last chunk is in and the SHA-256 matched. Only one share is kept at a time:
    a new one replaces what was held of the previous one.
    """

    def __init__(self) -> None:
        self.header: ShareHeader | None = None
        self._parts: list[bytes] = []
        self._held = 0
        self.complete: ReceivedShare | None = None

    @property
    def next_chunk(self) -> int:
        return len(self._parts)

    def on_header(self, header: ShareHeader) -> Resume | Received:
        if self.header is not None and self.header == header:
            if self.complete is not None:
                return Received(header.share_id)
            return Resume(header.share_id, self.next_chunk)
        self.header, self._parts, self._held, self.complete = header, [], 0, None
        return Resume(header.share_id, 0)

    def on_stop(self, stop: Stop) -> bool:
        """Forget the share ``stop`` names; whether it was the one held."""
        if self.header is None or self.header.share_id != stop.share_id:
            return False
        self.header, self._parts, self._held, self.complete = None, [], 0, None
        return True

    def on_chunk(self, message: bytes) -> ReceivedShare | None:
        return self.on_part(*parse_chunk(message))

    def on_part(self, share_id: str, index: int, data: bytes) -> ReceivedShare | None:
        """Chunk ``index`` of ``share_id`` (however it came: a data channel's binary
        message, or the signaling server's); the share once it is whole and checked."""
        header = self.header
        if header is None or share_id != header.share_id or self.complete is not None:
            return None  # a chunk of a share replaced or already whole: drop it
        if index != len(self._parts):
            raise ShareTransferError(f"chunk {index} arrived, chunk {len(self._parts)} "
                                     "was expected")
        last = index == header.chunks - 1
        expected = header.size - index * header.chunk_bytes if last else header.chunk_bytes
        if index >= header.chunks or len(data) != expected:
            raise ShareTransferError(f"chunk {index} holds {len(data)} bytes, {expected} "
                                     "were expected")
        self._parts.append(data)
        self._held += len(data)
        if not last:
            return None
        picture = b"".join(self._parts)
        if hashlib.sha256(picture).hexdigest() != header.sha256:
            self._parts, self._held = [], 0
            raise ShareTransferError("the shared picture failed its integrity check "
                                     "(SHA-256); it is asked for again from the start")
        self.complete = ReceivedShare(header.share_id, picture, header.description)
        return self.complete
