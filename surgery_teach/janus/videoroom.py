"""Janus VideoRoom requests and events as plain data (multistream API, Janus >= 1.0).

A class room in Janus is one VideoRoom room: the surgeon publishes one peer connection
with one video m-line per layer (and source), each viewer joins as a participant (which
gives it the ``private_id`` that ``require_pvtid`` asks for) and subscribes, in a second
handle, to the m-lines it wants; it moves between layers with ``switch`` (no new offer).
The functions here build request bodies and read events; nothing awaits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from surgery_teach.errors import ConfigError, MediaServerError

MAX_ROOM_ID = 2**53 - 1
"""Janus room and feed ids are JSON numbers; above this a JavaScript client would round them."""


@dataclass(frozen=True, kw_only=True)
class RoomSpec:
    """A VideoRoom room as the signaling server creates it for one teaching room."""

    room_id: int
    description: str = "surgery_teach class"
    secret: str = field(default="", repr=False)
    """Needed to change or destroy the room (and its allowed list); server-only."""
    publishers: int = 3
    """Most publishers at once: the surgeon, plus mentors' cameras or voices."""
    bitrate: int = 3_000_000
    """Cap, bits/s, Janus tells each publisher with REMB (from the top layer's bitrate)."""
    allowed_tokens: tuple[str, ...] = field(default=(), repr=False)
    """Participants' tokens allowed in; every join must carry one of them."""
    video_codec: str = "h264"
    h264_profile: str = "42e01f"
    """Constrained baseline, level 3.1: what aiortc's encoder produces."""
    fir_freq: int = 0
    """Seconds between keyframe requests Janus makes on its own (0: only on demand)."""

    def __post_init__(self) -> None:
        if not 1 <= self.room_id <= MAX_ROOM_ID:
            raise ConfigError(f"media-server room id must be 1..{MAX_ROOM_ID} "
                              f"(got {self.room_id})")
        if not 1 <= self.publishers <= 100:
            raise ConfigError(f"publishers must be 1-100 (got {self.publishers})")
        if not 64_000 <= self.bitrate <= 50_000_000:
            raise ConfigError(f"the room bitrate cap must be 64 kbit/s to 50 Mbit/s "
                              f"(got {self.bitrate} bit/s)")


def create_room(spec: RoomSpec, admin_key: str) -> dict[str, Any]:
    """``create``: an in-memory room (never written to Janus's config) that needs a
    private id to subscribe and a token from ``allowed`` to join."""
    return {
        "request": "create", "admin_key": admin_key, "room": spec.room_id,
        "permanent": False, "description": spec.description, "secret": spec.secret,
        "is_private": True, "publishers": spec.publishers, "bitrate": spec.bitrate,
        "bitrate_cap": True, "fir_freq": spec.fir_freq, "videocodec": spec.video_codec,
        "h264_profile": spec.h264_profile, "audiocodec": "opus", "require_pvtid": True,
        "notify_joining": True, "allowed": list(spec.allowed_tokens),
    }


def destroy_room(room_id: int, secret: str) -> dict[str, Any]:
    return {"request": "destroy", "room": room_id, "secret": secret, "permanent": False}


def change_allowed(room_id: int, secret: str, action: str,
                   tokens: Iterable[str]) -> dict[str, Any]:
    """``allowed``: ``add`` or ``remove`` participants' tokens from the room's list."""
    if action not in ("add", "remove"):
        raise ValueError(f"allowed action must be add or remove, not {action!r}")
    return {"request": "allowed", "room": room_id, "secret": secret, "action": action,
            "allowed": list(tokens)}


def kick(room_id: int, secret: str, feed_id: int) -> dict[str, Any]:
    """``kick``: remove a participant (its publisher and subscriptions) at once."""
    return {"request": "kick", "room": room_id, "secret": secret, "id": feed_id}


def list_participants(room_id: int) -> dict[str, Any]:
    """``listparticipants``: who is in the room (publishing or not), with feed ids and
    displays (the signaling server finds a removed participant's feed with it)."""
    return {"request": "listparticipants", "room": room_id}


def read_participants(data: Mapping[str, Any]) -> tuple[tuple[int, str], ...]:
    """``(feed id, display)`` of each participant in a ``listparticipants`` answer."""
    items = data.get("participants")
    if not isinstance(items, list):
        return ()
    return tuple((item["id"], str(item.get("display", ""))) for item in items
                 if isinstance(item, dict) and isinstance(item.get("id"), int))


def join_as_publisher(room_id: int, display: str, token: str) -> dict[str, Any]:
    """Join as a participant (publishing or not): gives a feed id and a private id."""
    return {"request": "join", "ptype": "publisher", "room": room_id, "display": display,
            "token": token}


@dataclass(frozen=True)
class StreamDescription:
    """What one published m-line carries, so subscribers can tell layers apart."""

    mid: str
    description: str


def publish(descriptions: Sequence[StreamDescription] = (), *,
            bitrate: int | None = None) -> dict[str, Any]:
    """``publish`` (sent with the SDP offer): the streams and their descriptions."""
    body: dict[str, Any] = {"request": "publish", "audio": True, "video": True}
    if descriptions:
        body["descriptions"] = [{"mid": d.mid, "description": d.description}
                                for d in descriptions]
    if bitrate is not None:
        body["bitrate"] = bitrate
    return body


@dataclass(frozen=True)
class StreamChoice:
    """One stream to receive: publisher ``feed``'s m-line ``mid``; for ``switch``,
    ``sub_mid`` is the subscriber's own m-line that should carry it from now on."""

    feed: int
    mid: str
    sub_mid: str | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"feed": self.feed, "mid": self.mid}
        if self.sub_mid is not None:
            wire["sub_mid"] = self.sub_mid
        return wire


def join_as_subscriber(room_id: int, private_id: int, token: str,
                       streams: Sequence[StreamChoice]) -> dict[str, Any]:
    """Subscribe to ``streams``; Janus answers with an SDP offer."""
    if not streams:
        raise ValueError("a subscription needs at least one stream")
    return {"request": "join", "ptype": "subscriber", "room": room_id,
            "private_id": private_id, "token": token, "use_msid": False,
            "streams": [choice.to_wire() for choice in streams]}


def start() -> dict[str, Any]:
    """``start`` (sent with the subscriber's SDP answer)."""
    return {"request": "start"}


def switch(changes: Sequence[StreamChoice]) -> dict[str, Any]:
    """Point subscriber m-lines at other publisher streams, without renegotiation (the
    codec must be the same): how a viewer moves between layers."""
    if not changes or any(choice.sub_mid is None for choice in changes):
        raise ValueError("switch needs at least one stream, each with its sub_mid")
    return {"request": "switch", "streams": [choice.to_wire() for choice in changes]}


def pause_streams(mids: Mapping[str, bool]) -> dict[str, Any]:
    """Subscriber ``configure``: stop (False) or resume (True) receiving m-lines."""
    return {"request": "configure",
            "streams": [{"mid": mid, "send": send} for mid, send in mids.items()]}


@dataclass(frozen=True)
class Joined:
    """What a participant learns when it joins: its ids and the publishers present."""

    room_id: int
    feed_id: int
    private_id: int
    publishers: tuple[Publisher, ...]


@dataclass(frozen=True)
class Publisher:
    """A publisher in the room and its streams by mid (type and description)."""

    feed_id: int
    display: str
    streams: tuple[PublishedStream, ...]


@dataclass(frozen=True)
class PublishedStream:
    mid: str
    kind: str
    description: str
    codec: str


def read_joined(data: Mapping[str, Any]) -> Joined:
    """The ``joined`` event of a publisher-type join."""
    try:
        return Joined(int(data["room"]), int(data["id"]), int(data["private_id"]),
                      read_publishers(data.get("publishers", [])))
    except (KeyError, TypeError, ValueError) as exc:
        raise MediaServerError(f"the media server's 'joined' event lacks {exc}") from exc


def read_publishers(items: object) -> tuple[Publisher, ...]:
    """The ``publishers`` list of a ``joined`` or ``event`` (feeds that started)."""
    if not isinstance(items, list):
        return ()
    found = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("id"), int):
            continue
        streams = tuple(
            PublishedStream(str(s.get("mid", "")), str(s.get("type", "")),
                            str(s.get("description", "")), str(s.get("codec", "")))
            for s in item.get("streams", []) if isinstance(s, dict))
        found.append(Publisher(item["id"], str(item.get("display", "")), streams))
    return tuple(found)
