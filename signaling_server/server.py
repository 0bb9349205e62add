"""The signaling server: a thin websockets shell around the room rules.

Each text frame goes parse -> :class:`~surgery_teach.protocol.Rooms` -> send. Replies to the
sender are awaited (so a client that stops reading slows only itself); messages to other
participants are written without waiting, so one stalled or vanished client never blocks
or breaks the handling of anyone else. ``GET /healthz`` on the same port reports load.
Chat text and annotations are relayed and kept in memory but never logged.
"""

from __future__ import annotations

import errno
import json
import logging
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from surgery_teach.errors import ConfigError, ProtocolError, SignalingError
from surgery_teach.protocol import (
    MAX_MESSAGE_BYTES,
    ErrorReply,
    GrantDraw,
    Outbox,
    Rooms,
    Seat,
    ServerMessage,
    message_ref,
    parse_client,
    serialize,
)

logger = logging.getLogger("signaling_server")

TRANSPORT_MAX_BYTES = 16 * 1024 * 1024
"""Frames above this are refused by websockets itself: it closes the connection (1009)."""
KEEPALIVE_SECONDS = 20.0
"""Websocket ping interval and timeout: a dead TCP peer is dropped within about 40 s."""
HEALTH_PATH = "/healthz"


@dataclass(kw_only=True)
class ServerConfig:
    """How to run the server; checked on construction (ConfigError)."""

    host: str = "127.0.0.1"
    """Address to listen on; use a literal IP with ``port=0`` (a name may bind several)."""
    port: int = 8765
    """TCP port; 0 picks a free one (read it back from ``RunningServer.port``)."""
    max_room_size: int = 50
    """Most participants in one room; the next ``join`` gets ``room-full``."""
    max_message_bytes: int = MAX_MESSAGE_BYTES
    """Largest client message; bigger ones get ``too-large`` (at most TRANSPORT_MAX_BYTES)."""

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be 0..65535, got {self.port}")
        if self.max_room_size < 1:
            raise ConfigError(f"max room size must be at least 1, got {self.max_room_size}")
        if not 1 <= self.max_message_bytes <= TRANSPORT_MAX_BYTES:
            raise ConfigError(
                f"max message bytes must be 1..{TRANSPORT_MAX_BYTES}, got {self.max_message_bytes}"
            )


class RunningServer:
    """A listening server, as returned by :func:`start_server`."""

    def __init__(self, server: Server, host: str, port: int) -> None:
        self._server = server
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        """The websocket URL clients connect to, e.g. ``ws://127.0.0.1:8765``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}"

    async def close(self) -> None:
        """Stop listening, close every connection (1001 going away) and wait. Idempotent."""
        self._server.close()
        await self._server.wait_closed()


async def start_server(config: ServerConfig | None = None) -> RunningServer:
    """Start listening; raise SignalingError if the address cannot be bound."""
    config = config or ServerConfig()
    signaling = _Signaling(config)
    try:
        server = await serve(
            signaling.serve_connection,
            config.host,
            config.port,
            process_request=signaling.process_request,
            max_size=TRANSPORT_MAX_BYTES,
            ping_interval=KEEPALIVE_SECONDS,
            ping_timeout=KEEPALIVE_SECONDS,
        )
    except OSError as exc:
        raise SignalingError(_listen_problem(config, exc)) from exc
    port = server.sockets[0].getsockname()[1]
    logger.info("listening host=%s port=%s", config.host, port)
    return RunningServer(server, config.host, port)


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


class _Signaling:
    """Moves frames between websocket connections and the room rules."""

    def __init__(self, config: ServerConfig) -> None:
        self._max_message_bytes = config.max_message_bytes
        self._rooms: Rooms[ServerConnection] = Rooms(max_room_size=config.max_room_size)

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Answer ``GET /healthz``; let every other request become a websocket."""
        if urlsplit(request.path).path != HEALTH_PATH:
            return None
        body = json.dumps(
            {
                "status": "ok",
                "rooms": self._rooms.room_count,
                "participants": self._rooms.participant_count,
                "version": self._rooms.server_version,
            },
            separators=(",", ":"),
        )
        response = connection.respond(HTTPStatus.OK, body + "\n")
        _replace_header(response.headers, "Content-Type", "application/json")
        _replace_header(response.headers, "Cache-Control", "no-store")
        return response

    async def serve_connection(self, connection: ServerConnection) -> None:
        try:
            async for frame in connection:
                await self._on_frame(connection, frame)
        except ConnectionClosed:
            pass  # the finally clause below tells the room
        finally:
            seat = self._rooms.seat(connection)
            outbox = self._rooms.disconnect(connection)
            if seat is not None:
                _log_departure(seat, "disconnect")
            self._deliver(outbox)

    async def _on_frame(self, connection: ServerConnection, frame: str | bytes) -> None:
        before = self._rooms.seat(connection)
        try:
            message = parse_client(frame, max_bytes=self._max_message_bytes)
        except ProtocolError as exc:
            ref = message_ref(frame, max_bytes=self._max_message_bytes)
            outbox: Outbox[ServerConnection] = [
                (connection, ErrorReply(exc.code, exc.message, ref))
            ]
        else:
            outbox = self._rooms.handle(connection, message)
            if isinstance(message, GrantDraw) and before is not None:
                if not any(isinstance(reply, ErrorReply) for _, reply in outbox):
                    _log_grant(before, message)
        after = self._rooms.seat(connection)
        if before is None and after is not None:
            _log_arrival(after)
        elif before is not None and after is None:
            _log_departure(before, "leave")
        elif before is not None and after is not None and before != after:
            _log_publishes(after)
        mine = [reply for recipient, reply in outbox if recipient is connection]
        self._deliver([item for item in outbox if item[0] is not connection])
        for reply in mine:
            if isinstance(reply, ErrorReply):
                _log_error(before, reply)
        await self._reply(connection, mine)

    @staticmethod
    def _deliver(outbox: Outbox[ServerConnection]) -> None:
        """Write to other participants without waiting on them; closed ones are skipped.

        A message that goes to many (one object, such as an annotation relayed up to 30
        times a second while someone draws) is serialised once.
        """
        texts: dict[int, str] = {}  # id() is stable: the outbox holds every message
        for recipient, message in outbox:
            text = texts.get(id(message))
            if text is None:
                text = texts[id(message)] = serialize(message)
            broadcast([recipient], text)

    @staticmethod
    async def _reply(connection: ServerConnection, replies: list[ServerMessage]) -> None:
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


def _replace_header(headers: Headers, name: str, value: str) -> None:
    if name in headers:
        del headers[name]
    headers[name] = value


def _log_arrival(seat: Seat) -> None:
    logger.info(
        "join room=%s participant=%s role=%s",
        seat.room,
        seat.participant.id,
        seat.participant.role.value,
    )


def _log_departure(seat: Seat, reason: str) -> None:
    logger.info(
        "leave room=%s participant=%s role=%s reason=%s",
        seat.room,
        seat.participant.id,
        seat.participant.role.value,
        reason,
    )


def _log_publishes(seat: Seat) -> None:
    logger.info(
        "publish room=%s participant=%s role=%s video=%d audio=%s",
        seat.room,
        seat.participant.id,
        seat.participant.role.value,
        seat.participant.publishes.video,
        "yes" if seat.participant.publishes.audio else "no",
    )


def _log_grant(mentor: Seat, grant: GrantDraw) -> None:
    logger.info(
        "draw room=%s participant=%s allowed=%s by=%s",
        mentor.room,
        grant.to,
        "yes" if grant.allowed else "no",
        mentor.participant.id,
    )


def _log_error(seat: Seat | None, reply: ErrorReply) -> None:
    # The code only: error texts may quote what the client sent.
    logger.warning(
        "error code=%s room=%s participant=%s role=%s",
        reply.code,
        seat.room if seat else "-",
        seat.participant.id if seat else "-",
        seat.participant.role.value if seat else "-",
    )
