"""One author's undo and redo stacks, as before/after states of the marks they touched.

An action records, for each mark it touched, the mark before and after (None when absent)
and its place in the drawing order. Undoing restores ``before`` only where the board still
shows ``after``: what someone else has since changed (a mentor removed the mark, a clear)
is left alone, and an action of which nothing can be restored is dropped, so one undo
always does something visible when anything can be undone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final, TypeAlias

from surgery_teach.annotations.shapes import Shape

MAX_UNDO: Final = 100
"""How many actions each author can undo; older ones are forgotten."""


@dataclass(frozen=True)
class Entry:
    """One mark's state before and after an action."""

    id: str
    before: Shape | None
    after: Shape | None
    order: int


Action: TypeAlias = tuple[Entry, ...]
Restore: TypeAlias = Callable[[Entry, Shape | None, Shape | None], bool]
"""``restore(entry, expected, wanted)``: put ``wanted`` back if the board shows ``expected``."""


class History:
    """The undo and redo stacks of one author."""

    def __init__(self, limit: int = MAX_UNDO) -> None:
        self._limit = limit
        self._undo: list[Action] = []
        self._redo: list[Action] = []

    def record(self, action: Action) -> None:
        """A new action: it can be undone, and what was undone can no longer be redone."""
        self._undo.append(action)
        del self._undo[: -self._limit]
        self._redo.clear()

    def extend(self, before: Shape, after: Shape) -> bool:
        """Fold an update into the last action if that made ``before`` (one drawing gesture).

        Returns False when the update starts a new action.
        """
        if not self._undo:
            return False
        last = self._undo[-1]
        if len(last) != 1 or last[0].id != after.id or last[0].after is not before:
            return False
        self._undo[-1] = (replace(last[0], after=after),)
        return True

    def undo(self, restore: Restore) -> None:
        """Take back the latest action that still has an effect (see the module doc)."""
        _step(self._undo, self._redo, restore, forward=False)

    def redo(self, restore: Restore) -> None:
        """Do again the latest undone action that can still be done."""
        _step(self._redo, self._undo, restore, forward=True)

    @property
    def undoable(self) -> tuple[Action, ...]:
        return tuple(self._undo)

    @property
    def redoable(self) -> tuple[Action, ...]:
        return tuple(self._redo)


def _step(source: list[Action], target: list[Action], restore: Restore, *, forward: bool) -> None:
    while source:
        action = source.pop()
        done = tuple(
            entry
            for entry in (action if forward else reversed(action))
            if (
                restore(entry, entry.before, entry.after)
                if forward
                else restore(entry, entry.after, entry.before)
            )
        )
        if done:
            target.append(done if forward else tuple(reversed(done)))
            return
