"""What the server keeps per websocket connection, and what websockets may log of it.

:class:`Connection` is the websockets server connection with the few facts the server
needs besides: when the client was last heard from (for the idle timeout), the token pass
it was admitted with, and what to do when it goes away. :class:`RedactedLog` is the logger
handed to websockets, which at debug level would otherwise write request URLs and headers
(room tokens) and frame contents (SDP, chat text) to the log.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.frames import Frame, Opcode
from websockets.protocol import Event

from surgery_teach.protocol.admission import Refusal
from surgery_teach.protocol.passes import RoomPass

_HEARD = frozenset({Opcode.TEXT, Opcode.BINARY, Opcode.CONT, Opcode.PING})
"""Frames that show the client is active. Pongs only answer the server's own pings."""


class Connection(ServerConnection):
    """A server connection that knows when its client last spoke and what it may join."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.last_heard = self.loop.time()
        """Loop time of the last message or websocket ping from the client."""
        self.room_pass: RoomPass | None = None
        """Set by the handshake on a server with room tokens."""
        self.refusal: Refusal | None = None
        """A browser's handshake the server refuses once the websocket is open."""
        self._on_lost: list[Callable[[], None]] = []
        self._lost = False

    @property
    def address(self) -> str:
        """The client's IP address."""
        peer = self.remote_address
        return str(peer[0]) if peer else "-"

    @property
    def buffered_bytes(self) -> int:
        """Bytes written to this connection that the client has not yet taken in."""
        return self.transport.get_write_buffer_size()

    def when_lost(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the TCP connection is gone (at once if it is)."""
        if self._lost:
            callback()
        else:
            self._on_lost.append(callback)

    def process_event(self, event: Event) -> None:
        if isinstance(event, Frame) and event.opcode in _HEARD:
            self.last_heard = self.loop.time()
        super().process_event(event)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._lost = True
        callbacks, self._on_lost = self._on_lost, []
        for callback in callbacks:
            callback()


def gated(admit: Callable[[Connection], bool]) -> type[Connection]:
    """A :class:`Connection` whose TCP connections are put to ``admit`` as they arrive,
    before any byte of the handshake is read; refused ones are cut at once."""

    class GatedConnection(Connection):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            if not admit(self):
                transport.abort()

    return GatedConnection


_TOKEN_IN_URL = re.compile(r"(?i)(token=)[^&#\s]*")


class RedactedLog(logging.LoggerAdapter[logging.Logger]):
    """The websockets logger with room tokens and message contents taken out.

    websockets logs each request line and header and a summary of each frame at debug
    level; those carry tokens (``?token=``, ``Authorization``), SDP and chat text.
    """

    def __init__(self, logger: logging.Logger) -> None:
        super().__init__(logger, {})

    def log(self, level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
        if self.isEnabledFor(level):
            super().log(level, msg, *_redacted(args), **kwargs)


def _redacted(args: tuple[Any, ...]) -> tuple[Any, ...]:
    if len(args) == 2 and str(args[0]).lower() in ("authorization", "cookie"):
        return args[0], "[redacted]"
    out: list[Any] = []
    for arg in args:
        if isinstance(arg, Frame):
            arg = f"{arg.opcode.name} [{len(arg.data)} bytes]"
        elif isinstance(arg, str):
            arg = _TOKEN_IN_URL.sub(r"\1[redacted]", arg)
        out.append(arg)
    return tuple(out)
