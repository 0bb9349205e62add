"""Who may do what in a room: the role rules of the client messages, free of I/O.

The server refuses anything here with the ``forbidden`` error code and one of these
messages, which name the role, the action and the rule. The rules, by message
(docs/protocol.md, section 4.10, is their written form):

* ``join``, ``leave``, ``ping``, ``chat``: every role.
* what a participant announces in ``publishes`` (``join``, ``publish``):
  :data:`PUBLISHING_LIMITS`. Video comes from the surgeon and mentors (a consultation is a
  surgeon and a mentor both sending video); trainees may speak; students watch.
* ``signal``: only a participant that publishes makes offers and trickles ICE candidates
  (it is always the offerer, docs/protocol.md section 7); everybody answers; an offer or
  answer labels no more video tracks than its sender announced.
* ``annotate``: :func:`surgery_teach.annotations.may` (section 8.3).
* ``grant-draw``: mentors.
* ``remove``: the surgeon and mentors; nobody removes a surgeon, whose picture the room is
  there for (and who would be barred from their own operation).

The server never sees media or reads SDP, so these rules bind what participants
*announce*; clients accept media only as announced (section 7).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from surgery_teach.protocol.messages import (
    MAX_VIDEO_TRACKS,
    Answer,
    Candidate,
    Offer,
    ParticipantInfo,
    Publishes,
    Role,
    SignalData,
)

PUBLISHING_LIMITS: Final[Mapping[Role, Publishes]] = MappingProxyType(
    {
        Role.SURGEON: Publishes(video=MAX_VIDEO_TRACKS, audio=True),
        Role.MENTOR: Publishes(video=MAX_VIDEO_TRACKS, audio=True),
        Role.TRAINEE: Publishes(video=0, audio=True),
        Role.STUDENT: Publishes(video=0, audio=False),
    }
)
"""The most each role may announce in ``publishes``: trainees speak, students only watch."""

GRANTERS: Final = frozenset({Role.MENTOR})
"""Roles that may let a trainee draw (``grant-draw``)."""
REMOVERS: Final = frozenset({Role.SURGEON, Role.MENTOR})
"""Roles that may send a participant out of the room (``remove``)."""
UNREMOVABLE: Final = frozenset({Role.SURGEON})
"""Roles nobody may remove: the room exists for the surgeon's picture."""


def publishing_refusal(role: Role, publishes: Publishes) -> str | None:
    """Why ``role`` may not publish ``publishes`` (a ``forbidden`` message), or None."""
    limit = PUBLISHING_LIMITS[role]
    if publishes.video <= limit.video and (limit.audio or not publishes.audio):
        return None
    asked = _describe(publishes)
    if not limit.any:
        return (
            f'a {role.value} may not publish media (asked for {asked}); leave "publishes" '
            f"out: a {role.value} watches, listens and chats"
        )
    most = f'{{"video":{limit.video},"audio":{"true" if limit.audio else "false"}}}'
    return (
        f"a {role.value} may publish only {_describe(limit)} (asked for {asked}); "
        f'announce no more than "publishes":{most}'
    )


def signal_refusal(sender: ParticipantInfo, data: SignalData) -> str | None:
    """Why ``sender`` may not send ``data`` to another participant, or None.

    Checked against what ``sender`` publishes now: the server handles a connection's
    messages in order, so this is what the sender itself last announced.
    """
    role, publishes = sender.role.value, sender.publishes
    if isinstance(data, Offer | Candidate) and not publishes.any:
        what = "offers" if isinstance(data, Offer) else "ICE candidates"
        why = (
            "a student sends no media"
            if sender.role is Role.STUDENT
            else 'announce your media with "publish" first'
        )
        return (
            f"a {role} who publishes nothing may not send {what}: only the participant who "
            f"sends media offers and trickles candidates (section 7); answer the offers you "
            f"receive ({why})"
        )
    if isinstance(data, Offer | Answer) and len(data.tracks) > publishes.video:
        kind = "offer" if isinstance(data, Offer) else "answer"
        return (
            f"the {kind} labels {len(data.tracks)} video track(s) but you announced "
            f"{publishes.video} in publishes; a {role} labels only the video it publishes "
            f"(at most {PUBLISHING_LIMITS[sender.role].video})"
        )
    return None


def grant_refusal(granter: Role) -> str | None:
    """Why ``granter`` may not send ``grant-draw``, or None."""
    if granter in GRANTERS:
        return None
    return (
        f"a {granter.value} may not let others draw; only a mentor may grant or revoke a "
        "trainee's drawing"
    )


def removal_refusal(remover: Role, target: Role | None = None) -> str | None:
    """Why ``remover`` may not remove a participant (of role ``target``, if known), or None."""
    if remover not in REMOVERS:
        return (
            f"a {remover.value} may not remove participants; only the surgeon and mentors may"
        )
    if target is not None and target in UNREMOVABLE:
        return (
            f"a {remover.value} may not remove a {target.value}: the room is there for "
            "their picture, and a removed surgeon could not come back; ask them to leave"
        )
    return None


SHARERS: Final = frozenset({Role.SURGEON, Role.MENTOR})
"""Roles that may share a picture into the room (trainees too while they may draw)."""


def may_share(participant: ParticipantInfo) -> bool:
    """Whether ``participant`` may share a picture now (docs/protocol.md section 8.s):
    the surgeon and mentors, a trainee while allowed to draw; viewers ignore the rest."""
    return participant.role in SHARERS or (participant.role is Role.TRAINEE
                                            and participant.can_draw)


def _describe(publishes: Publishes) -> str:
    parts = []
    if publishes.video:
        parts.append(f"{publishes.video} video track{'s' if publishes.video > 1 else ''}")
    if publishes.audio:
        parts.append("audio")
    return " and ".join(parts) or "nothing"
