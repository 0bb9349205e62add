"""Moving a teaching room onto the media server (Janus) and back: the signaling server's side.

A room runs peer to peer while it is small. It moves to the media server when the surgeon
or a mentor asks for class mode (``class-mode``) or when it has more viewers than the
threshold (everyone but the surgeons; default 4). Moving means: a Janus room made for it,
a token of their own for each participant (added through Janus's admin API), and a
``media-route`` to each saying where to connect; newcomers get theirs as they join, and
someone who leaves or is removed is thrown out of the Janus room and its token withdrawn
at once. A room stays on the media server once there (so nobody's picture flips back and
forth as trainees come and go) until class mode is given up with the room back at or
under the threshold (the Janus room then lives :data:`CLOSE_AFTER` seconds more, so
the pictures go on through it while the peer-to-peer connections come up), or the room
empties.

Each room is moved by a task of its own (:meth:`Classes.schedule`; requests that come
while it works are folded into one more pass), so joins, signals, chat and marks never
wait for Janus. A participant is sent a ``media-route`` only when its route changes.

Janus refusing a room: the room stays peer to peer, every participant is told why in a
``media-route`` (``"mode":"peer"``), and the move is tried again a minute later. Janus
gone (stopped, restarted, or down when this server started): this server connects again
with a growing pause (1, 2, 4... up to 30 s); meanwhile rooms on the media server stay
there (their clients keep trying to reach it) and rooms that outgrow peer to peer are
told they stay peer to peer for now. Once Janus answers, every class room is made again
with the same room ids and tokens (the grants participants hold open it again, so their
routes do not change) and rooms that waited move to it. The decisions are
:class:`~signaling_server.media_server.rooms.ClassRooms`' (pure rules); this module
carries them out and writes the messages. Tokens are never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from signaling_server.media_server.config_dir import MediaServerAccess, read_access
from signaling_server.media_server.room_control import MediaServerControl
from signaling_server.media_server.rooms import (
    CLASS_THRESHOLD,
    ClassRooms,
    Command,
    uses_media_server,
)
from surgery_teach.errors import MediaServerError
from surgery_teach.protocol import ErrorCode, ErrorReply, ParticipantInfo, Role, Seat
from surgery_teach.protocol.messages import ClassMode, MediaRoute

logger = logging.getLogger("signaling_server.classes")

RETRY_SECONDS = 60.0
"""After the media server refused a room, it is not asked again for that room this long."""
RECONNECT_FIRST = 1.0
RECONNECT_MOST = 30.0
"""Pauses between tries to reach a media server that went away: doubling, capped."""
CLOSE_AFTER = 8.0
"""A room that gives class mode up stays on Janus this long after its participants are
told to go peer to peer, so their pictures go on through Janus until the new
peer-to-peer connections carry them (make before break; clients wait at most 5 s,
``BACK_HANDOVER_SECONDS`` in surgery_teach.rtc.class_route)."""
CLASS_ROLES = (Role.SURGEON, Role.MENTOR)
DOWN_REASON = ("the media server does not answer now; the room moves to it once it is "
               "back")

Members = Callable[[str], Sequence[ParticipantInfo]]
Deliver = Callable[[str, list[tuple[str, MediaRoute]]], None]
Connect = Callable[[MediaServerAccess], Awaitable[MediaServerControl]]


def viewers(participants: Sequence[ParticipantInfo]) -> int:
    """Those who watch rather than operate: everyone but the surgeons."""
    return sum(1 for p in participants if p.role is not Role.SURGEON)


@dataclass
class _Room:
    class_mode: bool = False
    given_up: bool = False  # class mode turned off: back to peer to peer when small
    failed_at: float | None = None  # when the media server last refused this room


async def _connect(access: MediaServerAccess) -> MediaServerControl:
    return await MediaServerControl.connect(access)


class Classes:
    """The rooms on the media server, kept in step with who is in each room.

    ``access`` says where the media server is (None: no media server, every room peer
    to peer and ``class-mode`` refused with the reason); ``control`` is the line to it
    while it answers. ``public_url`` is the Janus API address participants are given.
    Call :meth:`bind` once a loop runs, then :meth:`schedule` a room whenever who is in
    it, or its class mode, may have changed.
    """

    def __init__(self, control: MediaServerControl | None, *,
                 access: MediaServerAccess | None = None, public_url: str = "",
                 threshold: int = CLASS_THRESHOLD, rooms: ClassRooms | None = None,
                 clock: Callable[[], float] = time.monotonic, unavailable: str = "",
                 connect: Connect = _connect, reconnect_first: float = RECONNECT_FIRST,
                 reconnect_most: float = RECONNECT_MOST) -> None:
        self.control = control
        self.access = access or (control.access if control is not None else None)
        self.unavailable = unavailable  # why the media server cannot be used now (logs)
        self.public_url = public_url or (self.access.api_url if self.access else "")
        self.threshold = threshold
        self.rooms = rooms or ClassRooms()
        self._state: dict[str, _Room] = {}
        self._sent: dict[str, dict[str, MediaRoute]] = {}  # last route told, per member
        self._pending: set[str] = set()
        self._runners: dict[str, asyncio.Task[None]] = {}
        self._changed: set[str] = set()  # class rooms changed while Janus was away
        self._members: Members = lambda room: ()
        self._deliver: Deliver = lambda room, routes: None
        self._watcher: asyncio.Task[None] | None = None
        self._closing: dict[asyncio.Task[None], tuple[str, list[Command]]] = {}
        self._clock = clock
        self._connect = connect
        self._reconnect = (reconnect_first, reconnect_most)

    @property
    def enabled(self) -> bool:
        """Whether this server has a media server (answering now or not)."""
        return self.access is not None

    @property
    def up(self) -> bool:
        """Whether the media server answers now."""
        return self.control is not None

    def bind(self, members: Members, deliver: Deliver) -> None:
        """Where rooms' members come from and where routes go; starts keeping the line to
        the media server up (call with a running loop)."""
        self._members, self._deliver = members, deliver
        if self.enabled and self._watcher is None:
            self._watcher = asyncio.get_running_loop().create_task(
                self._keep_connected(), name="media-server-line")

    def request(self, seat: Seat | None, message: ClassMode) -> ErrorReply | None:
        """A ``class-mode`` request from ``seat``: the refusal to send back, or None (noted:
        :meth:`schedule` the room next)."""
        if seat is None:
            return ErrorReply(ErrorCode.NOT_JOINED, "join a room first", message.id)
        if seat.participant.role not in CLASS_ROLES:
            return ErrorReply(ErrorCode.FORBIDDEN,
                              "only the surgeon and mentors choose class mode", message.id)
        if not self.enabled:
            return ErrorReply(ErrorCode.NOT_ALLOWED, "this server has no media server for "
                              "classes; start it with --media-server-dir", message.id)
        if not self.up and message.on:  # the details are in the server's log only
            return ErrorReply(ErrorCode.NOT_ALLOWED, "the media server does not answer now; "
                              "this server keeps trying to reach it: ask again once it is "
                              "back", message.id)
        state = self._state.setdefault(seat.room, _Room())
        state.class_mode, state.given_up = message.on, not message.on
        state.failed_at = None  # asked for: try again now
        return None

    # -- one task per room ----------------------------------------------------------------

    def schedule(self, room: str) -> None:
        """Bring ``room`` in step with the media server soon, in the room's own task: one
        pass at a time, and one more pass for any number of requests during a pass."""
        if not self.enabled:
            return
        self._pending.add(room)
        if room not in self._runners:
            self._runners[room] = asyncio.get_running_loop().create_task(
                self._run(room), name=f"class-route-{room}")

    def sweep(self) -> None:
        """Schedule every room this keeps anything about (once a second, by the server's
        upkeep: tokens of those whose rejoin grace ran out are withdrawn, and the records
        of rooms that emptied that way are dropped)."""
        for room in self.known():
            self.schedule(room)

    def known(self) -> set[str]:
        """The rooms this keeps any record of."""
        return set(self.rooms) | set(self._state) | set(self._sent)

    @property
    def busy(self) -> bool:
        """Whether a room is being moved now (or waits to be)."""
        return bool(self._runners)

    async def _run(self, room: str) -> None:
        try:
            while room in self._pending:
                self._pending.discard(room)
                try:
                    routes = await self.update(room, self._members(room))
                except Exception:  # never let one room's task die with requests pending
                    logger.exception("moving room %s failed", room)
                    continue
                if routes:
                    self._deliver(room, routes)
        finally:
            self._runners.pop(room, None)

    async def update(self, room: str, participants: Sequence[ParticipantInfo],
                     ) -> list[tuple[str, MediaRoute]]:
        """Bring ``room`` (now holding ``participants``) in step with the media server;
        the ``media-route`` of each participant whose route changed, by id. Only one at a
        time per room (:meth:`schedule` sees to it)."""
        if not self.enabled:
            return []
        state = self._state.setdefault(room, _Room())
        try:
            routes = await self._move(room, participants, state)
        finally:
            self._forget(room, participants)
        return self._news(room, routes)

    def _news(self, room: str, routes: list[tuple[str, MediaRoute]],
              ) -> list[tuple[str, MediaRoute]]:
        """The routes that differ from what each participant was told last."""
        if not routes:
            return []
        sent = self._sent.setdefault(room, {})
        fresh = [(pid, route) for pid, route in routes if sent.get(pid) != route]
        sent.update(fresh)
        return fresh

    def _forget(self, room: str, participants: Sequence[ParticipantInfo]) -> None:
        """Drop what is kept about a room that emptied, or about members gone."""
        if not participants:
            self._state.pop(room, None)
            self._sent.pop(room, None)
            return
        present = {p.id for p in participants}
        sent = self._sent.get(room)
        for gone in set(sent or ()) - present:
            del sent[gone]  # type: ignore[union-attr]
        if room not in self.rooms and self._state.get(room) == _Room():
            self._state.pop(room, None)  # a room at rest keeps no record

    async def _move(self, room: str, participants: Sequence[ParticipantInfo],
                    state: _Room) -> list[tuple[str, MediaRoute]]:
        on_server = room in self.rooms
        present = {p.id for p in participants}
        if not participants:
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
        if not on_server and not self.up:  # told once (routes are only sent when new)
            return [(p.id, MediaRoute("peer", reason=DOWN_REASON)) for p in participants]
        if on_server:  # throw out those gone, withdraw their tokens
            for gone in set(self.rooms.participants(room)) - present:
                await self._carry_out(self.rooms.release(room, gone), room)
        elif state.failed_at is not None and self._clock() - state.failed_at < RETRY_SECONDS:
            return []
        routes: list[tuple[str, MediaRoute]] = []
        for person in participants:
            grant = self.rooms.grant(room, person.id)
            if grant is None:
                grant, commands = self.rooms.admit(room, person.id)
                try:
                    await self._carry_out(commands, room, raise_error=True)
                except MediaServerError as exc:
                    if on_server:  # one newcomer failed: the class goes on, tried again later
                        logger.warning("room %s: %s not let into the media server yet: %s",
                                       room, person.id, exc)
                        await self._carry_out(self.rooms.release(room, person.id), room)
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
        """Tell everyone to go peer to peer now; destroy the Janus room (and withdraw
        the tokens) :data:`CLOSE_AFTER` seconds later, once their peer-to-peer
        connections carry the pictures."""
        commands = self.rooms.close(room)
        if commands:
            task = asyncio.get_running_loop().create_task(
                self._close_later(room, commands), name=f"class-close-{room}")
            self._closing[task] = (room, commands)
            task.add_done_callback(lambda done: self._closing.pop(done, None))
        logger.info("room %s back to peer to peer: %s", room, reason)
        return [(p.id, MediaRoute("peer", reason=reason)) for p in participants]

    async def _close_later(self, room: str, commands: list[Command]) -> None:
        await asyncio.sleep(CLOSE_AFTER)
        await self._carry_out(commands, room)

    async def _carry_out(self, commands: list[Command], room: str, *,
                         raise_error: bool = False) -> None:
        if not commands:
            return
        control = self.control
        if control is None:  # Janus away: made again from the records once it is back
            self._changed.add(room)
            return
        try:
            await control.carry_out(commands)
        except MediaServerError as exc:
            self._changed.add(room)  # half done: made again if the line went down
            if raise_error:
                raise
            logger.warning("media server, room %s: %s", room, exc)

    # -- the line to the media server -----------------------------------------------------

    async def _keep_connected(self) -> None:
        """Notice the media server going away, connect again with growing pauses, make
        the class rooms again, then move every room that waited."""
        first, most = self._reconnect
        pause = first
        assert self.access is not None
        while True:
            if self.control is not None:
                reason = await self.control.wait_lost()
                lost, self.control = self.control, None
                self.unavailable = reason
                logger.warning("the media server went away (%s): connecting again; class "
                               "rooms wait for it", reason)
                await lost.close()
                pause = first
            control: MediaServerControl | None = None
            try:
                control = await self._connect(self.access)
                await self._restore(control)
            except Exception as exc:  # never stop trying: classes wait for it
                if control is not None:
                    await control.close()
                self.unavailable = (str(exc) if isinstance(exc, MediaServerError)
                                    else exc.__class__.__name__)
                if not isinstance(exc, MediaServerError):
                    logger.exception("connecting to the media server failed")
                logger.info("media server still away (%s); next try in %g s",
                            self.unavailable, pause)
                await asyncio.sleep(pause)
                pause = min(2 * pause, most)
                continue
            self.control, self.unavailable = control, ""
            logger.info("media server answers: %d class room(s) made again", len(self.rooms))
            for state in self._state.values():
                state.failed_at = None
            self.sweep()

    async def _restore(self, control: MediaServerControl) -> None:
        """Make every class room and token again on ``control``'s Janus, as the records
        say (including changes made while this runs), and withdraw tokens no longer held."""
        self._changed = set(self.rooms)
        while True:
            todo, self._changed = self._changed, set()
            for room in sorted(todo):
                await control.carry_out(self.rooms.restore(room))
            stray = await control.keep_only_tokens(self.rooms.tokens())
            if stray:
                logger.info("media server: %d token(s) of participants gone withdrawn", stray)
            if not self._changed:
                return

    async def close(self) -> None:
        """Stop moving rooms and destroy every room on the media server (the signaling
        server stops)."""
        closing = list(self._closing.values())
        tasks = [*self._runners.values(), *([self._watcher] if self._watcher else []),
                 *self._closing]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._watcher = None
        for room, commands in closing:  # rooms given up a moment ago: destroyed now
            await self._carry_out(commands, room)
        for room in list(self.rooms):
            await self._carry_out(self.rooms.close(room), room)
        if self.control is not None:
            await self.control.close()


async def open_classes(folder: Path | None, threshold: int) -> Classes:
    """The classes of a server started with ``--media-server-dir folder`` (None: none).

    A missing or damaged ``media-server.json`` stops the start (ConfigError naming the
    fix); a media server that does not answer leaves every room peer to peer, logged,
    until it does (this server keeps trying)."""
    if folder is None:
        return Classes(None)
    access = read_access(folder)
    try:
        control = await MediaServerControl.connect(access)
    except MediaServerError as exc:
        logger.warning("the media server does not answer (%s): rooms stay peer to peer "
                       "until it does; this server keeps trying", exc)
        return Classes(None, access=access, threshold=threshold, unavailable=str(exc))
    logger.info("media server for classes at %s (rooms above %d viewers, or asked for)",
                access.api_url, threshold)
    return Classes(control, threshold=threshold)
