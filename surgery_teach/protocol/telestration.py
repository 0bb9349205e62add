"""Telestration in one room, as the server rules it: who may send which op, and its order.

:class:`Telestration` keeps the room's :class:`~surgery_teach.annotations.Board`. An op
is accepted if its author is the sender and :func:`~surgery_teach.annotations.may` allows
it for the sender's role and drawing right; it is then numbered, its mark stamped with
the server clock (so every client fades it at the same moment, whatever their clocks)
and applied. Every client that applies the ops in ``seq`` order then holds this board.

Undo and redo are the exception: they depend on each author's history, and a client that
joined late holds only a compacted history (:meth:`~surgery_teach.annotations.Board.snapshot`).
So they are applied here and answered with a fresh snapshot for everyone, not relayed.

Pure like :mod:`.room`, which calls it and sends what it returns.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import replace

from surgery_teach.annotations.board import Board, opacity_at
from surgery_teach.annotations.ops import (
    Add,
    Clear,
    ClearScope,
    Freeze,
    Op,
    Redo,
    Remove,
    Undo,
    Unfreeze,
    Update,
    with_seq,
)
from surgery_teach.annotations.permissions import may, may_draw
from surgery_teach.annotations.shapes import Pointer
from surgery_teach.protocol.messages import (
    Annotate,
    Annotation,
    AnnotationSnapshot,
    ParticipantInfo,
    Role,
)

REMEMBERED_REFS = 5000
"""Client op ids remembered per room for exactly-once resends after a reconnect."""


class Telestration:
    """One room's annotations: the board every accepted op goes through, in ``seq`` order.

    ``clock`` (Unix seconds) stamps the marks and tells which pointers still show.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.board = Board()
        self._clock = clock
        # client op ids (``annotate.id``) already applied, so a resend is applied once
        self._applied: dict[str | int, Annotation] = {}

    @staticmethod
    def can_draw(role: Role, *, granted: bool = False) -> bool:
        """A participant's ``can_draw``: by ``role``, and for a trainee whether ``granted``."""
        return may_draw(role, trainee_granted=granted)

    def refusal(self, sender: ParticipantInfo, op: Op) -> str | None:
        """Why ``sender`` may not send ``op`` (a ``forbidden`` message), or None."""
        if op.author != sender.id:
            return (
                f"the op's author is {op.author!r} but you are {sender.id!r}; an op carries "
                "its sender's participant id as its author"
            )
        shape_author = self._shape_author(op)
        granted = sender.can_draw
        if may(sender.role, op, trainee_granted=granted, shape_author=shape_author):
            return None
        return _why_not(sender.role, op, granted=granted, shape_author=shape_author)

    def take(
        self, sender: ParticipantInfo, annotate: Annotate
    ) -> tuple[Annotation | AnnotationSnapshot, Annotation | AnnotationSnapshot]:
        """Order and apply an accepted op; return what the others and the author receive.

        The mark an add or update carries is stamped ``created`` now, by the server
        clock. The author's copy differs only by its ``ref``.
        """
        if annotate.id is not None and annotate.id in self._applied:
            # A resend after a reconnect of an op the room already has (the echo was lost):
            # confirm it to its author again; boards skip it, its seq being old.
            done = self._applied[annotate.id]
            return done, replace(done, ref=annotate.id)
        op = annotate.op
        if isinstance(op, Add | Update):
            op = replace(op, shape=replace(op.shape, created=self._clock()))
        op = with_seq(op, self.board.last_seq + 1)
        self.board.apply(op)
        applied = Annotation(sender.id, op)
        self._remember(annotate.id, applied)  # an undo too: a resend must not undo twice
        if isinstance(op, Undo | Redo):
            ops = self._snapshot_ops()
            return AnnotationSnapshot(ops, op.seq), AnnotationSnapshot(ops, op.seq, annotate.id)
        return applied, Annotation(sender.id, op, annotate.id)

    def _remember(self, ref: str | int | None, applied: Annotation) -> None:
        if ref is None:
            return
        self._applied[ref] = applied
        while len(self._applied) > REMEMBERED_REFS:
            self._applied.pop(next(iter(self._applied)))

    def restore(
        self,
        snapshot: AnnotationSnapshot | None,
        ops: Iterable[tuple[Annotation, str | int | None]],
        refs: Iterable[tuple[str | int | None, Annotation]] = (),
    ) -> None:
        """Rebuild the board from a state journal (:mod:`.room_journal`): a compacted
        ``snapshot``, then the numbered ``ops`` after it; ``refs`` are client op ids the
        snapshot already holds, so resends of them are still recognised."""
        if snapshot is not None:
            self.board = Board.from_snapshot(snapshot.ops, last_seq=snapshot.seq)
        for ref, annotation in refs:
            self._remember(ref, annotation)
        for annotation, ref in ops:
            self.board.apply(annotation.op)
            self._remember(ref, annotation)

    def state(self) -> tuple[AnnotationSnapshot, list[tuple[str | int, Annotation]]]:
        """The board compacted, and the client op ids it holds: what a compacted journal
        keeps. (The undo history of removes and clears is not kept.)"""
        snapshot = AnnotationSnapshot(tuple(self.board.snapshot()), self.board.last_seq)
        return snapshot, list(self._applied.items())

    def snapshot(self) -> AnnotationSnapshot | None:
        """What a newcomer needs to rebuild the board, or None when nothing is on it."""
        ops = self._snapshot_ops()
        return AnnotationSnapshot(ops, self.board.last_seq) if ops else None

    def _snapshot_ops(self) -> tuple[Op, ...]:
        """The board's snapshot without the pointers that no longer show.

        A pointer not moved for 2 s is hidden everywhere (its owner went quiet), so it is
        left out. One still held is kept: a board ignores updates of a mark it does not
        have, so a joiner would not see it move until its owner's next press.
        """
        ops = self.board.snapshot()
        if any(_pointer(op) for op in ops):
            now = self._clock()
            ops = [op for op in ops if (p := _pointer(op)) is None or opacity_at(p, now) > 0.0]
        return tuple(ops)

    def _shape_author(self, op: Op) -> str | None:
        match op:
            case Remove():
                return self.board.author_of(op.id)
            case Update():
                return self.board.author_of(op.shape.id)
        return None


def _pointer(op: Op) -> Pointer | None:
    return op.shape if isinstance(op, Add) and isinstance(op.shape, Pointer) else None


def _why_not(role: Role, op: Op, *, granted: bool, shape_author: str | None) -> str:
    """The reason :func:`may` refused ``op``, naming the role and the action."""
    who = f"a {role.value}"
    match op:
        case Clear(scope=ClearScope.ALL):
            return (
                f"{who} may not clear everyone's marks; only a mentor may "
                '(send "scope":"mine" to clear your own)'
            )
        case Freeze() | Unfreeze():
            return f"{who} may not freeze or unfreeze the picture; only the surgeon and mentors may"
        case Update() if shape_author is not None and shape_author != op.author:
            return f"{who} may change only their own marks; {op.shape.id!r} is someone else's"
        case Remove() if may_draw(role, trainee_granted=granted):
            if shape_author is None:
                return (
                    f"there is no mark {op.id!r} on the board (it may be gone already); "
                    f"{who} may remove only their own marks"
                )
            return f"{who} may remove only their own marks; only a mentor may remove someone else's"
    if role is Role.TRAINEE:
        return "a trainee may draw only when a mentor allows it"
    return f"{who} may not draw or point; students watch, listen and chat"
