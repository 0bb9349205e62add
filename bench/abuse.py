"""Signaling server under a board flood: does one room's abuse reach anyone else?

One mentor floods its own room's board at the message rate limit: pinned 2,000-point
freehand strokes (each as long as an op may be), undo and redo, clear; a viewer in that
room reads everything. Meanwhile 2,000 ordinary clients (:mod:`bench.load_clients`: 20
rooms, chat twice a second per room, a ping a second each) are connected, and two honest
clients in a room of their own ping the server every 50 ms. The server runs as its own
process with a state directory (as the desktop client's built-in server does). At the
end a late joiner joins the flooded room and the size of the snapshot it gets is taken.

Prints the honest clients' ping round trips (p50/p95/p99/max), the server's peak memory,
the late joiner's snapshot, what the flooding mentor's viewer received and how the
server answered the flood, as a table and JSON.

    .venv/bin/python -m bench.abuse                      # 30 s, 2,000 ordinary clients
    .venv/bin/python -m bench.abuse --clients 40 --seconds 3 --procs 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import psutil
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.load import FILES_PER_CLIENT, peak_mib, raise_file_limit
from surgery_teach.demo import free_port, wait_for_port
from surgery_teach.media.stats import percentile
from surgery_teach.protocol.limits import Limits

ROOT = Path(__file__).resolve().parents[1]
TARGET_P99_MS = 50.0
TARGET_SERVER_MIB = 300.0
TARGET_SNAPSHOT_BYTES = 2**20
FLOOD_RATE = 58.0
"""Messages a second from the flooding mentor: just under the server's 60."""
FLOOD_BYTES = 0.95 * Limits().bytes_per_second
"""Bytes a second from the flooding mentor: just under the server's byte rate (a server
from before it had none: there the flood is paced by the message rate alone)."""
PING_INTERVAL = 0.05


def _stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
    return {key: round(percentile(ordered, q), 2)
            for key, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))}


def _send(link: ClientConnection, **message: object) -> asyncio.Future[None]:
    return asyncio.ensure_future(link.send(json.dumps({"v": 1, **message})))


async def _join(url: str, room: str, name: str, role: str) -> tuple[ClientConnection, str]:
    link = await connect(url, open_timeout=60, max_size=None)
    await link.send(json.dumps({"v": 1, "type": "join", "room": room, "name": name,
                                "role": role}))
    while True:
        message = json.loads(await link.recv())
        if message["type"] == "welcome":
            return link, message["you"]["id"]
        if message["type"] == "error":
            raise SystemExit(f"error: {name} was not let in: {message['message']}")


def _stroke_template() -> str:
    """An ``annotate`` add of a pinned 2,000-point stroke, ``@ID@`` and ``@AUTHOR@`` to fill
    in; coordinates at full float precision (the longest an op gets)."""
    points = [[random.random(), random.random()] for _ in range(2000)]
    shape = {"kind": "pen", "id": "@ID@", "author": "@AUTHOR@", "source": "Laparoscope",
             "colour": "#ff0000", "width": 0.004, "frame_time": 0, "pinned": True,
             "created": 0, "points": points}
    return json.dumps({"v": 1, "type": "annotate", "op": {"v": 1, "op": "add", "seq": 0,
                                                          "shape": shape}},
                      separators=(",", ":"))


class Flood:
    """The flooding mentor and its room's viewer."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()
        self.sent_bytes = 0
        self.snapshot_bytes = 0
        self.answers: Counter[str] = Counter()
        self.viewer_bytes = 0
        self.viewer_messages = 0
        self.largest_to_viewer = 0

    async def run(self, url: str, seconds: float) -> None:
        mentor, me = await _join(url, "flood", "Flooder", "mentor")
        viewer, _ = await _join(url, "flood", "Viewer", "student")
        template = _stroke_template().replace("@AUTHOR@", me)
        readers = [asyncio.create_task(self._read_mentor(mentor)),
                   asyncio.create_task(self._read_viewer(viewer))]
        start = time.monotonic()
        count = 0
        while time.monotonic() - start < seconds:
            count += 1
            step = count % 30
            if step in (10, 20):
                kind, text = "undo", json.dumps({"v": 1, "type": "annotate", "op": {
                    "v": 1, "op": "undo", "seq": 0, "author": me}})
            elif step in (11, 21):
                kind, text = "redo", json.dumps({"v": 1, "type": "annotate", "op": {
                    "v": 1, "op": "redo", "seq": 0, "author": me}})
            elif step == 0 and count % 300 == 0:
                kind, text = "clear", json.dumps({"v": 1, "type": "annotate", "op": {
                    "v": 1, "op": "clear", "seq": 0, "author": me, "scope": "mine",
                    "source": "Laparoscope"}})
            else:
                kind, text = "add", template.replace("@ID@", f"{me}:{count}")
            await mentor.send(text)
            self.sent[kind] += 1
            self.sent_bytes += len(text)
            # as fast as the server takes it, its message rate and its byte rate (never
            # catching up in a burst after this process was kept waiting for a core)
            await asyncio.sleep(max(1 / FLOOD_RATE, len(text) / FLOOD_BYTES))
        await asyncio.sleep(1.0)  # the last answers on their way
        self.snapshot_bytes = await _late_joiner(url)  # while the room is still there
        for reader in readers:
            reader.cancel()
        await mentor.close()
        await viewer.close()

    async def _read_mentor(self, link: ClientConnection) -> None:
        async for raw in link:
            message = json.loads(raw)
            kind = message["type"]
            self.answers[message.get("code", kind) if kind == "error" else kind] += 1

    async def _read_viewer(self, link: ClientConnection) -> None:
        async for raw in link:
            self.viewer_messages += 1
            self.viewer_bytes += len(raw)
            self.largest_to_viewer = max(self.largest_to_viewer, len(raw))


async def _honest_pings(url: str, seconds: float) -> list[float]:
    """Two clients in a room of their own ping every 50 ms; their round trips (ms)."""
    links = [(await _join(url, "honest", name, role))[0]
             for name, role in (("Dr Wang", "surgeon"), ("Dr Li", "mentor"))]
    rtts: list[float] = []

    async def pinging(link: ClientConnection) -> None:
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            sent = time.monotonic()
            await link.send('{"v":1,"type":"ping"}')
            while json.loads(await link.recv())["type"] != "pong":
                pass
            rtts.append((time.monotonic() - sent) * 1000)
            await asyncio.sleep(PING_INTERVAL)

    await asyncio.gather(*(pinging(link) for link in links))
    for link in links:
        await link.close()
    return rtts


async def _late_joiner(url: str) -> int:
    """Bytes of the ``annotations`` snapshot a newcomer to the flooded room gets (0: none,
    -1: the server dropped the newcomer before it had it)."""
    link, _ = await _join(url, "flood", "Late", "student")
    try:
        while True:
            raw = await asyncio.wait_for(link.recv(), 10)
            message = json.loads(raw)
            if message["type"] == "annotations":
                return len(raw.encode())
            if message["type"] not in ("chat-history",):
                return 0
    except TimeoutError:
        return 0
    except ConnectionClosed:
        return -1  # dropped: more than the server's send buffer was queued for it
    finally:
        await link.close()


async def _measure(url: str, seconds: float,
                   flood: bool = True) -> tuple[list[float], dict[str, object], int]:
    """The flood runs in a process of its own (reading what the server sends it takes
    time that must not delay the honest clients' measurement)."""
    if not flood:  # the same load without the flood: what the pings are on this machine
        return await _honest_pings(url, seconds + 1), {
            "sent": {}, "answers": {}, "viewer_bytes": 0, "viewer_messages": 0,
            "largest_to_viewer": 0, "snapshot_bytes": 0}, 0
    flooder = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.abuse", "--flood", url, "--seconds", str(seconds),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        preexec_fn=lambda: os.setpriority(os.PRIO_PROCESS, 0, 0))  # an ordinary client
    rtts = await _honest_pings(url, seconds + 1)
    out, _ = await flooder.communicate()
    if flooder.returncode != 0:
        raise SystemExit("error: the flooding process failed")
    flood = json.loads(out.decode().strip().splitlines()[-1])
    return rtts, flood, flood["snapshot_bytes"]


async def _flood(url: str, seconds: float) -> None:
    flood = Flood()
    await flood.run(url, seconds)
    print(json.dumps({"sent": flood.sent, "answers": flood.answers,
                      "viewer_bytes": flood.viewer_bytes,
                      "viewer_messages": flood.viewer_messages,
                      "largest_to_viewer": flood.largest_to_viewer,
                      "snapshot_bytes": flood.snapshot_bytes}), flush=True)


def run(args: argparse.Namespace) -> dict[str, object]:
    limit = raise_file_limit(FILES_PER_CLIENT * args.clients + 256)
    if limit < args.clients + 64:
        raise SystemExit(f"error: the open-files limit is {limit}; {args.clients} clients "
                         "need more (ulimit -n)")
    port = free_port()
    url = f"ws://127.0.0.1:{port}"
    state = tempfile.TemporaryDirectory(prefix="bench-abuse-")
    command = [sys.executable, "-m", "signaling_server", "--port", str(port),
               "--log-level", "error", "--max-connections-per-address", str(args.clients + 20),
               "--max-room-size", str(max(4, args.clients // 20 + 2))]
    if not args.no_state_dir:
        command += ["--state-dir", state.name]
    if args.server_nice:  # the server's (and the honest clients') own computers, on a
        # machine shared with other jobs
        command = ["nice", "-n", str(args.server_nice), *command]
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
    workers: list[subprocess.Popen[str]] = []
    try:
        wait_for_port(port)
        ps = psutil.Process(server.pid)
        share = -(-args.clients // args.procs) if args.clients else 0
        for first in range(0, args.clients, share or 1):
            workers.append(subprocess.Popen(
                [sys.executable, "-m", "bench.load_clients", "--url", url,
                 "--first", str(first), "--count", str(min(share, args.clients - first)),
                 "--rooms", "20", "--seconds", str(args.seconds + 2)],
                cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
        for worker in workers:
            assert worker.stdout is not None
            if worker.stdout.readline().strip() != "ready":
                raise SystemExit("error: a client process did not get its clients in")
        rss_joined = ps.memory_info().rss / 2**20
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write(f"go {time.monotonic()}\n")
            worker.stdin.flush()
        if args.server_nice:  # this process (the honest pair) too, not the others
            os.setpriority(os.PRIO_PROCESS, 0, args.server_nice)
        cpu_before, started = ps.cpu_times(), time.monotonic()
        rtts, flood, snapshot = asyncio.run(_measure(url, args.seconds, not args.no_flood))
        wall = time.monotonic() - started
        cpu_after = ps.cpu_times()
        cpu = 100 * ((cpu_after.user + cpu_after.system)
                     - (cpu_before.user + cpu_before.system)) / wall
        for worker in workers:
            worker.communicate(timeout=args.seconds + 120)
        peak = peak_mib(server.pid)
        state_bytes = sum(p.stat().st_size for p in Path(state.name).rglob("*") if p.is_file())
    finally:
        for proc in (*workers, server):
            if proc.poll() is None:
                proc.terminate()
        for proc in (*workers, server):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        state.cleanup()
    return {
        "clients": args.clients, "seconds": args.seconds, "state_dir": not args.no_state_dir,
        "flood": not args.no_flood, "server_nice": args.server_nice,
        "honest_ping_ms": _stats(rtts), "honest_pings": len(rtts),
        "server_rss_mib": {"joined": round(rss_joined, 1),
                           "peak": round(peak, 1) if peak is not None else None},
        "server_cpu_percent": round(cpu, 1),
        "late_joiner_snapshot_bytes": snapshot,
        "flood_sent": flood["sent"], "flood_answers": flood["answers"],
        "viewer_received_bytes": flood["viewer_bytes"],
        "viewer_received_messages": flood["viewer_messages"],
        "viewer_largest_message_bytes": flood["largest_to_viewer"],
        "state_dir_bytes_at_end": state_bytes,
    }


def print_table(result: dict[str, object]) -> None:
    ping: dict[str, float] = result["honest_ping_ms"]  # type: ignore[assignment]
    rss: dict[str, float | None] = result["server_rss_mib"]  # type: ignore[assignment]
    flooding = "one mentor flooding its board" if result["flood"] else "no flood"
    print(f"{result['clients']} ordinary clients, {flooding}, {result['seconds']} s "
          f"(state directory: {'yes' if result['state_dir'] else 'no'})")
    print(f"honest ping round trip in another room (ms): p50 {ping['p50']:.2f}  "
          f"p95 {ping['p95']:.2f}  p99 {ping['p99']:.2f}  max {ping['max']:.2f}  "
          f"({result['honest_pings']} pings)")
    print(f"server memory: {rss['joined']} MiB with everyone joined, {rss['peak']} MiB peak; "
          f"CPU {result['server_cpu_percent']}% of one core")
    snapshot_text = ("dropped by the server before it arrived"
                     if result["late_joiner_snapshot_bytes"] == -1
                     else f"{result['late_joiner_snapshot_bytes']:,} bytes")
    print(f"late joiner's snapshot: {snapshot_text}; the "
          f"flooded room's viewer received {result['viewer_received_bytes']:,} bytes in "
          f"{result['viewer_received_messages']} messages (largest "
          f"{result['viewer_largest_message_bytes']:,})")
    print(f"flood sent {result['flood_sent']}; answers to the flooder {result['flood_answers']}")
    peak = rss["peak"] or 0.0
    snapshot = result["late_joiner_snapshot_bytes"]
    met = (ping["p99"] <= TARGET_P99_MS and peak <= TARGET_SERVER_MIB
           and isinstance(snapshot, int) and 0 <= snapshot <= TARGET_SNAPSHOT_BYTES)
    print(f"targets (p99 <= {TARGET_P99_MS:g} ms, server <= {TARGET_SERVER_MIB:g} MiB, "
          f"snapshot <= 1 MiB): {'met' if met else 'MISSED'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=2000,
                        help="ordinary clients in 20 other rooms")
    parser.add_argument("--procs", type=int, default=4, help="ordinary client processes")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--no-state-dir", action="store_true",
                        help="run the server with its rooms in memory only")
    parser.add_argument("--server-nice", type=int, default=0,
                        help="run the server at this nice value (negative: ahead of other "
                        "jobs on a shared machine; needs root)")
    parser.add_argument("--no-flood", action="store_true",
                        help="the same without the flood: the pings' baseline on this machine")
    parser.add_argument("--json", type=Path, default=Path("bench-abuse.json"))
    parser.add_argument("--flood", metavar="URL", help=argparse.SUPPRESS)  # the flooder
    args = parser.parse_args()
    if args.flood:
        asyncio.run(_flood(args.flood, args.seconds))
        return 0
    if args.clients and args.clients < 40:
        parser.error("--clients: 0, or at least 40 (two a room)")
    result = run(args)
    print(json.dumps(result), flush=True)
    print()
    print_table(result)
    args.json.write_text(json.dumps(result, indent=2))
    print(f"JSON written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
