"""A client for the signaling server: join a room, then exchange messages.

The websocket is the only I/O here; messages are the parsed objects of
:mod:`surgery_teach.protocol.messages`. Library errors become :class:`SignalingError`
with a sentence a surgeon's IT person can act on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from urllib.parse import urlencode, urlparse, urlunparse

import websockets
from websockets.asyncio.client import ClientConnection, connect

from surgery_teach.errors import ProtocolError, SignalingError
from surgery_teach.protocol.messages import (
    ClientMessage,
    ErrorReply,
    Join,
    Leave,
    Publishes,
    Role,
    ServerMessage,
    Welcome,
    parse_server,
    serialize,
)

logger = logging.getLogger(__name__)

OPEN_TIMEOUT = 10.0


def check_server_url(url: str) -> str:
    """Return ``url`` if it is a ws:// or wss:// address, else raise with the fix."""
    parsed = urlparse(url)
    if parsed.scheme not in ("ws", "wss") or not parsed.hostname:
        raise SignalingError(
            f"{url!r} is not a signaling server address; write it like "
            "ws://127.0.0.1:8765 or wss://teach.example-hospital.cn"
        )
    return url


def _why(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g} s"
    return str(exc) or type(exc).__name__


def _with_room(url: str, room: str) -> str:
    parts = urlparse(url)
    query = "&".join(q for q in [parts.query, urlencode({"room": room})] if q)
    return urlunparse(parts._replace(path=parts.path or "/", query=query))


def _refusal(status: int, room: str) -> str:
    """What an HTTP refusal of the handshake means for the person joining."""
    if status == 401:
        return ("the signaling server needs a valid room token, and yours is missing, "
                "expired or not valid: ask the case organiser for a new token")
    if status == 403:
        return (f"the signaling server refused this token for room {room!r}: it is for "
                "another case, or you were removed from this one")
    if status == 429:
        return ("too many connections from this computer to the signaling server: close "
                "other copies of the client, then try again")
    return f"the signaling server refused the connection (HTTP {status})"


class SignalingClient:
    """One participant's connection to the signaling server."""

    def __init__(self, connection: ClientConnection, welcome: Welcome) -> None:
        self._connection = connection
        self.welcome = welcome

    @property
    def me(self) -> str:
        return self.welcome.you.id

    @classmethod
    async def join(
        cls, url: str, *, room: str, name: str, role: Role,
        publishes: Publishes | None = None, token: str = "", timeout: float = OPEN_TIMEOUT,
    ) -> SignalingClient:
        """Connect to ``url`` and join ``room``; raise :class:`SignalingError` if refused.

        ``token`` is the room token a secured server asks for; it travels in the
        ``Authorization`` header (kept out of URLs and proxy logs) and is never logged.
        """
        check_server_url(url)
        headers = {"Authorization": f"Bearer {token}"} if token else None
        target = _with_room(url, room) if token else url  # lets the server check it early
        try:
            connection = await asyncio.wait_for(
                connect(target, max_size=16 * 1024 * 1024, open_timeout=timeout,
                        additional_headers=headers), timeout
            )
        except websockets.InvalidStatus as exc:
            raise SignalingError(_refusal(exc.response.status_code, room)) from exc
        except (TimeoutError, OSError, websockets.InvalidHandshake) as exc:
            raise SignalingError(
                f"cannot reach the signaling server at {url} ({_why(exc, timeout)}). "
                "Check the address and port, and that the server is running and reachable "
                "through the hospital firewall."
            ) from exc
        try:
            join = Join(room=room, name=name, role=role, publishes=publishes or Publishes())
            await connection.send(serialize(join))
            reply = await asyncio.wait_for(cls._read(connection), timeout)
        except BaseException:
            await connection.close()
            raise
        if isinstance(reply, ErrorReply):
            await connection.close()
            raise SignalingError(f"the server refused to join room {room!r}: {reply.message}")
        if not isinstance(reply, Welcome):
            await connection.close()
            raise SignalingError(f"the server answered the join with {type(reply).__name__}")
        logger.info("joined room %s as %s (%s)", room, reply.you.id, role)
        return cls(connection, reply)

    @staticmethod
    async def _read(connection: ClientConnection) -> ServerMessage:
        try:
            raw = await connection.recv()
        except websockets.ConnectionClosed as exc:
            raise SignalingError(f"the signaling server closed the connection ({exc})") from exc
        return parse_server(raw)

    async def send(self, message: ClientMessage) -> None:
        try:
            await self._connection.send(serialize(message))
        except websockets.ConnectionClosed as exc:
            raise SignalingError(f"the signaling link is down ({exc})") from exc

    async def messages(self) -> AsyncIterator[ServerMessage]:
        """Server messages until the connection closes; malformed ones are logged and skipped."""
        while True:
            try:
                raw = await self._connection.recv()
            except websockets.ConnectionClosed:
                return
            try:
                yield parse_server(raw)
            except ProtocolError as exc:
                logger.warning("ignored a malformed message from the server: %s", exc.code)

    def abort(self) -> None:
        """Drop a link that stopped answering, without waiting for a closing handshake."""
        self._connection.transport.abort()

    async def close(self) -> None:
        """Say goodbye and close; safe to call on a dead link and twice."""
        try:
            await self._connection.send(serialize(Leave()))
        except websockets.ConnectionClosed:
            pass
        await self._connection.close()
