"""Shared pictures through the signaling server (class mode, docs/protocol.md section 8.s).

In class mode the peer-to-peer ``shares`` channels are gone, so a sharer uploads its
picture once to the signaling server, which keeps it for the room while it lasts and
serves it to each viewer that asks. The messages are those of the peer-to-peer channel
(:mod:`surgery_teach.sharing.transfer`) in the signaling envelope, the share's id under
``share`` (``id`` is the envelope's):

- sharer -> server ``share`` (:class:`ShareOffer`): a share to keep; the server answers
  ``share-resume`` (:class:`ShareUpload`: the chunks it wants, from ``from``), or
  ``share-received`` (:class:`ShareStored`) once it holds the picture whole and checked.
- sharer -> server, binary frames: the chunks (:class:`ShareChunk`, the ``STS1`` layout).
- server -> everyone else ``share`` (:class:`ShareNotice`, with ``from``): a share to
  fetch; sent again to late joiners after ``welcome``.
- viewer -> server ``share-resume`` (:class:`ShareResume`): send me chunks ``from`` on;
  the server sends them as binary frames.
- sharer -> server ``share-stop`` (:class:`ShareStop`); server -> everyone
  ``share-stop`` (:class:`ShareEnded`, with ``from`` and ``reason``).

Each message is followed by its reader and writer and the :class:`~.common.WireForm`
the envelope lists; the binary chunk has its own :func:`parse_chunk` and
:meth:`ShareChunk.frame`.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass
from typing import Any, Final

from surgery_teach.errors import ProtocolError
from surgery_teach.protocol.messages.common import WireForm
from surgery_teach.wire.fields import (
    MAX_ID_CHARS,
    ErrorCode,
    JsonObject,
    MessageRef,
    bad,
    check_ref,
    check_text,
    json_kind,
    show,
)

#: The most a shared picture may weigh (as :mod:`surgery_teach.sharing` encodes it).
MAX_SHARE_BYTES: Final = 16 * 1024 * 1024
MIN_CHUNK_BYTES: Final = 1024
MAX_CHUNK_BYTES: Final = 256 * 1024
#: A description, as JSON, is at most this long (it is a few hundred bytes).
MAX_DESCRIPTION_BYTES: Final = 8 * 1024
CHUNK_MAGIC: Final = b"STS1"
_CHUNK_HEAD: Final = struct.Struct(">4s16sI")
CHUNK_HEAD_BYTES: Final = _CHUNK_HEAD.size
MAX_CHUNK_FRAME_BYTES: Final = CHUNK_HEAD_BYTES + MAX_CHUNK_BYTES
_SHARE_ID = re.compile(r"[0-9a-f]{32}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
#: Why a share ended (``share-stop`` from the server).
STOPPED: Final = "stopped"
LEFT: Final = "left"
NO_RIGHT: Final = "no-right"
REASONS: Final = (STOPPED, LEFT, NO_RIGHT)


def check_share_id(value: object, field: str = "share") -> None:
    if not isinstance(value, str) or not _SHARE_ID.fullmatch(value):
        raise bad(field, f"must be 32 lowercase hex digits, the share's id (got {show(value)})")


def _check_start(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise bad("from", f"must be a chunk number, 0 or more (got {show(value)})")


# -- the share's header -----------------------------------------------------------------------


@dataclass(frozen=True)
class ShareHead:
    """What a share is: ``share_id``, its size in bytes, its SHA-256, the chunk size and
    the sharer's description (checked field by field by the viewers, who show it)."""

    share_id: str
    size: int
    sha256: str
    chunk_bytes: int
    description: dict[str, Any]

    def __post_init__(self) -> None:
        check_share_id(self.share_id)
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 1:
            raise bad("bytes", f"must be the picture's size, 1 or more (got {show(self.size)})")
        if self.size > MAX_SHARE_BYTES:
            raise ProtocolError(
                ErrorCode.TOO_LARGE,
                f"a shared picture may weigh at most {MAX_SHARE_BYTES // 2**20} MiB; this "
                f"one is {self.size} bytes. Share a smaller picture",
            )
        if not isinstance(self.sha256, str) or not _SHA256.fullmatch(self.sha256):
            raise bad("sha256", "must be 64 lowercase hex digits, the picture's SHA-256")
        chunk = self.chunk_bytes
        if isinstance(chunk, bool) or not isinstance(chunk, int) \
                or not MIN_CHUNK_BYTES <= chunk <= MAX_CHUNK_BYTES:
            raise bad("chunk_bytes", f"must be from {MIN_CHUNK_BYTES} to {MAX_CHUNK_BYTES} "
                                     f"(got {show(chunk)})")
        if not isinstance(self.description, dict):
            raise bad("description", f"must be a JSON object (got {json_kind(self.description)})")
        size = len(json.dumps(self.description, ensure_ascii=False).encode("utf-8", "replace"))
        if size > MAX_DESCRIPTION_BYTES:
            raise bad("description", f"is {size} bytes; the limit is {MAX_DESCRIPTION_BYTES}")

    @property
    def chunks(self) -> int:
        return -(-self.size // self.chunk_bytes)

    def chunk_size(self, index: int) -> int:
        """How many bytes chunk ``index`` holds (all ``chunk_bytes`` but the last)."""
        if index == self.chunks - 1:
            return self.size - index * self.chunk_bytes
        return self.chunk_bytes


def _read_head(msg: JsonObject) -> ShareHead:
    description = msg.value("description")
    return msg.build(ShareHead, share_id=msg.text("share"), size=msg.integer("bytes"),
                     sha256=msg.text("sha256"), chunk_bytes=msg.integer("chunk_bytes"),
                     description=description)


def _head_body(head: ShareHead) -> dict[str, Any]:
    return {"share": head.share_id, "bytes": head.size, "sha256": head.sha256,
            "chunk_bytes": head.chunk_bytes, "description": head.description}


_HEAD_FIELDS: Final = ("share", "bytes", "sha256", "chunk_bytes", "description")


# -- client -> server -------------------------------------------------------------------------


@dataclass(frozen=True)
class ShareOffer:
    """Keep this share for the room (wire type ``share``): the sharer's upload begins."""

    head: ShareHead
    id: MessageRef = None

    def __post_init__(self) -> None:
        check_ref(self.id)


SHARE_OFFER_FORM: Final = WireForm(
    "share", ShareOffer,
    lambda msg: ShareOffer(_read_head(msg), id=msg.ref()),
    lambda msg: _head_body(msg.head),
    fields=_HEAD_FIELDS,
)


@dataclass(frozen=True)
class ShareResume:
    """Send me the chunks of share ``share_id`` from number ``start`` on (wire type
    ``share-resume``, ``from``: 0 for a new share, more after a dropped link)."""

    share_id: str
    start: int = 0
    id: MessageRef = None

    def __post_init__(self) -> None:
        check_share_id(self.share_id)
        _check_start(self.start)
        check_ref(self.id)


SHARE_RESUME_FORM: Final = WireForm(
    "share-resume", ShareResume,
    lambda msg: msg.build(ShareResume, share_id=msg.text("share"), start=msg.integer("from"),
                          id=msg.ref()),
    lambda msg: {"share": msg.share_id, "from": msg.start},
    fields=("share", "from"),
)


@dataclass(frozen=True)
class ShareStop:
    """Stop sharing ``share_id`` (wire type ``share-stop``): everyone drops it."""

    share_id: str
    id: MessageRef = None

    def __post_init__(self) -> None:
        check_share_id(self.share_id)
        check_ref(self.id)


SHARE_STOP_FORM: Final = WireForm(
    "share-stop", ShareStop,
    lambda msg: msg.build(ShareStop, share_id=msg.text("share"), id=msg.ref()),
    lambda msg: {"share": msg.share_id},
    fields=("share",),
)


# -- server -> client -------------------------------------------------------------------------


@dataclass(frozen=True)
class ShareUpload:
    """To the sharer: send the chunks of ``share_id`` from number ``start`` on (wire type
    ``share-resume``; 0 for a new upload, more when one that broke off goes on)."""

    share_id: str
    start: int

    def __post_init__(self) -> None:
        check_share_id(self.share_id)
        _check_start(self.start)


SHARE_UPLOAD_FORM: Final = WireForm(
    "share-resume", ShareUpload,
    lambda msg: msg.build(ShareUpload, share_id=msg.text("share"), start=msg.integer("from")),
    lambda msg: {"share": msg.share_id, "from": msg.start},
)


@dataclass(frozen=True)
class ShareStored:
    """To the sharer: the server holds ``share_id`` whole and its SHA-256 matched (wire
    type ``share-received``); the room has been told."""

    share_id: str

    def __post_init__(self) -> None:
        check_share_id(self.share_id)


SHARE_STORED_FORM: Final = WireForm(
    "share-received", ShareStored,
    lambda msg: msg.build(ShareStored, share_id=msg.text("share")),
    lambda msg: {"share": msg.share_id},
)


@dataclass(frozen=True)
class ShareNotice:
    """A share to fetch from the server (wire type ``share``): participant ``sharer``'s
    (``from``) picture, described by ``head``."""

    sharer: str
    head: ShareHead

    def __post_init__(self) -> None:
        check_text(self.sharer, "from", MAX_ID_CHARS)


SHARE_NOTICE_FORM: Final = WireForm(
    "share", ShareNotice,
    lambda msg: ShareNotice(msg.text("from"), _read_head(msg)),
    lambda msg: {"from": msg.sharer, **_head_body(msg.head)},
)


@dataclass(frozen=True)
class ShareEnded:
    """Participant ``sharer``'s share ``share_id`` is gone (wire type ``share-stop``):
    ``reason`` ``stopped`` (they stopped it), ``left`` (they left the room) or
    ``no-right`` (they may no longer share)."""

    sharer: str
    share_id: str
    reason: str = STOPPED

    def __post_init__(self) -> None:
        check_text(self.sharer, "from", MAX_ID_CHARS)
        check_share_id(self.share_id)
        check_text(self.reason, "reason", MAX_ID_CHARS)


SHARE_ENDED_FORM: Final = WireForm(
    "share-stop", ShareEnded,
    lambda msg: msg.build(ShareEnded, sharer=msg.text("from"), share_id=msg.text("share"),
                          reason=msg.text("reason", default=STOPPED)),
    lambda msg: {"from": msg.sharer, "share": msg.share_id, "reason": msg.reason},
)


# -- binary: a chunk --------------------------------------------------------------------------


@dataclass(frozen=True)
class ShareChunk:
    """Chunk number ``index`` of share ``share_id``: a binary frame, both ways (``STS1``,
    the id as 16 bytes, the number as 4 bytes big-endian, then the bytes)."""

    share_id: str
    index: int
    data: bytes

    def frame(self) -> bytes:
        return _CHUNK_HEAD.pack(CHUNK_MAGIC, bytes.fromhex(self.share_id), self.index) + self.data


def parse_chunk(raw: bytes | bytearray | memoryview) -> ShareChunk:
    """A binary frame: a share chunk, or :class:`ProtocolError` (``bad-message``, or
    ``too-large`` beyond the largest chunk)."""
    if len(raw) > MAX_CHUNK_FRAME_BYTES:
        raise ProtocolError(
            ErrorCode.TOO_LARGE,
            f"the binary frame is {len(raw)} bytes; a share chunk is at most "
            f"{MAX_CHUNK_FRAME_BYTES} bytes with its header. Send smaller chunks",
        )
    if len(raw) < CHUNK_HEAD_BYTES or bytes(raw[:4]) != CHUNK_MAGIC:
        raise ProtocolError(
            ErrorCode.BAD_MESSAGE,
            "binary frames are only share chunks (STS1, share id, chunk number, bytes); send "
            "every other message as a JSON text frame",
        )
    _, raw_id, index = _CHUNK_HEAD.unpack_from(raw)
    return ShareChunk(raw_id.hex(), index, bytes(raw[CHUNK_HEAD_BYTES:]))
