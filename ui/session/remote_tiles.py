"""The stage's pictures of received videos: one tile per source, whichever path brings it.

The session says ``video`` for each receiver. While the room moves onto the media server
or back, one source has two receivers for a moment (the old path and the new); the
choice of which one shows it is the Qt-free
:class:`~surgery_teach.rtc.received_sources.ReceivedSources`. Here its answers become
tiles: a tile per source (keyed by who sends it and its label), handed over to the new
path in place when that path's first picture arrives, removed when the source's last
path ends. So the main view stays on the source being watched, with its marks and its
freeze, across the move and back.
"""

from __future__ import annotations

import asyncio
import contextlib

from PyQt6 import sip

from surgery_teach.media.receive import VideoReceiver
from surgery_teach.rtc.received_sources import ReceivedSources, Shown, SourceKey
from ui.session.stage import Stage, StageSource


def tile_key(key: SourceKey) -> str:
    """The stage key of a received source's tile."""
    return f"remote:{key.participant}/{key.label}" + (f"#{key.n}" if key.n else "")


class RemoteTiles:
    """Keeps ``stage``'s received tiles in step with the session's receivers (GUI thread)."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        self.sources = ReceivedSources()
        self._waits: dict[VideoReceiver, asyncio.Task[None]] = {}

    def add(self, receiver: VideoReceiver) -> None:
        """A received video began (``video_added``)."""
        self._show(self.sources.add(receiver))
        if self.sources.waiting(receiver) and receiver not in self._waits:
            self._waits[receiver] = asyncio.ensure_future(self._first_picture(receiver))

    def remove(self, receiver: VideoReceiver) -> None:
        """A received video ended (``video_removed``)."""
        wait = self._waits.pop(receiver, None)
        if wait is not None:
            wait.cancel()
        self._show(self.sources.end(receiver))

    def stop(self) -> None:
        """Stop waiting for pictures (the window is closing)."""
        for wait in self._waits.values():
            wait.cancel()
        self._waits.clear()

    async def _first_picture(self, receiver: VideoReceiver) -> None:
        try:
            with contextlib.suppress(asyncio.CancelledError):
                frame = await receiver.slot.next_after(0)
                if frame is not None and not sip.isdeleted(self.stage):
                    self._show(self.sources.pictures(receiver))
        finally:
            if self._waits.get(receiver) is asyncio.current_task():
                del self._waits[receiver]

    def _show(self, shown: Shown | None) -> None:
        if shown is None:
            return
        key = tile_key(shown.key)
        if shown.receiver is None:
            self.stage.remove(key)
        elif shown.new:
            self.stage.add(StageSource(key=key, label=shown.receiver.label,
                                       slot=shown.receiver.slot))
        else:
            self.stage.hand_over(key, shown.receiver.slot)
