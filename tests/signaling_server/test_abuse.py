"""Abusive clients against a real server: flooding, oversize messages, clients that stop
reading, handshakes and frames trickled a byte at a time.

Each abuse comes from its own address (127.0.0.2: Linux routes all of 127/8 to the
loopback), so the per-address limits bind the attacker and not the honest surgeon and
mentor on 127.0.0.1, who chat and signal throughout. The memory tests run the server as
its own process (``python -m signaling_server``) and read its peak resident memory (the
kernel's VmHWM, so that no short peak is missed) before and after.
"""

from __future__ import annotations

import asyncio
import random
import re
import secrets
import socket
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from signaling_server import RunningServer, ServerConfig, start_server
from signaling_server.config import TRANSPORT_MAX_BYTES
from signaling_server.handshake import SOCKETS_PER_CONNECTION
from surgery_teach.protocol import (
    Answer,
    Chat,
    ChatMessage,
    Joined,
    Left,
    Offer,
    Publishes,
    Relayed,
    Role,
    ServerMessage,
    Signal,
)
from surgery_teach.protocol.limits import Limits
from tests.signaling_server.conftest import Client
from tests.timing import seconds

ROOT = Path(__file__).resolve().parents[2]
ATTACKER = "127.0.0.2"
PROC = Path("/proc/self/status")

needs_proc = pytest.mark.skipif(not PROC.exists(), reason="reads /proc/PID/status (Linux)")


def _attacker_can_bind() -> bool:
    try:
        with socket.socket() as sock:
            sock.bind((ATTACKER, 0))
    except OSError:
        return False
    return True


pytestmark = pytest.mark.skipif(not _attacker_can_bind(), reason=f"cannot bind {ATTACKER}")


@dataclass
class ServerProcess:
    url: str
    pid: int

    def peak_mib(self) -> float:
        """The server's peak resident memory so far (VmHWM), in MiB."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
        assert match, status
        return int(match.group(1)) / 1024


@asynccontextmanager
async def _server_process(*options: str) -> AsyncIterator[ServerProcess]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "signaling_server", "--port", "0", "--log-level", "error",
        *options,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), seconds(30))
        found = re.search(r"ws://[0-9.]+:\d+", line.decode())
        assert found, line
        yield ServerProcess(found.group(0), process.pid)
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()


@dataclass
class Honest:
    """A surgeon and a mentor on 127.0.0.1 who keep working while others misbehave."""

    surgeon: Client
    mentor: Client

    async def still_work(self) -> None:
        """A chat and an offer/answer round trip, within a few seconds (others' comings
        and goings are passed over)."""
        async with asyncio.timeout(seconds(5)):
            text = f"still fine {secrets.token_hex(4)}"
            await self.surgeon.send(Chat(text))
            for client in (self.surgeon, self.mentor):
                await _until(client, lambda m: isinstance(m, ChatMessage) and m.text == text)
            await self.surgeon.send(Signal(self.mentor.id, Offer("v=0")))
            offer = Relayed(self.surgeon.id, Offer("v=0"))
            await _until(self.mentor, lambda m: m == offer)
            await self.mentor.send(Signal(self.surgeon.id, Answer("v=0")))
            answer = Relayed(self.mentor.id, Answer("v=0"))
            await _until(self.surgeon, lambda m: m == answer)


async def _until(client: Client, wanted: Callable[[ServerMessage], bool]) -> None:
    """Read until a message ``wanted``; only arrivals, departures and chat may come first."""
    while not wanted(message := await client.recv()):
        assert isinstance(message, Joined | Left | ChatMessage), message


async def _connect(stack: AsyncExitStack, url: str, **options: Any) -> Client:
    link = connect(url, open_timeout=seconds(10), **options)
    return Client(await stack.enter_async_context(link))


async def _honest(stack: AsyncExitStack, url: str, room: str = "theatre") -> Honest:
    surgeon, mentor = await _connect(stack, url), await _connect(stack, url)
    await surgeon.join(room, "Dr Wang", Role.SURGEON, Publishes(video=1, audio=True))
    await mentor.join(room, "Dr Li", Role.MENTOR)
    await surgeon.expect(Joined)
    return Honest(surgeon, mentor)


async def _attacker(stack: AsyncExitStack, url: str, **options: Any) -> ClientConnection:
    link = connect(url, open_timeout=seconds(10), local_addr=(ATTACKER, 0), **options)
    return await stack.enter_async_context(link)


async def _closed_code(connection: ClientConnection) -> int | None:
    """Read until the server closes; its close code (None: no close frame)."""
    try:
        async with asyncio.timeout(seconds(30)):
            while True:
                await connection.recv()
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


# -- memory, with the server in its own process --------------------------------------------


@pytest.mark.slow
@needs_proc
async def test_oversize_messages_from_many_connections_keep_memory_bounded() -> None:
    """Messages just under the transport limit from 20 connections that never read their
    errors, few enough to stay connected; then one message over the limit
    each. The server holds at most a few such messages per connection (with a 16 MiB
    limit and compressed messages of a few KB that inflated to it, 8 connections made
    it hold 360 MiB)."""
    big = "x" * (TRANSPORT_MAX_BYTES - 100)
    async with _server_process() as server, AsyncExitStack() as stack:
        honest = await _honest(stack, server.url)
        before = server.peak_mib()
        attackers = [await _attacker(stack, server.url) for _ in range(20)]

        async def send_big(connection: ClientConnection) -> None:
            connection.transport.pause_reading()  # it never reads the too-large errors
            # 7 MiB each: within the byte burst and its tolerance (4 MiB each), so the
            # server answers them (too-large, then rate-limited) rather than closing
            for _ in range(7):
                await connection.send(big)
                await asyncio.sleep(1 / 50)

        sending = asyncio.gather(*(send_big(connection) for connection in attackers))
        while not sending.done():
            await honest.still_work()
            await asyncio.sleep(0.2)
        await sending
        await honest.still_work()
        grown = server.peak_mib() - before
        assert grown < 100, f"the server grew by {grown:.0f} MiB"

        for connection in attackers:
            connection.transport.resume_reading()
            await connection.send("x" * (TRANSPORT_MAX_BYTES + 1))
        codes = [await _closed_code(connection) for connection in attackers]
        assert set(codes) == {1009}
        await honest.still_work()


@pytest.mark.slow
@needs_proc
async def test_flooding_connections_are_closed_and_memory_stays_bounded() -> None:
    """20 connections send 1,000 chat messages each as fast as they can, each in a room of
    its own: each gets its burst through, then ``rate-limited``, then is closed (1008)."""
    text = secrets.token_urlsafe(1500)  # 2,000 characters that do not compress
    async with _server_process() as server, AsyncExitStack() as stack:
        honest = await _honest(stack, server.url)
        before = server.peak_mib()
        flooders = [await _attacker(stack, server.url) for _ in range(20)]
        for n, flooder in enumerate(flooders):
            await Client(flooder).join(f"flood-{n}", f"Flooder {n}", Role.STUDENT)

        async def flood(connection: ClientConnection) -> int | None:
            message = Client(connection)
            try:
                for _ in range(1000):
                    await message.send(Chat(text))
            except ConnectionClosed:
                pass
            return await _closed_code(connection)

        flooding = asyncio.gather(*(flood(flooder) for flooder in flooders))
        while not flooding.done():
            await honest.still_work()
        assert set(await flooding) == {1008}
        await honest.still_work()
        grown = server.peak_mib() - before
        assert grown < 60, f"the server grew by {grown:.0f} MiB"


@pytest.mark.slow
@needs_proc
async def test_many_clients_that_stop_reading_are_dropped_and_memory_stays_bounded() -> None:
    """Ten participants stop reading while the surgeon chats fast: each is dropped when
    about 4 MiB piles up for it; the mentor, reading, gets every message in order."""
    async with (
        _server_process("--messages-per-second", "2000", "--message-burst", "2000") as server,
        AsyncExitStack() as stack,
    ):
        honest = await _honest(stack, server.url)
        readers = []
        for n in range(10):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.bind((ATTACKER, 0))
            sock.setblocking(False)
            host, port = server.url.removeprefix("ws://").split(":")
            await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
            reader = Client(await stack.enter_async_context(connect(server.url, sock=sock)))
            await reader.join("theatre", f"Silent {n}", Role.STUDENT)
            readers.append(reader)
        for _ in readers:
            await honest.surgeon.expect(Joined)
            await honest.mentor.expect(Joined)
        before = server.peak_mib()
        for reader in readers:
            reader.connection.transport.pause_reading()

        # Random Chinese: 6 KB each, about 3.6 KB compressed; some 11 MB per reader in all,
        # beyond the 4 MiB the server holds and what the kernel buffers take before that.
        chance = random.Random(7)
        count, hanzi = 3000, [chr(code) for code in range(0x4E00, 0xA000)]
        texts = ["".join(chance.choices(hanzi, k=2000)) for _ in range(count)]
        silent = {reader.id for reader in readers}

        async def chat() -> None:
            for text in texts:
                await honest.surgeon.send(Chat(text))

        async def echoes() -> None:  # the sender reads its own copies, as clients do
            got = 0
            async with asyncio.timeout(seconds(60)):
                while got < count:
                    got += isinstance(await honest.surgeon.recv(), ChatMessage)

        async def read_all() -> list[str]:
            got, left = [], set()
            async with asyncio.timeout(seconds(60)):
                while len(got) < count or left != silent:
                    message = await honest.mentor.recv()
                    if isinstance(message, ChatMessage):
                        got.append(message.text)
                    else:
                        assert isinstance(message, Left) and message.reason == "disconnect"
                        left.add(message.participant.id)
            return got

        _, _, received = await asyncio.gather(chat(), echoes(), read_all())
        assert received == texts  # all of them, in order
        grown = server.peak_mib() - before
        assert grown < 100, f"the server grew by {grown:.0f} MiB"
        for reader in readers:
            reader.connection.transport.resume_reading()
            assert await _closed_code(reader.connection) is None  # dropped, no close frame
        await honest.still_work()


# -- trickles, with the server in this process ---------------------------------------------


@asynccontextmanager
async def _server(**limits: Any) -> AsyncIterator[RunningServer]:
    running = await start_server(ServerConfig(port=0, limits=Limits(**limits)))
    try:
        yield running
    finally:
        await running.close()


async def test_trickled_handshakes_are_cut_and_bounded_per_address() -> None:
    """A slowloris client opens 40 sockets from one address and sends its handshakes a
    byte at a time: only twice the per-address connection limit get to wait for their
    handshake, the others are cut at once, and those are dropped after the handshake
    timeout. An honest client from another address connects and works meanwhile."""
    per_address, timeout = 5, seconds(1)
    async with (
        _server(connections_per_address=per_address, open_timeout=timeout) as server,
        AsyncExitStack() as stack,
    ):
        loop = asyncio.get_running_loop()
        request = _handshake(server)
        sockets = []
        for _ in range(40):
            sock = socket.socket()
            sock.bind((ATTACKER, 0))
            sock.setblocking(False)
            await loop.sock_connect(sock, (server.host, server.port))
            sockets.append(sock)
            stack.callback(sock.close)

        async def trickle(sock: socket.socket) -> float:
            """Send a byte every 50 ms; how long until the server ended the connection."""
            started = loop.time()
            try:
                for byte in request:
                    await loop.sock_sendall(sock, bytes([byte]))
                    try:
                        async with asyncio.timeout(0.05):
                            if not await loop.sock_recv(sock, 1024):
                                break  # closed
                    except TimeoutError:
                        pass
            except OSError:
                pass  # reset
            return loop.time() - started

        trickling = asyncio.gather(*(trickle(sock) for sock in sockets))
        honest = await _honest(stack, server.url)  # from 127.0.0.1, meanwhile
        await honest.still_work()
        held = await trickling
        admitted = SOCKETS_PER_CONNECTION * per_address
        cut_at_once = [t for t in held if t < timeout / 2]
        assert len(cut_at_once) >= len(sockets) - admitted
        assert max(held) < timeout + seconds(1)  # none outlived the handshake timeout
        await honest.still_work()


async def test_a_frame_trickled_a_byte_at_a_time_is_closed_as_idle() -> None:
    """After the handshake, a client sends one frame a byte at a time: bytes alone do not
    count as activity, so the server closes it (1001) once the idle timeout has passed,
    while honest clients that speak now and then stay."""
    idle = seconds(1)
    async with _server(idle_timeout=idle) as server, AsyncExitStack() as stack:
        honest = await _honest(stack, server.url)
        loop = asyncio.get_running_loop()
        sock = socket.socket()
        stack.callback(sock.close)
        sock.bind((ATTACKER, 0))
        sock.setblocking(False)
        await loop.sock_connect(sock, (server.host, server.port))
        await loop.sock_sendall(sock, _handshake(server))
        response = await asyncio.wait_for(loop.sock_recv(sock, 4096), seconds(5))
        assert response.startswith(b"HTTP/1.1 101 ")
        started = loop.time()
        frame = b"\x81\xfe\x10\x00" + b"\x00" * 4 + b"x" * 4096  # a masked 4 KiB text frame

        async def trickle() -> None:
            for byte in frame:
                await loop.sock_sendall(sock, bytes([byte]))
                await asyncio.sleep(0.02)

        async def keep_talking() -> None:
            while True:
                await asyncio.sleep(idle / 4)
                await honest.still_work()

        tasks = [asyncio.create_task(trickle()), asyncio.create_task(keep_talking())]
        try:
            closing = await asyncio.wait_for(loop.sock_recv(sock, 4096), idle + seconds(2))
        finally:
            for task in tasks:
                task.cancel()
        assert closing[:1] == b"\x88"  # a close frame...
        assert int.from_bytes(closing[2:4], "big") == 1001  # ...going away
        assert b"idle" in closing
        # (the server counts idle time from the last frame it took, a moment before `started`)
        assert idle - 0.05 <= loop.time() - started < idle + seconds(2)  # before the frame ends
        await honest.still_work()


def _handshake(server: RunningServer) -> bytes:
    return (
        f"GET / HTTP/1.1\r\nHost: {server.host}:{server.port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
