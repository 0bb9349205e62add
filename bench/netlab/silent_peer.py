"""A participant that joins the room and never answers: ``python -m bench.netlab.silent_peer``.

It joins as a trainee (so the surgeon's client offers it the video, docs/protocol.md
section 7), reads every message and ignores offers, as a client that hangs or whose
browser tab sleeps would. It pings the server now and then so that it is not closed as
idle. At the end it writes how many offers it ignored as JSON to ``--report``. The room
token comes from ``SURGERY_TEACH_TOKEN``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from surgery_teach.protocol import Join, Ping, Role, serialize

PING_EVERY = 5.0


async def _ignore_everything(connection: ClientConnection, counts: dict[str, int]) -> None:
    async for raw in connection:
        message = json.loads(raw)
        kind = message.get("type", "?")
        if kind == "signal":
            kind = f"signal-{message.get('data', {}).get('kind', '?')}"
        counts[kind] = counts.get(kind, 0) + 1


async def _ping(connection: ClientConnection) -> None:
    while True:
        await asyncio.sleep(PING_EVERY)
        await connection.send(serialize(Ping()))


async def stay_silent(server: str, room: str, name: str, seconds: float,
                      token: str) -> dict[str, int]:
    """Join, ignore every offer for ``seconds``, leave; return the message counts."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    counts: dict[str, int] = {}
    async with connect(server, additional_headers=headers, open_timeout=20) as connection:
        await connection.send(serialize(Join(room, name, Role.TRAINEE)))
        print(f"silent peer {name!r} joined {room!r}; it will answer nothing", flush=True)
        tasks = [asyncio.ensure_future(_ignore_everything(connection, counts)),
                 asyncio.ensure_future(_ping(connection))]
        done, _ = await asyncio.wait(tasks, timeout=seconds,
                                     return_when=asyncio.FIRST_EXCEPTION)
        for task in tasks:
            task.cancel()
        for task in done:
            with contextlib.suppress(asyncio.CancelledError):
                task.result()  # a closed connection ends the run with its error
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.netlab.silent_peer",
                                     description=__doc__.split("\n", 1)[0])
    parser.add_argument("--server", required=True, help="ws:// URL of the signaling server")
    parser.add_argument("--room", required=True)
    parser.add_argument("--name", default="Silent trainee")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--report", type=Path, help="write the message counts here (JSON)")
    args = parser.parse_args(argv)
    try:
        counts = asyncio.run(stay_silent(args.server, args.room, args.name, args.seconds,
                                         os.environ.get("SURGERY_TEACH_TOKEN", "")))
    except (OSError, WebSocketException) as exc:
        print(f"silent peer: cannot stay in the room: {exc}", file=sys.stderr)
        return 2
    print(f"silent peer left; ignored {counts.get('signal-offer', 0)} offer(s)", flush=True)
    if args.report:
        args.report.write_text(json.dumps(counts), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
