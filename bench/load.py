"""Signaling server under load: 2,000 websocket clients in 20 rooms, on 127.0.0.1.

The server runs as its own process (``python -m signaling_server``, its per-address
connection limit raised: every client comes from 127.0.0.1), the clients in a few client
processes (:mod:`bench.load_clients`). Once everyone has joined, one client per room sends
a chat message stamped with the send time twice a second and every client pings the
server once a second, as the desktop client does; every other member of the room records
how long each chat message took to reach it. Prints relay latency p50/p95/p99/max, ping
round trips, lost messages, the server's memory (resident, idle with everyone joined and
peak) and CPU (% of one core, during the measurement), as a table and JSON.

Everything shares this machine's cores: the latency includes the client processes
waiting for a core, which a real deployment spreads over many computers.

    .venv/bin/python -m bench.load                          # 2,000 clients, 20 rooms, 30 s
    .venv/bin/python -m bench.load --clients 40 --rooms 2 --procs 2 --seconds 3
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import psutil

from surgery_teach.demo import free_port, wait_for_port
from surgery_teach.media.stats import percentile

ROOT = Path(__file__).resolve().parents[1]
TARGET_P99_MS = 50.0
TARGET_SERVER_MIB = 200.0
FILES_PER_CLIENT = 2
"""File descriptors per client, in the server and the client processes together (one
socket each side), with room to spare below the soft limit."""


def raise_file_limit(needed: int) -> int:
    """Raise the soft open-files limit (inherited by the processes started after) to at
    least ``needed`` if the hard limit allows; return the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        soft = wanted
    return soft


def cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


def peak_mib(pid: int) -> float | None:
    """The process's peak resident memory (VmHWM, Linux), in MiB; None elsewhere."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) / 1024 if found else None


def _stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {key: round(percentile(ordered, q), 2)
            for key, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))}


def run(args: argparse.Namespace) -> dict[str, object]:
    limit = raise_file_limit(FILES_PER_CLIENT * args.clients + 256)
    if limit < args.clients + 64:
        raise SystemExit(f"error: the open-files limit is {limit}; {args.clients} clients "
                         "need more (ulimit -n)")
    port = free_port()
    url = f"ws://127.0.0.1:{port}"
    per_room = -(-args.clients // args.rooms)
    server = subprocess.Popen(
        [sys.executable, "-m", "signaling_server", "--port", str(port), "--log-level", "warning",
         "--max-connections-per-address", str(args.clients + 10),
         "--max-room-size", str(per_room + 1)],
        cwd=ROOT, stdout=subprocess.DEVNULL)
    workers: list[subprocess.Popen[str]] = []
    try:
        wait_for_port(port)
        ps = psutil.Process(server.pid)
        rss_start = ps.memory_info().rss / 2**20
        connect_started = time.monotonic()
        share = -(-args.clients // args.procs)
        for first in range(0, args.clients, share):
            workers.append(subprocess.Popen(
                [sys.executable, "-m", "bench.load_clients", "--url", url,
                 "--first", str(first), "--count", str(min(share, args.clients - first)),
                 "--rooms", str(args.rooms), "--seconds", str(args.seconds),
                 "--rate", str(args.rate), "--ping-interval", str(args.ping_interval)],
                cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
        for worker in workers:
            assert worker.stdout is not None
            if worker.stdout.readline().strip() != "ready":
                raise SystemExit("error: a client process did not get its clients in")
        connect_seconds = time.monotonic() - connect_started
        rss_joined = ps.memory_info().rss / 2**20

        start_at = time.monotonic() + 0.5  # the same moment in every client process
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write(f"go {start_at}\n")
            worker.stdin.flush()
        time.sleep(max(0.0, start_at - time.monotonic()))
        clients_ps = [psutil.Process(worker.pid) for worker in workers]
        cpu_before, started = cpu_seconds(ps), time.monotonic()
        clients_cpu_before = sum(cpu_seconds(p) for p in clients_ps)
        rss_max = rss_joined
        while time.monotonic() - started < args.seconds:
            time.sleep(0.5)
            rss_max = max(rss_max, ps.memory_info().rss / 2**20)
        wall = time.monotonic() - started
        cpu = 100 * (cpu_seconds(ps) - cpu_before) / wall
        clients_cpu = 100 * (sum(cpu_seconds(p) for p in clients_ps) - clients_cpu_before) / wall
        results = []
        for worker in workers:
            out, _ = worker.communicate(timeout=args.seconds + 120)
            results.append(json.loads(out.strip().splitlines()[-1]))
        peak = peak_mib(server.pid)
    finally:
        for proc in (*workers, server):
            if proc.poll() is None:
                proc.terminate()
        for proc in (*workers, server):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()

    delays = [d for r in results for d in r["delays_ms"]]
    sent: dict[str, int] = {}
    members: dict[str, int] = {}
    received = 0
    for r in results:
        for room, n in r["sent"].items():
            sent[room] = sent.get(room, 0) + n
        for room, n in r["members"].items():
            members[room] = members.get(room, 0) + n
        received += sum(r["received"].values())
    expected = sum(n * (members[room] - 1) for room, n in sent.items())
    errors: dict[str, int] = {}
    for r in results:
        for code, n in r["errors"].items():
            errors[code] = errors.get(code, 0) + n
    return {
        "clients": args.clients, "rooms": args.rooms, "client_processes": len(workers),
        "seconds": args.seconds, "chat_per_room_per_second": args.rate,
        "ping_interval_s": args.ping_interval,
        "connect_and_join_s": round(connect_seconds, 1),
        "chat_sent": sum(sent.values()), "chat_deliveries": received,
        "chat_expected": expected, "chat_lost": expected - received,
        "deliveries_per_second": round(received / args.seconds),
        "relay_ms": _stats(delays), "ping_rtt_ms": _stats([d for r in results
                                                          for d in r["pong_ms"]]),
        "errors": errors, "clients_dropped": sum(r["closed"] for r in results),
        "server_rss_mib": {"start": round(rss_start, 1), "joined": round(rss_joined, 1),
                           "max_sampled": round(rss_max, 1),
                           "peak": round(peak, 1) if peak is not None else None},
        "server_cpu_percent": round(cpu, 1),
        "client_processes_cpu_percent": round(clients_cpu, 1),
        "cores": psutil.cpu_count(),
    }


def print_table(result: dict[str, object]) -> None:
    relay: dict[str, float] = result["relay_ms"]  # type: ignore[assignment]
    ping: dict[str, float] = result["ping_rtt_ms"]  # type: ignore[assignment]
    rss: dict[str, float] = result["server_rss_mib"]  # type: ignore[assignment]
    print(f"{result['clients']} clients in {result['rooms']} rooms, "
          f"{result['client_processes']} client processes, {result['seconds']} s; "
          f"{result['chat_deliveries']} chat deliveries ({result['deliveries_per_second']}/s), "
          f"{result['chat_lost']} lost; connect+join {result['connect_and_join_s']} s")
    print(f"{'what':<16} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}   (ms)")
    for name, values in (("chat relay", relay), ("ping round trip", ping)):
        print(f"{name:<16} {values['p50']:>7.2f} {values['p95']:>7.2f} {values['p99']:>7.2f} "
              f"{values['max']:>7.2f}")
    peak = rss["peak"] if rss["peak"] is not None else rss["max_sampled"]
    print(f"server memory: {rss['start']} MiB at start, {rss['joined']} MiB with everyone "
          f"joined, {peak} MiB peak; CPU (% of one core): server "
          f"{result['server_cpu_percent']}, client processes "
          f"{result['client_processes_cpu_percent']} ({result['cores']} cores in all)")
    verdict = "met" if relay["p99"] < TARGET_P99_MS and peak < TARGET_SERVER_MIB else "MISSED"
    print(f"targets (p99 < {TARGET_P99_MS:g} ms, server < {TARGET_SERVER_MIB:g} MiB): {verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--rooms", type=int, default=20)
    parser.add_argument("--procs", type=int, default=4, help="client processes")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rate", type=float, default=2.0, help="chat messages a second per room")
    parser.add_argument("--ping-interval", type=float, default=1.0,
                        help="seconds between each client's pings")
    parser.add_argument("--json", type=Path, default=Path("bench-load.json"))
    args = parser.parse_args()
    if args.rooms < 1 or args.clients < 2 * args.rooms or args.procs < 1:
        parser.error("need at least one room, two clients a room and one process")
    result = run(args)
    print(json.dumps(result), flush=True)
    print()
    print_table(result)
    args.json.write_text(json.dumps(result, indent=2))
    print(f"JSON written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
