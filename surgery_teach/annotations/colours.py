"""Each author's own colour by default, so a trainee's mark never passes for the mentor's.

The colour is picked once, when a participant first joins: the next one of the palette
after those of the people who may draw and were in the room already. Everyone sees the
room's participants in the same joining order, so two people who draw at the same time
start with different colours (until more people draw than the palette has colours).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from surgery_teach.wire.role import Role

DRAWING_ROLES = (Role.SURGEON, Role.MENTOR, Role.TRAINEE)


def default_colour(present_before: Iterable[Role | str], palette: Sequence[str]) -> str:
    """The colour of a participant who joins after people of the roles ``present_before``
    (in the room when they joined): the palette's next after the drawers among them."""
    if not palette:
        raise ValueError("the palette needs at least one colour")
    drawers = sum(1 for role in present_before if role in DRAWING_ROLES)
    return palette[drawers % len(palette)]
