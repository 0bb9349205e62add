"""The opening handshake of the signaling server: health checks, admission, refusals.

Each handshake goes through the admission rules (allowed origins, connections per address,
room token: :mod:`surgery_teach.protocol.admission`) and is refused with an HTTP status
before the websocket opens; a browser, which cannot read that status, is told over the
opened websocket instead. ``GET /healthz`` reports load.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from http import HTTPStatus
from urllib.parse import urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from signaling_server.audit import AuditEvent, AuditLog, AuditRecord
from signaling_server.audit_notes import pass_fields
from signaling_server.connection import Connection
from surgery_teach.protocol import ErrorReply, serialize
from surgery_teach.protocol.admission import Admission, Refusal, RefusalReason
from surgery_teach.protocol.durable import DurableRooms
from surgery_teach.protocol.limits import Limits

logger = logging.getLogger("signaling_server")

HEALTH_PATH = "/healthz"
SOCKETS_PER_CONNECTION = 2
"""TCP connections one address may hold (handshakes under way included), per websocket
connection it may have open; more are cut as they arrive."""


class Handshake:
    """Admission of websocket handshakes, mixed into the server's frame mover."""

    _admission: Admission
    _limits: Limits
    _audit: AuditLog
    _rooms: DurableRooms[Connection]
    _connections: Counter[str]
    """Open websocket connections per client address."""
    _sockets: Counter[str]
    """TCP connections per client address, handshakes under way included."""

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Answer ``GET /healthz``; refuse a handshake the admission rules refuse."""
        assert isinstance(connection, Connection)
        if urlsplit(request.path).path == HEALTH_PATH:
            return self._health(connection)
        address = connection.address
        verdict = self._admission.check(
            path=request.path,
            origin=_header(request.headers, "Origin"),
            authorization=_header(request.headers, "Authorization"),
            connections=self._connections[address] + 1,
            now=time.time(),
        )
        if isinstance(verdict, Refusal):
            if _from_browser(request, verdict):
                # A browser sees only "1006" for a refused handshake: open the websocket,
                # say why in an error, and close it (serve_connection).
                self._note_refusal(connection, verdict)
                connection.refusal = verdict
                return None
            return self._refuse(connection, verdict)
        connection.room_pass = verdict
        self._connections[address] += 1
        connection.when_lost(lambda: self._release(address))
        return None

    def admit_socket(self, connection: Connection) -> bool:
        """Let a new TCP connection go on to its handshake, unless its address already
        holds twice its connection limit (open ones and handshakes under way): a client
        that trickles handshakes (slowloris) then ties up no more sockets than that."""
        address = connection.address
        if self._sockets[address] >= SOCKETS_PER_CONNECTION * self._limits.connections_per_address:
            logger.debug("cut address=%s sockets=%d", address, self._sockets[address])
            return False
        self._sockets[address] += 1
        connection.when_lost(lambda: _decrement(self._sockets, address))
        return True

    def _release(self, address: str) -> None:
        self._connections[address] -= 1
        if self._connections[address] <= 0:
            del self._connections[address]

    def _health(self, connection: Connection) -> Response:
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

    def _refuse(self, connection: Connection, refusal: Refusal) -> Response:
        response = connection.respond(refusal.status, refusal.message + "\n")
        if refusal.is_auth_failure:
            challenge = 'Bearer realm="surgery_teach"'
            if refusal.reason is not RefusalReason.MISSING_TOKEN:
                challenge += ', error="invalid_token"'
            response.headers["WWW-Authenticate"] = challenge
        self._note_refusal(connection, refusal)
        return response

    def _note_refusal(self, connection: Connection, refusal: Refusal) -> None:
        """Log and audit a refused handshake."""
        logger.warning(
            "refused status=%d reason=%s address=%s room=%s",
            refusal.status,
            refusal.reason,
            connection.address,
            refusal.room or "-",
        )
        fields = pass_fields(refusal.room_pass)
        if refusal.room is not None:
            fields["room"] = refusal.room  # the one asked for, rather than the token's
        self._audit.write(
            AuditRecord(
                event=AuditEvent.AUTH_FAILURE if refusal.is_auth_failure else AuditEvent.DENIAL,
                outcome=refusal.reason,
                status=refusal.status.value,
                address=connection.address,
                **fields,
            )
        )

    async def _refuse_opened(self, connection: Connection, refusal: Refusal) -> None:
        """Tell a browser why its handshake was refused: an ``error`` whose code is the
        reason, then close code 4000 + the HTTP status (4401, 4403, 4429, 4400)."""
        try:
            await connection.send(serialize(ErrorReply(refusal.reason.value, refusal.message)))
            await connection.close(4000 + refusal.status.value, _close_reason(refusal))
        except ConnectionClosed:
            pass


def _from_browser(request: Request, refusal: Refusal) -> bool:
    """Whether a refused handshake is a web page's, to be told why over the websocket
    (its ``WebSocket`` cannot read an HTTP status). A page from an origin the server does
    not allow is not let in even for that."""
    return "Origin" in request.headers and refusal.reason is not RefusalReason.BAD_ORIGIN


def _close_reason(refusal: Refusal) -> str:
    """A close reason within the 123 bytes a close frame carries."""
    reason = refusal.message.split(";")[0]
    return reason if len(reason.encode()) <= 120 else refusal.reason.value


def _decrement(counter: Counter[str], key: str) -> None:
    counter[key] -= 1
    if counter[key] <= 0:
        del counter[key]


def _header(headers: Headers, name: str) -> str | None:
    """A request header's value; several values are joined (and so never match)."""
    values = headers.get_all(name)
    return ", ".join(values) if values else None


def _replace_header(headers: Headers, name: str, value: str) -> None:
    if name in headers:
        del headers[name]
    headers[name] = value
