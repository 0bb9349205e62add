"""Plain UDP through the lab: ``python -m bench.netlab.udp_meter send|receive|punch``.

``receive`` counts what arrives on a port and ``send`` sends at a set rate, to check a
shaped link without iperf; ``punch`` sends to a peer's public address from a fixed port
while listening on it, as two programs behind NATs do to open a path between them
(what STUN-based ICE relies on). Each prints ``ready`` once its socket is bound and
one JSON line with what it counted at the end.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time

PACKET_BYTES = 1200
"""UDP payload per packet: about what a video packet carries."""


def receive(port: int, seconds: float) -> dict[str, float]:
    """Count bytes arriving on ``port`` until ``seconds`` pass without any (or after the
    first packet, ``seconds`` have passed); the rate spans first to last packet."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 2**20)
        sock.bind(("0.0.0.0", port))
        print("ready", flush=True)
        sock.settimeout(seconds)
        total = packets = 0
        first = last = 0.0
        end = float("inf")
        while time.monotonic() < end:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                break
            now = time.monotonic()
            if not packets:
                first, end = now, now + seconds
                sock.settimeout(1.0)
            total, packets, last = total + len(data), packets + 1, now
    span = last - first
    return {"bytes": total, "packets": packets, "seconds": round(span, 3),
            "mbit_s": round(total * 8 / 1e6 / span, 3) if span > 0 else 0.0}


def send(host: str, port: int, mbit: float, seconds: float) -> dict[str, float]:
    """Send ``PACKET_BYTES`` datagrams to ``host:port`` at ``mbit`` Mbit/s for ``seconds``."""
    interval = PACKET_BYTES * 8 / (mbit * 1e6)
    payload = bytes(PACKET_BYTES)
    sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        print("ready", flush=True)
        start = time.monotonic()
        while (now := time.monotonic()) - start < seconds:
            due = start + sent * interval
            if now < due:
                time.sleep(due - now)
            try:
                sock.sendto(payload, (host, port))
            except OSError:
                pass  # a full local queue: the link is what is measured, not this socket
            sent += 1
    return {"sent_bytes": sent * PACKET_BYTES, "sent_mbit_s": mbit}


def punch(port: int, host: str, peer_port: int, seconds: float) -> dict[str, object]:
    """From local ``port``, send to ``host:peer_port`` every 50 ms for ``seconds`` and
    report what arrived (and from where)."""
    senders: set[str] = set()
    received = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("0.0.0.0", port))
        sock.settimeout(0.05)
        print("ready", flush=True)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                sock.sendto(b"hello", (host, peer_port))
            except OSError:
                pass
            try:
                _, address = sock.recvfrom(2048)
            except TimeoutError:
                continue
            received += 1
            senders.add(f"{address[0]}:{address[1]}")
    return {"received": received, "from": sorted(senders)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.netlab.udp_meter",
                                     description=__doc__.split("\n", 1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    r = commands.add_parser("receive", help="count what arrives on a port")
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--seconds", type=float, default=5.0)
    s = commands.add_parser("send", help="send at a set rate")
    s.add_argument("--to", required=True, metavar="HOST:PORT")
    s.add_argument("--mbit", type=float, required=True)
    s.add_argument("--seconds", type=float, default=3.0)
    p = commands.add_parser("punch", help="send to a peer from a fixed port, listening on it")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--to", required=True, metavar="HOST:PORT")
    p.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    result: dict[str, object]
    if args.command == "receive":
        result = dict(receive(args.port, args.seconds))
    else:
        host, _, port = args.to.rpartition(":")
        if args.command == "send":
            result = dict(send(host, int(port), args.mbit, args.seconds))
        else:
            result = punch(args.port, host, int(port), args.seconds)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
