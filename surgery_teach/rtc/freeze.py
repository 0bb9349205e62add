"""Freeze frame in a session: send our frozen pictures, keep the ones others send.

When the room's board holds a source on a frame (a ``freeze`` op), the participant who
captures that source sends that exact frame, as a full-quality JPEG, on every peer
connection's ``stills`` data channel (docs/protocol.md, section 8.x); everyone shows it
while the board still holds the source at that frame time. The pictures themselves are
in :mod:`.stills`; this is the bookkeeping of one session. In class mode (media through
the media server) no peer-to-peer channel carries stills: each viewer makes the still of
a frozen source from the last half second of that source's video it received.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from aiortc import RTCDataChannel

from surgery_teach.annotations import Board
from surgery_teach.errors import MediaError
from surgery_teach.media.encoder import SharedEncoder
from surgery_teach.media.receive import VideoReceiver
from surgery_teach.rtc.stills import FrameHistory, Still, StillReceiver, encode_jpeg

logger = logging.getLogger(__name__)

RECEIVED_FPS = 30.0  # how many received pictures a second the class-mode history expects


class FreezeFrames:
    """The stills of one session: ``stills`` maps a frozen source to its picture.

    ``on_still(source)`` is called when a source's still arrived or went away.
    """

    def __init__(self, encoders: Iterable[SharedEncoder], on_still: Callable[[str], None]) -> None:
        self.stills: dict[str, Still] = {}
        self.histories = {e.label: FrameHistory(e.source) for e in encoders}
        # class mode: no publisher's still comes (no peer-to-peer channel), so a frozen
        # source's still is made here from the video received, by label
        self.received: dict[str, tuple[VideoReceiver, FrameHistory]] = {}
        self._on_still = on_still

    def start(self) -> None:
        for history in self.histories.values():
            history.start()

    def stop(self) -> None:
        for history in self.histories.values():
            history.stop()
        for _, history in self.received.values():
            history.stop()
        self.received.clear()

    async def board_changed(self, board: Board, channels: Iterable[RTCDataChannel | None]) -> None:
        """Send our own sources' frozen pictures; forget stills of sources that play again."""
        for source in list(self.stills):
            if board.frozen(source) != self.stills[source].frame_time:
                del self.stills[source]
                self._on_still(source)
        for label, history in self.histories.items():
            frame_time = board.frozen(label)
            if frame_time is None or label in self.stills:
                continue
            jpeg = await _still_jpeg(history, frame_time)
            if jpeg is None:
                continue
            still = Still(label, frame_time, jpeg)
            self.stills[label] = still
            self._on_still(label)
            for channel in list(channels):
                _send(channel, still)
        await self._received_stills(board)

    def watch_received(self, receiver: VideoReceiver) -> None:
        """Keep the last half second of ``receiver``'s pictures, to make its still from
        when the room freezes its source (class mode)."""
        history = FrameHistory(receiver, fps=RECEIVED_FPS)
        history.start()
        old = self.received.pop(receiver.label, None)
        if old is not None:
            old[1].stop()
        self.received[receiver.label] = (receiver, history)

    def forget_received(self, receiver: VideoReceiver) -> None:
        kept = self.received.get(receiver.label)
        if kept is not None and kept[0] is receiver:
            kept[1].stop()
            del self.received[receiver.label]

    async def _received_stills(self, board: Board) -> None:
        for label, (_, history) in list(self.received.items()):
            frame_time = board.frozen(label)
            if frame_time is None or label in self.stills:
                continue
            jpeg = await _still_jpeg(history, frame_time)
            if jpeg is None:
                continue
            if board.frozen(label) == frame_time and label not in self.stills:
                self.stills[label] = Still(label, frame_time, jpeg)
                self._on_still(label)

    def wire(self, channel: RTCDataChannel, board: Callable[[], Board], who: str) -> None:
        """Use ``channel`` (a peer's ``stills`` channel): send it our frozen pictures once
        it opens, and take the pictures that come in while ``board()`` holds them."""
        incoming = StillReceiver()

        @channel.on("open")
        def _on_open() -> None:
            for still in self.stills.values():
                if still.source in self.histories:
                    _send(channel, still)

        @channel.on("message")
        def _on_message(message: str | bytes) -> None:
            try:
                still = incoming.feed(message)
            except MediaError as exc:
                logger.warning("still from %s ignored: %s", who, exc)
                return
            except Exception:  # an error here would close the whole connection (SCTP)
                logger.exception("still from %s ignored", who)
                return
            if still is not None and board().frozen(still.source) == still.frame_time:
                self.stills[still.source] = still
                self._on_still(still.source)

        if channel.readyState == "open":
            _on_open()


async def _still_jpeg(history: FrameHistory, frame_time: float) -> bytes | None:
    """The frozen frame nearest ``frame_time`` in ``history`` as a still's JPEG (encoded
    off the loop), or None if the history has no such frame."""
    frame = history.nearest(frame_time)
    if frame is None:
        return None
    return await asyncio.get_running_loop().run_in_executor(None, encode_jpeg, frame.image)


def _send(channel: RTCDataChannel | None, still: Still) -> None:
    if channel is not None and channel.readyState == "open":
        channel.send(still.header())
        channel.send(still.jpeg)
