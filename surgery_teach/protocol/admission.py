"""Who may open a websocket: the rules the server applies to each opening handshake.

:meth:`Admission.check` takes what an HTTP upgrade request says (its path and query, its
``Origin`` and ``Authorization`` headers), how many connections its address already has
and the time, and returns the :class:`~.passes.RoomPass` it grants, ``None`` when the
server runs open (no secret), or a :class:`Refusal` carrying the HTTP status to answer
with. The server answers before the websocket opens, so a refused client never reaches
the room rules. No I/O here. docs/protocol.md, section 1.1, is the written form.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from http import HTTPStatus
from typing import Final
from urllib.parse import parse_qs, urlsplit

from surgery_teach.errors import ProtocolError
from surgery_teach.protocol.passes import Bars, RoomPass
from surgery_teach.protocol.tokens import TokenProblem, read_token
from surgery_teach.wire.fields import check_room, show

ROOM_PARAMETER: Final = "room"
TOKEN_PARAMETER: Final = "token"


class RefusalReason(StrEnum):
    """Why a handshake was refused, for the audit log and the server log."""

    BAD_ORIGIN = "bad-origin"
    TOO_MANY_CONNECTIONS = "too-many-connections"
    BAD_REQUEST = "bad-request"
    MISSING_TOKEN = TokenProblem.MISSING.value
    INVALID_TOKEN = TokenProblem.INVALID.value
    EXPIRED_TOKEN = TokenProblem.EXPIRED.value
    OTHER_ROOM = "other-room"
    REMOVED = "removed"


@dataclass(frozen=True)
class Refusal:
    """A handshake to answer with ``status`` and ``message`` instead of a websocket."""

    status: HTTPStatus
    reason: RefusalReason
    message: str
    """For the client: names the problem and the fix; never quotes the token."""
    room_pass: RoomPass | None = None
    """The valid token's pass, when the refusal is about where it leads (403)."""
    room: str | None = None
    """The room the URL asked for, if it named a valid one."""

    @property
    def is_auth_failure(self) -> bool:
        """True for 401: no valid token at all."""
        return self.status == HTTPStatus.UNAUTHORIZED


class Admission:
    """The handshake rules of one server.

    ``secret`` None runs the server open: no token is asked for or read, and anyone who
    can reach it may join any room (the server allows that only on a loopback address).
    ``origins``, if any, are the ``Origin`` header values accepted from browsers; a
    request without ``Origin`` (not a browser) is always accepted. ``bars`` is shared
    with the room rules, which add to it when a mentor removes someone.
    """

    def __init__(
        self,
        *,
        secret: bytes | None,
        bars: Bars,
        origins: Collection[str] = (),
        connections_per_address: int,
    ) -> None:
        self._secret = secret
        self._bars = bars
        self._origins = frozenset(origins)
        self._connections_per_address = connections_per_address

    @property
    def open(self) -> bool:
        """True when no token is required."""
        return self._secret is None

    def check(
        self,
        *,
        path: str,
        origin: str | None,
        authorization: str | None,
        connections: int,
        now: float,
    ) -> RoomPass | Refusal | None:
        """Decide on one handshake; ``connections`` counts this one too."""
        if self._origins and origin is not None and origin not in self._origins:
            return Refusal(
                HTTPStatus.FORBIDDEN,
                RefusalReason.BAD_ORIGIN,
                f"web pages from {show(origin)} may not use this server; ask its operator "
                "to allow that origin (--allow-origin)",
            )
        if connections > self._connections_per_address:
            return Refusal(
                HTTPStatus.TOO_MANY_REQUESTS,
                RefusalReason.TOO_MANY_CONNECTIONS,
                f"this address already has {connections - 1} connections open; the limit is "
                f"{self._connections_per_address}. Close some, or ask the operator to raise "
                "--max-connections-per-address",
            )
        if self._secret is None:
            return None
        query = parse_qs(urlsplit(path).query, keep_blank_values=True)
        if any(len(query.get(name, ())) > 1 for name in (ROOM_PARAMETER, TOKEN_PARAMETER)):
            return Refusal(
                HTTPStatus.BAD_REQUEST,
                RefusalReason.BAD_REQUEST,
                "give 'room' and 'token' at most once each in the URL",
            )
        room = query.get(ROOM_PARAMETER, [None])[0]
        if room is not None:
            try:
                check_room(room, ROOM_PARAMETER)
            except ProtocolError as exc:
                message = exc.message.replace("field 'room'", "the URL parameter 'room'")
                return Refusal(HTTPStatus.BAD_REQUEST, RefusalReason.BAD_REQUEST, message)
        token = _bearer(authorization) or query.get(TOKEN_PARAMETER, [""])[0]
        try:
            room_pass = read_token(token, self._secret, now=now)
        except ProtocolError as exc:
            message = exc.message
            if exc.code == TokenProblem.MISSING:
                message += (
                    "; this server needs one: send it as 'Authorization: Bearer <token>' or "
                    "add ?token=<token> to the URL. Ask the session organiser for a token"
                )
            return Refusal(HTTPStatus.UNAUTHORIZED, RefusalReason(exc.code), message, room=room)
        if room is not None and room != room_pass.room:
            return Refusal(
                HTTPStatus.FORBIDDEN,
                RefusalReason.OTHER_ROOM,
                f"the token is for room {room_pass.room!r}, not {room!r}; use a token for "
                "this room",
                room_pass,
                room,
            )
        if self._bars.barred(room_pass, now=now):
            return Refusal(
                HTTPStatus.FORBIDDEN,
                RefusalReason.REMOVED,
                f"you were removed from room {room_pass.room!r}; you may not join it "
                "again while your token lasts",
                room_pass,
                room_pass.room,
            )
        return room_pass


def _bearer(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header, or ``""``."""
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""
