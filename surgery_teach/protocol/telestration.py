"""Telestration in one room, as the server rules it: who may send which op, and its order.

:class:`Telestration` keeps the room's :class:`~surgery_teach.annotations.Board`. An op
is accepted if its author is the sender, a new mark's id begins with the author's id and
``:`` (so nobody can take another's ids), :func:`~surgery_teach.annotations.may` allows
it for the sender's role and drawing right, and the board stays within its limits
(:mod:`.board_limits`); it is then numbered, its mark stamped with the server clock (so
every client fades it at the same moment, whatever their clocks) and applied. Every
client that applies the ops in ``seq`` order then holds this board.

Undo and redo are the exception: they depend on each author's history, and a client that
joined late holds only a compacted history. So the server applies them to its board and
sends what they changed, as ``add``, ``update`` and ``remove`` ops numbered like any
other: the change, never the whole board.

Pure like :mod:`.room`, which calls it and sends what it returns.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass, replace

from surgery_teach.annotations.board import (
    Board,
    Change,
    FreezeChanged,
    ShapeAdded,
    ShapeChanged,
    ShapeRemoved,
    opacity_at,
)
from surgery_teach.annotations.history import weight
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
from surgery_teach.annotations.poses import Anchor, Poses
from surgery_teach.annotations.shapes import Pointer, Shape
from surgery_teach.protocol.board_limits import BoardLimits, BoardTally
from surgery_teach.protocol.messages import (
    Annotate,
    Annotation,
    AnnotationSnapshot,
    ParticipantInfo,
    Role,
)
from surgery_teach.protocol.pose_rules import PoseRules, anchor_refusal
from surgery_teach.wire.fields import ErrorCode, show

REMEMBERED_REFS = 5000
"""Client op ids remembered per room for exactly-once resends after a reconnect."""
REMEMBERED_BYTES = 2 * 1024 * 1024
"""What the ops remembered for those ids may weigh (older ids are forgotten first)."""


@dataclass(frozen=True)
class Refused:
    """Why an op is not taken: the ``error`` code and message for its sender."""

    code: ErrorCode
    text: str


class Telestration:
    """One room's annotations: the board every accepted op goes through, in ``seq`` order.

    ``clock`` (Unix seconds) stamps the marks and tells which pointers still show;
    ``limits`` bound what the board holds.
    """

    def __init__(self, clock: Callable[[], float] = time.time,
                 limits: BoardLimits | None = None) -> None:
        self.limits = BoardLimits() if limits is None else limits
        self.board = Board(history_bytes=self.limits.history_bytes)
        self.tally = BoardTally()
        self.poses = PoseRules()  # who tracks which source, and how often they send
        self._clock = clock
        # client op ids (``annotate.id``) already applied, so a resend is applied once
        self._applied: dict[str | int, Annotation] = {}
        self._applied_weights: dict[str | int, int] = {}
        self._applied_weight = 0

    @staticmethod
    def can_draw(role: Role, *, granted: bool = False) -> bool:
        """A participant's ``can_draw``: by ``role``, and for a trainee whether ``granted``."""
        return may_draw(role, trainee_granted=granted)

    def refusal(self, sender: ParticipantInfo, op: Op,
                present: Container[str] | None = None) -> Refused | None:
        """Why ``sender`` may not send ``op`` now, or None. Undo and redo are judged when
        they are applied (:meth:`take`). ``present``: the ids of who is in the room (a
        mark of someone not among them may be removed by the surgeon too); None: all."""
        if op.author != sender.id:
            return Refused(ErrorCode.FORBIDDEN, (
                f"the op's author is {op.author!r} but you are {sender.id!r}; an op carries "
                "its sender's participant id as its author"))
        shape_author = self._shape_author(op)
        granted = sender.can_draw
        here = present is None or shape_author is None or shape_author in present
        if not may(sender.role, op, trainee_granted=granted, shape_author=shape_author,
                   author_present=here):
            return Refused(ErrorCode.FORBIDDEN, _why_not(sender.role, op, granted=granted,
                                                         shape_author=shape_author))
        match op:
            case Add() | Update() if not op.shape.id.startswith(f"{op.author}:"):
                return Refused(ErrorCode.BAD_ANNOTATION, (
                    f"field 'op.shape.id' must begin with your participant id and ':', like "
                    f"'{op.author}:17' (got {show(op.shape.id)}); count your marks after it"))
            case Update() if self.board.get(op.shape.id) is None:
                return Refused(ErrorCode.BAD_ANNOTATION, (
                    f"there is no mark {op.shape.id!r} on the board to update (it was "
                    "refused, removed, or faded away); start a new one with add"))
            case Add() | Update():
                return self._room_for(op.shape)
            case Freeze():
                problem = self.tally.problem(self.limits, held=op.source)
                return None if problem is None else Refused(ErrorCode.BOARD_FULL, problem)
            case Anchor():
                why = anchor_refusal(op, self.board.get(op.id))
                return None if why is None else Refused(why.code, why.text)
            case Poses():
                why = self.poses.refusal(sender, op, self._clock(), present)
                return None if why is None else Refused(why.code, why.text)
        return None

    def take_marks_of(self, gone: str, by: ParticipantInfo) -> list[Annotation]:
        """Take every mark and pointer of participant ``gone`` off the board (``by``
        removed them from the room, docs/protocol.md 8.3): one numbered ``remove`` op
        each, sent by ``by`` to everyone left. The ops name ``gone`` as their author, so
        the removal is final: nobody's undo brings the marks back."""
        view = self.board.view()
        doomed = [s.id for marks in view.marks.values() for s in marks if s.author == gone]
        taken = []
        for shape_id in doomed:
            op = Remove(shape_id, author=gone, seq=self.board.last_seq + 1)
            self.tally.follow(self.board.apply(op))
            taken.append(Annotation(by.id, op))
        return taken

    def release_freezes_of(self, gone: str) -> list[Annotation]:
        """Play again every source that participant ``gone`` froze: they left the room
        (or were removed, or their connection stayed away past the grace), and nobody
        should keep looking at a picture held by someone no longer there
        (docs/protocol.md 8.3). One numbered ``unfreeze`` op each, in ``gone``'s name."""
        self.poses.forget(gone)  # another may track the sources they tracked
        view = self.board.view()
        released = []
        for source in [s for s, author in view.held_by.items() if author == gone]:
            op = Unfreeze(source, author=gone, seq=self.board.last_seq + 1)
            self.tally.follow(self.board.apply(op))
            released.append(Annotation(gone, op))
        return released

    def _room_for(self, shape: Shape) -> Refused | None:
        """Whether the board has room for ``shape``; faded marks make room if need be."""
        if self.tally.problem(self.limits, shape) is None:
            return None
        self._drop_faded()
        problem = self.tally.problem(self.limits, shape)
        return None if problem is None else Refused(ErrorCode.BOARD_FULL, problem)

    def _drop_faded(self) -> None:
        """Forget marks that show nowhere any more: faded live marks, quiet pointers."""
        self.tally.follow(self.board.drop_faded(self._clock()))

    def take(
        self, sender: ParticipantInfo, annotate: Annotate
    ) -> tuple[list[Annotation], list[Annotation]] | Refused:
        """Order and apply an op :meth:`refusal` let through; return what the others and
        the author receive, in order (an undo or redo may change several marks, and the
        author's copy of the last carries ``ref``), or why it is refused after all.

        The mark an add or update carries is stamped ``created`` now, by the server
        clock. A resend of an op already taken goes to its author only.
        """
        if annotate.id is not None and annotate.id in self._applied:
            # A resend after a reconnect of an op the room already has (the echo was lost):
            # confirm it to its author again; boards skip it, its seq being old.
            done = self._applied[annotate.id]
            return [], [replace(done, ref=annotate.id)]
        op = annotate.op
        if isinstance(op, Undo | Redo):
            taken = self._step(op)
            if isinstance(taken, Refused):
                return taken
            ops = taken
        else:
            if isinstance(op, Add | Update):
                op = replace(op, shape=replace(op.shape, created=self._clock()))
            op = with_seq(op, self.board.last_seq + 1)
            self.tally.follow(self.board.apply(op))
            ops = [op]
        theirs = [Annotation(sender.id, numbered) for numbered in ops]
        self._remember(annotate.id, theirs[-1])  # an undo too: a resend must not undo twice
        mine = [*theirs[:-1], replace(theirs[-1], ref=annotate.id)]
        return theirs, mine

    def _step(self, op: Undo | Redo) -> list[Op] | Refused:
        """Apply an undo or redo; the ops that make its changes, numbered."""
        changes = self._apply_step(op)
        if changes is None:
            self._drop_faded()  # faded marks may make room for what comes back
            changes = self._apply_step(op)
        if changes is None:
            problem = self.tally.over(self.limits) or "the board is full"
            return Refused(ErrorCode.BOARD_FULL, problem)
        if not changes:
            what = "undo" if isinstance(op, Undo) else "redo"
            return Refused(ErrorCode.NOTHING_TO_UNDO, (
                f"there is nothing of yours to {what} (nothing you did can be taken back or "
                "done again now); nothing changed"))
        seq = self.board.last_seq
        ops = [with_seq(_change_op(change, op.author), seq + n)
               for n, change in enumerate(changes, 1)]
        self.board.note_seq(ops[-1].seq)
        return ops

    def _apply_step(self, op: Undo | Redo) -> list[Change] | None:
        """The changes of an undo or redo, or None (and nothing changed) when they would
        break a limit of the board."""
        changes = self.board.apply(with_seq(op, 0))  # numbered once we know the changes
        self.tally.follow(changes)
        if self.tally.over(self.limits) is None:
            return changes
        back = Redo(op.author) if isinstance(op, Undo) else Undo(op.author)
        self.tally.follow(self.board.apply(back))  # exactly what it did, taken back
        return None

    def _remember(self, ref: str | int | None, applied: Annotation) -> None:
        if ref is None:
            return
        self._forget(ref)
        self._applied[ref] = applied
        shape = applied.op.shape if isinstance(applied.op, Add | Update) else None
        self._applied_weights[ref] = weight(shape)
        self._applied_weight += self._applied_weights[ref]
        while len(self._applied) > REMEMBERED_REFS or (
                self._applied_weight > REMEMBERED_BYTES and len(self._applied) > 1):
            self._forget(next(iter(self._applied)))

    def _forget(self, ref: str | int) -> None:
        if self._applied.pop(ref, None) is not None:
            self._applied_weight -= self._applied_weights.pop(ref)

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
            self.board = Board.from_snapshot(snapshot.ops, last_seq=snapshot.seq,
                                             history_bytes=self.limits.history_bytes)
        for ref, annotation in refs:
            self._remember(ref, annotation)
        for annotation, ref in ops:
            self.board.apply(annotation.op)
            self._remember(ref, annotation)
        self.tally = BoardTally()
        view = self.board.view()
        self.tally.follow([ShapeAdded(shape) for marks in view.marks.values() for shape in marks])
        self.tally.follow([FreezeChanged(source, held) for source, held in view.held.items()])

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
            case Anchor():
                return self.board.author_of(op.id)
        return None


def _change_op(change: Change, author: str) -> Op:
    """The op that makes ``change`` on every other board."""
    match change:
        case ShapeAdded(shape):
            return Add(shape)
        case ShapeChanged(shape):
            return Update(shape)
        case ShapeRemoved(shape):
            return Remove(shape.id, author=author)
    raise AssertionError(f"an undo or redo changes marks only, not {change!r}")


def _pointer(op: Op) -> Pointer | None:
    return op.shape if isinstance(op, Add) and isinstance(op.shape, Pointer) else None


def _why_not(role: Role, op: Op, *, granted: bool, shape_author: str | None) -> str:
    """The reason :func:`may` refused ``op``, naming the role and the action."""
    who = f"a {role.value}"
    match op:
        case Clear(scope=ClearScope.ALL):
            return (
                f"{who} may not clear everyone's marks; only the surgeon and mentors may "
                '(send "scope":"mine" to clear your own)'
            )
        case Freeze() | Unfreeze():
            return f"{who} may not freeze or unfreeze the picture; only the surgeon and mentors may"
        case Update() if shape_author is not None and shape_author != op.author:
            return f"{who} may change only their own marks; {op.shape.id!r} is someone else's"
        case Anchor() if shape_author is None:
            return (f"there is no mark {op.id!r} on the board to anchor (it may be gone "
                    "already); draw it again with anchored set")
        case Anchor() if may_draw(role, trainee_granted=granted):
            return (f"{who} may anchor only their own marks; {op.id!r} is someone else's "
                    "(the surgeon and mentors anchor anyone's)")
        case Remove() if may_draw(role, trainee_granted=granted):
            if shape_author is None:
                return (
                    f"there is no mark {op.id!r} on the board (it may be gone already); "
                    f"{who} may remove only their own marks"
                )
            return (f"{who} may remove only their own marks; only a mentor may remove someone "
                    "else's (and the surgeon those of someone who left the room)")
    if role is Role.TRAINEE:
        return "a trainee may draw only when a mentor allows it"
    return f"{who} may not draw or point; students watch, listen and chat"
