"""Privacy pauses in one room, as the server rules them: who has paused their video now.

A publisher who closes the privacy curtain says so (``privacy``, paused); the server
stamps it with who sent it and sends it to everyone in the room, the sender included
(whose copy carries ``ref``: the confirmation). The room remembers who is paused, so a
newcomer learns it right after ``welcome``; a participant who leaves stops counting
(their video is gone with them; clients forget a pause on ``left``).

Only the roles that send video (the surgeon and mentors) pause; anyone else is refused
with ``forbidden`` and the message from :func:`privacy_refusal`. Pure like :mod:`.room`,
which calls it and sends what it returns.
"""

from __future__ import annotations

from typing import Final

from surgery_teach.protocol.messages import MessageRef, ParticipantInfo, Role
from surgery_teach.protocol.messages.privacy import PrivacyNotice

PAUSING_ROLES: Final = frozenset({Role.SURGEON, Role.MENTOR})
"""Roles that may announce a privacy pause: those that send video."""


def privacy_refusal(role: Role) -> str | None:
    """Why ``role`` may not send ``privacy`` (a ``forbidden`` message), or None."""
    if role in PAUSING_ROLES:
        return None
    return (f"a {role.value} may not announce a privacy pause; only the surgeon and mentors "
            "send video to pause")


class RoomPrivacy:
    """One room's privacy pauses: the notice of each participant paused now."""

    def __init__(self) -> None:
        self._paused: dict[str, PrivacyNotice] = {}

    def set(self, participant: ParticipantInfo, paused: bool, *, now: float,
            ref: MessageRef = None) -> tuple[PrivacyNotice, PrivacyNotice]:
        """``participant`` paused or resumed: the notice for the room and the sender's copy."""
        notice = PrivacyNotice(participant.id, participant.name, participant.role, paused, now)
        if paused:
            self._paused[participant.id] = notice
        else:
            self._paused.pop(participant.id, None)
        mine = PrivacyNotice(notice.sender, notice.name, notice.role, paused, now, ref)
        return notice, mine

    def drop(self, participant_id: str) -> None:
        """``participant_id`` left the room."""
        self._paused.pop(participant_id, None)

    def paused(self) -> list[PrivacyNotice]:
        """The notices of those paused now, in the order they paused (for a newcomer)."""
        return list(self._paused.values())
