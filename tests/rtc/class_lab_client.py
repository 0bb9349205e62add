"""A lab participant with a voice, for the class-mode tests.

Run as ``python -m tests.rtc.class_lab_client``.

The command-line client has no microphone and no way to ask for class mode; this one
joins with a real tone as its microphone (``--tone HZ``), the synthetic laparoscope
(``--source``, the surgeon), records what it has (``--record DIR``, plain: no patient)
and asks for class mode on SIGUSR1 and gives it up on SIGUSR2 (surgeon or mentor).

It says on stdout, one line each: ``route class|peer (phase N)`` (the phase counts
route changes, from 1), ``peers closed (phase N)`` (all its peer-to-peer connections
gone: Janus carries everything), ``peers open (phase N)`` (a picture arrives peer to
peer), and ``heard NAME via class|peer (phase N)`` once it received 3 s of someone's
voice on a track that arrived in that phase; ``watching NAME on handle H of session S``
for each Janus subscription, ``pictures on handle H`` once pictures come on it and
``layer switch on handle H: now LAYER`` when it moves between layers. At the end it
writes a JSON report: for each voice heard, its tracks (route, frames, the share of its
power at each ``--listen`` frequency) and the longest gap between audio frames across all
its tracks.
The room token comes from ``SURGERY_TEACH_TOKEN``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from surgery_teach.audio import ToneTrack
from surgery_teach.audio.analysis import tone_power
from surgery_teach.capture import open_source
from surgery_teach.media.encoder import EncoderSettings, SharedEncoder
from surgery_teach.protocol.messages import ParticipantInfo, Role
from surgery_teach.recording.live import SessionRecording
from surgery_teach.rtc.session import LiveSession, SessionConfig

HEARD_SECONDS = 3.0
"""Seconds of voice on one track before ``heard`` is said."""


class Voices:
    """Every voice track this participant gets, with when each frame arrived."""

    def __init__(self, session: LiveSession, frequencies: list[float]) -> None:
        self.session = session
        self.frequencies = frequencies
        self.tracks: dict[str, list[dict[str, Any]]] = {}
        self.arrivals: dict[str, list[float]] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.phase = 1
        """Counts the routes: 1 until the first ``route``, 2 after it..."""
        self.phase_began = [time.monotonic()]
        self.phase_wall = [time.time()]  # the same moments on the recording's clock

    def on_route(self, mode: str, why: str) -> None:
        self.phase += 1
        self.phase_began.append(time.monotonic())
        self.phase_wall.append(time.time())
        print(f"route {mode} (phase {self.phase}) {why}".strip(), flush=True)

    def on_audio(self, track: MediaStreamTrack, who: ParticipantInfo) -> None:
        entry: dict[str, Any] = {"route": self.session.route, "phase": self.phase,
                                 "frames": 0, "seconds": 0.0, "samples": []}
        self.tracks.setdefault(who.name, []).append(entry)
        task = asyncio.ensure_future(self._read(track, who.name, entry))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _read(self, track: MediaStreamTrack, name: str, entry: dict[str, Any]) -> None:
        arrivals = self.arrivals.setdefault(name, [])
        rate = 48000
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                arrivals.append(time.monotonic())
                entry["frames"] += 1
                rate = frame.sample_rate
                before = entry["seconds"]
                entry["seconds"] += frame.samples / rate
                samples = frame.to_ndarray().reshape(-1, len(frame.layout.channels))[:, 0]
                if 1.0 <= before < HEARD_SECONDS:  # after the first second
                    entry["samples"].append(samples.astype(np.float64))
                if before < HEARD_SECONDS <= entry["seconds"]:
                    print(f"heard {name} via {entry['route']} (phase {entry['phase']})",
                          flush=True)
        entry["rate"] = rate

    def report(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, tracks in self.tracks.items():
            arrivals = sorted(self.arrivals.get(name, []))
            gaps = np.diff(arrivals) if len(arrivals) > 1 else np.array([0.0])
            at = arrivals[int(gaps.argmax())] if len(arrivals) > 1 else 0.0
            phase = sum(1 for began in self.phase_began if began <= at)
            result[name] = {
                "longest_gap_s": round(float(gaps.max()), 3),
                "longest_gap_in": {"phase": phase, "after_s": round(
                    at - self.phase_began[max(0, phase - 1)], 2)},
                "tracks": [{
                    "route": t["route"], "phase": t["phase"], "frames": t["frames"],
                    "seconds": round(t["seconds"], 1),
                    "tone": {str(f): round(tone_power(np.concatenate(t["samples"]),
                                                      t.get("rate", 48000), f), 3)
                             for f in self.frequencies} if t["samples"] else {},
                } for t in tracks]}
        return result


class Handles:
    """Says each Janus subscription this participant watches through, and when pictures
    come on it: ``watching NAME on handle H of session S``, ``pictures on handle H``."""

    def __init__(self, session: LiveSession) -> None:
        self.session = session
        self.seen: set[int] = set()
        self.pictured: set[int] = set()
        self.switches: dict[int, int] = {}

    def say(self) -> None:
        media = self.session.class_media
        for feed in list(media.feeds.values()) if media is not None else []:
            handle = feed.subscription.handle
            if handle.id not in self.seen:
                self.seen.add(handle.id)
                who = self.session.participants.get(feed.feed.display)
                print(f"watching {who.name if who else '?'} on handle {handle.id} of "
                      f"session {handle.session.id}", flush=True)
            if handle.id not in self.pictured and any(
                    w.receiver is not None and w.receiver.stats.frames > 0
                    for w in feed.sources.values()):
                self.pictured.add(handle.id)
                print(f"pictures on handle {handle.id}", flush=True)
            switched = sum(w.switches for w in feed.sources.values())
            if switched != self.switches.get(handle.id, 0):
                self.switches[handle.id] = switched
                layers = ", ".join(f"{w.layer}" for w in feed.layers())
                print(f"layer switch on handle {handle.id}: now {layers}", flush=True)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    encoders = []
    if args.source:
        source = open_source(args.source)
        source.start()
        encoders.append(SharedEncoder(source, EncoderSettings(bitrate=args.bitrate,
                                                              preset="superfast")))
    microphone = ToneTrack(args.tone, 0.3) if args.tone else None
    session = await LiveSession.start(SessionConfig(
        server=args.server, room=args.room, name=args.name, role=Role(args.role),
        token=os.environ.get("SURGERY_TEACH_TOKEN", "")), encoders, microphone)
    voices = Voices(session, args.listen)
    session.on("audio", voices.on_audio)
    session.on("route", voices.on_route)
    recording = None
    if args.record:
        recording = SessionRecording(args.record, title="Class handover", encoders=encoders)
        print(f"recording into {await recording.start(session)}", flush=True)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, lambda: asyncio.ensure_future(
        session.set_class_mode(True)))
    loop.add_signal_handler(signal.SIGUSR2, lambda: asyncio.ensure_future(
        session.set_class_mode(False)))
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    print(f"joined as {session.me.id}", flush=True)
    peers_were = False
    handles = Handles(session)
    deadline = loop.time() + args.seconds
    while not stop.is_set() and loop.time() < deadline:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.1)
        flowing = any(r.stats.frames > 0 for r in session.receivers
                      if r not in getattr(session, "_class_receivers", []))
        peers_now = bool(session.peers) and (flowing or not args.watch)
        if peers_now != peers_were:
            print(f"peers {'open' if peers_now else 'closed'} (phase {voices.phase})",
                  flush=True)
            peers_were = peers_now
        handles.say()
    report: dict[str, Any] = {"route": session.route, "voices": voices.report(),
                              "phases_began": voices.phase_wall}
    if recording is not None:
        await recording.stop()
        report["folder"] = str(recording.folder)
    await session.close()
    for encoder in encoders:
        encoder.stop()
    for task in list(voices.tasks):
        task.cancel()
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--server", required=True)
    parser.add_argument("--room", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--role", required=True, choices=[r.value for r in Role])
    parser.add_argument("--source", default="", help="e.g. synthetic:640x360@30")
    parser.add_argument("--bitrate", type=int, default=1_500_000)
    parser.add_argument("--tone", type=float, default=0.0, help="microphone tone (Hz)")
    parser.add_argument("--listen", type=float, action="append", default=[],
                        help="a frequency to measure in every voice heard")
    parser.add_argument("--watch", action="store_true", help="expects to receive video")
    parser.add_argument("--record", type=Path)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--report", type=Path, required=True)
    args = parser.parse_args()
    report = asyncio.run(run(args))
    args.report.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print("done", flush=True)
    sys.stderr.flush()
    # the report is written: leave without the interpreter's teardown, during which a
    # library thread still running once aborted the process ("terminate called without an
    # active exception", exit -6) after all its work was done
    os._exit(0)


if __name__ == "__main__":
    raise SystemExit(main())
