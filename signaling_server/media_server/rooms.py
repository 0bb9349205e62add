"""Which media-server room each teaching room uses, and who may enter it: pure rules.

:class:`ClassRooms` keeps, per teaching room in class mode, its Janus room (id and the
secret that changes it) and each participant's Janus token. Its methods return the
commands that make Janus match (:class:`AddToken`, :class:`CreateRoom`...) in the order to
carry them out; :mod:`signaling_server.media_server.room_control` carries them out. A
participant's token is made when it is admitted, kept through a rejoin and withdrawn
when it leaves or is removed (and its Janus session thrown out of the room, so what it
already receives stops too); the Janus room goes when its last participant leaves. After
a restart of Janus, :meth:`ClassRooms.restore` makes each room again with the same id
and tokens, so the grants participants hold open it again.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from surgery_teach.janus.videoroom import MAX_ROOM_ID, RoomSpec

CLASS_THRESHOLD = 4
"""Viewers above which a room moves to the media server by itself (issue 15)."""


def uses_media_server(viewers: int, *, class_mode: bool,
                      threshold: int = CLASS_THRESHOLD) -> bool:
    """Whether a room with ``viewers`` (everyone but the surgeon) goes through Janus:
    when the surgeon or a mentor chose class mode, or above ``threshold`` viewers."""
    return class_mode or viewers > threshold


@dataclass(frozen=True)
class MediaGrant:
    """What a participant needs to reach its class room on Janus (goes in its welcome,
    with the Janus API's URL). The token is that participant's alone."""

    room_id: int
    token: str = field(repr=False)


@dataclass(frozen=True)
class AddToken:
    token: str = field(repr=False)


@dataclass(frozen=True)
class RemoveToken:
    token: str = field(repr=False)


@dataclass(frozen=True)
class CreateRoom:
    spec: RoomSpec


@dataclass(frozen=True)
class AllowTokens:
    room_id: int
    secret: str = field(repr=False)
    tokens: tuple[str, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class DisallowTokens:
    room_id: int
    secret: str = field(repr=False)
    tokens: tuple[str, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class RecreateRoom:
    """Make a room again after Janus restarted (or its line to us broke): created as
    new, or, if Janus still has it, every token of ``spec`` allowed in again."""

    spec: RoomSpec


@dataclass(frozen=True)
class Kick:
    """Throw out of the room whoever joined it as ``display`` (a participant id): its
    publisher and, as rooms require private ids, its subscriptions stop at once."""

    room_id: int
    secret: str = field(repr=False)
    display: str = ""


@dataclass(frozen=True)
class DestroyRoom:
    room_id: int
    secret: str = field(repr=False)


Command = (AddToken | RemoveToken | CreateRoom | RecreateRoom | AllowTokens | DisallowTokens
           | Kick | DestroyRoom)


@dataclass
class _ClassRoom:
    room_id: int
    secret: str
    tokens: dict[str, str] = field(default_factory=dict)
    """Janus token by participant id."""


def _random_room_id() -> int:
    return secrets.randbelow(MAX_ROOM_ID) + 1


class ClassRooms:
    """The Janus side of every teaching room in class mode (no I/O).

    ``bitrate`` caps each publisher's video (bits/s, from the top layer), ``publishers``
    is how many may publish at once. ``new_token``, ``new_secret`` and ``new_room_id`` are
    injectable so tests can use literals.
    """

    def __init__(self, *, bitrate: int = 3_000_000, publishers: int = 3,
                 new_token: Callable[[], str] = lambda: secrets.token_urlsafe(24),
                 new_secret: Callable[[], str] = lambda: secrets.token_hex(24),
                 new_room_id: Callable[[], int] = _random_room_id) -> None:
        self._bitrate = bitrate
        self._publishers = publishers
        self._new_token = new_token
        self._new_secret = new_secret
        self._new_room_id = new_room_id
        self._rooms: dict[str, _ClassRoom] = {}

    def __contains__(self, room: str) -> bool:
        return room in self._rooms

    def __iter__(self) -> Iterator[str]:
        return iter(self._rooms)

    def grant(self, room: str, participant: str) -> MediaGrant | None:
        """The participant's current grant, or None if it has none."""
        entry = self._rooms.get(room)
        token = entry.tokens.get(participant) if entry else None
        return MediaGrant(entry.room_id, token) if entry and token else None

    def participants(self, room: str) -> tuple[str, ...]:
        entry = self._rooms.get(room)
        return tuple(entry.tokens) if entry else ()

    def admit(self, room: str, participant: str) -> tuple[MediaGrant, list[Command]]:
        """Give ``participant`` of ``room`` a token for the room's Janus room (creating
        it for the first one). A participant admitted again (a rejoin) keeps its token
        and needs no command."""
        existing = self.grant(room, participant)
        if existing is not None:
            return existing, []
        token = self._new_token()
        entry = self._rooms.get(room)
        commands: list[Command] = [AddToken(token)]
        if entry is None:
            entry = _ClassRoom(self._unused_room_id(), self._new_secret())
            self._rooms[room] = entry
            commands.append(CreateRoom(self._spec(room, entry, (token,))))
        else:
            commands.append(AllowTokens(entry.room_id, entry.secret, (token,)))
        entry.tokens[participant] = token
        return MediaGrant(entry.room_id, token), commands

    def release(self, room: str, participant: str) -> list[Command]:
        """``participant`` left or was removed: withdraw its token at once (Janus then
        refuses its requests); destroy the Janus room after the last one."""
        entry = self._rooms.get(room)
        token = entry.tokens.pop(participant, None) if entry else None
        if entry is None or token is None:
            return []
        if not entry.tokens:
            del self._rooms[room]
            return [DestroyRoom(entry.room_id, entry.secret), RemoveToken(token)]
        return [Kick(entry.room_id, entry.secret, participant),
                DisallowTokens(entry.room_id, entry.secret, (token,)), RemoveToken(token)]

    def restore(self, room: str) -> list[Command]:
        """Janus came back (restarted, or our line to it did): make ``room``'s Janus room
        again with the same id, secret and tokens, so everyone's grant still opens it."""
        entry = self._rooms.get(room)
        if entry is None:
            return []
        tokens = tuple(entry.tokens.values())
        return [*(AddToken(token) for token in tokens),
                RecreateRoom(self._spec(room, entry, tokens))]

    def tokens(self) -> set[str]:
        """Every token handed out and not withdrawn, in every room."""
        return {token for entry in self._rooms.values() for token in entry.tokens.values()}

    def close(self, room: str) -> list[Command]:
        """``room`` leaves class mode (back to peer to peer) or ends: destroy its Janus
        room and withdraw every token."""
        entry = self._rooms.pop(room, None)
        if entry is None:
            return []
        return [DestroyRoom(entry.room_id, entry.secret),
                *(RemoveToken(token) for token in entry.tokens.values())]

    def _spec(self, room: str, entry: _ClassRoom, tokens: tuple[str, ...]) -> RoomSpec:
        return RoomSpec(room_id=entry.room_id, description=f"surgery_teach room {room}"[:100],
                        secret=entry.secret, publishers=self._publishers,
                        bitrate=self._bitrate, allowed_tokens=tokens)

    def _unused_room_id(self) -> int:
        used = {entry.room_id for entry in self._rooms.values()}
        for _ in range(100):
            room_id = self._new_room_id()
            if room_id not in used:
                return room_id
        raise RuntimeError("no unused media-server room id after 100 tries")
