"""Recording benchmark: what recording costs, and how much a kill -9 loses.

``cpu``: a synthetic source through a shared encoder with one viewer draining packets,
first without and then with a :class:`Recorder` on the same encoder, in fresh processes;
prints CPU (% of one core) of each and the difference, which is the recording's cost.

``kill``: records in child processes (``tests/recording/record_child.py``) and kills each
with SIGKILL at a random moment, for each container format; prints how far before the
kill the last playable frame was captured (from the stamps in the decoded pictures).

    .venv/bin/python -m bench.record cpu --size 1920x1080 --seconds 20
    .venv/bin/python -m bench.record kill --runs 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


# -- cpu ---------------------------------------------------------------------------------------


async def _measure(width: int, height: int, seconds: float, record: bool, folder: str) -> dict:
    from surgery_teach.capture import SyntheticSource
    from surgery_teach.casefile import Manifest
    from surgery_teach.media.encoder import SharedEncoder
    from surgery_teach.recording import Recorder, RecorderOptions

    source = SyntheticSource(width, height, 30, label="Endoscope")
    source.start()
    encoder = SharedEncoder(source)
    encoder.start()
    viewer = encoder.subscribe()

    async def drain() -> None:
        while True:
            await viewer.recv()

    drainer = asyncio.create_task(drain())
    recorder = None
    if record:
        recorder = Recorder(Path(folder), Manifest(title="bench"), [("Endoscope", encoder)],
                            options=RecorderOptions(min_free_bytes=0))
        await recorder.start()
    await asyncio.sleep(2)  # warm up
    cpu0, wall0, frames0 = time.process_time(), time.monotonic(), encoder.stats.frames
    threads0 = recording_thread_seconds()
    await asyncio.sleep(seconds)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    threads = recording_thread_seconds() - threads0
    frames = encoder.stats.frames - frames0
    result = {"record": record, "cpu_percent": round(100 * cpu / wall, 1),
              "recording_threads_percent": round(100 * threads / wall, 2),
              "fps": round(frames / wall, 1)}
    if recorder is not None:
        await recorder.stop()
        result["file_mb"] = round(recorder.status.bytes_written / 1e6, 1)
        result["dropped"] = sum(recorder.status.dropped.values())
    drainer.cancel()
    viewer.stop()
    encoder.stop()
    source.stop()
    return result


def recording_thread_seconds() -> float:
    """CPU seconds used so far by the recorder's own threads (file and event writers)."""
    import threading

    import psutil

    ours = {t.native_id for t in threading.enumerate() if t.name.startswith("recording")}
    return sum(t.user_time + t.system_time for t in psutil.Process().threads() if t.id in ours)


def cpu(args: argparse.Namespace) -> None:
    width, height = (int(v) for v in args.size.split("x"))
    results = []
    for record in (False, True, False, True):
        with tempfile.TemporaryDirectory() as tmp:
            out = subprocess.run(
                [sys.executable, "-m", "bench.record", "_one", str(width), str(height),
                 str(args.seconds), "1" if record else "0", tmp],
                cwd=ROOT, capture_output=True, text=True, check=True,
            )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(results[-1], flush=True)
    off = statistics.mean(r["cpu_percent"] for r in results if not r["record"])
    on = statistics.mean(r["cpu_percent"] for r in results if r["record"])
    threads = statistics.mean(r["recording_threads_percent"] for r in results if r["record"])
    print(f"{args.size}@30 for {args.seconds:g} s: not recording {off:.1f}% of a core, "
          f"recording {on:.1f}% ({on - off:+.1f} points); the recorder's threads used "
          f"{threads:.2f}% of a core")


# -- kill --------------------------------------------------------------------------------------


def last_playable(path: Path) -> tuple[float | None, int]:
    """Capture time of the last decodable stamped frame, and how many frames decoded."""
    import av

    from surgery_teach.capture import luma_of, read_stamp

    last, count = None, 0
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                stamp = read_stamp(luma_of(frame))
                if stamp is not None:
                    last, count = stamp.captured_at, count + 1
    except av.FFmpegError as exc:
        print(f"  ({path.name}: decoding stopped early: {exc})")
    return last, count


async def _kill_one(fmt: str, folder: Path, after: float) -> dict:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.recording.record_child", str(folder), "--format", fmt,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    ready = json.loads(await proc.stdout.readline())
    await asyncio.sleep(after)
    killed_at = time.time()
    os.kill(proc.pid, signal.SIGKILL)
    await proc.wait()
    last, frames = last_playable(folder / ready["file"])
    return {"format": fmt, "after_s": round(after, 2), "frames": frames,
            "lag_s": None if last is None else round(killed_at - last, 3)}


async def kill(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("mkv", "mp4"):
            runs = []
            for batch in range(0, args.runs, 2):  # two at a time on a 2-core machine
                jobs = [
                    _kill_one(fmt, Path(tmp) / f"{fmt}-{batch + i}", rng.uniform(2, 6))
                    for i in range(min(2, args.runs - batch))
                ]
                runs += await asyncio.gather(*jobs)
            for run in runs:
                print(run)
            lags = [r["lag_s"] for r in runs if r["lag_s"] is not None]
            unplayable = sum(r["lag_s"] is None for r in runs)
            if lags:
                print(f"{fmt}: last playable frame {min(lags):.2f}-{max(lags):.2f} s before "
                      f"the kill (median {statistics.median(lags):.2f}), "
                      f"{unplayable}/{len(runs)} unplayable", flush=True)
            else:
                print(f"{fmt}: {unplayable}/{len(runs)} unplayable", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    p_cpu = sub.add_parser("cpu")
    p_cpu.add_argument("--size", default="1920x1080")
    p_cpu.add_argument("--seconds", type=float, default=20)
    p_kill = sub.add_parser("kill")
    p_kill.add_argument("--runs", type=int, default=6)
    p_kill.add_argument("--seed", type=int, default=1)
    p_one = sub.add_parser("_one")
    for name in ("width", "height", "seconds", "record", "folder"):
        p_one.add_argument(name)
    args = parser.parse_args()
    if args.mode == "cpu":
        cpu(args)
    elif args.mode == "kill":
        asyncio.run(kill(args))
    else:
        result = asyncio.run(_measure(int(args.width), int(args.height), float(args.seconds),
                                      args.record == "1", args.folder))
        print(json.dumps(result))


if __name__ == "__main__":
    main()
