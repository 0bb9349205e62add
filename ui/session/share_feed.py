"""Shared pictures for the window: ours and others', decoded off the GUI thread.

The session (on the media thread) says ``share`` when someone's picture arrived whole or
went, ours included; :class:`ShareFeed` decodes the bytes on a worker thread (a 16 MiB
PNG takes a while) and hands the GUI thread a frozen :class:`ShownShare`, in order. A
decode that finishes after its share was stopped or replaced is dropped. ``current`` is
the picture the room looks at: the newest share still held.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
from PyQt6.QtCore import QObject, pyqtSignal

from surgery_teach.errors import ShareError
from surgery_teach.rtc.session import LiveSession
from surgery_teach.sharing import OutgoingShare, decode_picture
from ui.common.media_thread import GuiCalls
from ui.common.share_words import share_problem, stopped_text
from ui.i18n import tr

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class ShownShare:
    """One shared picture as shown: who shares it, its id, description and BGR pixels."""

    who: str
    share_id: str
    description: Mapping[str, Any]
    pixels: np.ndarray
    mine: bool = False

    @property
    def source_name(self) -> str:
        """The marks' source for this picture (docs/protocol.md section 8.s)."""
        return "share:" + self.share_id

    @property
    def title(self) -> str:
        return str(self.description.get("title") or "")


class ShareFeed(QObject):
    """The window's model of shared pictures. ``changed`` fires on the GUI thread when
    ``current`` may have changed; ``progress`` (sharer id, bytes held, bytes in all)
    while a picture arrives."""

    changed = pyqtSignal()
    progress = pyqtSignal(str, int, int)

    def __init__(self, gui: GuiCalls, on_problem: Callable[[str], None]) -> None:
        super().__init__()
        self._gui = gui
        self._on_problem = on_problem
        # GUI thread: each sharer's picture, oldest first
        self.shown: dict[str, ShownShare] = {}
        # media thread: each sharer's share id we are decoding or showing
        self._latest: dict[str, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def current(self) -> ShownShare | None:
        """The newest picture still shared, or None."""
        return next(reversed(self.shown.values()), None)

    @property
    def mine(self) -> ShownShare | None:
        return next((s for s in self.shown.values() if s.mine), None)

    # -- media thread -----------------------------------------------------------------------

    def bind(self, session: LiveSession) -> None:
        """Follow ``session``'s shares (on the media thread)."""
        session.on("share", lambda who: self._share_changed(session, who))
        session.on("share-progress", lambda who, held, total: self._gui.post(
            self.progress.emit, who, held, total))
        session.on("share-stopped", lambda reason: self._gui.post(
            self._on_problem, stopped_text(reason)))

    def _share_changed(self, session: LiveSession, who: str) -> None:
        mine = who == session.me.id
        share: OutgoingShare | None = session.shares.mine.share if (
            mine and session.shares.mine is not None) else None
        received = None if mine else session.shares.viewing.get(who)
        held = share or received
        if held is None:
            self._latest.pop(who, None)
            self._gui.post(self._gone, who)
            return
        self._latest[who] = held.share_id
        task = asyncio.ensure_future(self._decode(who, held.share_id, held.picture,
                                                  MappingProxyType(dict(held.description)),
                                                  mine))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _decode(self, who: str, share_id: str, data: bytes,
                      description: Mapping[str, Any], mine: bool) -> None:
        width, height = description.get("width"), description.get("height")
        expected = (width, height) if isinstance(width, int) and isinstance(height, int) \
            else None
        try:
            pixels = await asyncio.to_thread(decode_picture, data, expected)
        except ShareError as exc:
            logger.warning("a shared picture from %s was refused: %s", who, exc)
            self._gui.post(self._on_problem, share_problem(exc))
            return
        except Exception:  # (out of memory, a codec's own error): said, not a traceback
            logger.exception("a shared picture from %s could not be shown", who)
            self._gui.post(self._on_problem, tr("The shared picture could not be shown: ask "
                                                "the sharer to share it again."))
            return
        if self._latest.get(who) == share_id:  # not stopped or replaced meanwhile
            self._gui.post(self._arrived, ShownShare(who, share_id, description, pixels, mine))

    def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    # -- GUI thread -------------------------------------------------------------------------

    def _arrived(self, share: ShownShare) -> None:
        self.shown.pop(share.who, None)  # a new picture of theirs goes to the end
        self.shown[share.who] = share
        self.changed.emit()

    def _gone(self, who: str) -> None:
        if self.shown.pop(who, None) is not None:
            self.changed.emit()
