"""Chat and drawing the server has not confirmed yet, so none is lost or doubled.

Each chat message and annotation op gets its own message ``id`` (its ``ref``) and waits
here until the server's copy comes back carrying that ``ref``. While the link is down
new ones wait too. After a rejoin everything still waiting is sent again, in order: the
server takes each ``id`` once (docs/protocol.md, sections 4.6 and 4.7), so a message that
reached it before the link died is confirmed, not repeated. If the rejoin brought a new
participant id (the server forgot us), the ops are re-authored for it first.
"""

from __future__ import annotations

import itertools
import logging
import secrets

from surgery_teach.annotations import Op
from surgery_teach.annotations.reauthor import reauthor
from surgery_teach.protocol.messages import Annotate, Chat

logger = logging.getLogger(__name__)

MAX_WAITING = 5000
"""Messages kept waiting at most; beyond that new ones are dropped (and logged)."""


class Outbox:
    """Unconfirmed ``chat`` and ``annotate`` messages of one session, oldest first."""

    def __init__(self, limit: int = MAX_WAITING) -> None:
        self.limit = limit
        self.dropped = 0
        self._prefix = secrets.token_hex(4)  # refs unique across sessions of one room
        self._count = itertools.count(1)
        self._waiting: dict[str, Chat | Annotate] = {}
        self._sent: set[str] = set()  # refs sent on the current link

    def __len__(self) -> int:
        return len(self._waiting)

    def chat(self, text: str) -> Chat | None:
        """A chat message to send, now waiting for its confirmation (None: too many wait)."""
        message = Chat(text=text, id=f"c-{self._prefix}-{next(self._count)}")
        return message if self._keep(message) else None

    def annotate(self, op: Op, ref: str | None = None) -> Annotate | None:
        """An op to send under ``ref`` (or a new one), now waiting for its confirmation."""
        message = Annotate(op=op, id=ref or f"a-{self._prefix}-{next(self._count)}")
        return message if self._keep(message) else None

    def _keep(self, message: Chat | Annotate) -> bool:
        if len(self._waiting) >= self.limit:
            self.dropped += 1
            logger.warning("%d messages wait for the server already; one more dropped",
                           self.limit)
            return False
        assert isinstance(message.id, str)
        self._waiting[message.id] = message
        return True

    def settle(self, ref: object) -> bool:
        """The server took (or refused) the message ``ref``: stop waiting for it."""
        if not isinstance(ref, str):
            return False
        self._sent.discard(ref)
        return self._waiting.pop(ref, None) is not None

    def to_send(self) -> list[Chat | Annotate]:
        """What the current link has not carried yet, oldest first; now counted as sent."""
        unsent = [m for ref, m in self._waiting.items() if ref not in self._sent]
        self._sent.update(self._waiting)
        return unsent

    def link_lost(self) -> None:
        """The link dropped: whatever still waits goes out again on the next one."""
        self._sent.clear()

    def rebase(self, old: str, new: str) -> None:
        """We came back as participant ``new`` instead of ``old``: re-author our ops."""
        for ref, message in self._waiting.items():
            if isinstance(message, Annotate):
                self._waiting[ref] = Annotate(op=reauthor(message.op, old, new), id=ref)
