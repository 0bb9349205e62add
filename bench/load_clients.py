"""One client process of the load benchmark (:mod:`bench.load` starts several).

It opens its share of the websocket clients, joins each to its room and prints ``ready``.
From the time ``T`` in a line ``go T`` on standard input (the machine's monotonic clock,
the same in every process) every client pings the server now and then, the room's sender
(if this process has it) sends timestamped chat messages, and every other client records
how long each message took to reach it. After ``--seconds`` it prints one JSON line with
what it measured and exits.

    .venv/bin/python -m bench.load_clients --url ws://127.0.0.1:8765 --first 0 --count 500 \\
        --rooms 20 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect

from surgery_teach.protocol import Chat, Join, Ping, Role, serialize

CONNECT_AT_ONCE = 25
"""Handshakes under way at once per process (the server's listen backlog is 100)."""


def room_of(index: int, rooms: int) -> str:
    """Client ``index`` goes to room ``index % rooms``; clients 0..rooms-1 are the senders."""
    return f"load-{index % rooms:03d}"


@dataclass
class Measured:
    delays_ms: list[float] = field(default_factory=list)
    received: Counter[str] = field(default_factory=Counter)
    sent: Counter[str] = field(default_factory=Counter)
    members: Counter[str] = field(default_factory=Counter)
    pong_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    closed: int = 0


class LoadClient:
    def __init__(self, index: int, rooms: int, measured: Measured) -> None:
        self.index = index
        self.room = room_of(index, rooms)
        self.sender = index < rooms
        self.measured = measured
        self.connection: ClientConnection | None = None
        self.id = ""
        self.started = float("inf")
        self._ping_sent: float | None = None

    async def open(self, url: str) -> None:
        self.connection = await connect(url, open_timeout=60, max_size=4 * 2**20)
        role = Role.MENTOR if self.sender else Role.STUDENT
        await self.connection.send(serialize(Join(self.room, f"client {self.index}", role)))
        while True:  # the welcome (others' "joined" may not come first: we are new)
            message = json.loads(await self.connection.recv())
            if message["type"] == "welcome":
                self.id = message["you"]["id"]
                return
            if message["type"] == "error":
                raise SystemExit(f"client {self.index}: join refused: {message['message']}")

    async def listen(self) -> None:
        assert self.connection is not None
        try:
            async for raw in self.connection:
                now = time.monotonic()
                message = json.loads(raw)
                kind = message["type"]
                if kind == "chat" and message["from"] != self.id:
                    _, sent_at = message["text"].split()
                    if float(sent_at) >= self.started:
                        self.measured.delays_ms.append((now - float(sent_at)) * 1000)
                        self.measured.received[self.room] += 1
                elif kind == "pong" and self._ping_sent is not None:
                    self.measured.pong_ms.append((now - self._ping_sent) * 1000)
                    self._ping_sent = None
                elif kind == "error":
                    self.measured.errors[message["code"]] += 1
        except Exception:
            self.measured.closed += 1

    async def ping_every(self, interval: float, until: float) -> None:
        assert self.connection is not None
        await asyncio.sleep(random.uniform(0, interval))
        while time.monotonic() < until:
            self._ping_sent = time.monotonic()
            await self.connection.send(serialize(Ping()))
            await asyncio.sleep(interval)

    async def chat_every(self, interval: float, until: float) -> None:
        """The room's sender: ``seq monotonic-time`` as chat text, every ``interval``."""
        assert self.connection is not None
        await asyncio.sleep(random.uniform(0, interval))
        seq = 0
        while time.monotonic() < until:
            seq += 1
            await self.connection.send(serialize(Chat(f"{seq} {time.monotonic():.6f}")))
            self.measured.sent[self.room] += 1
            await asyncio.sleep(interval)


async def run(args: argparse.Namespace) -> Measured:
    measured = Measured()
    clients = [
        LoadClient(index, args.rooms, measured)
        for index in range(args.first, args.first + args.count)
    ]
    gate = asyncio.Semaphore(CONNECT_AT_ONCE)

    async def open_one(client: LoadClient) -> None:
        async with gate:
            await client.open(args.url)

    await asyncio.gather(*(open_one(client) for client in clients))
    for client in clients:
        measured.members[client.room] += 1
    listeners = [asyncio.create_task(client.listen()) for client in clients]
    print("ready", flush=True)
    # "go T": start at T on the machine's monotonic clock, the same in every process
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    started = float(line.split()[1])
    await asyncio.sleep(max(0.0, started - time.monotonic()))
    until = started + args.seconds
    for client in clients:
        client.started = started
    work = [client.ping_every(args.ping_interval, until) for client in clients]
    work += [client.chat_every(1 / args.rate, until) for client in clients if client.sender]
    await asyncio.gather(*work)
    await asyncio.sleep(args.drain)  # the last messages on their way
    for listener in listeners:
        listener.cancel()
    return measured


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--first", type=int, required=True, help="index of the first client")
    parser.add_argument("--count", type=int, required=True, help="clients in this process")
    parser.add_argument("--rooms", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rate", type=float, default=2.0, help="chat messages a second per room")
    parser.add_argument("--ping-interval", type=float, default=1.0)
    parser.add_argument("--drain", type=float, default=1.0)
    args = parser.parse_args()
    measured = asyncio.run(run(args))
    print(json.dumps({
        "delays_ms": [round(d, 3) for d in measured.delays_ms],
        "pong_ms": [round(d, 3) for d in measured.pong_ms],
        "received": measured.received,
        "sent": measured.sent,
        "members": measured.members,
        "errors": measured.errors,
        "closed": measured.closed,
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
