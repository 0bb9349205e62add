"""A session's link to the signaling server, kept up: heartbeat, and rejoining after a drop.

The link pings the server every second and calls it dead after :data:`DEAD_AFTER` seconds
of silence (TCP alone may take minutes to notice a dead path). When it drops, the link
joins again with jittered backoff (:mod:`.backoff`) under the session's client key, so the
server gives the participant back its id (docs/protocol.md, section 4.1.1). Nothing here
touches media: the peer connections stay up while the link is down. It gives up only when
coming back cannot work: a mentor removed us, or the server no longer admits us.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from surgery_teach.errors import NotAdmittedError, SignalingError
from surgery_teach.protocol.messages import (
    ClientMessage,
    ErrorReply,
    Ping,
    Pong,
    ServerMessage,
    ShareChunk,
    Welcome,
)
from surgery_teach.rtc.backoff import backoff_delays
from surgery_teach.rtc.signaling_client import SignalingClient
from surgery_teach.wire.fields import ErrorCode

logger = logging.getLogger(__name__)

HEARTBEAT_INTERVAL = 1.0
DEAD_AFTER = 4.0
REJOIN_BACKOFF_CAP = 2.5
"""Rejoin attempts back off to at most this (±30%), so that a server that comes back has
everyone back within about three seconds (an attempt at a server that is down costs it
nothing: the connection is refused)."""


class LinkListener(Protocol):
    """What the session does with the link."""

    async def on_message(self, message: ServerMessage | ShareChunk) -> None: ...

    async def on_rejoined(self, welcome: Welcome) -> None:
        """The link is back (after ``welcome``, before the room's state): catch up."""

    def on_state(self, state: str, reason: str) -> None:
        """``reconnecting``, ``live`` again, or ``ended`` for good (``reason`` says why)."""


class SignalingLink:
    """Reads and pings one :class:`SignalingClient` at a time; replaces it after a drop.

    ``join()`` makes a new client (the same room, name, role and client key) for a rejoin;
    ``reconnect=False`` ends the link at the first drop instead.
    """

    def __init__(self, client: SignalingClient, join: Callable[[], Awaitable[SignalingClient]],
                 *, reconnect: bool = True) -> None:
        self.client = client
        self.state = "live"
        self.rtt_ms: float | None = None
        self.refusal = ""  # why the server will not have us back, once it said so
        self.refusal_error: NotAdmittedError | None = None  # the same, as the error it was
        self._join = join
        self._reconnect = reconnect
        self._removed = False
        self._closing = False
        self._last_heard = 0.0
        self._ping_sent: float | None = None

    async def send(self, message: ClientMessage) -> None:
        """Send now; raises :class:`SignalingError` while the link is down."""
        await self.client.send(message)

    async def send_binary(self, frame: bytes) -> None:
        """Send a binary frame (a share chunk) now; raises while the link is down."""
        await self.client.send_binary(frame)

    async def run(self, listener: LinkListener) -> None:
        """Read the server until the link drops, rejoin, repeat; return once it is over."""
        while True:
            heartbeat = asyncio.ensure_future(self._heartbeat(self.client))
            reason = await self._read(listener)
            heartbeat.cancel()
            if self._closing:
                return
            if self._removed or not self._reconnect:
                self._set(listener, "ended", reason)
                return
            logger.warning("signaling link lost (%s); rejoining, media goes on", reason)
            self._set(listener, "reconnecting", reason)
            if not await self._rejoin(listener):
                return
            self._set(listener, "live", "")

    async def _read(self, listener: LinkListener) -> str:
        """Pass server messages on until the link closes; return why it closed."""
        loop = asyncio.get_running_loop()
        try:
            async for message in self.client.messages():
                self._last_heard = loop.time()
                if isinstance(message, Pong) and self._ping_sent is not None:
                    self.rtt_ms = (loop.time() - self._ping_sent) * 1000
                elif isinstance(message, ErrorReply) and message.code == ErrorCode.REMOVED:
                    self._removed = True  # the server closes the link next: stay away
                    self.refusal = message.message
                await listener.on_message(message)
        except SignalingError as exc:
            return str(exc)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("signaling handler failed")
            self.client.abort()
            return "internal error while handling a signaling message"
        return "the signaling server closed the connection"

    async def _rejoin(self, listener: LinkListener) -> bool:
        """Join again until the server takes us (False: it never will, or we are closing)."""
        for delay in backoff_delays(cap=REJOIN_BACKOFF_CAP):
            await asyncio.sleep(delay)
            if self._closing:
                return False
            try:
                client = await self._join()
            except NotAdmittedError as exc:  # an expired token, a removal: stop here
                self.refusal, self.refusal_error = str(exc), exc
                self._set(listener, "ended", str(exc))
                return False
            except SignalingError as exc:
                logger.info("rejoin failed: %s", exc)
                continue
            self.client = client
            try:
                await client.send(Ping())  # its pong follows the room's state
                await listener.on_rejoined(client.welcome)
            except SignalingError:
                pass  # dropped again at once: the next read finds out and we start over
            return True
        return False  # pragma: no cover - backoff_delays never ends

    def _set(self, listener: LinkListener, state: str, reason: str) -> None:
        self.state = state
        listener.on_state(state, reason)

    async def _heartbeat(self, client: SignalingClient) -> None:
        loop = asyncio.get_running_loop()
        self._last_heard = loop.time()
        while not self._closing and self.client is client:
            await asyncio.sleep(HEARTBEAT_INTERVAL)
            if loop.time() - self._last_heard > DEAD_AFTER:
                logger.warning("signaling server silent for %.0f s: link lost", DEAD_AFTER)
                client.abort()
                return
            try:
                self._ping_sent = loop.time()
                await client.send(Ping())
            except SignalingError:
                return

    async def close(self) -> None:
        """Say goodbye to the server and stop rejoining."""
        self._closing = True
        await self.client.close()
