"""Can two sites reach each other with ICE? ``python -m bench.netlab.ice_probe``.

Two probes, one per site (namespace), gather candidates with aioice (aiortc's ICE, with
coturn's STUN/TURN if given), swap them through files in a shared folder instead of a
signaling server, run the connectivity checks and send one message each way. The last
line printed is JSON: ``connected``, the selected pair's candidate types (``local``,
``remote``: host, srflx, prflx, relay) and whether the message came back. It checks
the lab's NATs and coturn without the signaling server or the media stack.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import aioice

PASSWORD_VARIABLE = "NETLAB_TURN_PASSWORD"
"""The TURN password comes from the environment, not the command line."""
PEER_TIMEOUT = 30.0
"""Seconds to wait for the other probe's candidates."""


def _host_port(url: str) -> tuple[str, int]:
    """``turn:10.77.0.10:3478?transport=udp`` → ("10.77.0.10", 3478)."""
    host, _, port = url.split(":", 1)[1].split("?", 1)[0].rpartition(":")
    return host, int(port)


async def _peer_description(folder: Path, role: str, deadline: float) -> dict[str, Any]:
    path = folder / f"{role}.json"
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the {role} probe sent no candidates")
        await asyncio.sleep(0.05)
    return dict(json.loads(path.read_text(encoding="utf-8")))


async def probe(*, controlling: bool, folder: Path, stun: str | None, turn: str | None,
                username: str | None, password: str | None, timeout: float) -> dict[str, Any]:
    """Run one side of the probe; return what it found."""
    me, other = ("offer", "answer") if controlling else ("answer", "offer")
    connection = aioice.Connection(
        ice_controlling=controlling, use_ipv6=False,
        stun_server=_host_port(stun) if stun else None,
        turn_server=_host_port(turn) if turn else None,
        turn_username=username, turn_password=password)
    result: dict[str, Any] = {"connected": False, "local": None, "remote": None, "echo": False}
    try:
        await connection.gather_candidates()
        mine = {"ufrag": connection.local_username, "pwd": connection.local_password,
                "candidates": [c.to_sdp() for c in connection.local_candidates]}
        result["gathered"] = sorted({c.type for c in connection.local_candidates})
        partial = folder / f".{me}.json"
        partial.write_text(json.dumps(mine), encoding="utf-8")
        partial.rename(folder / f"{me}.json")
        peer = await _peer_description(folder, other, time.monotonic() + PEER_TIMEOUT)
        connection.remote_username, connection.remote_password = peer["ufrag"], peer["pwd"]
        for sdp in peer["candidates"]:
            await connection.add_remote_candidate(aioice.Candidate.from_sdp(sdp))
        await connection.add_remote_candidate(None)
        await asyncio.wait_for(connection.connect(), timeout)
        result["connected"] = True
        pair = next(iter(connection._nominated.values()))  # no public accessor in aioice
        result["local"], result["remote"] = pair.local_candidate.type, pair.remote_candidate.type
        if controlling:
            await connection.send(b"ping")
            result["echo"] = await asyncio.wait_for(connection.recv(), timeout) == b"pong"
        else:
            result["echo"] = await asyncio.wait_for(connection.recv(), timeout) == b"ping"
            await connection.send(b"pong")
            await asyncio.sleep(1.0)  # let the pong leave before the connection closes
    except (TimeoutError, ConnectionError, OSError) as exc:
        result["error"] = str(exc) or type(exc).__name__
    finally:
        await connection.close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.netlab.ice_probe",
                                     description=__doc__.split("\n", 1)[0])
    parser.add_argument("--role", choices=("offer", "answer"), required=True,
                        help="offer: the controlling side, which sends first")
    parser.add_argument("--exchange", type=Path, required=True,
                        help="folder both probes can read, to swap candidates")
    parser.add_argument("--stun", help="stun:HOST:PORT")
    parser.add_argument("--turn", help="turn:HOST:PORT?transport=udp")
    parser.add_argument("--username", help=f"TURN username (the password: ${PASSWORD_VARIABLE})")
    parser.add_argument("--timeout", type=float, default=20.0,
                        help="seconds for the checks and the message (default 20)")
    args = parser.parse_args(argv)
    result = asyncio.run(probe(controlling=args.role == "offer", folder=args.exchange,
                               stun=args.stun, turn=args.turn, username=args.username,
                               password=os.environ.get(PASSWORD_VARIABLE),
                               timeout=args.timeout))
    print(json.dumps(result), flush=True)
    return 0 if result["connected"] and result["echo"] else 1


if __name__ == "__main__":
    sys.exit(main())
