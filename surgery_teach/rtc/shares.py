"""Shared pictures in a session: send ours on each peer's ``shares`` channel, take others'.

Like a frozen still (:mod:`.freeze`), a shared picture goes peer to peer on a data
channel of its own, labelled ``shares`` (reliable, ordered), in the messages of
:mod:`surgery_teach.sharing.transfer`: the sharer announces the share on every channel
(and on each channel that opens later: late joiners, links that came back), each viewer
asks for the chunks it lacks, the sharer sends them with flow control (at most
:data:`HIGH_WATER` bytes queued on a channel), and the viewer checks the SHA-256 before
showing the picture. What a viewer held of a share survives a dropped link: it is kept
per participant, not per connection, so the next connection resumes where the last one
stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Final

from aiortc import RTCDataChannel

from surgery_teach.errors import ShareTransferError
from surgery_teach.sharing.outgoing import OutgoingShare
from surgery_teach.sharing.transfer import (
    CHANNEL,
    CHUNK_BYTES,
    Received,
    ReceivedShare,
    Resume,
    ShareHeader,
    ShareReceiver,
    ShareSender,
    Stop,
    parse_text,
)

logger = logging.getLogger(__name__)

#: Bytes queued on a channel before the sender waits for it to drain.
HIGH_WATER: Final = 1024 * 1024
LOW_WATER: Final = 256 * 1024
#: Why a share stopped: its sharer may no longer share (a trainee's drawing was stopped).
NO_RIGHT: Final = "no-right"

__all__ = ["CHANNEL", "NO_RIGHT", "SessionShares"]


class SessionShares:
    """The shares of one session: ``mine`` (ours, if we share) and ``viewing`` (each
    sharer's participant id -> the picture of theirs we hold whole).

    ``on_share(participant_id)`` is called when a participant's picture arrived or went
    away (look it up in ``viewing``); ``on_progress(participant_id, held, total)`` as
    chunks arrive, for a progress bar, and ``(participant_id, 0, 0)`` when a picture
    that was arriving will not come. ``may_share(participant_id)`` says whether that
    participant may share now (their role); shares from others are ignored.
    """

    def __init__(self, on_share: Callable[[str], None], *,
                 on_progress: Callable[[str, int, int], None] | None = None,
                 chunk_bytes: int = CHUNK_BYTES,
                 may_share: Callable[[str], bool] | None = None) -> None:
        self.mine: ShareSender | None = None
        self.viewing: dict[str, ReceivedShare] = {}
        self.delivered: dict[str, str] = {}  # viewer id -> id of our share it holds whole
        self.sent_from: list[tuple[str, int]] = []  # (viewer id, first chunk sent), newest last
        self._receivers: dict[str, ShareReceiver] = {}
        self._channels: dict[str, RTCDataChannel] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._on_share = on_share
        self._on_progress = on_progress
        self._chunk_bytes = chunk_bytes
        self._may_share = may_share

    # -- ours ---------------------------------------------------------------------------

    def share(self, share: OutgoingShare) -> None:
        """Start sharing ``share`` (replacing what we shared before) with everyone."""
        if self.mine is not None:
            self.stop()
        self.mine = ShareSender(share, chunk_bytes=self._chunk_bytes)
        self.delivered.clear()
        for channel in self._channels.values():
            _send_text(channel, self.mine.header.text())

    def stop(self) -> None:
        """Stop sharing: every viewer drops our picture."""
        if self.mine is None:
            return
        stop = Stop(self.mine.share.share_id).text()
        for who, task in list(self._tasks.items()):
            task.cancel()
            del self._tasks[who]
        for channel in self._channels.values():
            _send_text(channel, stop)
        self.mine = None

    # -- a peer's channel -----------------------------------------------------------------

    def wire(self, channel: RTCDataChannel, who: str) -> None:
        """Use ``channel`` (the ``shares`` channel to participant ``who``)."""
        old = self._channels.get(who)
        if old is not None and old is not channel:
            self._cancel(who)
        self._channels[who] = channel
        receiver = self._receivers.setdefault(who, ShareReceiver())

        @channel.on("open")
        def _on_open() -> None:
            if self.mine is not None:
                _send_text(channel, self.mine.header.text())

        @channel.on("close")
        def _on_close() -> None:
            if self._channels.get(who) is channel:
                self._cancel(who)
                del self._channels[who]

        @channel.on("message")
        def _on_message(message: str | bytes) -> None:
            try:
                self._take(channel, who, receiver, message)
            except ShareTransferError as exc:
                logger.warning("share message from %s ignored: %s", who, exc)
                header = receiver.header
                if header is not None and receiver.complete is None:
                    _send_text(channel, Resume(header.share_id, receiver.next_chunk).text())
            except Exception:  # an error here would close the whole connection (SCTP)
                logger.exception("share message from %s ignored", who)

        if channel.readyState == "open":
            _on_open()

    def forget(self, who: str) -> None:
        """Participant ``who`` left the room: drop what we hold of theirs."""
        self._cancel(who)
        self._channels.pop(who, None)
        receiver = self._receivers.pop(who, None)
        self.delivered.pop(who, None)
        if receiver is not None and receiver.header is not None and receiver.complete is None:
            self._nothing_coming(who)
        if self.viewing.pop(who, None) is not None:
            self._on_share(who)

    def follow_rights(self, may_share_mine: bool) -> bool:
        """Keep shares to those who may share now: stop ours unless ``may_share_mine``,
        drop others' whose ``may_share`` went (whatever their side still sends), as if
        they had left. Whether ours stopped."""
        stopped = self.mine is not None and not may_share_mine
        if stopped:
            self.stop()
        for who in self.sharers():
            if self._may_share is not None and not self._may_share(who):
                self.drop(who)
        return stopped

    def sharers(self) -> list[str]:
        """Who we hold or receive a picture from now."""
        return [who for who, receiver in self._receivers.items()
                if receiver.header is not None or who in self.viewing]

    def drop(self, who: str) -> None:
        """Stop showing ``who``'s picture (they may no longer share): what we hold of it
        goes, chunks still on their way are ignored. Their link stays."""
        receiver = self._receivers.get(who)
        if receiver is not None and receiver.header is not None:
            arriving = receiver.complete is None
            receiver.on_stop(Stop(receiver.header.share_id))
            if arriving:
                self._nothing_coming(who)
        if self.viewing.pop(who, None) is not None:
            self._on_share(who)

    def close(self) -> None:
        for who in list(self._tasks):
            self._cancel(who)

    # -- inside ---------------------------------------------------------------------------

    def _take(self, channel: RTCDataChannel, who: str, receiver: ShareReceiver,
              message: str | bytes) -> None:
        if isinstance(message, bytes):
            done = receiver.on_chunk(message)
            header = receiver.header
            if header is not None and self._on_progress is not None:
                self._on_progress(who, min(receiver.next_chunk * header.chunk_bytes,
                                           header.size), header.size)
            if done is not None:
                self.viewing[who] = done
                _send_text(channel, Received(done.share_id).text())
                self._on_share(who)
            return
        control = parse_text(message)
        if isinstance(control, ShareHeader):
            if self._may_share is not None and not self._may_share(who):
                logger.warning("share from %s ignored: their role may not share", who)
                return
            if who in self.viewing and self.viewing[who].share_id != control.share_id:
                del self.viewing[who]
                self._on_share(who)
            _send_text(channel, receiver.on_header(control).text())
        elif isinstance(control, Stop):
            arriving = receiver.header is not None and receiver.complete is None
            if receiver.on_stop(control) and arriving:
                self._nothing_coming(who)
            if who in self.viewing and self.viewing[who].share_id == control.share_id:
                del self.viewing[who]
                self._on_share(who)
        elif isinstance(control, Resume):
            if self.mine is not None and control.share_id == self.mine.share.share_id:
                self._cancel(who)
                self._tasks[who] = asyncio.ensure_future(
                    self._send_chunks(channel, who, control.start))
        elif isinstance(control, Received):
            if self.mine is not None and control.share_id == self.mine.share.share_id:
                self.delivered[who] = control.share_id

    async def _send_chunks(self, channel: RTCDataChannel, who: str, start: int) -> None:
        sender = self.mine
        if sender is None:
            return
        self.sent_from.append((who, start))
        drained = asyncio.Event()
        channel.bufferedAmountLowThreshold = LOW_WATER

        @channel.on("bufferedamountlow")
        def _on_low() -> None:
            drained.set()

        try:
            with contextlib.suppress(asyncio.CancelledError):
                await self._send_from(channel, sender, start, drained)
        finally:
            channel.remove_listener("bufferedamountlow", _on_low)

    @staticmethod
    async def _send_from(channel: RTCDataChannel, sender: ShareSender, start: int,
                         drained: asyncio.Event) -> None:
        for chunk in sender.chunks(start):
            if channel.readyState != "open":
                return  # the link dropped: the viewer resumes on the next one
            while channel.bufferedAmount > HIGH_WATER:
                drained.clear()
                await drained.wait()
                if channel.readyState != "open":
                    return
            channel.send(chunk)
            await asyncio.sleep(0)  # let the channel's transport run between chunks

    def _nothing_coming(self, who: str) -> None:
        if self._on_progress is not None:
            self._on_progress(who, 0, 0)

    def _cancel(self, who: str) -> None:
        task = self._tasks.pop(who, None)
        if task is not None:
            task.cancel()


def _send_text(channel: RTCDataChannel, text: str) -> None:
    if channel.readyState == "open":
        channel.send(text)
