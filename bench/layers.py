"""What each layer costs the publisher: ``python -m bench.layers``.

One synthetic source (1080p by default) with its top encoder receiving, then with each
lower layer of the ladder receiving too; the process's CPU (% of one core, psutil) over
the same stretch, in the same run, so the table shows what every extra layer adds and
the whole ladder's cost against the top layer alone. Beside it, the CPU of the threads
each layer brought (its encoder thread and any x264 or swscale threads it started,
told apart by when they appeared), so a layer's own cost shows apart from what it does
to the others. Then, with every layer running, each layer's bitrate against its target
and its picture quality: PSNR of the luma decoded from the layer against the source
frame scaled to the layer's size by an ideal scaler (Lanczos-3 in floating point), so a
change of scaler or of encoder settings is judged by the same yardstick.

``--cycles N`` goes from the top alone to all layers N times in one run (the lower
layers' viewers leave in between) and ``--repeat N`` makes N runs, each in a fresh
process; every figure is then a median. ``--against DIR`` also measures the code in
another checkout (``git archive HEAD | tar -x -C DIR``), alternating with this one run
by run (ABBA), so a before/after comparison shares the shared machine's moods. What
other processes used meanwhile is printed too: with the machine's two cores overbooked
the figures say little (the process gets what the scheduler gives it, and encoders
skip frames). Prints tables and, with ``--json``, JSON.

    .venv/bin/python -m bench.layers
    .venv/bin/python -m bench.layers --size 1280x720 --seconds 10
    .venv/bin/python -m bench.layers --cycles 3 --seconds 5 --repeat 4 --against /tmp/before
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import psutil
from aiortc.mediastreams import MediaStreamError

from surgery_teach.capture import SyntheticSource
from surgery_teach.capture.frame_sei import read_frame_sei
from surgery_teach.media.encoder import EncodedTrack, EncoderSettings, SharedEncoder
from surgery_teach.media.layers import LayeredSource

WARMUP = 2.0
QUALITY_SECONDS = 2.0
QUIET_TRIES = 4
ROOT = Path(__file__).resolve().parent.parent


async def _drain(track: EncodedTrack, stop: asyncio.Event,
                 keep: list[bytes] | None = None) -> int:
    frames = 0
    while not stop.is_set():
        try:
            packet = await asyncio.wait_for(track.recv(), 1.0)
        except TimeoutError:
            continue
        except MediaStreamError:  # the viewer left
            break
        frames += 1
        if keep is not None:
            keep.append(bytes(packet))
    return frames


def _busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (every core, every process)."""
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def _thread_seconds(process: psutil.Process) -> dict[int, float]:
    return {t.id: t.user_time + t.system_time for t in process.threads()}


def _luma(frame: av.VideoFrame) -> np.ndarray:
    return frame.to_ndarray()[: frame.height].astype(np.float32)


@functools.lru_cache
def _lanczos(size_in: int, size_out: int, lobes: int = 3) -> np.ndarray:
    """The ``size_out`` x ``size_in`` matrix of a Lanczos downscale (its kernel widened by
    the ratio, so it filters what the smaller picture cannot hold): an ideal scaler that
    is none of the candidates swscale offers."""
    ratio = size_in / size_out
    reach = lobes * max(ratio, 1.0)
    matrix = np.zeros((size_out, size_in), np.float64)
    for out in range(size_out):
        centre = (out + 0.5) * ratio - 0.5
        taps = np.arange(int(np.floor(centre - reach)), int(np.ceil(centre + reach)) + 1)
        x = (taps - centre) / max(ratio, 1.0)
        weights = np.sinc(x) * np.sinc(x / lobes) * (np.abs(x) < lobes)
        np.add.at(matrix[out], np.clip(taps, 0, size_in - 1), weights / weights.sum())
    return matrix.astype(np.float32)


def ideally_scaled(luma: np.ndarray, width: int, height: int) -> np.ndarray:
    """``luma`` (float32) scaled to ``width`` x ``height`` by :func:`_lanczos`: the
    yardstick for a layer's picture."""
    return _lanczos(luma.shape[0], height) @ luma @ _lanczos(luma.shape[1], width).T


def _psnr(decoded: np.ndarray, reference: np.ndarray) -> float:
    mse = float(np.mean((decoded - reference) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


async def _quality(source: SyntheticSource, encoders: dict[str, SharedEncoder]
                   ) -> dict[str, float]:
    """Each layer's mean luma PSNR over :data:`QUALITY_SECONDS` of pictures, against the
    source frame of the same number (named by the frame SEI) scaled by
    :func:`ideally_scaled`."""
    stop = asyncio.Event()
    sources: dict[int, np.ndarray] = {}

    async def keep_source() -> None:
        seq = 0
        while not stop.is_set():
            frame = await source.slot.next_after(seq)
            if frame is None:
                return
            seq = frame.seq
            sources[seq] = frame.image.to_ndarray()[: frame.image.height]

    kept: dict[str, list[bytes]] = {name: [] for name in encoders}
    tracks = {name: enc.subscribe(EncodedTrack(enc)) for name, enc in encoders.items()}
    tasks = [asyncio.ensure_future(keep_source())]
    tasks += [asyncio.ensure_future(_drain(tracks[name], stop, kept[name]))
              for name in encoders]
    await asyncio.sleep(QUALITY_SECONDS)
    stop.set()
    for track in tracks.values():
        track.stop()
    await asyncio.wait(tasks, timeout=3)
    for task in tasks:
        task.cancel()
    result: dict[str, float] = {}
    for name, packets in kept.items():
        decoder = av.CodecContext.create("h264", "r")
        scores = []
        for data in packets:
            for picture in decoder.decode(av.Packet(data)):
                named = read_frame_sei(picture)
                if named is None or named[0] not in sources:
                    continue
                reference = sources[named[0]].astype(np.float32)
                if reference.shape != (picture.height, picture.width):
                    reference = ideally_scaled(reference, picture.width, picture.height)
                scores.append(_psnr(_luma(picture), reference))
        result[name] = round(statistics.fmean(scores), 2) if scores else float("nan")
    return result


async def measure(width: int, height: int, seconds: float,
                  cycles: int = 1) -> dict[str, object]:
    """One run: CPU rows (top, + each lower layer), ``cycles`` times over (the lower
    layers' viewers leave between cycles), medians over the cycles; then each layer's
    bitrate, frame rate and encoding time while all were receiving, and its PSNR."""
    source = SyntheticSource(width, height, 30, label="Laparoscope")
    source.start()
    top = SharedEncoder(source, EncoderSettings())
    top.start()
    layers = LayeredSource(top)
    names = [layers.name((i, 1)) for i in range(len(layers.ladder))]
    process = psutil.Process()
    stretches: list[list[dict[str, float]]] = [[] for _ in names]
    owner: dict[int, str] = {tid: "" for tid in _thread_seconds(process)}
    encoders: dict[str, SharedEncoder] = {}
    others: list[float] = []  # % of a core the rest of the machine used, each stretch
    sent = {name: [0, 0, 0.0] for name in names}  # bytes, frames, encode s (all on)
    watched: list[tuple[EncodedTrack, asyncio.Task[int]]] = []
    stop = asyncio.Event()
    try:
        for _ in range(cycles):
            for count, name in enumerate(names, start=1):
                encoder = encoders.setdefault(name, layers.encoder((count - 1, 1)))
                track = encoder.subscribe(EncodedTrack(encoder))
                watched.append((track, asyncio.ensure_future(_drain(track, stop))))
                await asyncio.sleep(WARMUP)
                for tid in _thread_seconds(process):
                    owner.setdefault(tid, name)  # the source's threads count with the top
                before, threads_before = process.cpu_times(), _thread_seconds(process)
                machine_before = _busy_seconds()
                counted = {n: (e.stats.bytes, e.stats.frames, e.stats.encode_seconds)
                           for n, e in encoders.items()}
                started = time.perf_counter()
                await asyncio.sleep(seconds)
                after, threads_after = process.cpu_times(), _thread_seconds(process)
                machine = _busy_seconds() - machine_before
                wall = time.perf_counter() - started
                cpu = after.user - before.user + after.system - before.system
                own = sum(threads_after[tid] - threads_before.get(tid, 0.0)
                          for tid in threads_after if owner.get(tid, name) == name)
                stretches[count - 1].append({"cpu": cpu / wall * 100,
                                             "own": own / wall * 100})
                others.append((machine - cpu) / wall * 100)
                if count == len(names):
                    for n, e in encoders.items():
                        sent[n][0] += e.stats.bytes - counted[n][0]
                        sent[n][1] += e.stats.frames - counted[n][1]
                        sent[n][2] += e.stats.encode_seconds - counted[n][2]
            for track, _task in watched[1:]:  # the lower layers' viewers leave
                track.stop()
            del watched[1:]
        quality = await _quality(source, {n: encoders[n] for n in names})
    finally:
        stop.set()
        for track, _task in watched:
            track.stop()
        layers.stop()
        top.stop()
        source.stop()
    rows = []
    for count, found in enumerate(stretches, start=1):
        added = [s["cpu"] - base["cpu"] for s, base in zip(found, stretches[0], strict=True)]
        rows.append({
            "layers": " + ".join(names[:count]),
            "cpu_percent": round(statistics.median(s["cpu"] for s in found), 1),
            "added_percent": round(statistics.median(added), 1),
            "own_threads_percent": round(statistics.median(s["own"] for s in found), 1),
        })
    layer_rows = []
    for name, layer in zip(names, layers.ladder, strict=True):
        size, frames, encode_seconds = sent[name]
        layer_rows.append({
            "layer": name, "target_kbit_per_s": layer.bitrate // 1000,
            "kbit_per_s": round(size * 8 / 1000 / (seconds * cycles), 1),
            "fps": round(frames / (seconds * cycles), 1),
            "encode_ms": round(encode_seconds / max(frames, 1) * 1000, 2),
            "psnr_y_db": quality[name],
        })
    return {"rows": rows, "layers": layer_rows,
            "others_percent": round(statistics.fmean(others), 1),
            "others_max_percent": round(max(others), 1)}


def _child(root: Path, args: argparse.Namespace) -> dict[str, object]:
    """One measurement in a fresh process running the code in ``root``."""
    argv = ["bench.layers", "--size", args.size, "--seconds", str(args.seconds),
            "--cycles", str(args.cycles), "--one-json"]
    script = (f"import runpy, sys; sys.argv = {argv!r}; "
              f"runpy.run_path({str(Path(__file__).resolve())!r}, run_name='__main__')")
    out = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True,
                         env=dict(os.environ, PYTHONPATH=str(root)), text=True, check=True)
    return json.loads(out.stdout)


def _median(runs: list[dict[str, object]]) -> dict[str, object]:
    """Every number in ``runs`` (same shape) replaced by its median over the runs."""
    merged: dict[str, object] = {"runs": len(runs)}
    for part in ("rows", "layers"):
        table = []
        for i, row in enumerate(runs[0][part]):  # type: ignore[arg-type]
            values = [run[part][i] for run in runs]  # type: ignore[index]
            table.append({key: (round(statistics.median(v[key] for v in values), 2)
                                if isinstance(row[key], (int, float)) else row[key])
                          for key in row})
        merged[part] = table
    merged["added_each_run"] = [run["rows"][-1]["added_percent"]  # type: ignore[index]
                                for run in runs]
    merged["others_each_run"] = [run["others_percent"] for run in runs]
    merged["others_max_percent"] = max(float(run["others_max_percent"])  # type: ignore[arg-type]
                                       for run in runs)
    return merged


def _print(title: str, result: dict[str, object]) -> None:
    runs = result.get("runs", 1)
    print(f"{title} (median of {runs} runs)" if runs != 1 else title)
    print(f"{'layers receiving':<24} {'CPU % of a core':>16} {'added':>7} "
          f"{'its own threads':>16}")
    for row in result["rows"]:  # type: ignore[attr-defined]
        print(f"{row['layers']:<24} {row['cpu_percent']:>16} {row['added_percent']:>7} "
              f"{row['own_threads_percent']:>16}")
    if "added_each_run" in result:
        print(f"all lower layers added, run by run: {result['added_each_run']}")
        print(f"other processes meanwhile, run by run: {result['others_each_run']} "
              f"(at most {result['others_max_percent']} in a stretch)")
    else:
        print(f"other processes meanwhile: {result['others_percent']} "
              f"(at most {result['others_max_percent']} in a stretch)")
    print(f"{'layer':<8} {'target kbit/s':>14} {'sent kbit/s':>12} {'fps':>5} "
          f"{'encode ms':>10} {'PSNR Y dB':>10}")
    for row in result["layers"]:  # type: ignore[attr-defined]
        print(f"{row['layer']:<8} {row['target_kbit_per_s']:>14} {row['kbit_per_s']:>12} "
              f"{row['fps']:>5} {row['encode_ms']:>10} {row['psnr_y_db']:>10}")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--seconds", type=float, default=10.0,
                        help=f"each measured stretch (after {WARMUP:g} s of warm-up)")
    parser.add_argument("--cycles", type=int, default=1,
                        help="top alone, then with each lower layer, this many times over "
                             "in one run (medians)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs, each in a fresh process (medians)")
    parser.add_argument("--against", type=Path,
                        help="a checkout of other code to measure too, run by run in turn")
    parser.add_argument("--quiet-below", type=float, metavar="PERCENT",
                        help="measure a run (and its pair) again, up to "
                             f"{QUIET_TRIES} times, when other processes used more than "
                             "this (%% of a core) in any stretch")
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--one-json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    if args.one_json:
        print(json.dumps(asyncio.run(measure(width, height, args.seconds, args.cycles))))
        return
    trees = {"this": ROOT}
    if args.against is not None:
        trees["against"] = args.against.resolve()
    if args.repeat == 1 and args.against is None:
        results = {"this": asyncio.run(measure(width, height, args.seconds, args.cycles))}
    else:
        runs: dict[str, list[dict[str, object]]] = {name: [] for name in trees}
        for i in range(args.repeat):
            order = list(trees) if i % 2 == 0 else list(reversed(trees))
            for attempt in range(1, QUIET_TRIES + 1):
                found = {name: _child(trees[name], args) for name in order}
                for name, run in found.items():
                    print(f"run {i + 1} of {args.repeat}, {name} code: all lower layers "
                          f"added {run['rows'][-1]['added_percent']}% of a core (other "  # type: ignore[index]
                          f"processes {run['others_percent']}%, at most "
                          f"{run['others_max_percent']}%)", file=sys.stderr, flush=True)
                if args.quiet_below is None or attempt == QUIET_TRIES or all(
                        float(run["others_max_percent"]) <= args.quiet_below  # type: ignore[arg-type]
                        for run in found.values()):
                    break
                print("  busy machine: measuring this pair again", file=sys.stderr)
            for name, run in found.items():
                runs[name].append(run)
        results = {name: _median(found) | {"each_run": found}
                   for name, found in runs.items()}
    for name, result in results.items():
        _print(f"{args.size}, {name} code: {trees[name]}", result)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(results, out, indent=2)


if __name__ == "__main__":
    main()
