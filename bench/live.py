"""Live path benchmark: one publisher process, N watcher processes, all on 127.0.0.1.

For each picture size and viewer count it runs our media path and, in the same
invocation, stock aiortc (one aiortc encoder per viewer, stock receive path), and prints
a table, the ours/stock ratios and JSON: delivered fps, stamp→decoded latency
p50/p95/p99/max at the viewers, CPU (% of one core) and memory of the publisher and of
the viewers (psutil, over the steady part of the run), and latency per minute.

    .venv/bin/python -m bench.live                        # 720p+1080p, 1 2 4 8 viewers
    .venv/bin/python -m bench.live --sizes 1280x720 --viewers 1 3 --seconds 15
    .venv/bin/python -m bench.live --long                 # 10 minutes, 1080p, 1 viewer
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from surgery_teach.demo import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[1]
WARMUP = 4.0


def cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


def run_one(*, size: str, viewers: int, seconds: float, stock: bool, bitrate: str | None,
            workdir: Path, role: str = "mentor") -> dict[str, object]:
    py = sys.executable
    port = free_port()
    url = f"ws://127.0.0.1:{port}"
    mode = "stock" if stock else "ours"
    room = f"bench-{mode}-{size}-{viewers}"
    extra = ["--stock"] if stock else []
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(subprocess.Popen([py, "-m", "signaling_server", "--port", str(port),
                                       "--log-level", "warning"], cwd=ROOT))
        wait_for_port(port)
        pub_args = [py, "-m", "surgery_teach", "publish", "--server", url, "--room", room,
                    "--name", "bench surgeon", "--source", f"Laparoscope=synthetic:{size}@30",
                    "--stats-every", "0", *extra]
        if bitrate:
            pub_args += ["--bitrate", bitrate]
        publisher = subprocess.Popen(pub_args, cwd=ROOT)
        procs.append(publisher)
        stats = [workdir / f"{room}-w{i}.json" for i in range(viewers)]
        watchers = [
            subprocess.Popen([py, "-m", "surgery_teach", "watch", "--server", url, "--room", room,
                              "--name", f"viewer {i}", "--role", role,
                              "--duration", str(seconds + WARMUP),
                              "--stats-json", str(path), "--stats-every", "0", *extra], cwd=ROOT)
            for i, path in enumerate(stats)
        ]
        procs += watchers
        time.sleep(WARMUP)
        ps_pub = psutil.Process(publisher.pid)
        ps_watch = [psutil.Process(w.pid) for w in watchers]
        t0, c0 = time.monotonic(), cpu_seconds(ps_pub)
        w0 = [cpu_seconds(p) for p in ps_watch]
        time.sleep(seconds * 0.8)
        wall = time.monotonic() - t0
        pub_cpu = 100 * (cpu_seconds(ps_pub) - c0) / wall
        watch_cpu = [100 * (cpu_seconds(p) - c) / wall for p, c in zip(ps_watch, w0, strict=True)]
        pub_rss = ps_pub.memory_info().rss / 2**20
        watch_rss = max(p.memory_info().rss for p in ps_watch) / 2**20
        for w in watchers:
            w.wait(timeout=seconds + 120)
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

    measured = [t for t in tracks if t["latency_ms"]]

    def worst(key: str) -> float:
        return max(t["latency_ms"][key] for t in measured) if measured else float("nan")

    return {
        "mode": mode, "role": role, "size": size, "viewers": viewers, "seconds": seconds,
        "fps_min": min(t["fps"] for t in tracks),
        "latency_ms": {k: worst(k) for k in ("p50", "p95", "p99", "max")},
        "latency_by_minute": measured[0]["latency_by_minute"] if measured else [],
        "unreadable": sum(t["unreadable_stamps"] for t in tracks),
        "out_of_order": sum(t["out_of_order"] for t in tracks),
        "missing_frames_max": max(t["missing_frames"] for t in tracks),
        "publisher_cpu_percent": round(pub_cpu, 1),
        "publisher_rss_mib": round(pub_rss, 1),
        "viewer_cpu_percent_max": round(max(watch_cpu), 1),
        "viewer_rss_mib_max": round(watch_rss, 1),
    }


def print_table(rows: list[dict[str, object]]) -> None:
    print(f"{'mode':>5} {'size':>9} {'view':>4} {'fps':>5} {'p50':>6} {'p95':>6} {'p99':>6} "
          f"{'max':>6} {'pubCPU%':>7} {'viewCPU%':>8} {'pubMiB':>6}   (latency in ms)")
    for r in rows:
        lat: dict[str, float] = r["latency_ms"]  # type: ignore[assignment]
        print(f"{r['mode']:>5} {r['size']:>9} {r['viewers']:>4} {r['fps_min']:>5.1f} "
              f"{lat['p50']:>6.1f} {lat['p95']:>6.1f} {lat['p99']:>6.1f} {lat['max']:>6.1f} "
              f"{r['publisher_cpu_percent']:>7.1f} {r['viewer_cpu_percent_max']:>8.1f} "
              f"{r['publisher_rss_mib']:>6.1f}")


def ratios(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    out = []
    for ours in (r for r in rows if r["mode"] == "ours"):
        stock = next((r for r in rows if r["mode"] == "stock" and r["size"] == ours["size"]
                      and r["viewers"] == ours["viewers"]), None)
        if stock is None:
            continue
        out.append({
            "size": ours["size"], "viewers": ours["viewers"],
            "p50_ours_over_stock": round(
                ours["latency_ms"]["p50"] / stock["latency_ms"]["p50"], 3),  # type: ignore[index]
            "publisher_cpu_ours_over_stock": round(
                ours["publisher_cpu_percent"] / max(stock["publisher_cpu_percent"], 0.1), 3),  # type: ignore[operator]
        })
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["1280x720", "1920x1080"])
    parser.add_argument("--viewers", nargs="+", type=int, default=[1, 2, 4, 8])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--bitrate", help="e.g. 5M (default: by picture size)")
    parser.add_argument("--no-stock", action="store_true", help="skip the stock aiortc runs")
    parser.add_argument("--long", action="store_true",
                        help="one 10-minute run at 1920x1080 with 1 viewer, latency per minute")
    parser.add_argument("--role", default="mentor", choices=["mentor", "trainee"],
                        help="the viewers' role: mentors get the top layer from the start "
                             "(steady state, comparable with the runs before layers); "
                             "trainees start a layer down and move up after ~7 s of clean "
                             "link, which a short run mostly measures")
    parser.add_argument("--json", type=Path, default=Path("bench-live.json"))
    args = parser.parse_args()
    if args.long:
        args.sizes, args.viewers, args.seconds, args.no_stock = ["1920x1080"], [1], 600, True
    modes = [False] if args.no_stock else [False, True]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            for viewers in args.viewers:
                for stock in modes:
                    row = run_one(size=size, viewers=viewers, seconds=args.seconds, stock=stock,
                                  bitrate=args.bitrate, workdir=Path(tmp), role=args.role)
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    print()
    print_table(rows)
    compared = ratios(rows)
    for r in compared:
        print(f"{r['size']} x{r['viewers']}: p50 ours/stock {r['p50_ours_over_stock']}, "
              f"publisher CPU ours/stock {r['publisher_cpu_ours_over_stock']}")
    if args.long:
        for m in rows[0]["latency_by_minute"]:  # type: ignore[union-attr]
            print(f"minute {m['minute']}: p50 {m['p50']} ms, p95 {m['p95']} ms")
    args.json.write_text(json.dumps({"runs": rows, "ratios": compared}, indent=2))
    print(f"JSON written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
