"""Who may do what to the annotations: the server's rule, kept pure so it is tested alone.

Surgeons and mentors draw; a trainee draws only while a mentor has granted it; students
never draw. A pointer follows the same rights as drawing. Surgeons and mentors clear
everyone's marks (the surgeon's screen is the one the team operates by, so nobody present
may be left unable to clear it); mentors remove anyone's mark, and the surgeon the marks of
someone no longer in the room; surgeons and mentors freeze and unfreeze the picture.
Anchoring a mark to the tissue is editing it: one's own, or anyone's for a surgeon or
mentor. Poses of anchored marks come from whoever publishes the source (the server checks).
"""

from __future__ import annotations

from surgery_teach.annotations.ops import (
    Add,
    Anchor,
    Clear,
    ClearScope,
    Freeze,
    Op,
    Poses,
    Redo,
    Remove,
    Undo,
    Unfreeze,
    Update,
)
from surgery_teach.wire.role import Role


def may_draw(role: Role | str, *, trainee_granted: bool) -> bool:
    """Whether ``role`` may draw, point, undo and clear their own marks."""
    match role:
        case Role.SURGEON | Role.MENTOR:
            return True
        case Role.TRAINEE:
            return trainee_granted
    return False


def may(
    role: Role | str,
    op: Op,
    *,
    trainee_granted: bool,
    shape_author: str | None = None,
    author_present: bool = True,
) -> bool:
    """Whether a participant with ``role`` may send ``op`` (its ``author`` is the sender).

    ``shape_author`` is who drew the mark a :class:`Remove` or :class:`Update` names
    (``board.author_of(op.id)``); None means unknown, and then only a mentor may remove,
    so a server that forgets to look it up refuses rather than lets marks vanish.
    ``author_present``: whether that author is still in the room (a participant waiting
    to rejoin counts as present); the surgeon may remove the marks of someone who left.
    The server must also check that ``op.author`` is the sender's participant id.
    """
    mentor = role == Role.MENTOR
    match op:
        case Clear(scope=ClearScope.ALL):
            return role in (Role.SURGEON, Role.MENTOR)
        case Remove():
            own = shape_author is not None and shape_author == op.author
            left = shape_author is not None and not author_present and role == Role.SURGEON
            return mentor or left or (own and may_draw(role, trainee_granted=trainee_granted))
        case Update():
            if shape_author is not None and shape_author != op.author:
                return False
            return may_draw(role, trainee_granted=trainee_granted)
        case Add() | Clear() | Undo() | Redo():
            return may_draw(role, trainee_granted=trainee_granted)
        case Freeze() | Unfreeze():
            return role in (Role.SURGEON, Role.MENTOR)
        case Anchor():
            # as editing the mark: one's own, or anyone's for those who lead the case
            if shape_author is None:
                return False
            own = shape_author == op.author
            return may_draw(role, trainee_granted=trainee_granted) and (
                own or role in (Role.SURGEON, Role.MENTOR))
        case Poses():
            return True  # any role that publishes the source: the server checks who does
    return False
