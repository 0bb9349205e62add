"""Marks drawn while the server cannot confirm them, shown to their author at once.

While the signaling link is down, a drawing op waits in the session's outbox until the
rejoin (:mod:`surgery_teach.rtc.outbox`); the room's board changes only with what the
server sends back. So that the hand still sees its stroke, the window keeps those ops on
a board of their own, drawn as "not sent yet", until the server's copies arrive.
"""

from __future__ import annotations

from surgery_teach.annotations.board import FADE_AFTER, Board, BoardView, VisibleShape
from surgery_teach.annotations.ops import Add, Clear, Op, Remove, Update, with_seq


def _number(shape_id: str) -> str:
    """The author's count in a mark id (``p-1a2b:17`` → ``17``); ids are re-authored
    after a rejoin under a new participant id, counts are not."""
    return shape_id.rpartition(":")[2]


class PendingMarks:
    """The author's own ops the server has not confirmed yet, as a board to draw."""

    def __init__(self) -> None:
        self._board = Board()

    def __len__(self) -> int:
        """Marks waiting (pointers left out: they only show a hand)."""
        view = self._board.view()
        return sum(1 for marks in view.marks.values() for s in marks if s.kind != "pointer")

    def add(self, op: Op) -> None:
        """An op sent while the link is down: drawn now, before the server has it."""
        if isinstance(op, Add | Update | Remove | Clear):
            self._board.apply(with_seq(op, 0))

    def settle(self, confirmed: BoardView, me: str) -> None:
        """Forget the marks the server's board now holds: those of ``me`` (our id now,
        perhaps new after the rejoin) with the same count in their id."""
        mine = {_number(s.id) for marks in confirmed.marks.values() for s in marks
                if s.author == me}
        view = self._board.view()
        for marks in view.marks.values():
            for shape in marks:
                if _number(shape.id) in mine:
                    self._board.apply(Remove(shape.id, author=shape.author))

    def clear(self) -> None:
        """Forget everything (the link is back and the server had its chance)."""
        self._board = Board()

    def shapes(self, source: str, now: float,
               fade_after: float = FADE_AFTER) -> list[VisibleShape]:
        """The pending marks of ``source`` to draw at ``now``."""
        return self._board.shapes(source, now, fade_after)
