"""Shared pictures kept by the server for rooms in class mode (docs/protocol.md, 8.s).

Without peer-to-peer channels (class mode), a sharer uploads its picture once, in
chunks; the server keeps it in memory for the room and serves chunks to each viewer that
asks, from any chunk number (a viewer whose link dropped resumes). :class:`ShareStore`
holds the rules and the bytes and does no I/O: who may share (the surgeon and mentors,
a trainee while allowed to draw), one share per sharer, :data:`ROOM_SHARE_BYTES` per
room, chunks in order and of the announced size, the SHA-256 checked before the room is
told. A share goes when its sharer stops it, leaves the room or loses the right to share
(:meth:`ShareStore.follow`). :class:`ChunkServing` writes a share's chunks to one
viewer's websocket, waiting while the viewer's link is behind; :class:`ShareDesk` puts
the two between the websocket shell (:mod:`.server`) and the rooms, and
:class:`UploadPace` paces each connection's uploads.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final, TypeAlias

from websockets.exceptions import ConnectionClosed

from signaling_server.connection import Connection
from surgery_teach.errors import ProtocolError
from surgery_teach.protocol import Outbox, Seat
from surgery_teach.protocol.messages import ParticipantInfo, ServerMessage
from surgery_teach.protocol.messages.shares import (
    LEFT,
    NO_RIGHT,
    STOPPED,
    ShareChunk,
    ShareEnded,
    ShareHead,
    ShareNotice,
    ShareOffer,
    ShareResume,
    ShareStop,
    ShareStored,
    ShareUpload,
)
from surgery_teach.protocol.roles import may_share
from surgery_teach.wire.fields import ErrorCode

ROOM_SHARE_BYTES: Final = 64 * 1024 * 1024
"""What the shares of one room may weigh together (four full-size pictures)."""
UPLOAD_BYTES_PER_SECOND: Final = 8 * 1024 * 1024
UPLOAD_BYTE_BURST: Final = 32 * 1024 * 1024
UPLOAD_CHUNKS_PER_SECOND: Final = 1000
"""Share chunks (binary frames) are paced, not refused, and apart from the message rate:
past its burst, an upload is read at this pace (TCP slows the sharer down), so a 16 MiB
picture goes up at once and the sharer's pings and marks still pass."""


class UploadPace:
    """One connection's pace for share chunks: bytes and chunks a second, with a burst.
    :meth:`delay` says how long to wait before handling the next one."""

    def __init__(self, now: float, *, bytes_per_second: float = UPLOAD_BYTES_PER_SECOND,
                 byte_burst: float = UPLOAD_BYTE_BURST,
                 chunks_per_second: float = UPLOAD_CHUNKS_PER_SECOND) -> None:
        self._rates = (bytes_per_second, chunks_per_second)
        self._bursts = (byte_burst, chunks_per_second)
        self._tokens = list(self._bursts)
        self._at = now

    def delay(self, now: float, size: int) -> float:
        """Take a chunk of ``size`` bytes received at ``now``: seconds to wait first."""
        elapsed, self._at = max(0.0, now - self._at), max(now, self._at)
        waits = []
        for n, (rate, burst, cost) in enumerate(zip(self._rates, self._bursts, (size, 1),
                                                    strict=True)):
            self._tokens[n] = min(burst, self._tokens[n] + elapsed * rate) - cost
            waits.append(max(0.0, -self._tokens[n] / rate))
        return max(waits)


@dataclass
class HeldShare:
    """One share the server holds: whose, what, and the chunks in so far."""

    sharer: str
    head: ShareHead
    parts: list[bytes] = field(default_factory=list)
    complete: bool = False

    def chunk(self, index: int) -> ShareChunk:
        return ShareChunk(self.head.share_id, index, self.parts[index])


ShareMessage: TypeAlias = ShareOffer | ShareResume | ShareStop | ShareChunk
SHARE_MESSAGES: Final = (ShareOffer, ShareResume, ShareStop, ShareChunk)
Others: TypeAlias = Callable[[str, str], list[Connection]]
"""``others(room, participant id)``: the connections of everyone else in the room."""

Outcome = tuple[list[ServerMessage], list[ServerMessage]]
"""What to send: to the participant who asked, and to everyone else in the room."""


class ShareStore:
    """The shares of every room, by room and share id. No I/O; refusals are
    :class:`ProtocolError` with a wire code and a message that names the fix."""

    def __init__(self, *, room_bytes: int = ROOM_SHARE_BYTES) -> None:
        self._room_bytes = room_bytes
        self._rooms: dict[str, dict[str, HeldShare]] = {}

    def rooms(self) -> list[str]:
        """Rooms that hold a share now."""
        return list(self._rooms)

    def get(self, room: str, share_id: str) -> HeldShare | None:
        return self._rooms.get(room, {}).get(share_id)

    def offer(self, room: str, sharer: ParticipantInfo, head: ShareHead) -> Outcome:
        """``sharer`` announces ``head``: the chunks the server wants, or that it has it."""
        if not may_share(sharer):
            role = sharer.role.value
            rule = ("a trainee may share only while a mentor lets them draw"
                    if role == "trainee" else "only the surgeon, mentors and trainees allowed "
                    "to draw may")
            raise ProtocolError(ErrorCode.FORBIDDEN,
                                f"a {role} may not share a picture now; {rule}")
        shares = self._rooms.get(room, {})
        held = shares.get(head.share_id)
        if held is not None and held.sharer != sharer.id:
            raise ProtocolError(ErrorCode.FORBIDDEN, "that share id is another participant's; "
                                                     "make a new random id for your share")
        if held is not None and held.head != head:
            raise ProtocolError(ErrorCode.BAD_MESSAGE, "share offered again with another size, "
                                "SHA-256 or description; make a new id for a new picture")
        if held is not None:
            return [ShareStored(head.share_id) if held.complete
                    else ShareUpload(head.share_id, len(held.parts))], []
        others = [s for s in shares.values() if s.sharer != sharer.id]
        weight = sum(s.head.size for s in others) + head.size
        if weight > self._room_bytes:
            raise ProtocolError(
                ErrorCode.TOO_LARGE,
                f"the room's shared pictures would weigh {weight // 2**20} MiB; the limit is "
                f"{self._room_bytes // 2**20} MiB. Ask another sharer to stop, or share a "
                "smaller picture")
        ended = [self._end(room, s, STOPPED) for s in list(shares.values())
                 if s.sharer == sharer.id]  # one share per sharer: a new one replaces it
        self._rooms.setdefault(room, {})[head.share_id] = HeldShare(sharer.id, head)
        return [ShareUpload(head.share_id, 0)], [e for e in ended if e is not None]

    def chunk(self, room: str, sharer_id: str, chunk: ShareChunk) -> Outcome:
        """A chunk of ``sharer_id``'s upload; when it is the last and the SHA-256 matches,
        the sharer hears ``share-received`` and the room ``share``."""
        held = self.get(room, chunk.share_id)
        if held is None or held.sharer != sharer_id:
            raise ProtocolError(ErrorCode.UNKNOWN_SHARE,
                                f"no share {chunk.share_id} of yours is being uploaded here; "
                                "send 'share' first and then the chunks it asks for")
        if held.complete:
            return [], []  # a late duplicate after a resume: the share is whole already
        expected = len(held.parts)
        if chunk.index != expected:
            raise ProtocolError(ErrorCode.BAD_MESSAGE,
                                f"chunk {chunk.index} of share {chunk.share_id} arrived, chunk "
                                f"{expected} was expected; send 'share' again to resume")
        size = held.head.chunk_size(chunk.index) if chunk.index < held.head.chunks else 0
        if len(chunk.data) != size:
            raise ProtocolError(ErrorCode.BAD_MESSAGE,
                                f"chunk {chunk.index} of share {chunk.share_id} holds "
                                f"{len(chunk.data)} bytes, {size} were expected")
        held.parts.append(chunk.data)
        if len(held.parts) < held.head.chunks:
            return [], []
        if hashlib.sha256(b"".join(held.parts)).hexdigest() != held.head.sha256:
            held.parts.clear()
            raise ProtocolError(ErrorCode.BAD_MESSAGE,
                                f"share {chunk.share_id} failed its integrity check (SHA-256); "
                                "send 'share' again to upload it from the start")
        held.complete = True
        return [ShareStored(chunk.share_id)], [ShareNotice(sharer_id, held.head)]

    def wanted(self, room: str, share_id: str, start: int) -> HeldShare:
        """The share a viewer asks chunks ``start``.. of."""
        held = self.get(room, share_id)
        if held is None or not held.complete:
            raise ProtocolError(ErrorCode.UNKNOWN_SHARE,
                                f"no share {share_id} is held for this room (it was stopped, or "
                                "is still being uploaded); wait for its 'share'")
        if start > held.head.chunks:
            raise ProtocolError(ErrorCode.BAD_MESSAGE,
                                f"field 'from' must be at most {held.head.chunks}, the share's "
                                f"chunks (got {start})")
        return held

    def stop(self, room: str, sharer_id: str, share_id: str) -> Outcome:
        """The sharer stops ``share_id``: the room hears ``share-stop``."""
        held = self.get(room, share_id)
        if held is None or held.sharer != sharer_id:
            raise ProtocolError(ErrorCode.UNKNOWN_SHARE,
                                f"no share {share_id} of yours is held here; nothing to stop")
        ended = self._end(room, held, STOPPED)
        return [], [ended] if ended is not None else []

    def follow(self, room: str, members: Sequence[ParticipantInfo]) -> list[ShareEnded]:
        """Drop the shares whose sharer left ``room`` or may no longer share; what the
        room hears of them (nothing of shares it was never told of)."""
        present = {m.id: m for m in members}
        ended: list[ShareEnded | None] = []
        for held in list(self._rooms.get(room, {}).values()):
            sharer = present.get(held.sharer)
            if sharer is None:
                ended.append(self._end(room, held, LEFT))
            elif not may_share(sharer):
                ended.append(self._end(room, held, NO_RIGHT))
        return [e for e in ended if e is not None]

    def current(self, room: str, *, but: str = "") -> list[ShareNotice]:
        """The whole shares of ``room``, for a (re)joining participant ``but`` (not its own)."""
        return [ShareNotice(s.sharer, s.head) for s in self._rooms.get(room, {}).values()
                if s.complete and s.sharer != but]

    def _end(self, room: str, held: HeldShare, reason: str) -> ShareEnded | None:
        shares = self._rooms.get(room, {})
        shares.pop(held.head.share_id, None)
        if not shares:
            self._rooms.pop(room, None)
        return ShareEnded(held.sharer, held.head.share_id, reason) if held.complete else None


class ChunkServing:
    """Sends shares' chunks to viewers, one task per viewer and share; a new request
    from the same viewer replaces the one under way."""

    def __init__(self) -> None:
        self._tasks: dict[tuple[Connection, str], asyncio.Task[None]] = {}

    def serve(self, viewer: Connection, held: HeldShare, start: int) -> None:
        self.cancel(viewer, held.head.share_id)
        key = (viewer, held.head.share_id)
        task = asyncio.get_running_loop().create_task(self._send(viewer, held, start))
        self._tasks[key] = task
        task.add_done_callback(lambda done: self._tasks.pop(key, None)
                               if self._tasks.get(key) is done else None)

    def cancel(self, viewer: Connection, share_id: str) -> None:
        task = self._tasks.pop((viewer, share_id), None)
        if task is not None:
            task.cancel()

    def drop_share(self, share_id: str) -> None:
        for viewer, served in list(self._tasks):
            if served == share_id:
                self.cancel(viewer, served)

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @staticmethod
    async def _send(viewer: Connection, held: HeldShare, start: int) -> None:
        # send() waits while more than the write limit is queued for this viewer, so a
        # slow link takes the picture at its own pace and is never dropped as too slow
        with contextlib.suppress(ConnectionClosed):
            for index in range(start, held.head.chunks):
                await viewer.send(held.chunk(index).frame())


class ShareDesk:
    """The server's shares: the rules (:class:`ShareStore`) and the sending
    (:class:`ChunkServing`), between the websocket shell and the rooms."""

    def __init__(self, *, room_bytes: int = ROOM_SHARE_BYTES) -> None:
        self.store = ShareStore(room_bytes=room_bytes)
        self.serving = ChunkServing()

    def handle(self, connection: Connection, seat: Seat | None, message: ShareMessage,
               others: Others) -> Outbox[Connection]:
        """One share message from ``connection`` (seated at ``seat``): what to send."""
        if seat is None:
            raise ProtocolError(ErrorCode.NOT_JOINED, "join a room before sharing a picture")
        room, me = seat.room, seat.participant
        if isinstance(message, ShareOffer):
            mine, theirs = self.store.offer(room, me, message.head)
        elif isinstance(message, ShareChunk):
            mine, theirs = self.store.chunk(room, me.id, message)
        elif isinstance(message, ShareStop):
            mine, theirs = self.store.stop(room, me.id, message.share_id)
        else:
            held = self.store.wanted(room, message.share_id, message.start)
            self.serving.serve(connection, held, message.start)
            return []
        for ended in theirs:
            if isinstance(ended, ShareEnded):
                self.serving.drop_share(ended.share_id)
        return ([(connection, m) for m in mine]
                + [(c, m) for m in theirs for c in others(room, me.id)])

    def follow(self, room: str, members: Sequence[ParticipantInfo],
               others: Others) -> Outbox[Connection]:
        """Shares whose sharer left or lost the right end: what the room hears."""
        ended = self.store.follow(room, members)
        for gone in ended:
            self.serving.drop_share(gone.share_id)
        return [(c, e) for e in ended for c in others(room, e.sharer)]
