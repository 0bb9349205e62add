"""Why there is no connection to someone, in the link panel, one line per participant.

The live session says so within 15 s of an offer (``peer-problem``: "no connection to Dr
Li's computer: the TURN relay at ... refused the credentials ...", or "Dr Li's computer
did not answer ..."), and says ``""`` once the connection is up after all. The sentences
come from the core in English; the heading is translated.
"""

from __future__ import annotations

from collections.abc import Collection

from PyQt6.QtWidgets import QLabel, QWidget

from surgery_teach.protocol.messages import ParticipantInfo
from ui.i18n import tr


class ConnectionProblems(QLabel):
    """Hidden while every connection is fine; else the heading and one line per peer."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("", parent)
        self.setObjectName("alarm")
        self.setWordWrap(True)
        self.problems: dict[str, str] = {}  # participant id -> what is wrong
        self.hide()

    def show_problem(self, participant: ParticipantInfo, text: str) -> None:
        """``participant``'s problem (``""``: solved)."""
        if text:
            self.problems[participant.id] = text
        else:
            self.problems.pop(participant.id, None)
        self._refresh()

    def keep(self, participant_ids: Collection[str]) -> None:
        """Forget the problems of those who left the room."""
        gone = [pid for pid in self.problems if pid not in participant_ids]
        for pid in gone:
            del self.problems[pid]
        if gone:
            self._refresh()

    def _refresh(self) -> None:
        if not self.problems:
            self.setText("")
            self.hide()
            return
        lines = [tr("No connection to some participants:")]
        lines += [f"• {text}" for text in self.problems.values()]
        self.setText("\n".join(lines))
        self.show()
