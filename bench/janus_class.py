"""A class through Janus: one surgeon at 1280x720, N viewers: ``python -m bench.janus_class``.

Runs as root in the network lab (``bench.netlab``: Janus skips loopback for ICE): Janus
in the data centre, the surgeon's client (:class:`ClassMedia`, every layer published once)
at one hospital, and the receivers at others, spread over a few processes
(:mod:`bench.janus_class_peers`). Each phase adds receivers to the same room and measures
over the same stretch:

* the surgeon's process CPU (the target: with 50 viewers at most 1.1x that with 1);
* Janus's CPU, and per viewer (the slope between the phases);
* every receiver's frame rate (target >= 29): light receivers count RTP frames from the
  SRTP packets' clear-text headers, decrypting and decoding nothing, several to a process
  and at a lower priority (``--nice``: in a real class they are other machines), so the
  two cores measure fan-out; ``media fps`` is the same frames by their RTP timestamps (what
  Janus forwarded) and ``direct fps`` the surgeon's source as the direct decoder saw it;
  the light receivers' own CPU is reported too;
* stamp->decoded delay on sampled decoders through Janus, and on one direct
  peer-to-peer decoder in the same process and run: the difference is what Janus adds
  (target <= 5 ms p50).

Then it projects a 200-viewer class: Janus's outgoing bandwidth for a few layer mixes
(from the layers' measured bitrates) and its CPU (from the per-viewer slope). Prints a
table and writes JSON (``--json``). The machine's load average is printed with it.

    sudo .venv/bin/python -m bench.janus_class --viewers 1,50 --seconds 15
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.netlab.commands import in_namespace, lab_unavailable, run
from bench.netlab.processes import PYTHON, LabProcess, lab_env
from bench.netlab.topology import DC_IP, Lab, Nat, exit_on_sigterm

API_PORT = 8188
DIRECT_PORT = 8799
PEERS = "bench.janus_class_peers"
PER_PROCESS = 10
"""Light receivers per process (memory and one loop's worth of packets)."""
NICE = 10
"""Light receivers' niceness: they stand for viewers' own machines, so on this one they
yield the CPU to the surgeon's client and Janus rather than compete with them."""
MIXES = {"all top": (1.0, 0.0, 0.0), "70/20/10": (0.7, 0.2, 0.1), "50/30/20": (0.5, 0.3, 0.2)}


def start_janus(lab: Lab, run_dir: Path) -> tuple[LabProcess, Path]:
    """Janus in the lab's data centre, from the generated configuration."""
    config_dir = run_dir / "janus"
    server = LabProcess.start(lab, "media-server", in_namespace(lab.dc_ns, [
        PYTHON, "-m", "signaling_server", "media-server", "--config-dir", str(config_dir),
        "--listen", DC_IP, "--port", str(API_PORT), "--start"]), run_dir,
        env=lab_env(run_dir))
    if not server.wait_for("media server ready", 60):
        raise RuntimeError(f"Janus did not start: {server.tail(10)}")
    return server, config_dir


def admit(lab: Lab, run_dir: Path, config_dir: Path, count: int) -> dict[str, Any]:
    """Create the class room and tokens for the surgeon and ``count`` viewers."""
    process = LabProcess.start(lab, "admit", in_namespace(lab.dc_ns, [
        PYTHON, "-m", PEERS, "admit", "--config-dir", str(config_dir), "--count",
        str(count)]), run_dir, env=lab_env(run_dir))
    if process.wait(120) != 0:
        raise RuntimeError(f"admitting the class failed: {process.tail(10)}")
    answer: dict[str, Any] = json.loads(process.tail(1))
    return answer


def janus_pid(ns: str) -> int:
    for pid in run("ip", "netns", "pids", ns).split():
        with open(f"/proc/{pid}/comm", encoding="ascii") as comm:
            if comm.read().strip() == "janus":
                return int(pid)
    raise RuntimeError("no janus process in the data centre")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peers_command(mode: str, room_id: int, *extra: str) -> list[str]:
    return [PYTHON, "-m", PEERS, mode, "--api-url", f"ws://{DC_IP}:{API_PORT}",
            "--room-id", str(room_id), *extra]


@dataclass(frozen=True)
class Spread:
    """How the light receivers run on this machine."""

    per_process: int = PER_PROCESS
    nice: int = NICE


def niced(niceness: int, command: list[str]) -> list[str]:
    """``command`` at a lower CPU priority (none when ``niceness`` is 0)."""
    return ["nice", "-n", str(niceness), *command] if niceness else command


def peers_env(run_dir: Path, tokens: list[str]) -> dict[str, str]:
    return {**lab_env(run_dir), "JANUS_TOKENS": ",".join(tokens)}


def _phase(lab: Lab, run_dir: Path, room: dict[str, Any], viewers: int, seconds: float,
           surgeon: LabProcess, janus: int, decoders: int, spread: Spread) -> dict[str, Any]:
    """``viewers`` receivers (``decoders`` of them full decoders, plus a direct one)."""
    tokens = room["tokens"]
    names = [f"viewer{n}" for n in range(1, viewers + 1)]
    lights = viewers - decoders
    per = spread.per_process
    groups = [names[i:min(i + per, lights)] for i in range(0, lights, per)]
    processes = []
    sample_site = lab.sites["sample"]
    or_ip = lab.sites["or"].lan_ip
    sampled = names[lights:]
    processes.append(LabProcess.start(lab, f"sample-{viewers}", in_namespace(
        sample_site.lan_ns, peers_command(
            "light", room["room_id"], "--count", "0", "--decoders", str(len(sampled)),
            "--start-layer", "0", "--direct", f"{or_ip}:{DIRECT_PORT}")),
        run_dir, env=peers_env(run_dir, [tokens[n] for n in sampled])))
    for number, group in enumerate(groups):
        site = lab.sites[f"class{number % CLASS_SITES + 1}"]
        processes.append(LabProcess.start(lab, f"light-{viewers}-{number}", in_namespace(
            site.lan_ns, niced(spread.nice, peers_command(
                "light", room["room_id"], "--count", str(len(group))))),
            run_dir, env=peers_env(run_dir, [tokens[n] for n in group])))
    for process in processes:
        if not process.wait_for('{"receiving"', 180):
            raise RuntimeError(f"{process.name} did not start receiving: {process.tail(10)}")
    time.sleep(WARMUP)
    pid = surgeon.popen.pid
    # ip netns exec and nice exec the program: each process's pid is the Python one
    light_pids = [process.popen.pid for process in processes[1:]]
    cpu_s, cpu_j, wall = cpu_seconds(pid), cpu_seconds(janus), time.monotonic()
    cpu_l = sum(cpu_seconds(p) for p in light_pids)
    cpu_d = cpu_seconds(processes[0].popen.pid)
    time.sleep(seconds)
    wall = time.monotonic() - wall
    publisher = (cpu_seconds(pid) - cpu_s) / wall * 100
    janus_cpu = (cpu_seconds(janus) - cpu_j) / wall * 100
    light_cpu = (sum(cpu_seconds(p) for p in light_pids) - cpu_l) / wall * 100
    decoders_cpu = (cpu_seconds(processes[0].popen.pid) - cpu_d) / wall * 100
    results = []
    for process in processes:
        process.stop(60)
        results.append(json.loads(process.tail(1)))
    light = [r for result in results for r in result["light"]]
    decoded = [d["stats"] for result in results for d in result["decoders"]]
    direct = [d for result in results for d in result.get("direct", [])]
    light_pps = sum(r.get("packets_per_s", 0.0) for r in light)
    fps = [r["fps"] for r in light] + [d["fps"] for d in decoded]
    return {
        "viewers": viewers, "publisher_cpu_percent": round(publisher, 1),
        "janus_cpu_percent": round(janus_cpu, 1),
        "light_processes": len(light_pids), "light_cpu_percent": round(light_cpu, 1),
        "decoders_cpu_percent": round(decoders_cpu, 1),
        "light_us_per_packet": round(light_cpu / 100 * 1e6 / light_pps, 1)
        if light_pps else None,
        "min_fps": min(fps) if fps else None,
        "median_fps": sorted(fps)[len(fps) // 2] if fps else None,
        "below_29_fps": sum(1 for f in fps if f < 29),
        "light_min_media_fps": min((r["media_fps"] for r in light), default=None),
        "direct_fps": _median([d.get("fps") for d in direct]),
        "lost_packets": sum(r["lost"] for r in light),
        "light_kbit_per_s": round(sum(r["kbit_per_s"] for r in light) / len(light), 1)
        if light else None,
        "janus_p50_ms": _median([(d["latency_ms"] or {}).get("p50") for d in decoded]),
        "direct_p50_ms": _median([(d["latency_ms"] or {}).get("p50") for d in direct]),
        "decoders": decoded, "direct": direct,
    }


def _median(values: list[float | None]) -> float | None:
    present = sorted(v for v in values if v is not None)
    return present[len(present) // 2] if present else None


CLASS_SITES = 4
WARMUP = 6.0


def project(phases: list[dict[str, Any]], layers: list[dict[str, Any]],
            viewers: int = 200) -> dict[str, Any]:
    """Janus's bandwidth and CPU for ``viewers``, from the measured layers and slope."""
    rates = [layer["kbit_per_s"] for layer in layers]
    audio_kbit = 40.0
    mixes = {}
    for name, shares in MIXES.items():
        usable = [s for s in shares[:len(rates)]]
        per_viewer = sum(s * r for s, r in zip(usable, rates, strict=False)) / max(
            1e-9, sum(usable)) + audio_kbit
        mixes[name] = round(per_viewer * viewers / 1000, 1)
    first, last = phases[0], phases[-1]
    per_viewer_cpu = None
    if last["viewers"] > first["viewers"]:
        per_viewer_cpu = (last["janus_cpu_percent"] - first["janus_cpu_percent"]) / (
            last["viewers"] - first["viewers"])
    janus_cpu = None if per_viewer_cpu is None else round(
        first["janus_cpu_percent"] + per_viewer_cpu * (viewers - first["viewers"]), 0)
    return {"viewers": viewers, "janus_out_mbit_per_s": mixes,
            "janus_cpu_percent_per_viewer": None if per_viewer_cpu is None
            else round(per_viewer_cpu, 2),
            "janus_cpu_percent": janus_cpu,
            "janus_cores": None if janus_cpu is None else round(janus_cpu / 100, 2)}


def measure(viewer_counts: list[int], seconds: float, decoders: int,
            run_dir: Path, spread: Spread = Spread()) -> dict[str, Any]:
    most = max(viewer_counts)
    load_at_start = os.getloadavg()
    sites = [("or", Nat.NONE), ("sample", Nat.NONE),
             *((f"class{n}", Nat.NONE) for n in range(1, CLASS_SITES + 1))]
    with Lab(sites) as lab:
        server, config_dir = start_janus(lab, run_dir)
        janus = janus_pid(lab.dc_ns)
        room = admit(lab, run_dir, config_dir, most)
        surgeon = LabProcess.start(lab, "surgeon", in_namespace(lab.sites["or"].lan_ns,
            peers_command("surgeon", room["room_id"], "--size", "1280x720",
                          "--direct-port", str(DIRECT_PORT))),
            run_dir, env=peers_env(run_dir, [room["tokens"]["surgeon"]]))
        if not surgeon.wait_for('{"published"', 60):
            raise RuntimeError(f"the surgeon did not publish: {surgeon.tail(10)}")
        phases = [_phase(lab, run_dir, room, count, seconds, surgeon, janus,
                         min(decoders, count), spread) for count in viewer_counts]
        surgeon.stop(30)
        published = json.loads(surgeon.tail(1))
        server.stop()
    first, last = phases[0], phases[-1]
    return {
        "load_average": os.getloadavg(), "load_average_at_start": load_at_start,
        "cpus": os.cpu_count(),
        "light_receivers_per_process": spread.per_process, "light_receivers_nice": spread.nice,
        "phases": phases, "layers": published["layers"],
        "publisher_cpu_ratio": round(last["publisher_cpu_percent"]
                                     / max(0.1, first["publisher_cpu_percent"]), 2),
        "janus_added_p50_ms": None if last["janus_p50_ms"] is None
        or last["direct_p50_ms"] is None
        else round(last["janus_p50_ms"] - last["direct_p50_ms"], 1),
        "projection": project(phases, published["layers"]),
    }


def table(result: dict[str, Any]) -> str:
    rows = ["viewers  publisher CPU  Janus CPU  min fps  <29 fps  lost pkts  "
            "Janus p50 ms  direct p50 ms  light min media fps  direct fps"]
    for p in result["phases"]:
        rows.append(f"{p['viewers']:>7}  {p['publisher_cpu_percent']:>12}%  "
                    f"{p['janus_cpu_percent']:>8}%  {p['min_fps']!s:>7}  "
                    f"{p['below_29_fps']:>7}  {p['lost_packets']:>9}  "
                    f"{p['janus_p50_ms']!s:>12}  {p['direct_p50_ms']!s:>13}  "
                    f"{p.get('light_min_media_fps')!s:>19}  {p.get('direct_fps')!s:>10}")
    proj = result["projection"]
    rows += ["", "layers: " + ", ".join(f"{layer['size']} {layer['kbit_per_s']} kbit/s, "
                                        f"{layer['keyframes']} keyframes"
                                        for layer in result["layers"]),
             f"publisher CPU ratio (most / fewest viewers): {result['publisher_cpu_ratio']}",
             f"Janus adds (p50, sampled decoders - direct): {result['janus_added_p50_ms']} ms",
             f"projected {proj['viewers']} viewers: Janus out "
             + ", ".join(f"{k}: {v} Mbit/s" for k, v in proj["janus_out_mbit_per_s"].items())
             + f"; Janus CPU {proj['janus_cpu_percent']}% of a core "
               f"({proj['janus_cpu_percent_per_viewer']}% per viewer)",
             f"light receivers: {result['light_receivers_per_process']} per process, "
             f"nice {result['light_receivers_nice']}; their CPU: "
             + ", ".join(f"{p['light_cpu_percent']}% ({p['viewers']} viewers, "
                         f"{p['light_processes']} processes, "
                         f"{p['light_us_per_packet']} µs a packet)"
                         for p in result["phases"]),
             "the sampled and direct decoders' process: "
             + ", ".join(f"{p['decoders_cpu_percent']}% ({p['viewers']} viewers)"
                         for p in result["phases"]),
             "load average at the start: "
             + " ".join(f"{v:.1f}" for v in result["load_average_at_start"])
             + ", at the end: " + " ".join(f"{v:.1f}" for v in result["load_average"])
             + f" on {result['cpus']} cores"]
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", default="1,50", help="viewers in each phase, e.g. 1,50")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured per phase")
    parser.add_argument("--decoders", type=int, default=2,
                        help="sampled decoders through Janus (besides the direct one)")
    parser.add_argument("--per-process", type=int, default=PER_PROCESS,
                        help="light receivers per process")
    parser.add_argument("--nice", type=int, default=NICE,
                        help="niceness of the light receivers' processes (0: none)")
    parser.add_argument("--json", default=None, help="write the results here too")
    parser.add_argument("--run-dir", default=None,
                        help="keep every process's log here (default: a temporary folder)")
    args = parser.parse_args()
    problem = lab_unavailable()
    if problem is None and shutil.which("janus") is None:
        problem = "Janus is not installed: apt-get install janus (make setup installs it)"
    if problem is not None:
        print(f"cannot run: {problem}", file=sys.stderr)
        return 2
    counts = sorted({int(v) for v in args.viewers.split(",")})
    spread = Spread(per_process=max(1, args.per_process), nice=args.nice)
    exit_on_sigterm()
    if args.run_dir:
        Path(args.run_dir).mkdir(parents=True, exist_ok=True)
        result = measure(counts, args.seconds, args.decoders, Path(args.run_dir), spread)
    else:
        with tempfile.TemporaryDirectory(prefix="janus-class-") as folder:
            result = measure(counts, args.seconds, args.decoders, Path(folder), spread)
    print(table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
