"""Privacy curtain latency and mask cost: ``python -m bench.privacy``.

A surgeon publishes a protected synthetic source (1280x720 at 30 fps by default, masks on
the top and bottom bands) through the real signaling server (its own process on
127.0.0.1) to a trainee, both real aiortc sessions in this process. Each trial closes the
privacy curtain and times ``close()`` → the first "video paused for privacy" card the
trainee *decodes*, counts the pictures decoded in between, then opens it and times
``open()`` → the first picture again. Target (issue 16): close → card ≤ 100 ms.

Also times masking alone (``apply_masks`` on one frame, solid and blurred bands) at
720p and 1080p. Prints a table and, with ``--json``, JSON.

    .venv/bin/python -m bench.privacy
    .venv/bin/python -m bench.privacy --trials 30 --size 1920x1080 --json privacy.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

from surgery_teach.capture import SyntheticSource
from surgery_teach.demo import free_port, wait_for_port
from surgery_teach.media.encoder import EncoderSettings, SharedEncoder
from surgery_teach.media.stats import percentile
from surgery_teach.privacy import (
    CardKind,
    Mask,
    MaskStyle,
    PrivacyCurtain,
    apply_masks,
    card_kind,
    preset,
    protect,
)
from surgery_teach.protocol.messages import Role
from surgery_teach.rtc.session import LiveSession, SessionConfig

ROOT = Path(__file__).resolve().parents[1]
TARGET_MS = 100.0
TRIAL_TIMEOUT = 10.0


class Watch:
    """Every frame the trainee decodes: when, and whether it is the paused card (following
    the video onto a new track if the connection is made anew)."""

    def __init__(self, session: LiveSession) -> None:
        self.session = session
        self.receiver = session.receivers[0]
        self.frames: list[tuple[float, bool]] = []
        self.changed = asyncio.Event()
        self._task = asyncio.ensure_future(self._follow())

    async def _follow(self) -> None:
        while True:
            seq = 0
            while (frame := await self.receiver.slot.next_after(seq)) is not None:
                at = time.perf_counter()  # before looking at it: the decode time
                seq = frame.seq
                self.frames.append((at, card_kind(frame.image) is CardKind.PAUSED))
                self.changed.set()
            while not self.session.receivers or self.session.receivers[0] is self.receiver:
                await asyncio.sleep(0.05)
            self.receiver = self.session.receivers[0]

    async def first(self, after: float, card: bool, timeout: float) -> tuple[float, int]:
        """Seconds from ``after`` to the first frame that is (not) the card, and how many
        frames came before it."""
        deadline = time.perf_counter() + timeout
        while True:
            later = [(t, c) for t, c in self.frames if t >= after]
            for index, (t, c) in enumerate(later):
                if c == card:
                    return t - after, index
            self.changed.clear()
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimeoutError("the viewer did not show the change")
            await asyncio.wait_for(self.changed.wait(), left)

    def stop(self) -> None:
        self._task.cancel()


async def curtain_trials(url: str, width: int, height: int, fps: float,
                         trials: int) -> dict[str, object]:
    curtain = PrivacyCurtain()
    source = SyntheticSource(width, height, fps, label="Laparoscope")
    guard = protect(source, preset("top-and-bottom"), curtain=curtain)
    source.start()
    encoder = SharedEncoder(source, EncoderSettings(bitrate=2_500_000))
    surgeon = await LiveSession.start(
        SessionConfig(server=url, room="privacy", name="Dr Wang", role=Role.SURGEON), [encoder])
    trainee = await LiveSession.start(
        SessionConfig(server=url, room="privacy", name="Trainee", role=Role.TRAINEE))
    try:
        deadline = time.monotonic() + 30
        while not (trainee.receivers and trainee.receivers[0].stats.frames > 60):
            if time.monotonic() > deadline:
                raise TimeoutError("no video reached the trainee")
            await asyncio.sleep(0.05)
        watch = Watch(trainee)
        closes: list[float] = []
        opens: list[float] = []
        between: list[int] = []
        missed = 0
        for _ in range(trials):
            await asyncio.sleep(random.uniform(0.5, 1.0))  # any phase of the frame clock
            try:
                at = time.perf_counter()
                curtain.close(by="Dr Wang")
                latency, frames = await watch.first(at, True, TRIAL_TIMEOUT)
                closes.append(latency * 1000)
                between.append(frames)
                await asyncio.sleep(random.uniform(0.3, 0.6))
                at = time.perf_counter()
                curtain.open(by="Dr Wang")
                latency, _ = await watch.first(at, False, TRIAL_TIMEOUT)
                opens.append(latency * 1000)
            except TimeoutError:  # the viewer stalled (an overloaded machine): say so
                missed += 1
                curtain.open(by="Dr Wang")
        watch.stop()
        if not closes or not opens:
            raise TimeoutError("the viewer showed no change in any trial")
        size = watch.receiver.stats.summary()["resolution"]
    finally:
        await trainee.close()
        await surgeon.close()
        encoder.stop()
        source.stop()
    closes.sort()
    opens.sort()
    return {
        "size": f"{width}x{height}@{fps:g}",
        "viewer_resolution": size,
        "trials": trials,
        "close_to_card_ms": _summary(closes),
        "open_to_picture_ms": _summary(opens),
        "trials_missed": missed,
        "pictures_after_close_max": max(between),
        "target_ms": TARGET_MS,
        "met": percentile(closes, 0.95) <= TARGET_MS,
        "close_to_card_each_ms": [round(v, 1) for v in closes],
        "mask_ms_per_frame_live": round(1000 * guard.stats.mask_seconds
                                        / max(1, guard.stats.masked), 2),
    }


def mask_costs(repeats: int = 100) -> list[dict[str, object]]:
    """Milliseconds ``apply_masks`` takes per frame, by size and style."""
    rows = []
    for width, height in ((1280, 720), (1920, 1080)):
        frame = SyntheticSource(width, height, 30).render(1, 0.0, 0.0)
        for name, masks in (
            ("top-and-bottom, black", preset("top-and-bottom")),
            ("top-and-bottom, blur", preset("top-and-bottom", MaskStyle.BLUR)),
            ("4 corners, black", preset("corners")),
            ("half the picture, blur", (Mask(0, 0, 1, 0.5, MaskStyle.BLUR),)),
        ):
            apply_masks(frame, masks)
            started = time.perf_counter()
            for _ in range(repeats):
                apply_masks(frame, masks)  # never changes its input: the same frame serves
            rows.append({"size": f"{width}x{height}", "masks": name,
                         "ms_per_frame": round(1000 * (time.perf_counter() - started)
                                               / repeats, 2)})
    return rows


def _summary(values: list[float]) -> dict[str, float]:
    return {"p50": round(percentile(values, 0.5), 1), "p95": round(percentile(values, 0.95), 1),
            "max": round(max(values), 1)}


async def run(width: int, height: int, fps: float, trials: int) -> dict[str, object]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "signaling_server", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"], cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        wait_for_port(port, server)
        curtain = await curtain_trials(f"ws://127.0.0.1:{port}", width, height, fps, trials)
    finally:
        server.terminate()
        server.wait(10)
    return {"curtain": curtain, "mask_cost": mask_costs(),
            "load_average_1min": round(os.getloadavg()[0], 2), "cores": os.cpu_count()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="1280x720@30", help="WxH@FPS of the source")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    size, _, fps = args.size.partition("@")
    width, height = (int(v) for v in size.split("x"))
    report = asyncio.run(run(width, height, float(fps or 30), args.trials))
    c = report["curtain"]
    assert isinstance(c, dict)
    print(f"privacy curtain, {c['size']} source, viewer decodes {c['viewer_resolution']}, "
          f"{c['trials']} trials ({c['trials_missed']} missed: no change within "
          f"{TRIAL_TIMEOUT:g} s)")
    print(f"{'':<24} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for key, name in (("close_to_card_ms", "close() -> card"),
                      ("open_to_picture_ms", "open() -> picture")):
        row = c[key]
        print(f"{name:<24} {row['p50']:>8} {row['p95']:>8} {row['max']:>8}")
    print(f"pictures decoded after close() before the card: at most "
          f"{c['pictures_after_close_max']}; target p95 <= {TARGET_MS:g} ms: "
          f"{'met' if c['met'] else 'NOT met'}; masking live {c['mask_ms_per_frame_live']} "
          "ms a frame")
    print(f"machine: {report['cores']} cores, load average {report['load_average_1min']}")
    print(f"\n{'mask cost':<10} {'masks':<26} {'ms a frame':>10}")
    for row in report["mask_cost"]:  # type: ignore[union-attr]
        print(f"{row['size']:<10} {row['masks']:<26} {row['ms_per_frame']:>10}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(report, out, indent=2)


if __name__ == "__main__":
    main()
