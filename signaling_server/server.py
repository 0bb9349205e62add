"""The signaling server: a thin websockets shell around the room rules.

Each opening handshake goes through the admission rules (allowed origins, connections per
address, room token: :mod:`surgery_teach.protocol.admission`) and is refused with an HTTP
status before the websocket opens. Each text frame then goes rate check -> parse ->
:class:`~surgery_teach.protocol.Rooms` -> send. Replies to the sender are awaited (so a
client that stops reading slows only itself); messages to other participants are written
without waiting, so one stalled or vanished client never blocks or breaks the handling of
anyone else, and a client that lets more than a few MiB pile up is dropped. ``GET
/healthz`` on the same port reports load. Chat text and annotations are relayed and kept
in memory but never logged; the optional audit log (:mod:`.audit`) records who came and
went.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import time
from collections import Counter
from collections.abc import Sequence

from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.protocol import State

from signaling_server.audit import AuditEvent, AuditLog
from signaling_server.audit_notes import AuditNotes
from signaling_server.classes import Classes, open_classes
from signaling_server.config import (
    TRANSPORT_MAX_BYTES,
    TRANSPORT_QUEUE,
    ServerConfig,
    is_loopback,
    tls_context,
)
from signaling_server.connection import Connection, RedactedLog, gated
from signaling_server.handshake import HEALTH_PATH, Handshake
from signaling_server.ice import IceHandout
from signaling_server.logs import (
    log_arrival,
    log_departure,
    log_error,
    log_grant,
    log_publishes,
)
from signaling_server.shares import SHARE_MESSAGES, ShareDesk, ShareMessage, UploadPace
from signaling_server.state import SYNC_INTERVAL, StateDir
from surgery_teach.errors import ConfigError, ProtocolError, SignalingError
from surgery_teach.protocol import (
    Annotate,
    ClassMode,
    ErrorCode,
    ErrorReply,
    GrantDraw,
    Join,
    Leave,
    Left,
    Outbox,
    ParticipantInfo,
    PrivacyPause,
    RemoveParticipant,
    Seat,
    ServerMessage,
    message_ref,
    parse_client,
    serialize,
    wire_type,
)
from surgery_teach.protocol.admission import Admission
from surgery_teach.protocol.durable import DurableRooms
from surgery_teach.protocol.limits import MessageRate, Verdict
from surgery_teach.protocol.messages import MediaRoute
from surgery_teach.protocol.passes import Bars

__all__ = [
    "HEALTH_PATH",
    "KEEPALIVE_SECONDS",
    "TRANSPORT_MAX_BYTES",
    "WRITE_LIMIT",
    "RunningServer",
    "ServerConfig",
    "is_loopback",
    "start_server",
]

logger = logging.getLogger("signaling_server")

KEEPALIVE_SECONDS = 20.0
"""Websocket ping interval and timeout: a dead TCP peer is dropped within about 40 s."""
WRITE_LIMIT = 32 * 1024
"""A reply to the sender waits while more than this is queued for it (websockets)."""


class RunningServer:
    """A listening server, as returned by :func:`start_server`."""

    def __init__(
        self,
        server: Server,
        host: str,
        port: int,
        *,
        secure: bool = False,
        audit: AuditLog | None = None,
        signaling: _Signaling | None = None,
    ) -> None:
        self._server = server
        self._audit = audit or AuditLog.disabled()
        self._signaling = signaling
        self.host = host
        self.port = port
        self.secure = secure

    @property
    def url(self) -> str:
        """The websocket URL clients connect to, e.g. ``ws://127.0.0.1:8765``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'wss' if self.secure else 'ws'}://{host}:{self.port}"

    @property
    def classes(self) -> Classes:
        """The rooms this server moves onto the media server (class mode)."""
        return self._signaling.classes if self._signaling is not None else Classes(None)

    async def close(self) -> None:
        """Stop listening, close every connection (1001 going away) and wait. Idempotent."""
        self._server.close()
        await self._server.wait_closed()
        if self._signaling is not None:
            await self._signaling.stop()
        self._audit.close()


async def start_server(config: ServerConfig | None = None) -> RunningServer:
    """Start listening; raise SignalingError if the address cannot be bound, ConfigError
    if the TLS files or the audit log cannot be opened."""
    config = config or ServerConfig()
    tls = tls_context(config.cert_file, config.key_file) if config.cert_file else None
    audit = AuditLog.open(config.audit_log) if config.audit_log else AuditLog.disabled()
    try:
        state = StateDir.open(config.state_dir) if config.state_dir is not None else None
    except ConfigError:
        audit.close()
        raise
    signaling = _Signaling(config, audit, state)
    signaling.restore()
    signaling.classes = await open_classes(config.media_server_dir, config.class_threshold)
    signaling.classes.bind(signaling.members, signaling.send_routes)
    try:
        server = await serve(
            signaling.serve_connection,
            config.host,
            config.port,
            process_request=signaling.process_request,
            create_connection=gated(signaling.admit_socket),
            max_size=TRANSPORT_MAX_BYTES,
            max_queue=TRANSPORT_QUEUE,
            # No permessage-deflate: per connection, its zlib state cost more memory than
            # everything else together (2,000 clients: 170 MiB with it, 80 without; see
            # bench/load.py), and every broadcast was compressed once per recipient. What
            # the server sends is small next to the video; tokens never go in a message.
            compression=None,
            ping_interval=KEEPALIVE_SECONDS,
            ping_timeout=KEEPALIVE_SECONDS,
            open_timeout=config.limits.open_timeout,
            write_limit=WRITE_LIMIT,
            logger=RedactedLog(logging.getLogger("websockets.server")),
            ssl=tls,
        )
    except OSError as exc:
        await signaling.stop()
        audit.close()
        raise SignalingError(_listen_problem(config, exc)) from exc
    signaling.start_upkeep()
    signaling.ice.log_setup(logger)
    port = server.sockets[0].getsockname()[1]
    logger.info(
        "listening host=%s port=%s tls=%s tokens=%s",
        config.host,
        port,
        "yes" if tls else "no",
        "no (open: loopback only)" if config.secret is None else "required",
    )
    if config.secret is not None and tls is None and not is_loopback(config.host):
        logger.warning(
            "room tokens will cross the network unencrypted: serve wss:// with --cert and "
            "--key, or put a TLS reverse proxy in front"
        )
    return RunningServer(
        server, config.host, port, secure=tls is not None, audit=audit, signaling=signaling
    )


def _listen_problem(config: ServerConfig, exc: OSError) -> str:
    where = f"{config.host}:{config.port}"
    if exc.errno == errno.EADDRINUSE:
        return (
            f"cannot listen on {where}: the port is already in use (is another signaling "
            "server running?); stop it or choose another port with --port"
        )
    if exc.errno == errno.EACCES:
        return f"cannot listen on {where}: permission denied; use a port above 1023"
    return f"cannot listen on {where}: {exc.strerror or exc}; check --host and --port"


class _Signaling(Handshake, AuditNotes):
    """Moves frames between websocket connections and the room rules."""

    def __init__(
        self, config: ServerConfig, audit: AuditLog, state: StateDir | None = None
    ) -> None:
        self._max_message_bytes = config.max_message_bytes
        self._limits = config.limits
        self._audit = audit
        self._state = state
        self._upkeep: asyncio.Task[None] | None = None
        bars = self._bars = Bars(keep=state.bar if state is not None else None)
        self._rooms: DurableRooms[Connection] = DurableRooms(
            max_room_size=config.max_room_size,
            bars=bars,
            grace=config.rejoin_grace,
            journal=state,
            max_rooms=config.max_rooms,
            board_limits=config.board,
            ghosts_per_address=config.limits.connections_per_address,
            max_ghosts=config.max_waiting,
            address_of=lambda connection: connection.address,
        )
        self._admission = Admission(
            secret=config.secret,
            bars=bars,
            origins=config.allowed_origins,
            connections_per_address=config.limits.connections_per_address,
        )
        self._connections: Counter[str] = Counter()
        """Open websocket connections per client address."""
        self._sockets: Counter[str] = Counter()
        """TCP connections per client address, handshakes under way included."""
        self._closing: set[asyncio.Task[None]] = set()
        self.ice = IceHandout(config)
        self.classes = Classes(None)  # start_server connects the media server, if any
        self.shares = ShareDesk()  # pictures shared through the server (class mode)

    # -- state ----------------------------------------------------------------------------

    def restore(self) -> None:
        """Give back the rooms of the state directory (everyone in them may rejoin)."""
        if self._state is None:
            return
        now = time.time()
        self._bars.restore(self._state.load_bars(), now=now)
        self._state.rewrite_bars(self._bars.entries(now=now))  # the expired ones left out
        for room in self._state.load():
            if self._rooms.restore(room):
                self._state.rewrite(room.room, self._rooms.state_entries(room.room))
                logger.info("restored room=%s participants=%d", room.room, len(room.members))
            else:
                self._state.closed(room.room)

    def start_upkeep(self) -> None:
        self._upkeep = asyncio.get_running_loop().create_task(self._keep_up())

    async def _keep_up(self) -> None:
        """Once a second: let ghosts whose grace is over go; compact and flush journals
        (the disk work in a worker thread)."""
        while True:
            await asyncio.sleep(SYNC_INTERVAL)
            try:
                outbox = self._rooms.expire()
                for gone in {m.participant.id for _, m in outbox if isinstance(m, Left)}:
                    logger.info("leave participant=%s reason=rejoin-grace-over", gone)
                self._deliver(outbox)
                for room in self.shares.store.rooms():  # sharers whose grace is over
                    self._follow_shares(room)
                self.classes.sweep()  # tokens of those gone withdrawn, emptied rooms forgotten
                if self._state is not None:
                    await self._state.save(self._rooms.state_entries,
                                           lambda: self._bars.entries(now=time.time()))
            except Exception:  # never let the upkeep die: ghosts would never leave
                logger.exception("room upkeep failed")

    async def stop(self) -> None:
        if self._upkeep is not None:
            self._upkeep.cancel()
            await asyncio.gather(self._upkeep, return_exceptions=True)
        await self.shares.serving.close()
        await self.classes.close()
        if self._state is not None:
            await self._state.aclose()

    def _close_later(self, connection: Connection, code: int, reason: str) -> None:
        if connection.state is State.OPEN:
            task = asyncio.get_running_loop().create_task(connection.close(code, reason))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    # -- messages -------------------------------------------------------------------------

    async def serve_connection(self, connection: ServerConnection) -> None:
        assert isinstance(connection, Connection)
        if connection.refusal is not None:
            await self._refuse_opened(connection, connection.refusal)
            return
        if connection.room_pass is not None:
            self._rooms.admit(connection, connection.room_pass)
        loop = asyncio.get_running_loop()
        rate = MessageRate.of(self._limits, loop.time())
        uploads = UploadPace(loop.time())  # share chunks: paced apart from the rate
        try:
            while (frame := await self._next_frame(connection)) is not None:
                if isinstance(frame, bytes):
                    await asyncio.sleep(uploads.delay(loop.time(), len(frame)))
                    verdict = Verdict.ACCEPT
                else:
                    verdict = rate.take(loop.time(), len(frame))
                if verdict is Verdict.ACCEPT:
                    rate.charge(await self._on_frame(connection, frame))
                    # Let every other connection have its turn before this one's next
                    # message, so no client holds the shared loop for long.
                    await asyncio.sleep(0)
                elif verdict is Verdict.REFUSE:
                    await self._refuse_rate(connection, frame)
                else:
                    self._note_limit(connection, CloseCode.POLICY_VIOLATION, "flooding")
                    await _close_unread(
                        connection,
                        CloseCode.POLICY_VIOLATION,
                        "too many messages: more than twice the allowed rate",
                    )
                    return
        except ConnectionClosed:
            pass  # the finally clause below tells the room
        finally:
            seat = self._rooms.seat(connection)
            recording = self._rooms.records(connection)
            outbox = self._rooms.disconnect(connection)
            if seat is not None and self._rooms.seat(connection) is not None:
                log_departure(seat, "away")  # kept for its client to rejoin (a ghost)
            elif seat is not None:
                log_departure(seat, "disconnect")
                self._audit_seat(AuditEvent.LEAVE, "disconnect", connection, seat)
                if recording:
                    self._audit_recording(connection, seat, "left")
            self._deliver(outbox)
            if seat is not None:
                self._follow_shares(seat.room)

    async def _next_frame(self, connection: Connection) -> str | bytes | None:
        """The next frame, or None once the client was idle too long (closed: 1001)."""
        idle = self._limits.idle_timeout
        loop = asyncio.get_running_loop()
        while (wait := connection.last_heard + idle - loop.time()) > 0:
            try:
                async with asyncio.timeout(wait):
                    return await connection.recv()  # cancelling recv() loses nothing
            except TimeoutError:
                pass  # a websocket ping may have come meanwhile: look again
        self._note_limit(connection, CloseCode.GOING_AWAY, "idle")
        await connection.close(
            CloseCode.GOING_AWAY,
            f"idle for {idle:g} s; send a message (a ping will do) at least every {idle:g} s",
        )
        return None

    async def _refuse_rate(self, connection: Connection, frame: str | bytes) -> None:
        rate = self._limits.messages_per_second
        refusal = ErrorReply(
            ErrorCode.RATE_LIMITED,
            f"too many messages: at most {self._limits.message_burst} at once, then "
            f"{rate:g} a second, and {self._limits.byte_burst // 2**20} MiB at once, then "
            f"{self._limits.bytes_per_second // 1024} KiB a second; this one was dropped. "
            "Slow down (keep sending much faster and the server closes the connection)",
            message_ref(frame, max_bytes=self._max_message_bytes),
        )
        log_error(self._rooms.seat(connection), refusal)
        await self._reply(connection, [refusal])

    async def _on_frame(self, connection: Connection, frame: str | bytes) -> int:
        """Handle one message; the bytes it made the server send to others beyond its own
        size when it is an ``annotate`` (an undo that brings many marks back), which count
        against its sender's byte rate."""
        before = self._rooms.seat(connection)
        was_recording = self._rooms.records(connection)
        removed: tuple[Connection, Seat] | None = None
        message: object = None
        removed_recording = False
        annotating = False
        reroute = False  # who is in the room, or class mode, may have changed
        try:
            message = parse_client(frame, max_bytes=self._max_message_bytes)
        except ProtocolError as exc:
            ref = message_ref(frame, max_bytes=self._max_message_bytes)
            outbox: Outbox[Connection] = [
                (connection, ErrorReply(exc.code, exc.message, ref))
            ]
        else:
            annotating = isinstance(message, Annotate)
            reroute = isinstance(message, Join | Leave | RemoveParticipant | ClassMode)
            removed = self._removal_target(before, message)
            removed_recording = removed is not None and self._rooms.records(removed[0])
            if isinstance(message, ClassMode):  # the media server's business, not the rules'
                refusal = self.classes.request(before, message)
                outbox = [] if refusal is None else [(connection, refusal)]
            elif isinstance(message, SHARE_MESSAGES):
                outbox = self._share(connection, before, message, frame)
            else:
                outbox = self.ice.fill(self._rooms.handle(connection, message))
            for old in self._rooms.take_replaced():
                self._close_later(old, CloseCode.NORMAL_CLOSURE, "rejoined on a new connection")
            refused = next(
                (r for c, r in outbox if c is connection and isinstance(r, ErrorReply)), None
            )
            if isinstance(message, GrantDraw) and before is not None and refused is None:
                log_grant(before, message)
            if isinstance(message, PrivacyPause) and before is not None and refused is None:
                self._audit_seat(AuditEvent.PRIVACY, "paused" if message.paused else "resumed",
                                 connection, before)
            if isinstance(message, Join) and isinstance(refused, ErrorReply):
                self._audit_refused_join(connection, message, refused)
            elif refused is not None and refused.code == ErrorCode.FORBIDDEN:
                self._audit_seat(
                    AuditEvent.DENIAL,
                    ErrorCode.FORBIDDEN,
                    connection,
                    before,
                    action=wire_type(message),
                )
        after = self._rooms.seat(connection)
        if before is None and after is not None:
            log_arrival(after)
            self._audit_seat(AuditEvent.JOIN, "ok", connection, after)
        elif before is not None and after is None:
            log_departure(before, "leave")
            self._audit_seat(AuditEvent.LEAVE, "leave", connection, before)
        elif before is not None and after is not None and before != after:
            log_publishes(after)
        if before is not None and was_recording != self._rooms.records(connection):
            outcome = "start" if not was_recording else "stop" if after is not None else "left"
            self._audit_recording(connection, before, outcome)
        mine = [reply for recipient, reply in outbox if recipient is connection]
        if after is not None and before is None:  # a newcomer (or rejoin): the shares now
            mine += self.shares.store.current(after.room, but=after.participant.id)
        sent = self._deliver([item for item in outbox if item[0] is not connection])
        if isinstance(message, GrantDraw | Leave | RemoveParticipant) and before is not None:
            self._follow_shares(before.room)  # a sharer left or may no longer share
        if removed is not None and self._rooms.seat(removed[0]) is None:
            self._on_removed(*removed, by=before)
            if removed_recording:
                self._audit_recording(removed[0], removed[1], "left")
        for reply in mine:
            if isinstance(reply, ErrorReply):
                log_error(before, reply)
        await self._reply(connection, mine)
        # the room's own task talks to the media server: nothing here waits for it
        # (those who left are also swept by the upkeep)
        if self.classes.enabled and reroute and (after or before) is not None:
            room = (after or before).room  # type: ignore[union-attr]
            if before is None and after is not None:  # a rejoin: its route again
                again = self.classes.route_of(room, after.participant.id)
                if again is not None:
                    self._deliver([(connection, again)])
            self.classes.schedule(room)
        return max(0, sent - len(frame)) if annotating else 0

    def _share(self, connection: Connection, seat: Seat | None, message: ShareMessage,
               frame: str | bytes) -> Outbox[Connection]:
        try:
            return self.shares.handle(connection, seat, message, self._others)
        except ProtocolError as exc:
            ref = message_ref(frame, max_bytes=self._max_message_bytes)
            return [(connection, ErrorReply(exc.code, exc.message, ref))]

    def _others(self, room: str, participant_id: str) -> list[Connection]:
        return [c for p in self._rooms.participants(room) if p.id != participant_id
                and (c := self._rooms.member(room, p.id)) is not None]

    def _follow_shares(self, room: str) -> None:
        self._deliver(self.shares.follow(room, self._rooms.participants(room), self._others))

    def members(self, room: str) -> Sequence[ParticipantInfo]:
        """Who is in ``room`` now (for :mod:`signaling_server.classes`)."""
        return self._rooms.participants(room)

    def send_routes(self, room: str, routes: list[tuple[str, MediaRoute]]) -> None:
        """Tell those of ``room`` whose media route changed (:mod:`signaling_server.classes`)."""
        self._deliver([(member, route) for pid, route in routes
                       if (member := self._rooms.member(room, pid)) is not None])

    def _removal_target(
        self, seat: Seat | None, message: object
    ) -> tuple[Connection, Seat] | None:
        """Whom a ``remove`` names, and where they sit, before the rules act on it."""
        if not isinstance(message, RemoveParticipant) or seat is None:
            return None
        target = self._rooms.member(seat.room, message.participant)
        target_seat = self._rooms.seat(target) if target is not None else None
        return (target, target_seat) if target is not None and target_seat else None

    def _on_removed(self, target: Connection, seat: Seat, *, by: Seat | None) -> None:
        """A mentor or the surgeon removed ``target``: it has had its ``removed`` error;
        now close it."""
        remover = by.participant.id if by else None
        logger.info(
            "remove room=%s participant=%s role=%s by=%s",
            seat.room,
            seat.participant.id,
            seat.participant.role.value,
            remover,
        )
        self._audit_seat(AuditEvent.REMOVAL, "removed", target, seat, by=remover)
        self._audit_seat(AuditEvent.LEAVE, "removed", target, seat)
        by_role = by.participant.role.value if by else "mentor"
        if target.state is State.OPEN:  # after the error, which is already written
            task = asyncio.get_running_loop().create_task(
                target.close(CloseCode.POLICY_VIOLATION, f"removed by a {by_role}")
            )
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    def _deliver(self, outbox: Outbox[Connection]) -> int:
        """Write to other participants without waiting on them; closed ones are skipped.
        Returns the characters of the distinct messages written.

        A message that goes to many (one object, such as an annotation relayed up to 30
        times a second while someone draws) is serialised once. A recipient that has more
        than ``limits.send_buffer_bytes`` not yet taken in is not reading: it is dropped at
        once (a close frame would only queue behind what it does not read).
        """
        texts: dict[int, str] = {}  # id() is stable: the outbox holds every message
        written = 0
        for recipient, message in outbox:
            if recipient.transport.is_closing():
                continue
            if recipient.buffered_bytes > self._limits.send_buffer_bytes:
                self._note_limit(recipient, CloseCode.ABNORMAL_CLOSURE, "too-slow")
                recipient.transport.abort()  # frees what was queued for it
                continue
            text = texts.get(id(message))
            if text is None:
                text = texts[id(message)] = serialize(message)
                written += len(text)
            broadcast([recipient], text)
        return written

    @staticmethod
    async def _reply(connection: Connection, replies: list[ServerMessage]) -> None:
        """Write every reply to the sender, then wait for it to take them in.

        All are written before the first wait, so nothing another participant causes in
        the meantime (a chat message) can land between ``welcome`` and ``chat-history``.
        """
        if not replies:
            return
        *first, last = [serialize(reply) for reply in replies]
        for text in first:
            broadcast([connection], text)
        await connection.send(last)

async def _close_unread(connection: Connection, code: int, reason: str) -> None:
    """Close, dropping what the client sent before: its answer to the close frame queues
    behind that, and the server reads nothing more while its receive queue is full."""
    closing = asyncio.ensure_future(connection.close(code, reason))
    try:
        while True:
            await connection.recv()
    except ConnectionClosed:
        pass
    finally:
        await closing
