"""Drawing while the link is down: ops wait, then go out under the rejoined identity.

A rejoin gets a new participant id from the server, so an op drawn while reconnecting is
re-authored before it is sent: its author, and the author part of the ids of the marks
it makes, become the new id. Each waiting op is sent once, after the rejoin.
"""

from __future__ import annotations

import dataclasses

from surgery_teach.annotations.ops import Add, Op, Update


def reauthor(op: Op, old: str, new: str) -> Op:
    """``op`` as participant ``new`` would send it, if ``old`` made it; else unchanged."""
    if isinstance(op, (Add, Update)):
        shape = op.shape
        if shape.author != old:
            return op
        shape_id = new + shape.id[len(old):] if shape.id.startswith(old + ":") else shape.id
        return dataclasses.replace(op, shape=dataclasses.replace(shape, author=new, id=shape_id))
    if getattr(op, "author", None) != old:
        return op
    changes: dict[str, str] = {"author": new}
    op_id = getattr(op, "id", None)
    if isinstance(op_id, str) and op_id.startswith(old + ":"):
        changes["id"] = new + op_id[len(old):]
    return dataclasses.replace(op, **changes)  # type: ignore[type-var]


class OfflineQueue:
    """Ops made while disconnected, in order, released once after the rejoin.

    Each op keeps its client op id (``ref``): the server applies an id once, so an op
    that reached it before the link died is not applied twice when it is sent again.
    """

    def __init__(self, limit: int = 5000) -> None:
        self.limit = limit
        self._ops: list[tuple[str, Op]] = []
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._ops)

    def add(self, ref: str, op: Op) -> None:
        if len(self._ops) >= self.limit:
            self.dropped += 1
            return
        self._ops.append((ref, op))

    def release(self, old: str, new: str) -> list[tuple[str, Op]]:
        """The waiting ops re-authored for ``new``; the queue is empty afterwards."""
        ops, self._ops = self._ops, []
        return [(ref, reauthor(op, old, new)) for ref, op in ops]
