"""Shared pictures through the signaling server, for class mode (docs/protocol.md, 8.s).

In class mode the peer-to-peer connections close, and with them the ``shares`` channels
(:mod:`.shares`). The sharer then uploads its picture once to the signaling server
(``share``, then the chunks the server asks for with ``share-resume``, as binary
frames), and each viewer fetches it from there (the server's ``share``, our
``share-resume`` from the chunks already held, the chunks as binary frames). The chunks,
their order and the SHA-256 check are those of the peer-to-peer channel
(:class:`~surgery_teach.sharing.transfer.ShareSender` and
:class:`~surgery_teach.sharing.transfer.ShareReceiver`), and what a viewer held of a
picture survives a dropped link: after the rejoin the server announces the share again
and the viewer asks for what it lacks. :class:`ServerShares` hands whole pictures to the
session (``on_picture``), which shows them as it shows those that came peer to peer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from surgery_teach.errors import ShareTransferError, SignalingError
from surgery_teach.protocol.messages import (
    ClientMessage,
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
from surgery_teach.sharing.outgoing import OutgoingShare
from surgery_teach.sharing.transfer import (
    CHUNK_BYTES,
    Received,
    ReceivedShare,
    ShareHeader,
    ShareReceiver,
    ShareSender,
    Stop,
    check_description,
)

logger = logging.getLogger(__name__)

ServerShareMessage = ShareUpload | ShareStored | ShareNotice | ShareEnded | ShareChunk
SERVER_SHARE_MESSAGES = (ShareUpload, ShareStored, ShareNotice, ShareEnded, ShareChunk)


class ServerShares:
    """Our share uploaded to the signaling server, and others' fetched from it.

    ``send(message)`` and ``send_binary(frame)`` go to the server (they raise
    :class:`SignalingError` while the link is down: the upload goes on after the rejoin,
    :meth:`announce`). ``on_picture(sharer, share id, picture)`` is called with a whole,
    checked picture, or with None when the one it gave for that sharer went away;
    ``on_progress(sharer, held, total)`` as chunks arrive (``0, 0``: it will not come);
    ``may_share(sharer)`` says whether the sharer may share now (others' are ignored).
    """

    def __init__(self, send: Callable[[ClientMessage], Awaitable[None]],
                 send_binary: Callable[[bytes], Awaitable[None]], *,
                 on_picture: Callable[[str, str, ReceivedShare | None], None],
                 on_progress: Callable[[str, int, int], None],
                 may_share: Callable[[str], bool], chunk_bytes: int = CHUNK_BYTES) -> None:
        self.mine: ShareSender | None = None
        self.stored = False  # the server holds ours whole
        self.uploaded_from: list[int] = []  # the chunk each upload of ours began with
        self.asked_from: list[tuple[str, int]] = []  # (sharer, first chunk) we asked for
        self.chunk_bytes = chunk_bytes  # of our uploads
        self._send, self._send_binary = send, send_binary
        self._on_picture, self._on_progress = on_picture, on_progress
        self._may_share = may_share
        self._receivers: dict[str, ShareReceiver] = {}  # sharer -> what we hold of theirs
        self._shown: dict[str, str] = {}  # sharer -> the share id given to on_picture
        self._upload: asyncio.Task[None] | None = None

    # -- ours ---------------------------------------------------------------------------

    async def share(self, share: OutgoingShare) -> None:
        """Upload ``share`` (replacing ours on the server): the server asks for chunks."""
        self._cancel_upload()
        self.mine, self.stored = ShareSender(share, chunk_bytes=self.chunk_bytes), False
        await self.announce()

    async def announce(self) -> None:
        """Offer ours to the server (again, after a rejoin): it says what it lacks."""
        if self.mine is not None:
            header = self.mine.header
            with contextlib.suppress(SignalingError):  # offered again after the rejoin
                await self._send(ShareOffer(ShareHead(header.share_id, header.size,
                                                      header.sha256, header.chunk_bytes,
                                                      header.description)))

    async def stop(self) -> None:
        """Stop sharing ours through the server: every viewer drops it."""
        mine, self.mine, self.stored = self.mine, None, False
        self._cancel_upload()
        if mine is not None:
            with contextlib.suppress(SignalingError):  # the server drops it when we leave
                await self._send(ShareStop(mine.share.share_id))

    # -- from the server ------------------------------------------------------------------

    async def take(self, message: ServerShareMessage) -> None:
        """One share message from the server."""
        if isinstance(message, ShareChunk):
            await self._on_chunk(message)
        elif isinstance(message, ShareNotice):
            await self._on_notice(message)
        elif isinstance(message, ShareEnded):
            self._on_ended(message.sharer, message.share_id)
        elif isinstance(message, ShareUpload):
            if self.mine is not None and message.share_id == self.mine.share.share_id:
                self._cancel_upload()
                self._upload = asyncio.ensure_future(self._send_chunks(self.mine,
                                                                       message.start))
        elif self.mine is not None and message.share_id == self.mine.share.share_id:
            self.stored = True  # ShareStored

    async def _on_notice(self, notice: ShareNotice) -> None:
        who, head = notice.sharer, notice.head
        if not self._may_share(who):
            logger.warning("share from %s ignored: their role may not share", who)
            return
        try:
            header = ShareHeader(head.share_id, head.size, head.sha256, head.chunk_bytes,
                                 check_description(head.description, head.size))
        except ShareTransferError as exc:
            logger.warning("share from %s ignored: %s", who, exc)
            return
        if self._shown.get(who, head.share_id) != head.share_id:  # replaced
            self._forget_shown(who)
        answer = self._receivers.setdefault(who, ShareReceiver()).on_header(header)
        if isinstance(answer, Received):
            return  # whole already (told again after a rejoin)
        self.asked_from.append((who, answer.start))
        with contextlib.suppress(SignalingError):  # asked again after the rejoin
            await self._send(ShareResume(answer.share_id, answer.start))

    async def _on_chunk(self, chunk: ShareChunk) -> None:
        who = next((w for w, r in self._receivers.items()
                    if r.header is not None and r.header.share_id == chunk.share_id), None)
        if who is None:
            return  # of a share stopped or replaced meanwhile
        receiver = self._receivers[who]
        try:
            done = receiver.on_part(chunk.share_id, chunk.index, chunk.data)
        except ShareTransferError as exc:
            logger.warning("share chunk from the server refused: %s", exc)
            if receiver.header is not None:
                with contextlib.suppress(SignalingError):
                    await self._send(ShareResume(chunk.share_id, receiver.next_chunk))
            return
        header = receiver.header
        if header is not None:
            self._on_progress(who, min(receiver.next_chunk * header.chunk_bytes, header.size),
                              header.size)
        if done is not None:
            self._shown[who] = done.share_id
            self._on_picture(who, done.share_id, done)

    def _on_ended(self, who: str, share_id: str) -> None:
        receiver = self._receivers.get(who)
        arriving = receiver is not None and receiver.header is not None \
            and receiver.complete is None
        if receiver is not None and receiver.on_stop(Stop(share_id)) and arriving:
            self._on_progress(who, 0, 0)
        if self._shown.get(who) == share_id:
            self._forget_shown(who)

    # -- rights and departures --------------------------------------------------------------

    def forget(self, who: str) -> None:
        """``who`` left the room, or may no longer share: drop what we hold of theirs."""
        receiver = self._receivers.pop(who, None)
        if receiver is not None and receiver.header is not None and receiver.complete is None:
            self._on_progress(who, 0, 0)
        self._forget_shown(who)

    def follow_rights(self) -> None:
        """Drop others' shares whose sharer may no longer share (the server ends them too)."""
        for who in list(self._receivers):
            if not self._may_share(who):
                self.forget(who)

    def drop_mine(self) -> None:
        """Forget ours without a word: the server ended it (we lost the right to share)."""
        self.mine, self.stored = None, False
        self._cancel_upload()

    def close(self) -> None:
        self._cancel_upload()

    # -- inside ---------------------------------------------------------------------------

    def _forget_shown(self, who: str) -> None:
        share_id = self._shown.pop(who, None)
        if share_id is not None:
            self._on_picture(who, share_id, None)

    async def _send_chunks(self, sender: ShareSender, start: int) -> None:
        self.uploaded_from.append(start)
        try:
            for chunk in sender.chunks(start):
                await self._send_binary(chunk)  # waits while the link is behind
        except SignalingError as exc:  # the link dropped: resumed after the rejoin
            logger.info("share upload broke off: %s", exc)

    def _cancel_upload(self) -> None:
        if self._upload is not None:
            self._upload.cancel()
            self._upload = None
