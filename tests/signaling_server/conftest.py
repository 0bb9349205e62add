"""A real signaling server on 127.0.0.1:0 and real websocket clients that speak to it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from signaling_server import RunningServer, ServerConfig, start_server
from surgery_teach.protocol import (
    ClientMessage,
    ErrorReply,
    Join,
    Publishes,
    Role,
    ServerMessage,
    Welcome,
    parse_server,
    serialize,
)
from surgery_teach.protocol.tokens import issue_token
from tests.timing import seconds

SECRET = b"test-only token secret; real ones come from --secret-file"
"""The tests' token secret (never a real deployment's)."""

M = TypeVar("M", bound=ServerMessage)


class Client:
    """One participant's connection; ``recv`` fails the test instead of hanging."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.id = ""

    async def send(self, message: ClientMessage | str | bytes) -> None:
        if isinstance(message, str | bytes):
            await self.connection.send(message)
        else:
            await self.connection.send(serialize(message))

    async def recv(self) -> ServerMessage:
        text = await asyncio.wait_for(self.connection.recv(), seconds(5))
        assert isinstance(text, str), "the server sends text frames only"
        return parse_server(text)

    async def expect(self, kind: type[M]) -> M:
        message = await self.recv()
        assert isinstance(message, kind), f"expected {kind.__name__}, got {message!r}"
        return message

    async def expect_error(self, code: str) -> ErrorReply:
        error = await self.expect(ErrorReply)
        assert error.code == code, error
        return error

    async def join(
        self,
        room: str,
        name: str,
        role: Role = Role.MENTOR,
        publishes: Publishes | None = None,
    ) -> Welcome:
        await self.send(Join(room, name, role, publishes or Publishes()))
        welcome = await self.expect(Welcome)
        self.id = welcome.you.id
        return welcome


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    running = await start_server(ServerConfig(port=0, max_room_size=4))
    try:
        yield running
    finally:
        await running.close()


class OpenClient(Protocol):
    """Opens one more client connection to the test server."""

    async def __call__(self) -> Client: ...


@pytest.fixture
async def open_client(server: RunningServer) -> AsyncIterator[OpenClient]:
    """``await open_client()`` connects a new client; all are closed after the test."""
    async with AsyncExitStack() as stack:

        async def open_one() -> Client:
            connection = await stack.enter_async_context(
                connect(server.url, open_timeout=seconds(5))
            )
            return Client(connection)

        yield open_one


async def http_get(host: str, port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    """A minimal HTTP/1.1 GET: status, lower-cased headers and body."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), seconds(5))
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), seconds(5))  # server closes after reply
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def make_token(
    room: str,
    name: str,
    role: Role = Role.MENTOR,
    *,
    ttl: float = 3600,
    issued: float | None = None,
    user: str | None = None,
    secret: bytes = SECRET,
) -> str:
    """A room token signed with the tests' secret (or ``secret``)."""
    now = time.time() if issued is None else issued
    return issue_token(secret, room=room, role=role, name=name, ttl=ttl, now=now, user=user)


async def refused(url: str, **options: Any) -> tuple[int, str]:
    """Open a websocket that the server must refuse: the HTTP status and body it answered."""
    with pytest.raises(InvalidStatus) as caught:
        async with connect(url, open_timeout=seconds(5), **options):
            pass  # pragma: no cover - the handshake fails first
    response = caught.value.response
    return response.status_code, response.body.decode("utf-8", "replace")


@pytest.fixture
async def token_server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    """A server that requires room tokens, with its audit log at ``tmp_path/audit.jsonl``."""
    config = ServerConfig(
        port=0, max_room_size=4, secret=SECRET, audit_log=tmp_path / "audit.jsonl"
    )
    running = await start_server(config)
    try:
        yield running
    finally:
        await running.close()


async def join_with_token(
    stack: AsyncExitStack, server: RunningServer, token: str, room: str, name: str, role: Role
) -> Client:
    """Connect with ``token`` in the URL and join as it says."""
    connection = await stack.enter_async_context(
        connect(f"{server.url}/?room={room}&token={token}", open_timeout=seconds(5))
    )
    client = Client(connection)
    await client.join(room, name, role)
    return client
