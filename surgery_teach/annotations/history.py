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

from surgery_teach.annotations.shapes import Pen, Shape

MAX_UNDO: Final = 100
"""How many actions each author can undo; older ones are forgotten."""
HISTORY_BYTES: Final = 1024 * 1024
"""What the marks in one author's undo and redo steps may weigh (:func:`weight`) before
the oldest steps are forgotten: a history of clears of full boards would otherwise hold a
hundred boards."""


def weight(shape: Shape | None) -> int:
    """A quick estimate of what keeping ``shape`` costs, in bytes of JSON."""
    if shape is None:
        return 0
    if isinstance(shape, Pen):
        return 200 + 40 * len(shape.points)
    return 300


def _action_weight(action: Action) -> int:
    return sum(weight(e.before) + weight(e.after) for e in action)


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
    """The undo and redo stacks of one author.

    ``max_weight`` (None: no bound) bounds what the marks of all the steps weigh
    (:func:`weight`); beyond it the oldest steps are forgotten.
    """

    def __init__(self, limit: int = MAX_UNDO, max_weight: int | None = None) -> None:
        self._limit = limit
        self._max_weight = max_weight
        self._undo: list[Action] = []
        self._redo: list[Action] = []
        self._undo_weights: list[int] = []
        self._redo_weights: list[int] = []

    @property
    def weight(self) -> int:
        """What the marks of every step weigh (:func:`weight`)."""
        return sum(self._undo_weights) + sum(self._redo_weights)

    def record(self, action: Action) -> None:
        """A new action: it can be undone, and what was undone can no longer be redone."""
        self._undo.append(action)
        self._undo_weights.append(_action_weight(action))
        del self._undo[: -self._limit]
        del self._undo_weights[: -self._limit]
        self._redo.clear()
        self._redo_weights.clear()
        self._trim()

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
        self._undo_weights[-1] = _action_weight(self._undo[-1])
        self._trim()
        return True

    def undo(self, restore: Restore) -> None:
        """Take back the latest action that still has an effect (see the module doc)."""
        self._step(restore, forward=False)

    def redo(self, restore: Restore) -> None:
        """Do again the latest undone action that can still be done."""
        self._step(restore, forward=True)

    @property
    def undoable(self) -> tuple[Action, ...]:
        return tuple(self._undo)

    @property
    def redoable(self) -> tuple[Action, ...]:
        return tuple(self._redo)

    def _step(self, restore: Restore, *, forward: bool) -> None:
        source, target = (self._redo, self._undo) if forward else (self._undo, self._redo)
        weights, target_weights = ((self._redo_weights, self._undo_weights) if forward
                                   else (self._undo_weights, self._redo_weights))
        while source:
            action = source.pop()
            weights.pop()
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
                done = done if forward else tuple(reversed(done))
                target.append(done)
                target_weights.append(_action_weight(done))
                return

    def _trim(self) -> None:
        """Forget the oldest steps (undo first, then redo) while the history weighs more
        than allowed; the latest step always stays."""
        if self._max_weight is None:
            return
        total = self.weight
        while total > self._max_weight and len(self._undo) + len(self._redo) > 1:
            if self._undo and (len(self._undo) > 1 or not self._redo):
                self._undo.pop(0)
                total -= self._undo_weights.pop(0)
            else:
                self._redo.pop(0)
                total -= self._redo_weights.pop(0)
