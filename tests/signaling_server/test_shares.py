"""Shared pictures kept by the signaling server (class mode, docs/protocol.md 8.s): the
sharer uploads once, each viewer fetches chunks from any number on; the rules of who may
share, the bounds, and clear refusals of bad input. Real server, real websocket clients."""

from __future__ import annotations

import asyncio
import hashlib
import os

from signaling_server.shares import ShareStore
from surgery_teach.errors import ProtocolError
from surgery_teach.protocol import (
    ErrorReply,
    GrantDraw,
    Joined,
    Leave,
    Left,
    ParticipantInfo,
    Publishes,
    Role,
)
from surgery_teach.protocol.messages import (
    ShareChunk,
    ShareEnded,
    ShareHead,
    ShareNotice,
    ShareOffer,
    ShareResume,
    ShareStop,
    ShareStored,
    ShareUpload,
    Updated,
    parse_server,
)
from surgery_teach.protocol.messages.shares import MAX_SHARE_BYTES
from surgery_teach.wire.fields import ErrorCode
from tests.signaling_server.conftest import Client, OpenClient
from tests.timing import seconds

CHUNK = 1024
DESCRIPTION = {"v": 1, "kind": "image", "format": "png", "width": 64, "height": 64,
               "index": 0, "count": 1, "window": None, "modality": "", "title": "ECG",
               "masked": 0, "scaled": False}


def _picture(size: int = 10 * CHUNK + 300) -> tuple[ShareHead, bytes]:
    data = os.urandom(size)
    return ShareHead(os.urandom(16).hex(), size, hashlib.sha256(data).hexdigest(), CHUNK,
                     {**DESCRIPTION, "bytes": size}), data


def _chunks(head: ShareHead, data: bytes, start: int = 0) -> list[bytes]:
    return [ShareChunk(head.share_id, i, data[i * CHUNK:(i + 1) * CHUNK]).frame()
            for i in range(start, head.chunks)]


SKIP = (Joined, Left, Updated)


async def _next(client: Client, kind: type, *, skip: tuple[type, ...] = SKIP) -> object:
    """The next message of ``kind`` (text or binary), skipping ``skip``."""
    while True:
        raw = await asyncio.wait_for(client.connection.recv(), seconds(5))
        message = parse_server(raw)
        if isinstance(message, kind):
            return message
        assert isinstance(message, skip), f"expected {kind.__name__}, got {message!r}"


async def _error(client: Client, code: str) -> ErrorReply:
    error = await _next(client, ErrorReply)
    assert isinstance(error, ErrorReply) and error.code == code, error
    return error


async def _upload(sharer: Client, head: ShareHead, data: bytes) -> None:
    await sharer.send(ShareOffer(head))
    others = (*SKIP, ShareNotice, ShareEnded)  # news of others' shares
    upload = await _next(sharer, ShareUpload, skip=others)
    assert upload == ShareUpload(head.share_id, 0)
    for frame in _chunks(head, data):
        await sharer.send(frame)
    assert await _next(sharer, ShareStored, skip=others) == ShareStored(head.share_id)


async def _fetch(viewer: Client, head: ShareHead, start: int = 0) -> bytes:
    await viewer.send(ShareResume(head.share_id, start))
    parts = []
    for index in range(start, head.chunks):
        chunk = await _next(viewer, ShareChunk)
        assert isinstance(chunk, ShareChunk) and chunk.index == index
        parts.append(chunk.data)
    return b"".join(parts)


async def _room(open_client: OpenClient, *roles: Role) -> list[Client]:
    clients = []
    for n, role in enumerate(roles):
        client = await open_client()
        await client.join("shares", f"{role.value} {n}", role,
                          Publishes(video=1) if role is Role.SURGEON else None)
        clients.append(client)
    return clients


async def test_a_mentors_upload_reaches_each_viewer_and_a_late_joiner(
        open_client: OpenClient) -> None:
    mentor, trainee = await _room(open_client, Role.MENTOR, Role.TRAINEE)
    head, data = _picture()
    await _upload(mentor, head, data)
    notice = await _next(trainee, ShareNotice)
    assert notice == ShareNotice(mentor.id, head)
    assert await _fetch(trainee, head) == data
    assert await _fetch(trainee, head, start=7) == data[7 * CHUNK:]  # resumable

    late = await open_client()
    await late.join("shares", "Student", Role.STUDENT)
    assert await _next(late, ShareNotice) == ShareNotice(mentor.id, head)
    assert hashlib.sha256(await _fetch(late, head)).hexdigest() == head.sha256


async def test_an_upload_that_broke_off_goes_on_from_the_chunks_held(
        open_client: OpenClient) -> None:
    mentor, trainee = await _room(open_client, Role.MENTOR, Role.TRAINEE)
    head, data = _picture()
    await mentor.send(ShareOffer(head))
    await _next(mentor, ShareUpload)
    for frame in _chunks(head, data)[:4]:
        await mentor.send(frame)
    await mentor.send(ShareOffer(head))  # as after a rejoin
    assert await _next(mentor, ShareUpload) == ShareUpload(head.share_id, 4)
    for frame in _chunks(head, data, 4):
        await mentor.send(frame)
    await _next(mentor, ShareStored)
    await _next(trainee, ShareNotice)
    assert await _fetch(trainee, head) == data


async def test_a_trainee_shares_only_while_allowed_to_draw(open_client: OpenClient) -> None:
    mentor, trainee, student = await _room(open_client, Role.MENTOR, Role.TRAINEE,
                                           Role.STUDENT)
    head, data = _picture()
    await trainee.send(ShareOffer(head, id="s-1"))
    refusal = await _error(trainee, ErrorCode.FORBIDDEN)
    assert refusal.ref == "s-1" and "while a mentor lets them draw" in refusal.message
    await student.send(ShareOffer(head))
    await _error(student, ErrorCode.FORBIDDEN)

    await mentor.send(GrantDraw(trainee.id, True))
    await _upload(trainee, head, data)
    assert await _next(student, ShareNotice) == ShareNotice(trainee.id, head)
    await mentor.send(GrantDraw(trainee.id, False))  # the right goes, and the share with it
    assert await _next(student, ShareEnded) == ShareEnded(trainee.id, head.share_id,
                                                          "no-right")
    await student.send(ShareResume(head.share_id, 0))
    await _error(student, ErrorCode.UNKNOWN_SHARE)


async def test_share_stop_and_leaving_remove_the_share(open_client: OpenClient) -> None:
    mentor, surgeon, trainee = await _room(open_client, Role.MENTOR, Role.SURGEON,
                                           Role.TRAINEE)
    head, data = _picture()
    await _upload(mentor, head, data)
    await _next(trainee, ShareNotice)
    await mentor.send(ShareStop(head.share_id))
    assert await _next(trainee, ShareEnded) == ShareEnded(mentor.id, head.share_id, "stopped")
    late = await open_client()
    await late.join("shares", "Late", Role.STUDENT)
    await late.send(ShareResume(head.share_id, 0))
    error = await _error(late, ErrorCode.UNKNOWN_SHARE)
    assert head.share_id in error.message

    other, other_data = _picture()
    await _upload(surgeon, other, other_data)
    await _next(trainee, ShareNotice)
    await surgeon.send(Leave())
    assert await _next(trainee, ShareEnded) == ShareEnded(
        surgeon.id, other.share_id, "left")


async def test_bad_uploads_are_refused_with_the_fix(open_client: OpenClient) -> None:
    (mentor,) = await _room(open_client, Role.MENTOR)
    head, data = _picture()
    await mentor.send(ShareChunk(head.share_id, 0, data[:CHUNK]).frame())
    error = await _error(mentor, ErrorCode.UNKNOWN_SHARE)
    assert "send 'share' first" in error.message

    await mentor.send(b"not a chunk at all")
    assert "only share chunks" in (await _error(mentor, ErrorCode.BAD_MESSAGE)).message
    await mentor.send(b"STS1" + bytes(20) + bytes(300 * 1024))
    await _error(mentor, ErrorCode.TOO_LARGE)

    huge = (f'{{"v":1,"type":"share","share":"{head.share_id}","bytes":{MAX_SHARE_BYTES + 1},'
            f'"sha256":"{head.sha256}","chunk_bytes":1024,"description":{{}}}}')
    await mentor.send(huge)
    assert "at most 16 MiB" in (await _error(mentor, ErrorCode.TOO_LARGE)).message
    await mentor.send(f'{{"v":1,"type":"share","share":"XYZ","bytes":1,"sha256":"{head.sha256}",'
                      '"chunk_bytes":1024,"description":{}}')
    assert "'share'" in (await _error(mentor, ErrorCode.BAD_MESSAGE)).message

    await mentor.send(ShareOffer(head))
    await _next(mentor, ShareUpload)
    await mentor.send(ShareChunk(head.share_id, 3, data[:CHUNK]).frame())
    assert "chunk 0 was expected" in (await _error(mentor, ErrorCode.BAD_MESSAGE)).message
    await mentor.send(ShareChunk(head.share_id, 0, data[:10]).frame())
    assert "1024 were expected" in (await _error(mentor, ErrorCode.BAD_MESSAGE)).message
    broken = bytearray(data)
    broken[-1] ^= 0xFF
    for frame in _chunks(head, bytes(broken)):
        await mentor.send(frame)
    error = await _error(mentor, ErrorCode.BAD_MESSAGE)
    assert "integrity check" in error.message
    await mentor.send(ShareOffer(head))  # asked again from the start
    assert await _next(mentor, ShareUpload) == ShareUpload(head.share_id, 0)


def _participant(pid: str, role: Role, can_draw: bool = False) -> ParticipantInfo:
    return ParticipantInfo(pid, pid, role, Publishes(), can_draw=can_draw)


def test_one_share_per_sharer_and_a_bound_per_room() -> None:
    store = ShareStore(room_bytes=3 * MAX_SHARE_BYTES)
    mentor, surgeon = _participant("p-1", Role.MENTOR), _participant("p-2", Role.SURGEON)
    heads = [ShareHead(f"{n:032x}", MAX_SHARE_BYTES, "0" * 64, 256 * 1024, {})
             for n in range(4)]
    store.offer("r", mentor, heads[0])
    store.offer("r", mentor, heads[1])  # replaces the first (never whole: nobody told)
    assert store.get("r", heads[0].share_id) is None
    store.offer("r", surgeon, heads[2])
    store.offer("r", _participant("p-3", Role.MENTOR), heads[3])
    try:
        store.offer("r", _participant("p-4", Role.MENTOR),
                    ShareHead("f" * 32, 1024, "0" * 64, 1024, {}))
    except ProtocolError as exc:
        assert exc.code == ErrorCode.TOO_LARGE
        assert "limit is 48 MiB" in str(exc)
    else:
        raise AssertionError("a fourth full-size share fitted in a 48 MiB room")
    assert store.follow("r", [mentor]) == []  # dropped; none was whole, so nothing to tell
    assert [h for h in heads if store.get("r", h.share_id)] == [heads[1]]
    store.follow("r", [])
    assert store.rooms() == []
