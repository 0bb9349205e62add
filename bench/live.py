"""Live path benchmark: one publisher process, N watcher processes, all on 127.0.0.1.

Prints a table and writes JSON: per configuration, delivered fps, stamp→decoded latency
p50/p95/p99/max at the watchers, and CPU (% of one core) and memory of the publisher and
of the watchers, measured with psutil over the steady part of the run.

    .venv/bin/python -m bench.live                       # 720p and 1080p, 1 and 3 watchers
    .venv/bin/python -m bench.live --sizes 1920x1080 --viewers 1 2 4 8 --seconds 20
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("signaling server did not start")


def cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


def run_one(size: str, viewers: int, seconds: float, bitrate: str | None,
            workdir: Path) -> dict[str, object]:
    py = sys.executable
    port = free_port()
    url = f"ws://127.0.0.1:{port}"
    room = f"bench-{size}-{viewers}"
    server = subprocess.Popen([py, "-m", "signaling_server", "--port", str(port)], cwd=ROOT)
    procs: list[subprocess.Popen[bytes]] = [server]
    try:
        wait_port(port)
        pub_args = [py, "-m", "surgery_teach", "publish", "--server", url, "--room", room,
                    "--name", "bench surgeon", "--source", f"Laparoscope=synthetic:{size}@30",
                    "--stats-every", "0"]
        if bitrate:
            pub_args += ["--bitrate", bitrate]
        publisher = subprocess.Popen(pub_args, cwd=ROOT)
        procs.append(publisher)
        warmup = 4.0
        stats = [workdir / f"{room}-w{i}.json" for i in range(viewers)]
        watchers = [
            subprocess.Popen([py, "-m", "surgery_teach", "watch", "--server", url, "--room", room,
                              "--name", f"viewer {i}", "--duration", str(seconds + warmup),
                              "--stats-json", str(path), "--stats-every", "0"], cwd=ROOT)
            for i, path in enumerate(stats)
        ]
        procs += watchers
        time.sleep(warmup)
        ps_pub = psutil.Process(publisher.pid)
        ps_watch = [psutil.Process(w.pid) for w in watchers]
        t0 = time.monotonic()
        c0 = cpu_seconds(ps_pub)
        w0 = [cpu_seconds(p) for p in ps_watch]
        time.sleep(seconds * 0.8)
        wall = time.monotonic() - t0
        pub_cpu = 100 * (cpu_seconds(ps_pub) - c0) / wall
        watch_cpu = [100 * (cpu_seconds(p) - c) / wall for p, c in zip(ps_watch, w0, strict=True)]
        pub_rss = ps_pub.memory_info().rss / 2**20
        watch_rss = max(p.memory_info().rss for p in ps_watch) / 2**20
        for w in watchers:
            w.wait(timeout=seconds + 60)
        tracks = [json.loads(p.read_text())["tracks"][0] for p in stats]
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()

    def worst(key: str) -> float:
        return max(t["latency_ms"][key] for t in tracks if t["latency_ms"])

    return {
        "size": size, "viewers": viewers, "seconds": seconds,
        "fps_min": min(t["fps"] for t in tracks),
        "latency_ms": {k: worst(k) for k in ("p50", "p95", "p99", "max")},
        "unreadable": sum(t["unreadable_stamps"] for t in tracks),
        "out_of_order": sum(t["out_of_order"] for t in tracks),
        "publisher_cpu_percent": round(pub_cpu, 1),
        "publisher_rss_mib": round(pub_rss, 1),
        "viewer_cpu_percent_max": round(max(watch_cpu), 1),
        "viewer_rss_mib_max": round(watch_rss, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["1280x720", "1920x1080"])
    parser.add_argument("--viewers", nargs="+", type=int, default=[1, 3])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--bitrate", help="e.g. 5M (default: by size)")
    parser.add_argument("--json", type=Path, default=Path("bench-live.json"))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            for viewers in args.viewers:
                row = run_one(size, viewers, args.seconds, args.bitrate, Path(tmp))
                rows.append(row)
                print(json.dumps(row), flush=True)
    header = (f"{'size':>10} {'viewers':>7} {'fps':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
              f"{'max ms':>7} {'pub CPU%':>8} {'view CPU%':>9} {'pub MiB':>7}")
    print(header)
    for r in rows:
        lat = r["latency_ms"]
        print(f"{r['size']:>10} {r['viewers']:>7} {r['fps_min']:>6.1f} {lat['p50']:>7.1f} "  # type: ignore[index]
              f"{lat['p95']:>7.1f} {lat['p99']:>7.1f} {lat['max']:>7.1f} "  # type: ignore[index]
              f"{r['publisher_cpu_percent']:>8.1f} {r['viewer_cpu_percent_max']:>9.1f} "
              f"{r['publisher_rss_mib']:>7.1f}")
    args.json.write_text(json.dumps(rows, indent=2))
    print(f"JSON written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
