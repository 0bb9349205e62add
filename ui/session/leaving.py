"""Asking before leaving: a stray click or Alt+F4 never ends a case.

Leave, and closing the window, ask first when leaving would end something for others:
our recording, the video we send, a picture we froze or share. The question names each of them;
"Stay" is the default and the answer to Esc and to closing the question itself.
"""

from __future__ import annotations

from PyQt6.QtWidgets import QMessageBox, QPushButton, QWidget

from ui.common.plain import plain_box
from ui.i18n import tr
from ui.session.controller import SessionController


def what_ends(controller: SessionController) -> list[str]:
    """What leaving now would end or leave behind, one sentence each (empty: nothing)."""
    ended: list[str] = []
    if controller.recording.active:
        ended.append(tr("Your recording stops (what is recorded so far is saved)."))
    session = controller.session
    if controller.sources and controller.state in ("live", "reconnecting"):
        names = ", ".join(source.label for source in controller.sources)
        ended.append(tr("Your video ({names}) stops for everyone in the room.", names=names))
    if session is not None:
        board = session.board
        frozen = [source for source, author in board.held_by.items() if author == session.me.id]
        if frozen:
            ended.append(tr("The picture you froze ({names}) plays live again for everyone.",
                            names=", ".join(frozen)))
    mine = controller.shares.mine
    if mine is not None and controller.state in ("live", "reconnecting"):
        ended.append(tr("The picture you share goes away for everyone."))
    return ended


class LeaveQuestion:
    """The question, shown without blocking (the video goes on behind it)."""

    def __init__(self, parent: QWidget, room: str, ended: list[str]) -> None:
        text = "\n".join([tr("Leave room {room}?", room=room), "",
                          *(f"• {line}" for line in ended)])
        self.box: QMessageBox = plain_box(QMessageBox.Icon.Warning, tr("Leave the room?"), text,
                                          parent)
        self.leave_button: QPushButton = self.box.addButton(
            tr("Leave"), QMessageBox.ButtonRole.DestructiveRole)
        self.stay_button: QPushButton = self.box.addButton(
            tr("Stay"), QMessageBox.ButtonRole.RejectRole)
        self.box.setDefaultButton(self.stay_button)
        self.box.setEscapeButton(self.stay_button)

    def open(self, on_leave: object) -> None:
        """Show the question; ``on_leave()`` runs only if Leave is chosen."""
        def answered(_result: int) -> None:
            if self.box.clickedButton() is self.leave_button:
                on_leave()  # type: ignore[operator]

        self.box.finished.connect(answered)
        self.box.open()
