"""What a participant does in the room: surgeon, mentor, trainee or student."""

from __future__ import annotations

from enum import StrEnum

from surgery_teach.wire.fields import bad, show


class Role(StrEnum):
    """What a participant does in the room."""

    SURGEON = "surgeon"
    MENTOR = "mentor"
    TRAINEE = "trainee"
    STUDENT = "student"


def as_role(role: object) -> Role:
    """``role`` read from the wire; anything else is ``bad-message`` naming the choices."""
    if isinstance(role, str):
        try:
            return Role(role)
        except ValueError:
            pass
    allowed = ", ".join(r.value for r in Role)
    raise bad("role", f"must be one of {allowed} (got {show(role)})")
