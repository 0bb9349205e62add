"""What each layer costs the publisher: ``python -m bench.layers``.

One synthetic source (1080p by default) with its top encoder receiving, then with each
lower layer of the ladder receiving too; the process's CPU (% of one core, psutil) over
the same stretch, in the same run, so the table shows what every extra layer adds and
the whole ladder's cost against the top layer alone. Prints a table and, with
``--json``, JSON.

    .venv/bin/python -m bench.layers
    .venv/bin/python -m bench.layers --size 1280x720 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import psutil

from surgery_teach.capture import SyntheticSource
from surgery_teach.media.encoder import EncodedTrack, EncoderSettings, SharedEncoder
from surgery_teach.media.layers import LayeredSource

WARMUP = 2.0


async def _drain(track: EncodedTrack, stop: asyncio.Event) -> int:
    frames = 0
    while not stop.is_set():
        try:
            await asyncio.wait_for(track.recv(), 1.0)
            frames += 1
        except TimeoutError:
            continue
    return frames


async def measure(width: int, height: int, seconds: float) -> list[dict[str, object]]:
    source = SyntheticSource(width, height, 30, label="Laparoscope")
    source.start()
    top = SharedEncoder(source, EncoderSettings())
    top.start()
    layers = LayeredSource(top)
    process = psutil.Process()
    rows: list[dict[str, object]] = []
    stop = asyncio.Event()
    drains: list[asyncio.Task[int]] = []
    try:
        for count in range(1, len(layers.ladder) + 1):
            level = (count - 1, 1)
            encoder = layers.encoder(level)
            track = encoder.subscribe(EncodedTrack(encoder))
            drains.append(asyncio.ensure_future(_drain(track, stop)))
            await asyncio.sleep(WARMUP)
            before = process.cpu_times()
            started = time.perf_counter()
            await asyncio.sleep(seconds)
            after = process.cpu_times()
            wall = time.perf_counter() - started
            cpu = (after.user - before.user + after.system - before.system) / wall * 100
            rows.append({"layers": " + ".join(layers.name((i, 1)) for i in range(count)),
                         "cpu_percent": round(cpu, 1),
                         "kbit_per_s": round(encoder.stats.bytes * 8 / 1000
                                             / (seconds + WARMUP), 1)})
    finally:
        stop.set()
        await asyncio.gather(*drains, return_exceptions=True)
        layers.stop()
        top.stop()
        source.stop()
    base = float(rows[0]["cpu_percent"])  # type: ignore[arg-type]
    for row in rows:
        row["added_percent"] = round(float(row["cpu_percent"]) - base, 1)  # type: ignore[arg-type]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    rows = asyncio.run(measure(width, height, args.seconds))
    print(f"{'layers receiving':<28} {'CPU % of a core':>16} {'added':>7}")
    for row in rows:
        print(f"{row['layers']:<28} {row['cpu_percent']:>16} {row['added_percent']:>7}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(rows, out, indent=2)


if __name__ == "__main__":
    main()
