"""``python -m bench.netlab``: run the network lab's scenarios and print what viewers saw.

Runs as root (it makes network namespaces). Prints one table row per viewer and writes
the same as JSON with ``--json``; logs and the clients' statistics stay in the run
directory it names. Exit status 0 when every scenario connected (or failed to) as
expected, 1 otherwise, 2 when the lab cannot run here.

    .venv/bin/python -m bench.netlab                                  # every scenario, 30 s
    .venv/bin/python -m bench.netlab --scenario baseline --scenario loss-10 --seconds 15
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from bench.netlab.commands import lab_unavailable
from bench.netlab.links import DEFAULT_QUEUE_MS
from bench.netlab.report import ScenarioResult, table
from bench.netlab.scenarios import DEFAULT_SCENARIOS, SCENARIOS, run_scenario
from bench.netlab.topology import exit_on_sigterm, remove_stale_labs

MIN_SECONDS = 5.0


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.netlab",
                                     description=__doc__.split("\n", 1)[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="scenarios:\n" + "\n".join(
                                         f"  {s.name:26} {s.what}" for s in SCENARIOS.values()))
    parser.add_argument("--scenario", action="append", choices=list(SCENARIOS), metavar="NAME",
                        help="run this scenario (repeatable; default: all but "
                             "nat-port-preserving-stun)")
    parser.add_argument("--seconds", type=float, default=30.0,
                        help="how long the viewers watch in each scenario (default 30)")
    parser.add_argument("--queue-ms", type=float, default=DEFAULT_QUEUE_MS,
                        help="queue of a shaped link, in ms of its rate "
                             f"(default {DEFAULT_QUEUE_MS:g})")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the results here")
    parser.add_argument("--run-dir", type=Path, metavar="DIR",
                        help="keep logs and statistics here (default: a new folder in /tmp)")
    args = parser.parse_args(argv)
    if args.seconds < MIN_SECONDS:
        parser.error(f"--seconds must be at least {MIN_SECONDS:g}")
    if not 1 <= args.queue_ms <= 10_000:
        parser.error("--queue-ms must be 1..10000")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    problem = lab_unavailable()
    if problem is not None:
        print(f"netlab: {problem}", file=sys.stderr)
        return 2
    exit_on_sigterm()
    for name in remove_stale_labs():
        print(f"removed namespace {name} left by an earlier run", flush=True)
    run_dir = args.run_dir or Path(tempfile.mkdtemp(prefix="netlab-"))
    run_dir.mkdir(parents=True, exist_ok=True)
    print(f"logs and statistics in {run_dir}", flush=True)
    results: list[ScenarioResult] = []
    try:
        for name in args.scenario or DEFAULT_SCENARIOS:
            scenario = SCENARIOS[name]
            print(f"{name}: {scenario.what} ...", flush=True)
            started = time.monotonic()
            result = run_scenario(scenario, seconds=args.seconds, run_dir=run_dir,
                                  queue_ms=args.queue_ms)
            results.append(result)
            print(f"{name}: {result.check} ({time.monotonic() - started:.0f} s)"
                  + (f": {result.error}" if result.error else ""), flush=True)
    except (KeyboardInterrupt, SystemExit):
        print("netlab: interrupted; the lab's namespaces and processes are removed",
              file=sys.stderr, flush=True)
        return 130
    print()
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(
            {"seconds": args.seconds, "queue_ms": args.queue_ms, "run_dir": str(run_dir),
             "scenarios": [r.as_json() for r in results]}, indent=2, ensure_ascii=False),
            encoding="utf-8")
    return 0 if all(r.check == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
