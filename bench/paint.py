"""Stamp → painted latency: a synthetic surgeon process and a real Qt trainee window.

The trainee window (offscreen unless DISPLAY is set) paints the received laparoscope
video; for every frame the view records the time from the source's pixel stamp to the
moment it was painted. Prints p50/p95/p99/max, painted fps and the viewer's CPU.

    .venv/bin/python -m bench.paint --size 1920x1080 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from surgery_teach.demo import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[1]


async def measure(url: str, seconds: float) -> dict[str, object]:
    from surgery_teach.media.stats import percentile
    from surgery_teach.protocol.messages import Role
    from surgery_teach.rtc.session import SessionConfig
    from ui.controller import SessionController
    from ui.session_window import SessionWindow

    trainee = SessionController(
        SessionConfig(server=url, room="paint", name="bench viewer", role=Role.TRAINEE), [])
    await trainee.start()
    window = SessionWindow(trainee)
    window.resize(1600, 1000)
    window.show()
    view = window.stage.main
    deadline = time.monotonic() + 30
    while view.frames_painted < 30:
        if time.monotonic() > deadline:
            raise SystemExit("error: no video reached the viewer")
        await asyncio.sleep(0.1)
    view.paint_latencies_ms.clear()
    stats = trainee.receivers[0].stats
    decoded_from = len(stats.latencies_ms)
    painted0, cpu0, t0 = view.frames_painted, time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    wall = time.monotonic() - t0
    values = sorted(view.paint_latencies_ms)
    decoded = sorted(stats.latencies_ms[decoded_from:])
    result = {
        "painted_fps": round((view.frames_painted - painted0) / wall, 1),
        "stamp_to_painted_ms": {k: round(percentile(values, q), 1) for k, q in
                                (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))},
        "stamp_to_decoded_ms": {k: round(percentile(decoded, q), 1) for k, q in
                                (("p50", 0.5), ("p95", 0.95), ("max", 1.0))},
        "decoded_fps": round(len(decoded) / wall, 1),
        "viewer_cpu_percent": round(100 * (time.process_time() - cpu0) / wall, 1),
        "window": [view.width(), view.height()],
    }
    await trainee.leave()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--json", type=Path, default=Path("bench-paint.json"))
    args = parser.parse_args()
    if not os.environ.get("DISPLAY"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    import qasync
    from PyQt6.QtWidgets import QApplication

    from ui.theme import apply_theme

    port = free_port()
    url = f"ws://127.0.0.1:{port}"
    py = sys.executable
    procs = [subprocess.Popen([py, "-m", "signaling_server", "--port", str(port)], cwd=ROOT)]
    try:
        wait_for_port(port)
        procs.append(subprocess.Popen(
            [py, "-m", "surgery_teach", "publish", "--server", url, "--room", "paint",
             "--name", "bench surgeon", "--source", f"Laparoscope=synthetic:{args.size}@30",
             "--stats-every", "0"], cwd=ROOT))
        app = QApplication(sys.argv[:1])
        apply_theme(app)
        loop = qasync.QEventLoop(app)
        asyncio.set_event_loop(loop)
        with loop:
            result = loop.run_until_complete(measure(url, args.seconds))
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)
    result["size"] = args.size
    print(json.dumps(result, indent=2))
    args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
