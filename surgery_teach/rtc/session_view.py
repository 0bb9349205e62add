"""What a window shows of a live session: a frozen snapshot, safe to read on another thread.

The :class:`~surgery_teach.rtc.session.LiveSession` lives on the media loop's thread and
changes there. A window on the GUI thread never reads it: after each change the media
thread builds a new :class:`SessionView` and hands it over with the event that caused it,
so what the window reads always matches the event it is handling.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from surgery_teach.annotations import BoardView
from surgery_teach.media.receive import VideoReceiver
from surgery_teach.protocol.messages import ParticipantInfo, RoomRecording
from surgery_teach.rtc.stills import Still

if TYPE_CHECKING:
    from surgery_teach.rtc.session import LiveSession


@dataclass(frozen=True)
class SessionView:
    """One moment of a session: who is here, what they send, the marks and the stills.

    ``receivers`` are the received videos (their frame slots are themselves safe to
    read from any thread); ``link`` is ``live``, ``reconnecting`` or ``ended``.
    """

    me: ParticipantInfo
    participants: Mapping[str, ParticipantInfo] = field(default_factory=dict)
    receivers: tuple[VideoReceiver, ...] = ()
    board: BoardView = field(default_factory=BoardView)
    stills: Mapping[str, Still] = field(default_factory=dict)
    recording: RoomRecording = field(default_factory=lambda: RoomRecording(()))
    link: str = "live"

    @classmethod
    def of(cls, session: LiveSession, board: BoardView | None = None) -> SessionView:
        """Snapshot ``session`` (on its loop's thread); ``board``: a view of its board
        made already (building one sorts the marks, so reuse it when they did not change)."""
        return cls(
            me=session.me,
            participants=MappingProxyType(dict(session.participants)),
            receivers=tuple(session.receivers),
            board=board if board is not None else session.board.view(),
            stills=MappingProxyType(dict(session.stills)),
            recording=session.recording,
            link=session.link,
        )

    def updated(self, session: LiveSession, *, marks: bool = False) -> SessionView:
        """A new snapshot of ``session``; the board is viewed again only if ``marks``."""
        return SessionView.of(session, session.board.view() if marks else self.board)
