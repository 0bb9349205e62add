"""Drawing while the link is down: an op waits, then goes out under the rejoined identity.

A rejoin may get a new participant id from the server, so an op drawn while reconnecting
is re-authored before it is sent: its author, and the author part of the ids of the marks
it makes, become the new id (the session's outbox, :mod:`surgery_teach.rtc.outbox`).
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
