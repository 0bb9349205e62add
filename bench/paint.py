"""Stamp → painted latency: a synthetic surgeon process and a real Qt trainee window.

The trainee window (offscreen unless DISPLAY is set) paints the received laparoscope
video; for every frame the view records the time from the source's pixel stamp to the
moment it was painted, and the receiver the time to the moment it was decoded. Prints
p50/p95/p99/max of both, painted fps and the viewer's CPU (this whole process).

``--same-thread`` runs the session on the GUI thread's asyncio loop, as the client did
before it had a media thread, for comparison. ``--gui-busy MS`` keeps the GUI thread
busy for MS ms in every frame interval (without holding the GIL, as Qt's own painting
and layout of a big, busy window would), to see what that does to the video.

    .venv/bin/python -m bench.paint --size 1920x1080 --seconds 20
    .venv/bin/python -m bench.paint --size 1920x1080 --same-thread --gui-busy 15
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from surgery_teach.demo import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")


class SameThreadLoop:
    """Stands in for a controller's :class:`LoopThread`: the session runs on the calling
    (GUI) thread's loop, the arrangement before the media thread, for comparison."""

    running = True

    def start(self) -> None:
        pass

    def stop(self, timeout: float = 10.0) -> bool:
        return True

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return await coro

    def call(self, function: Callable[..., object], *args: object) -> None:
        asyncio.get_running_loop().call_soon(function, *args)


async def measure(url: str, seconds: float, same_thread: bool,
                  gui_busy_ms: float) -> dict[str, object]:
    from PyQt6.QtCore import QTimer

    from surgery_teach.media.stats import LatencyHistogram, percentile
    from surgery_teach.protocol.messages import Role
    from surgery_teach.rtc.session import SessionConfig
    from ui.session.controller import SessionController
    from ui.session.window import SessionWindow

    trainee = SessionController(
        SessionConfig(server=url, room="paint", name="bench viewer", role=Role.TRAINEE), [])
    if same_thread:
        trainee.media = trainee.recording.media = SameThreadLoop()  # type: ignore[assignment]
    await trainee.start()
    window = SessionWindow(trainee)
    window.resize(1600, 1000)
    window.show()
    busy = QTimer()
    busy.timeout.connect(lambda: time.sleep(gui_busy_ms / 1000))
    if gui_busy_ms:
        busy.start(33)
    view = window.stage.main
    deadline = time.monotonic() + 30
    while view.frames_painted < 30:
        if time.monotonic() > deadline:
            raise SystemExit("error: no video reached the viewer")
        await asyncio.sleep(0.1)
    stats = trainee.receivers[0].stats

    async def decoded() -> LatencyHistogram:  # read where the receiver counts: its loop
        return stats.latency.copy()

    view.paint_latencies_ms.clear()
    decoded0 = await trainee.media.run(decoded())
    painted0, cpu0, t0 = view.frames_painted, time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    wall = time.monotonic() - t0
    values = sorted(view.paint_latencies_ms)
    window = (await trainee.media.run(decoded())).since(decoded0)
    quantiles = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))
    result = {
        "thread": "gui" if same_thread else "media",
        "gui_busy_ms": gui_busy_ms,
        "painted_fps": round((view.frames_painted - painted0) / wall, 1),
        "stamp_to_painted_ms": {k: round(percentile(values, q), 1) for k, q in quantiles},
        "stamp_to_decoded_ms": {k: round(window.percentile(q), 1) for k, q in quantiles},
        "decoded_fps": round(window.count / wall, 1),
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
    parser.add_argument("--same-thread", action="store_true",
                        help="run the session on the GUI thread (as before the media thread)")
    parser.add_argument("--gui-busy", type=float, default=0.0, metavar="MS",
                        help="keep the GUI thread busy MS ms every 33 ms")
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
            result = loop.run_until_complete(
                measure(url, args.seconds, args.same_thread, args.gui_busy))
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
