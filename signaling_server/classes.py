"""Moving a teaching room onto the media server (Janus) and back: the signaling server's side.

A room runs peer to peer while it is small. It moves to the media server when the surgeon
or a mentor asks for class mode (``class-mode``) or when it has more viewers than the
threshold (everyone but the surgeons; default 4). Moving means: a Janus room made for it,
a token of their own for each participant (added through Janus's admin API), and a
``media-route`` to each saying where to connect; newcomers get theirs as they join, and
the token of someone who leaves is withdrawn at once. A room stays on the media server
once there (so nobody's picture flips back and forth as trainees come and go) until class
mode is given up with the room back at or under the threshold, or the room empties.

Janus down or refusing: the room stays peer to peer, every participant is told why in a
``media-route`` (``"mode":"peer"``), and the move is tried again a minute later. The
decisions are :class:`~signaling_server.media_server.rooms.ClassRooms`' (pure rules); this
module carries them out and writes the messages. Tokens are never logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from signaling_server.media_server.config_dir import read_access
from signaling_server.media_server.room_control import MediaServerControl
from signaling_server.media_server.rooms import CLASS_THRESHOLD, ClassRooms, uses_media_server
from surgery_teach.errors import MediaServerError
from surgery_teach.protocol import ErrorCode, ErrorReply, ParticipantInfo, Role, Seat
from surgery_teach.protocol.messages import ClassMode, MediaRoute

logger = logging.getLogger("signaling_server.classes")

RETRY_SECONDS = 60.0
"""After the media server failed a room, it is not asked again for that room this long."""
CLASS_ROLES = (Role.SURGEON, Role.MENTOR)


def viewers(participants: Sequence[ParticipantInfo]) -> int:
    """Those who watch rather than operate: everyone but the surgeons."""
    return sum(1 for p in participants if p.role is not Role.SURGEON)


@dataclass
class _Room:
    class_mode: bool = False
    given_up: bool = False  # class mode turned off: back to peer to peer when small
    failed_at: float | None = None  # when the media server last failed this room


class Classes:
    """The rooms on the media server, kept in step with who is in each room.

    ``control`` is the line to a running Janus (None: no media server, every room peer
    to peer and ``class-mode`` refused with the reason). ``public_url`` is the Janus API
    address participants are given.
    """

    def __init__(self, control: MediaServerControl | None, *, public_url: str = "",
                 threshold: int = CLASS_THRESHOLD, rooms: ClassRooms | None = None,
                 clock: Callable[[], float] = time.monotonic, unavailable: str = "") -> None:
        self.control = control
        self.unavailable = unavailable  # why a configured media server cannot be used
        self.public_url = public_url or (control.access.api_url if control else "")
        self.threshold = threshold
        self.rooms = rooms or ClassRooms()
        self._state: dict[str, _Room] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}  # updates running or waiting, per room
        self._clock = clock

    @property
    def enabled(self) -> bool:
        return self.control is not None

    def request(self, seat: Seat | None, message: ClassMode) -> ErrorReply | None:
        """A ``class-mode`` request from ``seat``: the refusal to send back, or None (noted:
        :meth:`update` the room next)."""
        if seat is None:
            return ErrorReply(ErrorCode.NOT_JOINED, "join a room first", message.id)
        if seat.participant.role not in CLASS_ROLES:
            return ErrorReply(ErrorCode.FORBIDDEN,
                              "only the surgeon and mentors choose class mode", message.id)
        if not self.enabled:
            why = (f"the media server did not answer when this server started "
                   f"({self.unavailable}); rooms stay peer to peer until both are restarted"
                   if self.unavailable else "this server has no media server for classes; "
                   "start it with --media-server-dir")
            return ErrorReply(ErrorCode.NOT_ALLOWED, why[:500], message.id)
        state = self._state.setdefault(seat.room, _Room())
        state.class_mode, state.given_up = message.on, not message.on
        state.failed_at = None  # asked for: try again now
        return None

    async def update(self, room: str, participants: Callable[[], Sequence[ParticipantInfo]],
                     ) -> list[tuple[str, MediaRoute]]:
        """Bring ``room`` in step with the media server (``participants`` says who is in it
        now); returns the ``media-route`` for each participant whose route changed, by id.
        One room at a time: Janus must have made a room before tokens are let in."""
        if not self.enabled:
            return []
        lock = self._locks.setdefault(room, asyncio.Lock())
        self._users[room] = self._users.get(room, 0) + 1
        try:
            async with lock:
                return await self._update(room, participants())
        finally:
            self._users[room] -= 1
            if not self._users[room]:  # nobody waits: forget the lock of a room gone
                del self._users[room]
                if room not in self.rooms and room not in self._state:
                    self._locks.pop(room, None)

    async def _update(self, room: str, participants: Sequence[ParticipantInfo],
                      ) -> list[tuple[str, MediaRoute]]:
        state = self._state.setdefault(room, _Room())
        on_server = room in self.rooms
        present = {p.id for p in participants}
        if not participants:
            self._state.pop(room, None)
            if on_server:
                await self._carry_out(self.rooms.close(room), room)
            return []
        want = uses_media_server(viewers(participants), class_mode=state.class_mode,
                                 threshold=self.threshold)
        if on_server and not want and state.given_up:
            state.given_up = False
            return await self._back_to_peer(room, participants, "class mode was turned off")
        if not on_server and not want:
            return []
        routes: list[tuple[str, MediaRoute]] = []
        if on_server:  # withdraw the tokens of those gone
            for gone in set(self.rooms.participants(room)) - present:
                await self._carry_out(self.rooms.release(room, gone), room)
        elif state.failed_at is not None and self._clock() - state.failed_at < RETRY_SECONDS:
            return []
        for person in participants:
            if self.rooms.grant(room, person.id) is not None:
                continue
            grant, commands = self.rooms.admit(room, person.id)
            try:
                await self._carry_out(commands, room, raise_error=True)
            except MediaServerError as exc:
                if on_server:  # one newcomer failed: the class goes on, tried again later
                    logger.warning("room %s: %s not let into the media server yet: %s",
                                   room, person.id, exc)
                    self.rooms.release(room, person.id)
                    continue
                state.failed_at = self._clock()
                logger.warning("room %s stays peer to peer: %s", room, exc)
                await self._carry_out(self.rooms.close(room), room)
                reason = "the media server cannot take this room now; it stays peer to peer"
                return [(p.id, MediaRoute("peer", reason=reason)) for p in participants]
            routes.append((person.id, MediaRoute("class", url=self.public_url,
                                                 room=grant.room_id, token=grant.token)))
        if routes and not on_server:
            logger.info("room %s moved to the media server (%d participants)", room,
                        len(participants))
        return routes

    def route_of(self, room: str, participant_id: str) -> MediaRoute | None:
        """The route of someone already let into the media server (a rejoin gets it
        again: the first may have gone while its connection was down)."""
        grant = self.rooms.grant(room, participant_id) if self.enabled else None
        if grant is None:
            return None
        return MediaRoute("class", url=self.public_url, room=grant.room_id, token=grant.token)

    async def _back_to_peer(self, room: str, participants: Sequence[ParticipantInfo],
                            reason: str) -> list[tuple[str, MediaRoute]]:
        await self._carry_out(self.rooms.close(room), room)
        logger.info("room %s back to peer to peer: %s", room, reason)
        return [(p.id, MediaRoute("peer", reason=reason)) for p in participants]

    async def _carry_out(self, commands: list, room: str, *,  # type: ignore[type-arg]
                         raise_error: bool = False) -> None:
        if not commands or self.control is None:
            return
        try:
            await self.control.carry_out(commands)
        except MediaServerError as exc:
            if raise_error:
                raise
            logger.warning("media server, room %s: %s", room, exc)

    async def close(self) -> None:
        """Destroy every room on the media server (the signaling server stops)."""
        for room in list(self.rooms):
            await self._carry_out(self.rooms.close(room), room)
        if self.control is not None:
            await self.control.close()


async def open_classes(folder: Path | None, threshold: int) -> Classes:
    """The classes of a server started with ``--media-server-dir folder`` (None: none).

    A missing or damaged ``media-server.json`` stops the start (ConfigError naming the
    fix); a media server that does not answer leaves every room peer to peer, logged."""
    if folder is None:
        return Classes(None)
    access = read_access(folder)
    try:
        control = await MediaServerControl.connect(access)
    except MediaServerError as exc:
        logger.warning("the media server does not answer (%s): every room stays peer to "
                       "peer; start it, then restart this server", exc)
        return Classes(None, unavailable=str(exc))
    logger.info("media server for classes at %s (rooms above %d viewers, or asked for)",
                access.api_url, threshold)
    return Classes(control, threshold=threshold)
