"""A Janus API session over its WebSocket transport: the thin I/O shell.

One :class:`JanusSession` is one WebSocket and one Janus session: it sends the requests
of :mod:`surgery_teach.janus.messages`, matches replies to requests by transaction, sends
a keepalive well within Janus's session timeout and queues what Janus says on its own
(``webrtcup``, ``media``, ``slowlink``, ``hangup``, plugin events without a transaction)
on the :class:`PluginHandle` concerned. Connection failures and silences become
:class:`~surgery_teach.errors.MediaServerUnavailableError`; nothing here logs a token,
a secret or an SDP body.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import secrets
from collections.abc import Mapping
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from surgery_teach.errors import MediaServerError, MediaServerUnavailableError
from surgery_teach.janus.messages import (
    API_SUBPROTOCOL,
    Credentials,
    check_reply,
    core_request,
    plugin_message,
    reply_id,
)

logger = logging.getLogger("surgery_teach.janus")

REQUEST_TIMEOUT = 10.0
"""Seconds Janus gets to answer one request (a publish with ICE gathering included)."""
KEEPALIVE_EVERY = 25.0
"""Janus drops a session silent for its ``session_timeout`` (60 s by default)."""
_EVENT_QUEUE = 256


class PluginHandle:
    """One attachment to a Janus plugin inside a session (a publisher or a subscriber).

    ``events`` receives what Janus sends about this handle without being asked: plugin
    events (a publisher joined, left...), ``webrtcup``, ``media``, ``hangup``. The oldest
    is dropped when nobody reads them, so a forgotten queue cannot grow without end.
    """

    def __init__(self, session: JanusSession, handle_id: int, plugin: str) -> None:
        self.session = session
        self.id = handle_id
        self.plugin = plugin
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue(_EVENT_QUEUE)

    async def request(self, body: Mapping[str, Any], *, timeout: float = REQUEST_TIMEOUT,
                      jsep: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Send ``body`` (with ``jsep``) to the plugin and return Janus's reply: the direct
        ``success`` of a synchronous request, or the ``event`` after the ``ack`` of an
        asynchronous one (join, publish, start, switch...)."""
        name = str(body.get("request", "message"))
        session = self.session
        message = plugin_message(session.next_transaction(), session.credentials,
                                 session_id=session.id, handle_id=self.id, body=body, jsep=jsep)
        return await session.send(name, message, timeout=timeout)

    async def next_event(self, timeout: float) -> dict[str, Any]:
        """The next unsolicited event; MediaServerUnavailableError after ``timeout`` s."""
        try:
            return await asyncio.wait_for(self.events.get(), timeout)
        except TimeoutError:
            raise MediaServerUnavailableError(
                f"no event from the media server within {timeout:g} s",
                self.session.url) from None

    async def detach(self) -> None:
        """Leave the plugin (hangs up this handle's peer connection)."""
        session = self.session
        message = core_request("detach", session.next_transaction(), session.credentials,
                               session_id=session.id, handle_id=self.id)
        await session.send("detach", message)
        session.forget(self)

    def _deliver(self, event: dict[str, Any]) -> None:
        if self.events.full():
            self.events.get_nowait()
        self.events.put_nowait(event)


class JanusSession:
    """A connected Janus session; create with :meth:`connect`, end with :meth:`close`."""

    def __init__(self, url: str, socket: ClientConnection, credentials: Credentials) -> None:
        self.url = url
        self.credentials = credentials
        self.id = 0
        self._socket = socket
        self._prefix = secrets.token_hex(4)
        self._counter = itertools.count(1)
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._final_acks: set[str] = set()
        self._handles: dict[int, PluginHandle] = {}
        self._reader: asyncio.Task[None] | None = None
        self._keeper: asyncio.Task[None] | None = None
        self._closed_reason = ""
        self.ended = asyncio.Event()
        """Set once the session is over (:meth:`wait_ended`)."""

    @classmethod
    async def connect(cls, url: str, credentials: Credentials, *,
                      timeout: float = REQUEST_TIMEOUT,
                      keepalive_every: float | None = None) -> JanusSession:
        """Open the WebSocket to ``url`` and create a Janus session on it, kept alive every
        ``keepalive_every`` s (None: :data:`KEEPALIVE_EVERY`, read at each connect)."""
        try:
            socket = await asyncio.wait_for(
                websockets.connect(url, subprotocols=[websockets.Subprotocol(API_SUBPROTOCOL)],
                                   open_timeout=timeout, max_size=2**22), timeout)
        except (OSError, TimeoutError, websockets.InvalidURI,
                websockets.InvalidHandshake) as exc:
            raise MediaServerUnavailableError(
                f"cannot reach the media server at {url} ({exc.__class__.__name__}: {exc}); "
                "is Janus running (python -m signaling_server media-server --start) and is "
                "the address right?", url) from exc
        session = cls(url, socket, credentials)
        session._reader = asyncio.create_task(session._read(), name="janus-read")
        try:
            reply = await session.send("create", core_request(
                "create", session.next_transaction(), credentials), timeout=timeout)
            session.id = reply_id("create", reply)
        except BaseException:
            await session.close()
            raise
        session._keeper = asyncio.create_task(session._keepalive(keepalive_every
                                                                 or KEEPALIVE_EVERY),
                                              name="janus-keepalive")
        logger.debug("janus session %s open at %s", session.id, url)
        return session

    def next_transaction(self) -> str:
        return f"{self._prefix}-{next(self._counter)}"

    async def attach(self, plugin: str, *, timeout: float = REQUEST_TIMEOUT) -> PluginHandle:
        """Attach to ``plugin`` (e.g. ``janus.plugin.videoroom``): a new handle."""
        reply = await self.send("attach", core_request(
            "attach", self.next_transaction(), self.credentials, session_id=self.id,
            plugin=plugin), timeout=timeout)
        handle = PluginHandle(self, reply_id("attach", reply), plugin)
        self._handles[handle.id] = handle
        if self.ended.is_set():  # ended while the answer was on its way: say so
            handle._deliver({"janus": "closed", "reason": self._closed_reason})
        return handle

    def forget(self, handle: PluginHandle) -> None:
        self._handles.pop(handle.id, None)

    async def send(self, name: str, message: dict[str, Any], *,
                   timeout: float = REQUEST_TIMEOUT) -> dict[str, Any]:
        """Send one request and wait for its reply (the event after an ``ack``)."""
        if self._closed_reason:
            raise MediaServerUnavailableError(
                f"the media server connection is closed ({self._closed_reason})", self.url)
        transaction = message["transaction"]
        waiter = asyncio.get_running_loop().create_future()
        self._waiting[transaction] = waiter
        if name == "keepalive":
            self._final_acks.add(transaction)  # Janus answers a keepalive with an ack only
        try:
            await self._socket.send(json.dumps(message))
            reply = await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            raise MediaServerUnavailableError(
                f"the media server did not answer {name!r} within {timeout:g} s",
                self.url) from None
        except websockets.ConnectionClosed as exc:
            raise MediaServerUnavailableError(
                f"the media server connection closed during {name!r} ({exc})",
                self.url) from exc
        finally:
            self._waiting.pop(transaction, None)
            self._final_acks.discard(transaction)
        return check_reply(name, reply)

    async def _read(self) -> None:
        reason = "the media server closed the connection"
        try:
            async for raw in self._socket:
                try:
                    message = json.loads(raw)
                except ValueError:
                    logger.warning("ignored a message from the media server that is not JSON")
                    continue
                if isinstance(message, dict):
                    self._dispatch(message)
        except websockets.ConnectionClosed as exc:
            reason = f"connection lost: {exc}"
        finally:
            self._end(reason)

    def _end(self, reason: str) -> None:
        """The session is over (the socket closed, or Janus timed the session out): fail
        the requests waiting and tell every handle, once."""
        if self.ended.is_set():
            return
        self._closed_reason = self._closed_reason or reason
        failure = MediaServerUnavailableError(
            f"the media server connection ended ({self._closed_reason})", self.url)
        for waiter in self._waiting.values():
            if not waiter.done():
                waiter.set_exception(failure)
        for handle in self._handles.values():
            handle._deliver({"janus": "closed", "reason": self._closed_reason})
        self.ended.set()

    @property
    def ended_reason(self) -> str:
        """Why the session ended ("" while it goes on)."""
        return self._closed_reason if self.ended.is_set() else ""

    async def wait_ended(self) -> str:
        """Wait until the session ends (Janus went away, or timed it out); the reason."""
        await self.ended.wait()
        return self._closed_reason

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("janus")
        waiter = self._waiting.get(str(message.get("transaction", "")))
        if waiter is not None and (kind != "ack" or message.get("transaction")
                                   in self._final_acks):
            if not waiter.done():
                waiter.set_result(message)
            return
        if kind in ("ack", "success", "error") and waiter is None:
            return  # late reply to a request that timed out, or a keepalive's ack
        handle = self._handles.get(message.get("sender", -1))
        if handle is not None:
            handle._deliver(message)
        elif kind == "timeout":  # Janus forgot this session: nothing on it works now
            self._end("the media server timed the session out")

    async def _keepalive(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await self.send("keepalive", core_request(
                    "keepalive", self.next_transaction(), self.credentials,
                    session_id=self.id))
            except MediaServerUnavailableError:
                return
            except MediaServerError as exc:  # Janus no longer knows the session (458)
                logger.warning("media server keepalive refused: %s", exc)
                self._end("the media server ended the session")
                return

    async def close(self) -> None:
        """Destroy the session (Janus hangs up its peer connections) and close the socket."""
        if self._keeper is not None:
            self._keeper.cancel()
        if self.id and not self._closed_reason:
            with contextlib.suppress(MediaServerError):
                await self.send("destroy", core_request(
                    "destroy", self.next_transaction(), self.credentials,
                    session_id=self.id), timeout=2.0)
        self._closed_reason = self._closed_reason or "closed"
        await self._socket.close()
        for task in (self._keeper, self._reader):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def __aenter__(self) -> JanusSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
