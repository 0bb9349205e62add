"""Participants the message tests share, and the helper their bad-input tables use."""

from __future__ import annotations

import pytest

from surgery_teach.errors import ProtocolError
from surgery_teach.protocol.messages import ParticipantInfo, Publishes, Role, parse_client

LI = ParticipantInfo("p-0a1b2c3d", "Dr Li", Role.MENTOR, can_draw=True)
IVANOVA = ParticipantInfo(
    "p-99aa88bb", "Иванова А. П.", Role.SURGEON, Publishes(2, True), can_draw=True
)
DMITRY = ParticipantInfo("p-5e6f7a8b", "Дмитрий", Role.TRAINEE, Publishes(audio=True))


def refused(raw: str | bytes, **kwargs: int) -> ProtocolError:
    """The error :func:`parse_client` refuses ``raw`` with; the test fails if it accepts it."""
    with pytest.raises(ProtocolError) as caught:
        parse_client(raw, **kwargs)
    return caught.value
