"""Coming back to a room: client keys, ghosts and their mailboxes (room rules, no I/O).

A client that sends a ``client_key`` with its ``join`` (docs/protocol.md, section 4.1)
can come back under the same participant id. When its connection drops, the participant
stays in the room as a **ghost** for :data:`REJOIN_GRACE` seconds: the others are told
nothing (their peer connections with it keep carrying media), signals sent to it wait in
a small mailbox, and a ``join`` with the same key, room, name and role takes the seat back
with its id, its drawing right and what it publishes. A ghost that does not come back in
time leaves the room (``left``, reason ``disconnect``). A ``leave`` or a removal is final.

Keys are secrets: only their SHA-256 digest is kept (and written to a state journal).
"""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass, field
from typing import Final

from surgery_teach.protocol.messages import ChatMessage, MessageRef, Relayed

REJOIN_GRACE: Final = 60.0
"""Seconds a dropped participant with a client key stays in its room, waiting to rejoin."""
MAILBOX_LENGTH: Final = 64
"""Signals kept for a ghost (the newest); older ones are dropped."""


def key_digest(key: str) -> str:
    """What the server keeps of a client key: its SHA-256, hex."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Vacant:
    """Stands for the connection of a ghost that has none: a participant restored from a
    state journal after a server restart, until its client comes back."""

    participant_id: str


@dataclass
class Ghost:
    """A participant whose connection dropped, kept until ``until`` (server clock)."""

    until: float
    mailbox: deque[Relayed] = field(default_factory=lambda: deque(maxlen=MAILBOX_LENGTH))


@dataclass
class Presence:
    """One room's rejoin bookkeeping: whose key is whose, who is a ghost until when."""

    keys: dict[str, str] = field(default_factory=dict)
    """Key digest -> participant id, for participants in the room (ghosts included)."""
    users: dict[str, str | None] = field(default_factory=dict)
    """Participant id -> the ``sub`` of the token it joined with (None: open server)."""
    ghosts: dict[str, Ghost] = field(default_factory=dict)
    """Participant id -> its ghost, while its connection is gone."""
    chats: dict[tuple[str, MessageRef], ChatMessage] = field(default_factory=dict)
    """(sender id, message id) -> the chat message it became, oldest first."""
    chat_weights: dict[tuple[str, MessageRef], int] = field(default_factory=dict)
    chats_bytes: int = 0
    """What the messages in ``chats`` weigh."""

    def remember_chat(self, key: tuple[str, MessageRef], message: ChatMessage,
                      weight: int) -> None:
        self.forget_chat(key)
        self.chats[key] = message
        self.chat_weights[key] = weight
        self.chats_bytes += weight

    def forget_chat(self, key: tuple[str, MessageRef]) -> None:
        if self.chats.pop(key, None) is not None:
            self.chats_bytes -= self.chat_weights.pop(key)

    def remember(self, participant_id: str, digest: str | None, user: str | None) -> None:
        """``participant_id`` joined with a key of this digest (None: no key). A key that
        already belongs to someone else in the room stays theirs."""
        if digest is None or self.keys.get(digest, participant_id) != participant_id:
            return
        for old in [d for d, pid in self.keys.items() if pid == participant_id]:
            del self.keys[old]
        self.keys[digest] = participant_id
        self.users[participant_id] = user

    def digest_of(self, participant_id: str) -> str | None:
        return next((d for d, pid in self.keys.items() if pid == participant_id), None)

    def can_return(self, participant_id: str) -> bool:
        """Whether ``participant_id`` joined with a key, so it may come back."""
        return participant_id in self.users

    def who(self, digest: str, user: str | None) -> str | None:
        """The participant this key digest belongs to, if the token's person matches."""
        participant_id = self.keys.get(digest)
        if participant_id is None or self.users.get(participant_id) != user:
            return None
        return participant_id

    def forget(self, participant_id: str) -> None:
        """``participant_id`` left for good: its key no longer brings it back."""
        for digest in [d for d, pid in self.keys.items() if pid == participant_id]:
            del self.keys[digest]
        self.users.pop(participant_id, None)
        self.ghosts.pop(participant_id, None)

    def expired(self, now: float) -> list[str]:
        """Ghosts whose grace is over, oldest first."""
        return [pid for pid, ghost in self.ghosts.items() if ghost.until <= now]
