"""Being in a room: join, leave, publish, ping and remove, and the server's replies.

The client messages that change who is in a room or what they send, and the server
messages that tell everyone (``welcome``, ``joined``, ``left``, ``updated``), plus
``pong`` and ``error``. The participants they carry are in :mod:`.participants`. Each
message is followed by its reader and writer and the :class:`~.common.WireForm` the
envelope lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from surgery_teach.protocol.ice import IceServer, ice_servers_from_wire, ice_servers_to_wire
from surgery_teach.protocol.messages.common import WireForm, normalise, with_ref
from surgery_teach.protocol.messages.participants import (
    ParticipantInfo,
    Publishes,
    participant_to_json,
    publishes_to_json,
    read_optional_publishes,
    read_participant,
    read_publishes,
)
from surgery_teach.wire.fields import (
    MAX_ID_CHARS,
    MAX_NAME_CHARS,
    JsonObject,
    MessageRef,
    check_client_key,
    check_ref,
    check_room,
    check_text,
    clean_label,
)
from surgery_teach.wire.role import Role, as_role

# -- client -> server -------------------------------------------------------------------------


@dataclass(frozen=True)
class Join:
    """Enter ``room`` under a display name and role, announcing the media you will send."""

    room: str
    name: str
    role: Role
    publishes: Publishes = Publishes()  # noqa: RUF009 (frozen, so one shared default is safe)
    id: MessageRef = None
    client_key: str | None = None
    """A random key the client made once for this session and sends with every join of
    it, so that a rejoin gets the same participant id back (docs/protocol.md, 4.1)."""

    def __post_init__(self) -> None:
        check_room(self.room)
        normalise(self, "name", clean_label(self.name, "name", MAX_NAME_CHARS))
        normalise(self, "role", as_role(self.role))
        check_ref(self.id)
        if self.client_key is not None:
            check_client_key(self.client_key)


def _read_join(msg: JsonObject) -> Join:
    return msg.build(
        Join,
        room=msg.text("room"),
        name=msg.text("name"),
        role=msg.text("role"),
        publishes=read_optional_publishes(msg, strict=True),
        id=msg.ref(),
        client_key=msg.nullable_text("client_key"),
    )


def _body_join(msg: Join) -> dict[str, Any]:
    body: dict[str, Any] = {"room": msg.room, "name": msg.name, "role": msg.role.value}
    # Left out when nothing is published, so such a join still suits older servers.
    if msg.publishes != Publishes():
        body["publishes"] = publishes_to_json(msg.publishes)
    if msg.client_key is not None:
        body["client_key"] = msg.client_key
    return body


JOIN_FORM: Final = WireForm(
    "join",
    Join,
    _read_join,
    _body_join,
    fields=("room", "name", "role", "publishes", "client_key"),
)


@dataclass(frozen=True)
class Leave:
    """Leave the room; the connection stays open and may join again."""

    id: MessageRef = None

    def __post_init__(self) -> None:
        check_ref(self.id)


LEAVE_FORM: Final = WireForm("leave", Leave, lambda msg: Leave(id=msg.ref()), lambda msg: {})


@dataclass(frozen=True)
class Ping:
    """Ask the server for a ``pong`` (liveness and load)."""

    id: MessageRef = None

    def __post_init__(self) -> None:
        check_ref(self.id)


PING_FORM: Final = WireForm("ping", Ping, lambda msg: Ping(id=msg.ref()), lambda msg: {})


@dataclass(frozen=True)
class Publish:
    """Change what you send; everyone in the room (you too) gets ``updated``."""

    publishes: Publishes
    id: MessageRef = None

    def __post_init__(self) -> None:
        check_ref(self.id)


def _read_publish(msg: JsonObject) -> Publish:
    return Publish(read_publishes(msg.value("publishes"), "publishes", strict=True), msg.ref())


PUBLISH_FORM: Final = WireForm(
    "publish",
    Publish,
    _read_publish,
    lambda msg: {"publishes": publishes_to_json(msg.publishes)},
    fields=("publishes",),
)


@dataclass(frozen=True)
class RemoveParticipant:
    """A mentor sends ``participant`` out of the room (wire type ``remove``).

    They are told (``error`` ``removed``) and disconnected; a server with room tokens
    keeps them out of that room for as long as their token would have lasted.
    """

    participant: str
    id: MessageRef = None

    def __post_init__(self) -> None:
        check_text(self.participant, "participant", MAX_ID_CHARS)
        check_ref(self.id)


def _read_remove(msg: JsonObject) -> RemoveParticipant:
    return msg.build(RemoveParticipant, participant=msg.text("participant"), id=msg.ref())


REMOVE_PARTICIPANT_FORM: Final = WireForm(
    "remove",
    RemoveParticipant,
    _read_remove,
    lambda msg: {"participant": msg.participant},
    fields=("participant",),
)


# -- server -> client -------------------------------------------------------------------------


@dataclass(frozen=True)
class Welcome:
    """Reply to a successful join: your id, everyone already in the room, and the STUN and
    TURN servers to reach them through (TURN with credentials made for you)."""

    room: str
    you: ParticipantInfo
    participants: tuple[ParticipantInfo, ...]
    server_version: str
    ice_servers: tuple[IceServer, ...] = ()
    """The server's ICE servers for this participant (docs/protocol.md, 5.1); the room
    rules leave it empty and the server's handler fills it in."""

    def __post_init__(self) -> None:
        normalise(self, "participants", tuple(self.participants))
        normalise(self, "ice_servers", tuple(self.ice_servers))


def _read_welcome(msg: JsonObject) -> Welcome:
    ice = msg.raw.get("ice_servers")
    return Welcome(
        room=msg.text("room"),
        you=read_participant(msg.value("you"), "you"),
        participants=tuple(
            read_participant(item, f"participants[{index}]")
            for index, item in enumerate(msg.array("participants"))
        ),
        server_version=msg.text("server_version"),
        # a client reads what a newer server may add to an ICE server leniently
        ice_servers=() if ice is None else ice_servers_from_wire(ice, strict=False),
    )


def _body_welcome(msg: Welcome) -> dict[str, Any]:
    body: dict[str, Any] = {
        "room": msg.room,
        "you": participant_to_json(msg.you),
        "participants": [participant_to_json(p) for p in msg.participants],
        "server_version": msg.server_version,
    }
    # Left out when there are none (a server on one computer, or without STUN/TURN).
    if msg.ice_servers:
        body["ice_servers"] = ice_servers_to_wire(msg.ice_servers)
    return body


WELCOME_FORM: Final = WireForm("welcome", Welcome, _read_welcome, _body_welcome)


@dataclass(frozen=True)
class Joined:
    """Someone entered your room."""

    participant: ParticipantInfo


JOINED_FORM: Final = WireForm(
    "joined",
    Joined,
    lambda msg: Joined(read_participant(msg.value("participant"), "participant")),
    lambda msg: {"participant": participant_to_json(msg.participant)},
)


@dataclass(frozen=True)
class Left:
    """Someone left your room; ``reason`` is ``"leave"``, ``"disconnect"`` or ``"removed"``."""

    participant: ParticipantInfo
    reason: str


LEFT_FORM: Final = WireForm(
    "left",
    Left,
    lambda msg: Left(
        read_participant(msg.value("participant"), "participant"), msg.text("reason")
    ),
    lambda msg: {"participant": participant_to_json(msg.participant), "reason": msg.reason},
)


@dataclass(frozen=True)
class Updated:
    """A participant in your room (perhaps you) changed what they publish, or a mentor
    let a trainee draw or stopped them. ``ref`` is the ``id`` of the ``publish`` or
    ``grant-draw`` it answers, in the sender's own copy only."""

    participant: ParticipantInfo
    ref: MessageRef = None

    def __post_init__(self) -> None:
        check_ref(self.ref, "ref")


UPDATED_FORM: Final = WireForm(
    "updated",
    Updated,
    lambda msg: Updated(read_participant(msg.value("participant"), "participant"),
                        ref=msg.ref("ref")),
    lambda msg: with_ref({"participant": participant_to_json(msg.participant)}, msg.ref),
)


@dataclass(frozen=True)
class Pong:
    """Reply to ``ping``: the server clock (Unix seconds) and current load."""

    server_time: float
    rooms: int
    participants: int


PONG_FORM: Final = WireForm(
    "pong",
    Pong,
    lambda msg: Pong(
        server_time=msg.number("server_time"),
        rooms=msg.integer("rooms"),
        participants=msg.integer("participants"),
    ),
    lambda msg: {
        "server_time": msg.server_time,
        "rooms": msg.rooms,
        "participants": msg.participants,
    },
)


@dataclass(frozen=True)
class ErrorReply:
    """A message was refused; ``ref`` echoes the offending message's ``id``."""

    code: str
    message: str
    ref: MessageRef = None


ERROR_REPLY_FORM: Final = WireForm(
    "error",
    ErrorReply,
    lambda msg: ErrorReply(
        code=msg.text("code"), message=msg.text("message"), ref=msg.ref("ref")
    ),
    lambda msg: {"code": str(msg.code), "message": msg.message, "ref": msg.ref},
)
