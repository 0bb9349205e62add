"""Per-client limits end to end: message rate, connections per address, idle clients and
clients that stop reading, on a real server on 127.0.0.1:0 with real websocket clients."""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from signaling_server import RunningServer, ServerConfig, start_server
from surgery_teach.protocol import (
    Answer,
    ErrorCode,
    ErrorReply,
    Joined,
    Left,
    Offer,
    Ping,
    Pong,
    Publishes,
    Relayed,
    Role,
    Signal,
)
from surgery_teach.protocol.limits import Limits
from tests.signaling_server.conftest import Client, OpenClient, refused
from tests.timing import seconds


@asynccontextmanager
async def _server(**limits: Any) -> AsyncIterator[RunningServer]:
    running = await start_server(ServerConfig(port=0, limits=Limits(**limits)))
    try:
        yield running
    finally:
        await running.close()


async def _client(stack: AsyncExitStack, server: RunningServer, **options: Any) -> Client:
    connection = await stack.enter_async_context(
        connect(server.url, open_timeout=seconds(5), **options)
    )
    return Client(connection)


async def _pair(open_client: OpenClient, room: str) -> tuple[Client, Client]:
    first, second = await open_client(), await open_client()
    await first.join(room, "A", Role.SURGEON)
    await second.join(room, "B", Role.STUDENT)
    await first.expect(Joined)
    return first, second


async def _ping_until_answered(client: Client) -> None:
    """Ping (politely) until the allowance has come back and a pong arrives."""
    async with asyncio.timeout(seconds(5)):
        while True:
            await client.send(Ping())
            if isinstance(await client.recv(), Pong):
                return
            await asyncio.sleep(0.1)


async def test_a_burst_is_answered_then_rate_limited_and_another_room_is_unaffected(
    open_client: OpenClient,
) -> None:
    flooder, peer = await _pair(open_client, "theatre-1")
    honest, listener = await _pair(open_client, "theatre-2")
    for n in range(200):  # the join took one of the 120
        await flooder.send(Ping(id=n))
    replies = [await flooder.recv() for _ in range(200)]
    pongs = [reply for reply in replies if isinstance(reply, Pong)]
    limited = [reply for reply in replies if isinstance(reply, ErrorReply)]
    assert len(pongs) + len(limited) == 200
    assert 119 <= len(pongs) < 200
    assert {error.code for error in limited} == {ErrorCode.RATE_LIMITED}
    assert limited[0].ref >= 119 and "60 a second" in limited[0].message

    for _ in range(10):  # meanwhile, in the other room
        await honest.send(Ping())
        assert isinstance(await honest.recv(), Pong)
    await honest.send(Signal(listener.id, Answer("v=0")))
    assert await listener.recv() == Relayed(honest.id, Answer("v=0"))

    await _ping_until_answered(flooder)  # a flooder that slows down is served again
    await peer.send(Signal(flooder.id, Answer("v=0")))  # and is still in its room
    assert await flooder.recv() == Relayed(peer.id, Answer("v=0"))


async def test_a_client_that_keeps_flooding_is_closed_with_1008(open_client: OpenClient) -> None:
    flooder, peer = await _pair(open_client, "theatre-1")
    with pytest.raises(ConnectionClosed) as closed:
        for n in range(300):
            await flooder.send(Ping(id=n))
        while True:
            await flooder.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
    assert "too many messages" in closed.value.rcvd.reason
    left = await peer.expect(Left)
    assert (left.participant.id, left.reason) == (flooder.id, "disconnect")


async def test_too_many_connections_from_one_address_get_429() -> None:
    async with _server(connections_per_address=3) as server, AsyncExitStack() as stack:
        clients = [await _client(stack, server) for _ in range(3)]
        status, body = await refused(server.url)
        assert status == 429
        assert "limit is 3" in body
        await clients[0].connection.close()
        async with asyncio.timeout(seconds(5)):  # the server sees the close a moment later
            while (await _try_connect(server)) == 429:
                await asyncio.sleep(0.05)


async def _try_connect(server: RunningServer) -> int:
    """The HTTP status of one handshake: 101 if the websocket opened."""
    try:
        async with connect(server.url, open_timeout=seconds(5)):
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


async def test_a_silent_client_is_closed_with_1001_and_talking_ones_stay() -> None:
    idle = seconds(0.5)
    async with _server(idle_timeout=idle) as server, AsyncExitStack() as stack:
        silent, talker, pinger = [await _client(stack, server) for _ in range(3)]
        await silent.join("r", "Silent", Role.STUDENT)
        await talker.join("r", "Talker", Role.STUDENT)
        await pinger.join("r", "Pinger", Role.STUDENT)

        async def keep_talking() -> None:
            while True:
                await asyncio.sleep(idle / 4)
                await talker.send(Ping())
                await pinger.connection.ping()  # a websocket ping counts too

        talking = asyncio.create_task(keep_talking())
        try:
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await silent.recv()
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1001
            assert "idle" in closed.value.rcvd.reason
            await asyncio.sleep(2 * idle)
            assert not talking.done()
        finally:
            talking.cancel()
        await pinger.send(Ping())
        while not isinstance(message := await pinger.recv(), Pong):
            assert isinstance(message, Joined | Left)


async def test_a_client_that_stops_reading_is_dropped_before_its_backlog_grows() -> None:
    bound = 64 * 1024
    async with (
        _server(messages_per_second=1000, message_burst=1000, send_buffer_bytes=bound) as server,
        AsyncExitStack() as stack,
    ):
        slow_socket = socket.socket()
        slow_socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow_socket.setblocking(False)
        await asyncio.get_running_loop().sock_connect(slow_socket, (server.host, server.port))
        slow = await _client(stack, server, sock=slow_socket)
        sender = await _client(stack, server)
        await slow.join("r", "Slow", Role.STUDENT)
        await sender.join("r", "Sender", Role.SURGEON, Publishes(video=1))
        await slow.expect(Joined)
        slow.connection.transport.pause_reading()  # the client stops taking anything in

        # Random text: websockets compresses messages, and "xxx..." would shrink to nothing.
        offer = Offer("v=0\r\na=x-padding:" + secrets.token_urlsafe(75_000) + "\r\n")
        message_bytes = len(offer.sdp) + 200  # at most: compressed, it is a little smaller
        backlog, sent = 0, 0
        while len(_server_side(server)) == 2 and sent < 500:  # 50 MB at most
            await sender.send(Signal(slow.id, offer))
            sent += 1
            await asyncio.sleep(0)
            held = [c.transport.get_write_buffer_size() for c in _server_side(server)]
            backlog = max(backlog, *held)
        left = await sender.expect(Left)
        assert (left.participant.id, left.reason) == (slow.id, "disconnect")
        assert sent * message_bytes > 4 * bound  # far more than the bound was sent...
        assert backlog <= bound + message_bytes  # ...but never held for the slow client

        slow.connection.transport.resume_reading()
        with pytest.raises(ConnectionClosed):
            while True:
                await slow.recv()  # what was already on its way, then the end


def _server_side(server: RunningServer) -> set[ServerConnection]:
    """The server's own open connections, to see what it holds for each client."""
    return server._server.connections
