"""Voice benchmark: two real clients on virtual sound devices, measured mouth to ear.

    .venv/bin/python -m bench.voice [--seconds 60] [--only clean,loss,echo,ptt,device]
                                    [--json voice.json]

A private PulseAudio server (``bench/voice_rig.py``) gives each client a microphone and
a speaker made of null sinks; the two clients are separate processes
(``bench/voice_peer.py``) running the real session, microphone, speaker, jitter buffers,
echo cancellation and device watch, joined through the real signaling server. The rig
plays tone bursts into one client's "mouth" and records the other's "ear"; cross-
correlating the two recordings gives the mouth-to-ear delay of every burst, and
comparing each received burst with the original, 10 ms window by window, counts gaps
and concealment artefacts.

Scenarios: ``clean`` (both ways, with a stamped video for lip-sync), ``loss`` (3% of
RTP packets dropped in the transport), ``echo`` (one client's speaker fed back into
its microphone 40 ms later at -6 dB: ERLE), ``ptt`` (push-to-talk: key to sound at the
far end), ``device`` (the sound server killed and restarted mid-call).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.steal import StealWatch
from bench.voice_rig import PulseRig, RigAudio, RigError
from bench.voice_signals import (
    RATE,
    Burst,
    burst,
    burst_train,
    damaged_windows,
    find_burst,
    percentile,
    power_db,
    to_int16,
)

ROOT = Path(__file__).resolve().parents[1]
UP = burst(0.24, 400.0, 2400.0)  # what A says
DOWN = burst(0.24, 2400.0, 400.0)  # what B says
TARGETS = {"median_ms": 80.0, "p95_ms": 100.0, "loss_damaged_pct": 1.0, "erle_db": 20.0,
           "ptt_extra_ms": 20.0, "told_s": 2.0, "back_s": 3.0, "lip_sync_ms": 80.0}


def _normal_priority() -> None:
    """In a client's process before it starts: the scheduling an ordinary program gets
    (not the bench's own real time, which a child inherits)."""
    if os.sched_getscheduler(0) != os.SCHED_OTHER:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    if CLIENT_NICE != os.getpriority(os.PRIO_PROCESS, 0):
        os.setpriority(os.PRIO_PROCESS, 0, CLIENT_NICE)


class Peer:
    """One client process; its JSON lines are collected as they come."""

    def __init__(self, name: str, rig: PulseRig, server: str, *options: str) -> None:
        x = name.lower()
        command = [sys.executable, "-m", "bench.voice_peer", "--server", server,
                   "--room", "voice-bench", "--name", name, "--microphone", f"{x}_mic",
                   "--speaker", f"{x}_speaker", *options]
        self.name = name
        self.log = (SAVE or rig.folder) / f"peer-{x}.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log.open("ab")
        self.popen = subprocess.Popen(command, cwd=ROOT, env=rig.process_env(),
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=self._log, preexec_fn=_normal_priority)
        self.events: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True, name=f"peer-{x}").start()
        if REALTIME and not CLIENTS_ASK:
            PulseRig._give_priority(self.popen.pid)

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for raw in self.popen.stdout:
            try:
                event = json.loads(raw)
            except ValueError:
                continue
            with self._changed:
                self.events.append(event)
                self._changed.notify_all()

    def send(self, command: str) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.write(f"{command}\n".encode())
        self.popen.stdin.flush()

    def wait_for(self, match: Callable[[dict[str, Any]], bool], timeout: float,
                 what: str, after: float = 0.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for event in self.events:
                    if event.get("at", 0.0) >= after and match(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0 or self.popen.poll() is not None:
                    raise RuntimeError(f"{self.name}: no {what} within {timeout:g} s "
                                       f"(see {self.log})")
                self._changed.wait(left)

    def stats(self) -> dict[str, Any]:
        asked = time.monotonic()
        self.send("stats")
        return self.wait_for(lambda e: e["event"] == "stats", 10, "stats", asked)

    def stop(self) -> None:
        if self.popen.poll() is None:
            try:
                self.send("quit")
                self.popen.wait(timeout=15)
            except (OSError, subprocess.TimeoutExpired):
                self.popen.kill()
                self.popen.wait()
        self._log.close()


class Call:
    """Two peers in a room on the rig, hearing each other."""

    def __init__(self, rig: PulseRig, server: str, a: list[str], b: list[str]) -> None:
        self.a = Peer("A", rig, server, *a)
        self.b = Peer("B", rig, server, *b)

    def __enter__(self) -> Call:
        for peer, other in ((self.a, "B"), (self.b, "A")):
            peer.wait_for(lambda e, o=other: e["event"] == "hearing" and e["participant"] == o,
                          40, "the other's voice")
        return self

    def __exit__(self, *exc: object) -> None:
        self.a.stop()
        self.b.stop()


# -- measuring --------------------------------------------------------------------------------

def mouth_to_ear(audio: RigAudio, speaker: str, listener: str, shape: Burst,
                 times: list[float], each: list[list[float]] | None = None,
                 ) -> tuple[list[tuple[float, float]], int, int, int]:
    """(when said, delay in s) of the bursts said at ``times`` by ``speaker`` and heard
    by ``listener``; and missing bursts, damaged 10 ms windows, windows in all (``each``
    gets [when said, delay in ms, damaged windows] a burst). Mouth and ear are the two
    channels of one recording: their delay needs no clock."""
    wire = audio.wires[speaker + listener]
    mouth, ear = wire.samples(0), wire.samples(1)
    found: list[tuple[float, float]] = []
    missing = damaged = windows = 0
    for t in times:
        said = find_burst(mouth, shape, wire.index_at(t) - RATE // 5, RATE * 2 // 5)
        if said is None:  # the rig's own playback or recording failed, not the client
            print(f"{speaker}->{listener}: burst at {t:.2f} not found at the mouth",
                  file=sys.stderr)
            missing += 1
            continue
        got = find_burst(ear, shape, said[0], RATE // 2)
        if got is None:
            print(f"{speaker}->{listener}: burst at {t:.2f} not heard", file=sys.stderr)
            missing += 1
            continue
        found.append((wire.time_of(said[0]), (got[0] - said[0]) / RATE))
        d, w = damaged_windows(ear, mouth[said[0] : said[0] + shape.samples.size], got[0])
        damaged += d
        windows += w
        if each is not None:
            each.append([round(found[-1][0], 2), round(found[-1][1] * 1000, 1), d])
    return found, missing, damaged, windows


def summary(found: list[tuple[float, float]], missing: int, damaged: int,
            windows: int) -> dict[str, Any]:
    ms = [d * 1000 for _, d in found]
    return {"bursts": len(ms), "missing": missing,
            "median_ms": round(percentile(ms, 50), 1), "p95_ms": round(percentile(ms, 95), 1),
            "max_ms": round(max(ms), 1) if ms else None,
            "damaged_windows": damaged, "windows": windows,
            "damaged_pct": round(100 * damaged / windows, 2) if windows else None}


def conversation(audio: RigAudio, seconds: float, *, a: bool = True, b: bool = True,
                 period: float = 2.0) -> tuple[float, list[float], list[float]]:
    """A and B take turns, a burst every ``period`` each, B half a period after A (a
    second apart, as people take turns: an echo canceller rightly holds the near end
    down for a moment after the far end spoke); the start and each side's burst times."""
    count = max(1, int(seconds / period))
    start = time.monotonic() + 1.0  # the rig's own output runs a few hundred ms behind
    times_a = [start + i * period for i in range(count)] if a else []
    times_b = [start + period / 2 + i * period for i in range(count)] if b else []
    if a:
        audio.mouths["a"].say(to_int16(burst_train(count, period, UP)[0]), start)
    if b:
        audio.mouths["b"].say(to_int16(burst_train(count, period, DOWN, start=period / 2)[0]),
                              start)
    return start, times_a, times_b


def wait(seconds: float) -> None:
    time.sleep(seconds)


# -- scenarios -------------------------------------------------------------------------------

SAVE: Path | None = None  # --save: where the rig's recordings go, for a closer look


def save(audio: RigAudio, name: str, **times: list[float]) -> None:
    if SAVE is None:
        return
    SAVE.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = {f"times_{k}": np.array(v) for k, v in times.items()}
    for wire, rec in audio.wires.items():
        arrays[f"mouth_{wire}"] = rec.samples(0)
        arrays[f"ear_{wire}"] = rec.samples(1)
        arrays[f"clock_{wire}"] = np.array(rec.clock())
    np.savez_compressed(SAVE / f"{name}.npz", **arrays)


PEER_OPTIONS: list[str] = ["--trace"] if os.environ.get("VOICE_TRACE") else []
#: The rig and its sound server run in real time (as root), as a desktop's sound server
#: does; --no-realtime runs everything at normal priority.
REALTIME = os.geteuid() == 0
#: The clients start as an ordinary program does, at normal priority, and ask for real
#: time for their own sound threads (as on a desktop). --clients-realtime starts the
#: whole client in real time instead (every thread: video too), for comparison.
CLIENTS_ASK = True
#: --client-nice: the clients' nice value when they start (0, as an ordinary program).
CLIENT_NICE = 0


def clean(rig: PulseRig, server: str, seconds: float, loss: float = 0.0) -> dict[str, Any]:
    options = [*PEER_OPTIONS, *(["--loss", str(loss)] if loss else [])]
    audio = RigAudio()
    audio.open()
    try:
        with Call(rig, server, [*options, *([] if loss else ["--video"])], options) as call:
            wait(3.0)  # devices started
            # a few words each first, not measured: a call's first words teach the echo
            # canceller and noise suppressor the room, and the jitter buffers the link
            conversation(audio, 6.0)
            wait(7.5)
            steal = StealWatch().start()
            began, times_a, times_b = conversation(audio, seconds)
            wait(seconds + 1.0)
            steal.stop()
            stats_a, stats_b = call.a.stats(), call.b.stats()
    finally:
        audio.close()
    save(audio, "loss" if loss else "clean", a=times_a, b=times_b)
    each_a: list[list[float]] = []
    each_b: list[list[float]] = []
    result = {"a_to_b": {**summary(*mouth_to_ear(audio, "a", "b", UP, times_a, each_a)),
                         "each": each_a},
              "b_to_a": {**summary(*mouth_to_ear(audio, "b", "a", DOWN, times_b, each_b)),
                         "each": each_b},
              "peer_a": stats_a, "peer_b": stats_b,
              "steal": {**steal.summary(began, began + seconds + 1.0),
                        "at": [[round(t, 2), round(1000 * s)] for t, s in steal.stolen]}}
    video = [v for v in stats_b.get("video", []) if v.get("latency_ms")]
    if video and result["a_to_b"]["bursts"]:
        video_ms = video[0]["latency_ms"]["p50"]
        result["lip_sync"] = {"video_ms": video_ms, "audio_ms": result["a_to_b"]["median_ms"],
                              "audio_minus_video_ms": round(
                                  result["a_to_b"]["median_ms"] - video_ms, 1)}
    return result


def echo(rig: PulseRig, server: str, seconds: float, cancel: bool = True) -> dict[str, Any]:
    """B talks; A's speaker comes back into A's microphone; A says nothing. What B hears
    back is what A's echo canceller left."""
    options = [] if cancel else ["--no-echo-cancellation", "--no-noise-suppression"]
    audio = RigAudio()
    audio.open()
    rig.add_echo("a", delay_ms=40, gain_db=-6.0)
    try:
        with Call(rig, server, options, []):
            wait(2.0)
            start, _, times_b = conversation(audio, seconds, a=False, period=0.5)
            wait(seconds + 1.0)
    finally:
        rig.remove_echo()
        audio.close()
    settle = 8.0 if seconds > 12 else seconds / 3
    lo, hi = start + settle, times_b[-1]
    wire = audio.wires["ab"]  # left: A's microphone (only the echo); right: B's ear
    span = slice(wire.index_at(lo), wire.index_at(hi))
    at_mic, left = wire.samples(0)[span], wire.samples(1)[span]
    return {"echo_at_mic_dbfs": round(power_db(at_mic), 1),
            "echo_heard_back_dbfs": round(power_db(left), 1),
            "erle_db": round(power_db(at_mic) - power_db(left), 1),
            "seconds_measured": round(hi - lo, 1)}


def push_to_talk(rig: PulseRig, server: str, presses: int,
                 mouth_to_ear_ms: float | None) -> dict[str, Any]:
    """A holds the key now and then; A's mouth talks all the time. Key down (A's client
    unmutes) to the first sound leaving B's speaker (B's client tells when, with the
    device's output time), on the machine's one monotonic clock."""
    audio = RigAudio()
    audio.open()
    latencies: list[float] = []
    try:
        with Call(rig, server, ["--push-to-talk"], []) as call:
            wait(3.0)
            count = int(presses * 2.6 / 0.25) + 8
            audio.mouths["a"].say(to_int16(burst_train(count, 0.25, UP)[0]),
                                  time.monotonic())
            keys = []
            wait(2.0)  # A's noise suppressor has heard the room before the first press
            for i in range(presses):
                wait(1.0 + 0.07 * (i % 5))  # not always at the same place in a burst
                call.a.send("talk")
                keys.append(call.a.wait_for(lambda e: e["event"] == "talk" and e["held"], 5,
                                            "the key down", time.monotonic() - 1)["at"])
                wait(1.2)
                call.a.send("quiet")
                call.a.wait_for(lambda e: e["event"] == "talk" and not e["held"], 5,
                                "the key up", time.monotonic() - 1)
            wait(0.5)
    finally:
        audio.close()
    save(audio, "ptt", keys=keys)
    # B's client tells when sound starts leaving its speaker after a silence (the
    # device's own time of output): key down in A's client to that, on one clock
    onsets = [e["out_at"] for e in call.b.events if e["event"] == "onset"]
    for key in keys:
        after = [t for t in onsets if t > key]
        if after and after[0] - key < 1.0:
            latencies.append(after[0] - key)
    ms = [v * 1000 for v in latencies]
    result: dict[str, Any] = {"presses": presses, "heard": len(ms),
                              "median_ms": round(percentile(ms, 50), 1),
                              "max_ms": round(max(ms), 1) if ms else None,
                              "each_ms": [round(v, 1) for v in ms]}
    if mouth_to_ear_ms is not None:
        result["limit_ms"] = round(mouth_to_ear_ms + TARGETS["ptt_extra_ms"], 1)
    return result


def device_loss(rig: PulseRig, server: str, down_for: float = 3.0) -> dict[str, Any]:
    """The sound server dies mid-call and comes back: when each client says so, and when
    A's voice is in B's ear again."""
    audio = RigAudio()
    audio.open()
    result: dict[str, Any] = {}
    try:
        with Call(rig, server, [], []) as call:
            wait(3.0)
            conversation(audio, 3.0, b=False, period=0.25)
            wait(3.0)
            audio.close()
            killed = time.monotonic()
            rig.stop()
            for peer in (call.a, call.b):
                for device in ("microphone", "speaker"):
                    event = peer.wait_for(lambda e, d=device: e["event"] == "voice"
                                          and e["device"] == d and e["change"] == "lost",
                                          10, f"{device} lost", killed)
                    result[f"{peer.name}_{device}_told_s"] = round(event["at"] - killed, 2)
            wait(max(0.0, killed + down_for - time.monotonic()))
            rig.start()
            up = time.monotonic()
            audio = RigAudio()
            audio.reopen()
            talk_from = time.monotonic()
            count = 40
            audio.mouths["a"].say(to_int16(burst_train(count, 0.25, UP)[0]), talk_from)
            for peer in (call.a, call.b):
                for device in ("microphone", "speaker"):
                    event = peer.wait_for(lambda e, d=device: e["event"] == "voice"
                                          and e["device"] == d and e["change"] == "back",
                                          15, f"{device} back", up)
                    result[f"{peer.name}_{device}_back_s"] = round(event["at"] - up, 2)
            wait(max(0.0, talk_from + count * 0.25 - time.monotonic()))
            found, _, _, _ = mouth_to_ear(audio, "a", "b", UP,
                                          [talk_from + i * 0.25 for i in range(count)])
            first = min((said + delay for said, delay in found), default=None)
            result["voice_heard_again_s"] = round(first - up, 2) if first else None
            result["rig_restart_s"] = round(talk_from - up, 2)
    finally:
        audio.close()
    return result


# -- the report -------------------------------------------------------------------------------

def verdicts(results: dict[str, Any]) -> list[tuple[str, str, bool]]:
    rows: list[tuple[str, str, bool]] = []
    for way in ("a_to_b", "b_to_a"):
        r = results.get("clean", {}).get(way)
        if r:
            rows.append((f"mouth-to-ear {way.replace('_', ' ')} median / p95",
                         f"{r['median_ms']} / {r['p95_ms']} ms",
                         r["median_ms"] <= TARGETS["median_ms"] and r["p95_ms"] <= TARGETS[
                             "p95_ms"] and r["missing"] == 0))
            rows.append((f"gaps {way.replace('_', ' ')}",
                         f"{r['damaged_windows']} of {r['windows']} windows damaged, "
                         f"{r['missing']} bursts missing", r["damaged_windows"] == 0
                         and r["missing"] == 0))
    lip = results.get("clean", {}).get("lip_sync")
    if lip:
        rows.append(("lip-sync (audio - video)", f"{lip['audio_minus_video_ms']} ms",
                     abs(lip["audio_minus_video_ms"]) <= TARGETS["lip_sync_ms"]))
    loss = results.get("loss")
    if loss:
        damaged = sum(loss[w]["damaged_windows"] for w in ("a_to_b", "b_to_a"))
        windows = sum(loss[w]["windows"] for w in ("a_to_b", "b_to_a"))
        pct = 100 * damaged / windows if windows else math.nan
        rows.append(("3% loss: windows damaged", f"{pct:.2f}% ({damaged} of {windows})",
                     pct <= TARGETS["loss_damaged_pct"]))
    if "echo" in results:
        rows.append(("ERLE (echo cancellation on)", f"{results['echo']['erle_db']} dB",
                     results["echo"]["erle_db"] >= TARGETS["erle_db"]))
    ptt = results.get("ptt")
    if ptt and ptt.get("limit_ms"):
        rows.append(("push-to-talk key to far ear", f"{ptt['median_ms']} ms median, "
                     f"max {ptt['max_ms']} (limit {ptt['limit_ms']})",
                     ptt["heard"] == ptt["presses"] and ptt["max_ms"] <= ptt["limit_ms"]))
    dev = results.get("device")
    if dev:
        told = max(v for k, v in dev.items() if k.endswith("_told_s"))
        back = max(v for k, v in dev.items() if k.endswith("_back_s"))
        heard = dev["voice_heard_again_s"]
        rows.append(("device lost: told within", f"{told} s", told <= TARGETS["told_s"]))
        rows.append(("device back: voice heard again after", f"{heard} s (told back within "
                     f"{back} s)", heard is not None and heard <= TARGETS["back_s"]))
    return rows


async def serve(stop: asyncio.Event, url: list[str], ready: threading.Event) -> None:
    from signaling_server.server import ServerConfig, start_server

    server = await start_server(ServerConfig(port=0))
    url.append(server.url)
    ready.set()
    await stop.wait()
    await server.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="per measured call")
    parser.add_argument("--only", default="clean,loss,echo,ptt,device")
    parser.add_argument("--presses", type=int, default=10)
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument("--save", type=Path, help="keep the recordings (npz) in this folder")
    parser.add_argument("--no-realtime", action="store_true",
                        help="the rig and its sound server at normal priority too "
                             "(see REALTIME)")
    parser.add_argument("--clients-realtime", action="store_true",
                        help="start the whole clients in real time (by default they start "
                             "at normal priority and ask for real time for their sound "
                             "threads, as on a desktop; SURGERY_TEACH_AUDIO_PRIORITY=normal "
                             "has them not ask)")
    parser.add_argument("--client-nice", type=int, default=0,
                        help="start the clients at this nice value")
    parser.add_argument("--no-processing", action="store_true",
                        help="clients without echo cancellation and noise suppression")
    args = parser.parse_args(argv)
    global SAVE
    SAVE = args.save
    global REALTIME
    REALTIME = REALTIME and not args.no_realtime
    global CLIENTS_ASK
    CLIENTS_ASK = not args.clients_realtime
    global CLIENT_NICE
    CLIENT_NICE = args.client_nice
    if args.no_processing:
        PEER_OPTIONS.extend(["--no-echo-cancellation", "--no-noise-suppression"])
    try:
        rig = PulseRig()
    except RigError as exc:
        print(f"voice bench: {exc}", file=sys.stderr)
        return 2
    os.environ.update(rig.env)  # before PortAudio starts in this process
    if REALTIME:  # the rig's own recordings must not drop samples either
        PulseRig._give_priority(os.getpid())
    loop = asyncio.new_event_loop()
    stop, url, ready = asyncio.Event(), [], threading.Event()
    threading.Thread(target=loop.run_until_complete, args=(serve(stop, url, ready),),
                     daemon=True).start()
    ready.wait(30)
    wanted = args.only.split(",")
    results: dict[str, Any] = {}
    try:
        rig.start()
        server = url[0]
        if "clean" in wanted:
            results["clean"] = clean(rig, server, args.seconds)
        if "loss" in wanted:
            results["loss"] = clean(rig, server, args.seconds, loss=0.03)
        if "echo" in wanted:
            results["echo"] = echo(rig, server, max(20.0, args.seconds / 2))
            results["echo_off"] = echo(rig, server, 10.0, cancel=False)
        if "ptt" in wanted:
            m2e = results.get("clean", {}).get("a_to_b", {}).get("median_ms")
            results["ptt"] = push_to_talk(rig, server, args.presses, m2e)
        if "device" in wanted:
            results["device"] = device_loss(rig, server)
    finally:
        rig.close()
        loop.call_soon_threadsafe(stop.set)
    rows = verdicts(results)
    width = max((len(r[0]) for r in rows), default=10)
    for what, figure, ok in rows:
        print(f"{'PASS' if ok else 'FAIL'}  {what:<{width}}  {figure}")
    for name in ("clean", "loss"):
        steal = results.get(name, {}).get("steal")
        if steal and steal["total_ms"]:
            print(f"note  {name} call: the hypervisor took {steal['total_ms']:g} ms of the "
                  f"processors (worst second {steal['worst_second_ms']:g} ms); every thread "
                  "stops meanwhile, real-time ones too")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0 if all(ok for _, _, ok in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
