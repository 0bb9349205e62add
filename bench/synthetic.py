"""How long the synthetic laparoscope takes to draw a frame: ``python -m bench.synthetic``.

A speed target (well under 10 ms a frame at 1080p, so 30 fps leaves the encoder its time)
lives here rather than in a timed unit test. Prints a table and, with ``--json``, JSON.
"""

from __future__ import annotations

import argparse
import json
import time

from surgery_teach.capture import SyntheticSource

SIZES = ((1280, 720), (1920, 1080))


def measure(width: int, height: int, frames: int) -> float:
    """Mean milliseconds to render one stamped frame of ``width`` x ``height``."""
    generator = SyntheticSource(width, height)
    generator.render(1, 0.0, time.time())  # builds the texture
    start = time.perf_counter()
    for seq in range(2, frames + 2):
        generator.render(seq, seq / 30, time.time())
    return (time.perf_counter() - start) / frames * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    rows = [{"size": f"{w}x{h}", "ms_per_frame": round(measure(w, h, args.frames), 2)}
            for w, h in SIZES]
    print(f"{'size':>10}  {'ms/frame':>9}")
    for row in rows:
        print(f"{row['size']:>10}  {row['ms_per_frame']:>9.2f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(rows, out, indent=2)


if __name__ == "__main__":
    main()
