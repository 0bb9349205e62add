"""What a room token grants, and who a mentor removed: the room rules' view of tokens.

A :class:`RoomPass` is what a valid token (:mod:`.tokens`) lets its bearer do: join one room,
in one role, under one name, until it expires. :class:`Bars` remembers who a mentor removed
from which room, for as long as their token would have worked. Neither knows how tokens are
signed, so the room rules do not depend on the JWT library. No I/O here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

from surgery_teach.protocol.messages import Role

CLOCK_TOLERANCE: Final = 30.0
"""Seconds by which the token issuer's clock and the server's may disagree."""


@dataclass(frozen=True, kw_only=True)
class RoomPass:
    """What a valid token grants: joining ``room`` as ``role`` under ``name``."""

    room: str
    role: Role
    name: str
    user: str
    """The ``sub`` claim: a stable id of the person, kept across their tokens."""
    token_id: str
    """The ``jti`` claim: this token's own id."""
    issued_at: float
    expires_at: float


class Bars:
    """Who a mentor removed from which room, and until when they stay out.

    A removal bars the removed token (``jti``) and its person (``sub``) from that room
    until the token would have expired (plus :data:`CLOCK_TOLERANCE`, during which
    :func:`~.tokens.read_token` still accepts it): a new token for the same ``sub`` does not let
    them back in before then. Expired bars are forgotten as new ones are added.

    ``keep`` is told each bar as ``(room, key, until)`` (the server writes them to its
    state directory); :meth:`restore` takes them back after a restart.
    """

    def __init__(self, keep: Callable[[str, str, float], None] | None = None) -> None:
        self._until: dict[tuple[str, str], float] = {}
        self.keep = keep

    @property
    def count(self) -> int:
        """How many tokens and persons are barred from a room (expired ones included until
        the next :meth:`bar` forgets them)."""
        return len(self._until)

    def bar(self, room_pass: RoomPass, *, now: float) -> None:
        """Keep ``room_pass``'s token and person out of its room until it expires."""
        self._until = {key: until for key, until in self._until.items() if until > now}
        for key in self._keys(room_pass):
            until = room_pass.expires_at + CLOCK_TOLERANCE
            self._until[key] = max(self._until.get(key, 0.0), until)
            if self.keep is not None:
                self.keep(*key, self._until[key])

    def entries(self, *, now: float) -> list[tuple[str, str, float]]:
        """The bars still in force: ``(room, key, until)``."""
        return [(room, key, until) for (room, key), until in self._until.items() if until > now]

    def restore(self, entries: Iterable[tuple[str, str, float]], *, now: float) -> None:
        """Take back bars from :meth:`entries` (of an earlier run); expired ones are left."""
        for room, key, until in entries:
            if until > now and key.startswith(("sub:", "jti:")):
                self._until[(room, key)] = max(self._until.get((room, key), 0.0), until)

    def barred(self, room_pass: RoomPass, *, now: float) -> bool:
        """True if ``room_pass`` (its token or its person) was removed from its room."""
        return any(self._until.get(key, 0.0) > now for key in self._keys(room_pass))

    @staticmethod
    def _keys(room_pass: RoomPass) -> tuple[tuple[str, str], tuple[str, str]]:
        room = room_pass.room
        return (room, f"sub:{room_pass.user}"), (room, f"jti:{room_pass.token_id}")
