"""A client for the signaling server: join a room, then exchange messages.

The websocket is the only I/O here; messages are the parsed objects of
:mod:`surgery_teach.protocol.messages`. Library errors become :class:`SignalingError`
with a sentence a surgeon's IT person can act on.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator
from dataclasses import replace
from urllib.parse import urlencode, urlparse, urlunparse

import websockets
from websockets.asyncio.client import ClientConnection, connect

from surgery_teach.errors import NotAdmittedError, ProtocolError, SignalingError
from surgery_teach.protocol.messages import (
    ClientMessage,
    ErrorReply,
    Join,
    Leave,
    Publishes,
    Role,
    ServerMessage,
    ShareChunk,
    Welcome,
    parse_server,
    serialize,
)
from surgery_teach.rtc.tls import client_context, explain_verification_failure
from surgery_teach.wire.fields import ErrorCode

logger = logging.getLogger(__name__)

OPEN_TIMEOUT = 10.0
ADMISSION_REFUSALS = {401, 403}
"""Handshake statuses that mean "not with this token": retrying cannot help."""


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


def _tls_hint(exc: BaseException, url: str) -> str:
    """A wss:// server answers ws:// with TLS bytes, and the reverse fails in TLS."""
    if isinstance(exc, websockets.InvalidMessage) and url.startswith("ws://"):
        return " If the server uses TLS (started with --cert), write wss:// instead of ws://."
    if isinstance(exc, ssl.SSLError | ConnectionResetError) and url.startswith("wss://"):
        return " If the server does not use TLS, write ws:// instead of wss://."
    return ""


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
        publishes: Publishes | None = None, token: str = "", ca_file: str = "",
        client_key: str | None = None, timeout: float = OPEN_TIMEOUT,
    ) -> SignalingClient:
        """Connect to ``url`` and join ``room``; raise :class:`SignalingError` if refused,
        :class:`NotAdmittedError` if the token or a mentor's removal keeps us out.

        ``token`` is the room token a secured server asks for; it travels in the
        ``Authorization`` header (kept out of URLs and proxy logs) and is never logged.
        ``ca_file``: a PEM file of the certificate authority that signed a wss:// server's
        certificate, when the system does not trust it already. ``client_key``: the
        session's key, so that a rejoin gets the same participant id back (a server that
        does not know the field is asked again without it).
        """
        check_server_url(url)
        headers = {"Authorization": f"Bearer {token}"} if token else None
        target = _with_room(url, room) if token else url  # lets the server check it early
        tls = client_context(ca_file) if urlparse(url).scheme == "wss" else None
        try:
            connection = await asyncio.wait_for(
                connect(target, max_size=16 * 1024 * 1024, open_timeout=timeout,
                        additional_headers=headers, ssl=tls), timeout
            )
        except websockets.InvalidStatus as exc:
            status = exc.response.status_code
            if status in ADMISSION_REFUSALS:
                raise NotAdmittedError(_refusal(status, room), status) from exc
            raise SignalingError(_refusal(status, room)) from exc
        except ssl.SSLCertVerificationError as exc:
            raise SignalingError(explain_verification_failure(exc, url, ca_file)) from exc
        except (TimeoutError, OSError, websockets.InvalidHandshake) as exc:
            raise SignalingError(
                f"cannot reach the signaling server at {url} ({_why(exc, timeout)}). "
                "Check the address and port, and that the server is running and reachable "
                f"through the hospital firewall.{_tls_hint(exc, url)}"
            ) from exc
        try:
            join = Join(room=room, name=name, role=role, publishes=publishes or Publishes(),
                        client_key=client_key)
            await connection.send(serialize(join))
            reply = await asyncio.wait_for(cls._read(connection), timeout)
            if (isinstance(reply, ErrorReply) and reply.code == ErrorCode.BAD_MESSAGE
                    and "client_key" in reply.message):  # a server from before rejoining
                await connection.send(serialize(replace(join, client_key=None)))
                reply = await asyncio.wait_for(cls._read(connection), timeout)
        except BaseException:
            await connection.close()
            raise
        if isinstance(reply, ErrorReply):
            await connection.close()
            why = f"the server refused to join room {room!r}: {reply.message}"
            if reply.code in (ErrorCode.NOT_ALLOWED, ErrorCode.FORBIDDEN, ErrorCode.REMOVED):
                raise NotAdmittedError(why, code=reply.code)
            raise SignalingError(why, code=reply.code)
        if not isinstance(reply, Welcome):
            await connection.close()
            raise SignalingError(f"the server answered the join with {type(reply).__name__}")
        logger.info("joined room %s as %s (%s)", room, reply.you.id, role)
        return cls(connection, reply)

    @staticmethod
    async def _read(connection: ClientConnection) -> ServerMessage | ShareChunk:
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

    async def send_binary(self, frame: bytes) -> None:
        """Send a binary frame (a share chunk); waits while the link is behind."""
        try:
            await self._connection.send(frame)
        except websockets.ConnectionClosed as exc:
            raise SignalingError(f"the signaling link is down ({exc})") from exc

    async def messages(self) -> AsyncIterator[ServerMessage | ShareChunk]:
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
