"""Recording in one room, as the server rules it: who records, and the room's chapters.

Recording is announced, never silent: a participant who records says so (``record``),
and everyone in the room, late joiners too, learns who records from the room's
:class:`~surgery_teach.protocol.messages.RoomRecording`, so every client can show it
(consent). A recorder who leaves or drops stops counting at once. Chapters
(``chapter``) are numbered per room and go to everyone, so every recorder in the room
logs the same chapters with the same titles.

Only the surgeon and mentors record and start chapters; anyone else is refused with
``forbidden`` and the message from :func:`record_refusal` or :func:`chapter_refusal`.

Pure like :mod:`.room`, which calls it and sends what it returns.
"""

from __future__ import annotations

from typing import Final

from surgery_teach.protocol.messages import (
    ChapterMessage,
    ChapterStart,
    MessageRef,
    ParticipantInfo,
    RecorderInfo,
    Role,
    RoomRecording,
)

RECORDING_ROLES: Final = frozenset({Role.SURGEON, Role.MENTOR})
"""Roles that may record the session and start chapters."""


def record_refusal(role: Role) -> str | None:
    """Why ``role`` may not send ``record`` (a ``forbidden`` message), or None."""
    if role in RECORDING_ROLES:
        return None
    return (
        f"a {role.value} may not record the session; only the surgeon and mentors may "
        "(ask one of them to record it)"
    )


def chapter_refusal(role: Role) -> str | None:
    """Why ``role`` may not send ``chapter`` (a ``forbidden`` message), or None."""
    if role in RECORDING_ROLES:
        return None
    return (
        f"a {role.value} may not start chapters; only the surgeon and mentors may "
        "(ask one of them in the chat)"
    )


class RoomRecorders:
    """One room's recording: who records now (in the order they started) and its chapters."""

    def __init__(self) -> None:
        self._recorders: dict[str, RecorderInfo] = {}
        self.chapter_count = 0
        """Chapters started in this room: the ``seq`` of the latest."""

    @property
    def active(self) -> bool:
        """Whether anyone records the room now."""
        return bool(self._recorders)

    def records(self, participant_id: str) -> bool:
        return participant_id in self._recorders

    def state(self, ref: MessageRef = None) -> RoomRecording:
        """The room's recording as a message (``ref`` for the sender's copy)."""
        return RoomRecording(tuple(self._recorders.values()), ref)

    def set(self, participant: ParticipantInfo, on: bool, *, now: float) -> None:
        """``participant`` starts or stops recording; starting again keeps ``since``."""
        if not on:
            self._recorders.pop(participant.id, None)
        elif participant.id not in self._recorders:
            self._recorders[participant.id] = RecorderInfo(
                participant.id, participant.name, participant.role, now
            )

    def drop(self, participant_id: str) -> bool:
        """``participant_id`` left the room: True if they were recording."""
        return self._recorders.pop(participant_id, None) is not None

    def chapter(
        self, sender: ParticipantInfo, start: ChapterStart, *, now: float
    ) -> ChapterMessage:
        """Number a chapter the room accepted from ``sender`` (stamped ``now``)."""
        self.chapter_count += 1
        return ChapterMessage(
            sender.id, sender.name, sender.role, start.title, start.time, now,
            self.chapter_count,
        )
