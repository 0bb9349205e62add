"""Mark latency: a mentor's drawing op sent → the trainee has it, over the real server.

The signaling server runs as its own process on 127.0.0.1; a mentor and a trainee client
join a room; the mentor draws one arrow and then moves its end 1,000 times (an ``update``
each, paced at 100 a second); for each op the time from the mentor's send to the
trainee's receipt is measured. Prints p50/p95/p99/max and writes JSON.

    .venv/bin/python -m bench.marks --ops 1000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

from surgery_teach.annotations import Add, Arrow, Update
from surgery_teach.demo import free_port, wait_for_port
from surgery_teach.media.stats import percentile
from surgery_teach.protocol.messages import Annotate, Annotation, Role
from surgery_teach.rtc.signaling_client import SignalingClient

ROOT = Path(__file__).resolve().parents[1]


async def measure(url: str, count: int, interval: float) -> list[float]:
    mentor = await SignalingClient.join(url, room="marks", name="Prof Li", role=Role.MENTOR)
    trainee = await SignalingClient.join(url, room="marks", name="Trainee", role=Role.TRAINEE)
    me = mentor.me
    sent: dict[int, float] = {}
    latencies: list[float] = []
    done = asyncio.Event()

    async def listen() -> None:
        async for message in trainee.messages():
            if isinstance(message, Annotation):
                end = message.op.shape.end[0]  # type: ignore[union-attr]
                index = round(end * 100000)
                if index in sent:
                    latencies.append((time.perf_counter() - sent.pop(index)) * 1000)
                if len(latencies) >= count:
                    done.set()
                    return

    listener = asyncio.ensure_future(listen())
    for i in range(count):
        shape = Arrow(id=f"{me}:1", author=me, source="Laparoscope", colour="#ffd60a",
                      width=0.006, pinned=True, start=(0.1, 0.1), end=((i + 1) / 100000, 0.5))
        op = Add(shape) if i == 0 else Update(shape)
        sent[i + 1] = time.perf_counter()
        await mentor.send(Annotate(op=op))
        await asyncio.sleep(interval)
    await asyncio.wait_for(done.wait(), 30)
    listener.cancel()
    await mentor.close()
    await trainee.close()
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ops", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=0.01)
    parser.add_argument("--json", type=Path, default=Path("bench-marks.json"))
    args = parser.parse_args()
    port = free_port()
    # 100 ops a second is above the per-client message rate a real server allows
    server = subprocess.Popen([sys.executable, "-m", "signaling_server", "--port", str(port),
                               "--messages-per-second", "500", "--message-burst", "500"],
                              cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        values = sorted(asyncio.run(measure(f"ws://127.0.0.1:{port}", args.ops, args.interval)))
    finally:
        server.terminate()
        server.wait(timeout=10)
    result = {"ops": len(values), **{k: round(percentile(values, q), 2) for k, q in
                                     (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))}}
    print(f"mark latency over {result['ops']} ops: p50 {result['p50']} ms, "
          f"p95 {result['p95']} ms, p99 {result['p99']} ms, max {result['max']} ms")
    args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
