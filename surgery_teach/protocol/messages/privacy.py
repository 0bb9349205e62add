"""Privacy pauses: a publisher tells the room its video is paused for privacy, or resumed.

When a surgeon closes the privacy curtain, every source they send shows a "video paused
for privacy" card from the next frame; ``privacy`` (:class:`PrivacyPause`) tells the room
who paused, so every client can say so and every recorder notes it in its event log. The
server stamps it with the sender and sends it to everyone (:class:`PrivacyNotice`), and a
newcomer gets the notices of those paused now. Each message is followed by its reader and
writer and the :class:`~.common.WireForm` the envelope lists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

from surgery_teach.protocol.messages.common import WireForm, check_boolean, normalise, with_ref
from surgery_teach.wire.fields import (
    MAX_ID_CHARS,
    MAX_NAME_CHARS,
    JsonObject,
    MessageRef,
    bad,
    check_ref,
    check_text,
    clean_label,
    json_kind,
    show,
)
from surgery_teach.wire.role import Role, as_role

_STATES: Final = {"paused": True, "resumed": False}


def _read_state(msg: JsonObject) -> bool:
    state = msg.text("state")
    if state not in _STATES:
        raise bad("state", f'must be "paused" or "resumed" (got {show(state)})')
    return _STATES[state]


def _state(paused: bool) -> str:
    return "paused" if paused else "resumed"


@dataclass(frozen=True)
class PrivacyPause:
    """Say that your video is paused for privacy (``paused`` true) or resumed (wire type
    ``privacy``, ``"state":"paused"`` or ``"resumed"``). Surgeons and mentors only: the
    roles that send video. Everyone, you included, gets a :class:`PrivacyNotice`."""

    paused: bool
    id: MessageRef = None

    def __post_init__(self) -> None:
        check_boolean(self.paused, "state")
        check_ref(self.id)


PRIVACY_PAUSE_FORM: Final = WireForm(
    "privacy",
    PrivacyPause,
    lambda msg: msg.build(PrivacyPause, paused=_read_state(msg), id=msg.ref()),
    lambda msg: {"state": _state(msg.paused)},
    fields=("state",),
)


@dataclass(frozen=True)
class PrivacyNotice:
    """Someone's video is paused for privacy, or resumed (wire type ``privacy``, with
    ``from``): who (``sender``, ``name``, ``role``), and ``server_time`` when the server
    relayed it. ``ref`` is the ``id`` of the ``privacy`` it answers, in the sender's copy
    only."""

    sender: str
    name: str
    role: Role
    paused: bool
    server_time: float
    ref: MessageRef = None

    def __post_init__(self) -> None:
        check_text(self.sender, "from", MAX_ID_CHARS)
        normalise(self, "name", clean_label(self.name, "name", MAX_NAME_CHARS))
        normalise(self, "role", as_role(self.role))
        check_boolean(self.paused, "state")
        value = self.server_time
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value) or value < 0:
            raise bad("server_time", f"must be a number of seconds ≥ 0 (got {json_kind(value)})")
        normalise(self, "server_time", float(value))
        check_ref(self.ref, "ref")


def _body_notice(msg: PrivacyNotice) -> dict[str, Any]:
    return with_ref({"from": msg.sender, "name": msg.name, "role": msg.role.value,
                     "state": _state(msg.paused), "server_time": msg.server_time}, msg.ref)


PRIVACY_NOTICE_FORM: Final = WireForm(
    "privacy",
    PrivacyNotice,
    lambda msg: msg.build(
        PrivacyNotice,
        sender=msg.text("from"),
        name=msg.text("name"),
        role=msg.text("role"),
        paused=_read_state(msg),
        server_time=msg.number("server_time"),
        ref=msg.ref("ref"),
    ),
    _body_notice,
)
