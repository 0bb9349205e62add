"""Headless command line: ``python -m surgery_teach publish|watch|devices|publish-case``.

Useful on its own: an OR PC without a screen publishes the tower, a recording station
watches. Errors print one plain sentence and exit 2; Ctrl-C leaves cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from surgery_teach import __version__
from surgery_teach.capture import list_devices, open_source
from surgery_teach.capture.base import VideoSource
from surgery_teach.casefile.keys import PASSPHRASE_ENV, recording_key
from surgery_teach.caselibrary.command import COMMAND as PUBLISH_CASE
from surgery_teach.caselibrary.command import add_publish_case_parser, run_publish_case
from surgery_teach.errors import ConfigError, SurgeryTeachError
from surgery_teach.media.encoder import EncoderSettings, SharedEncoder, check_encoder_available
from surgery_teach.media.gaps import PictureGaps
from surgery_teach.media.ladder import Layer, parse_ladder
from surgery_teach.media.receive import VideoReceiver
from surgery_teach.media.uplink import UPLINK_WARNING
from surgery_teach.privacy import (
    CurtainState,
    PrivacyCurtain,
    PrivacyProblem,
    masks_for_sources,
    parse_mask_option,
    protect,
)
from surgery_teach.privacy.console import HELP as PRIVACY_HELP
from surgery_teach.privacy.console import curtain_command, describe, run_command
from surgery_teach.protocol.ice import parse_ice_server
from surgery_teach.protocol.messages import ParticipantInfo, Role
from surgery_teach.recording import RecorderStatus
from surgery_teach.recording.live import SessionRecording
from surgery_teach.rtc import aiortc_tuning
from surgery_teach.rtc.session import LiveSession, SessionConfig
from surgery_teach.rtc.tracking_link import AnchoredMarks, follow_anchored_marks

logger = logging.getLogger("surgery_teach")

DEFAULT_SERVER = "ws://127.0.0.1:8765"
STDIN = 0  # file descriptor of standard input (privacy commands)


def parse_bitrate(text: str) -> int:
    """``5M``, ``2500k`` or ``800000`` → bit/s."""
    value = text.strip().lower()
    scale = 1
    if value.endswith("m"):
        scale, value = 1_000_000, value[:-1]
    elif value.endswith("k"):
        scale, value = 1_000, value[:-1]
    try:
        return int(float(value) * scale)
    except ValueError:
        raise ConfigError(f"bitrate {text!r} is not a number; write e.g. 5M, 2500k") from None


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"size {text!r} is not WIDTHxHEIGHT, e.g. 1920x1080") from None
    return width, height


def _per_source(values: list[str], count: int, option: str) -> list[str | None]:
    if not values:
        return [None] * count
    if len(values) == 1:
        return values * count
    if len(values) != count:
        raise ConfigError(
            f"{option} was given {len(values)} times for {count} sources: give it once "
            "for all sources, or once per --source in the same order"
        )
    return list(values)


def ladders(args: argparse.Namespace, sources: list[VideoSource]) -> list[tuple[Layer, ...] | None]:
    """Each source's layers from ``--layers`` (None: the default ladder)."""
    specs = _per_source(getattr(args, "layers", []), len(sources), "--layers")
    return [parse_ladder(spec, fps=source.fps) if spec else None
            for spec, source in zip(specs, sources, strict=True)]


def encoder_settings(args: argparse.Namespace, count: int,
                     tops: list[Layer | None] | None = None) -> list[EncoderSettings]:
    """The top encoder of each source: ``--size`` and ``--bitrate``, else the top of its
    ``--layers``, else the source's own size and a bitrate for it."""
    bitrates = _per_source(args.bitrate, count, "--bitrate")
    sizes = _per_source(args.size, count, "--size")
    settings = []
    for bitrate, size, top in zip(bitrates, sizes, tops or [None] * count, strict=True):
        width, height = parse_size(size) if size else (
            (top.width, top.height) if top else (None, None))
        settings.append(EncoderSettings(
            width=width, height=height,
            bitrate=parse_bitrate(bitrate) if bitrate else (top.bitrate if top else None),
            preset=args.preset,
        ))
    return settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m surgery_teach", description=__doc__)
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)

    def common(sub: argparse.ArgumentParser, role: str) -> None:
        sub.add_argument("--server", default=DEFAULT_SERVER, help="signaling server ws:// URL")
        sub.add_argument("--room", required=True, help="the case's room name")
        sub.add_argument("--name", required=True, help="your display name")
        sub.add_argument("--role", default=role, choices=[r.value for r in Role])
        sub.add_argument("--duration", type=float, help="leave after this many seconds")
        sub.add_argument("--stats-json", type=Path, help="write statistics here on exit")
        sub.add_argument("--stats-every", type=float, default=5.0,
                         help="print statistics every N seconds (0: never)")
        sub.add_argument("--token", default=os.environ.get("SURGERY_TEACH_TOKEN", ""),
                         help="room token for a secured server (or SURGERY_TEACH_TOKEN)")
        sub.add_argument("--ca-file", default="",
                         help="PEM certificate of the CA that signed a wss:// server's "
                              "certificate, when this computer does not trust it already")
        sub.add_argument("--ice-server", action="append", default=[], metavar="URL",
                         help="STUN/TURN server instead of those the signaling server "
                              "gives, e.g. stun:turn.hospital.cn or "
                              "turn:USER:PASSWORD@turn.hospital.cn:3478 (repeatable)")
        sub.add_argument("--stock", action="store_true",
                         help="stock aiortc media path: per-viewer encoding, stock "
                              "receive (for comparisons only)")
        sub.add_argument("--log-level", default="warning")

    publish = commands.add_parser("publish", help="send video sources to the room")
    common(publish, "surgeon")
    publish.add_argument("--source", action="append", default=[],
                         help="LABEL=SPEC or SPEC: synthetic[:WxH@FPS], camera:N, "
                              "file:PATH, rtsp://... (repeat for several sources)")
    publish.add_argument("--bitrate", action="append", default=[],
                         help="H.264 bitrate, e.g. 5M (once for all, or once per source)")
    publish.add_argument("--size", action="append", default=[],
                         help="encode size WxH (once for all, or once per source)")
    publish.add_argument("--preset", default="superfast", help="x264 preset")
    publish.add_argument("--layers", action="append", default=[], metavar="LIST",
                         help="the layers viewers may get, best first or in any order, e.g. "
                              "1920x1080@5M,1280x720@1.5M,640x360@0.4M (once for all sources "
                              "or once per source; default: 3 layers from the source's size)")
    publish.add_argument("--mask", action="append", default=[],
                         metavar="[LABEL=]X,Y,W,H|PRESET[,STYLE]",
                         help="paint over a part of a source's picture before anything "
                              "leaves it (patient data the tower burns in), e.g. "
                              "\"Laparoscope=0,0,1,0.12\" (x, y, width, height as fractions) "
                              "or \"Laparoscope=top-band,blur\"; presets: top-band, "
                              "bottom-band, top-and-bottom, corners, ...; repeatable. Type p "
                              "and Enter (or send SIGUSR1) to pause all video for privacy")
    publish.add_argument("--no-layers", action="store_true",
                         help="send every viewer the top layer whatever its link carries "
                              "(for comparisons only)")
    recording_options(publish, "every source sent and received")

    watch = commands.add_parser("watch", help="receive the room's video")
    common(watch, "trainee")
    recording_options(watch, "every source received, as it arrived")

    commands.add_parser("devices", help="list cameras and capture cards")
    add_publish_case_parser(commands)
    return parser


async def _wait_for_end(session: LiveSession, duration: float | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(session.ended.wait())]
    if duration is not None:
        waits.append(asyncio.ensure_future(asyncio.sleep(duration)))
    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in waits:
        task.cancel()


def _print_stats(session: LiveSession) -> None:
    for encoder in session.encoders:
        s = encoder.stats
        print(f"[send] {encoder.label}: {s.frames} frames, {s.keyframes} keyframes, "
              f"{encoder.viewer_count} viewer(s)", flush=True)
    if session.adaptation is not None:
        for viewer in session.adaptation.viewers():
            loss = "n/a" if viewer.loss is None else f"{viewer.loss:.0%}"
            rtt = "n/a" if viewer.rtt_ms is None else f"{viewer.rtt_ms:.0f} ms"
            print(f"[viewer] {viewer.name}: {viewer.source} {viewer.layer} ({viewer.reason}), "
                  f"loss {loss}, round trip {rtt}", flush=True)
        if session.adaptation.uplink_limited:
            print(f"[send] {UPLINK_WARNING}", flush=True)
    for receiver in session.receivers:
        s = receiver.stats.summary()
        latency = s["latency_ms"]
        lat = (f"latency p50 {latency['p50']} ms p95 {latency['p95']} ms"  # type: ignore[index]
               if latency else "latency n/a")
        print(f"[recv] {s['label']}: {s['frames_decoded']} frames, {s['fps']} fps, "
              f"{s['resolution'][0]}x{s['resolution'][1]}, {lat}", flush=True)  # type: ignore[index]


async def _stats_loop(session: LiveSession, every: float) -> None:
    if every <= 0:
        return
    while True:
        await asyncio.sleep(every)
        _print_stats(session)


def _print_peer_problem(participant: ParticipantInfo, text: str) -> None:
    """Why the connection with someone is not up, as one line on stderr."""
    if text:
        print(f"warning: {text}", file=sys.stderr, flush=True)


def recording_options(sub: argparse.ArgumentParser, what: str) -> None:
    sub.add_argument("--record", type=Path, metavar="DIR",
                     help=f"record {what} (no re-encode), the voices, chat, marks and "
                          "chapters into a new case folder in DIR (surgeons and mentors; "
                          "the room is told)")
    sub.add_argument("--title", default="", help="procedure title for the recording")
    sub.add_argument("--hospital", default="", help="hospital name for the recording")
    sub.add_argument("--no-encrypt", action="store_true",
                     help="record without encryption (teaching material that shows no "
                          "patient only); by default the case is encrypted at rest")
    sub.add_argument("--case-passphrase-file", type=Path, metavar="FILE",
                     help="encrypt the recording with the hospital passphrase in FILE "
                          f"(or ${PASSPHRASE_ENV}); default: a key kept in this "
                          "computer's keyring")


async def start_recording(args: argparse.Namespace, session: LiveSession,
                          encoders: list[SharedEncoder]) -> SessionRecording:
    """Record the session (own sources, received videos, voices, events) into a new
    case folder under ``--record``; the room is told first."""
    title = args.title or f"{args.room} ({args.name})"

    def report(status: RecorderStatus) -> None:
        if status.error is not None:
            print(f"error: {status.error}", file=sys.stderr, flush=True)

    passphrase = None
    if args.case_passphrase_file is not None:
        try:
            passphrase = args.case_passphrase_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read the passphrase file {args.case_passphrase_file}: "
                              f"{exc}; give a readable text file") from exc
    key = recording_key(encrypt=not args.no_encrypt, passphrase=passphrase)
    recording = SessionRecording(args.record, title=title, hospital=args.hospital,
                                 encoders=encoders, on_status=report, key=key)
    folder = await recording.start(session)
    print(f"recording into {folder}", flush=True)
    return recording


def session_stats(session: LiveSession, wall: float, cpu: float) -> dict[str, object]:
    return {
        "version": __version__,
        "participant": session.me.id,
        "duration_s": round(wall, 3),
        "cpu_percent": round(100.0 * cpu / wall, 1) if wall > 0 else 0.0,
        "sent": [
            {
                "label": e.label,
                "frames_encoded": e.stats.frames,
                "keyframes": e.stats.keyframes,
                "kbit_per_s": _kbit_per_s(e.stats.bytes, wall),
                "mean_encode_ms": round(1000 * e.stats.encode_seconds / e.stats.frames, 2)
                if e.stats.frames else None,
                "size": list(e.stats.sizes),
            }
            for e in session.encoders
        ],
        "layers": [
            {
                "label": layered.label,
                "layer": layered.name(level),
                "frames_encoded": e.stats.frames,
                "keyframes": e.stats.keyframes,
                "kbit_per_s": _kbit_per_s(e.stats.bytes, wall),
                "size": list(e.stats.sizes),
            }
            for layered in (session.adaptation.sources if session.adaptation else [])
            for level, e in layered.running.items()
        ],
        # every viewer's copy of every source, as it is now or was when it left
        "viewers": [dataclasses.asdict(v) for v in (
            [*session.adaptation.departed.values(), *session.adaptation.viewers()]
            if session.adaptation else [])],
        "uplink_limited": bool(session.adaptation and session.adaptation.uplink_limited),
        # lost packets every viewer got again, and those held back only because the
        # shared upload had no room for them (:class:`~.media.pli_guard.UploadRepairs`;
        # a packet asked for again and held back again counts again)
        "repairs_kbit_per_s": {
            "resent": _kbit_per_s(session.adaptation.resent_bytes, wall)
            if session.adaptation else 0.0,
            "held_back_by_upload": _kbit_per_s(session.adaptation.repairs.refused_bytes, wall)
            if session.adaptation else 0.0,
        },
        "route": session.route,  # peer: peer to peer; class: through the media server
        "tracks": [track_summary(session, r) for r in session.receivers],
    }


def _kbit_per_s(count: int, wall: float) -> float:
    return round(count * 8 / 1000 / wall, 1) if wall > 0 else 0.0


def track_summary(session: LiveSession, receiver: VideoReceiver) -> dict[str, object]:
    """A received video's statistics, the layer its sender said it sends us, and the
    kinds of candidates the connection uses (host, srflx, relay)."""
    summary = receiver.stats.summary()
    note = session.layer_notes.get((receiver.participant, receiver.label))
    summary["layer"] = note.layer if note else ""
    summary["layer_reason"] = note.reason if note else ""
    peer = session.peers.get(receiver.participant)
    summary["path"] = aiortc_tuning.connection_path(peer.pc) if peer else ""
    return summary


def protect_sources(args: argparse.Namespace, sources: list[VideoSource]) -> PrivacyCurtain:
    """Mask every source as ``--mask`` says and put them all behind one privacy curtain
    (before they start, so no frame leaves unmasked)."""
    options = [parse_mask_option(text) for text in getattr(args, "mask", [])]
    masks = masks_for_sources(options, [source.label for source in sources])
    curtain = PrivacyCurtain()
    for source, own in zip(sources, masks, strict=True):
        protect(source, own, curtain=curtain, on_problem=_print_privacy_problem)
    return curtain


def _print_privacy_problem(problem: PrivacyProblem | None) -> None:
    """Masking failed (its frames are withheld) or works again: one line on stderr."""
    if problem is not None:
        print(f"warning: {problem.text}", file=sys.stderr, flush=True)


def watch_curtain(curtain: PrivacyCurtain, session: LiveSession, name: str,
                  recording: Callable[[], SessionRecording | None]) -> Callable[[], None]:
    """The curtain from stdin (``p`` + Enter) and SIGUSR1, each change said on stdout,
    told to the room (``privacy``) and noted in the recording; returns the undo."""
    loop = asyncio.get_running_loop()

    async def tell_room(state: CurtainState) -> None:
        try:
            await session.announce_privacy(state.closed)
        except SurgeryTeachError as exc:  # the pictures are carded anyway
            print(f"warning: the room was not told of the privacy pause ({exc})",
                  file=sys.stderr, flush=True)

    def changed(state: CurtainState) -> None:
        print(describe(state), flush=True)
        current = recording()
        if current is not None:
            current.note_privacy(state.closed, state.by, t=state.since)
        asyncio.run_coroutine_threadsafe(tell_room(state), loop)

    typed = bytearray()

    def read_stdin() -> None:  # raw reads on the loop: no thread, no buffer lock at exit
        try:
            data = os.read(STDIN, 4096)
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(STDIN)
        typed.extend(data)
        while b"\n" in typed:
            line, _, rest = bytes(typed).partition(b"\n")
            typed[:] = rest
            command = curtain_command(line.decode("utf-8", "replace"))
            if command is not None:
                run_command(curtain, command, name)

    curtain.on_change(changed)
    with contextlib.suppress(NotImplementedError, AttributeError):
        loop.add_signal_handler(signal.SIGUSR1, lambda: curtain.toggle(name))
    try:  # a pipe or a terminal; not a regular file or /dev/null
        loop.add_reader(STDIN, read_stdin)
        if os.isatty(STDIN):
            print(PRIVACY_HELP, flush=True)
    except (OSError, ValueError, NotImplementedError):
        pass

    def undo() -> None:
        curtain.off_change(changed)
        with contextlib.suppress(OSError, ValueError, NotImplementedError):
            loop.remove_reader(STDIN)
        with contextlib.suppress(NotImplementedError, AttributeError):
            loop.remove_signal_handler(signal.SIGUSR1)

    return undo


async def run_session(args: argparse.Namespace, sources: list[VideoSource],
                      curtain: PrivacyCurtain | None = None) -> int:
    source_ladders = ladders(args, sources)
    settings = encoder_settings(args, len(sources),
                                [ladder[0] if ladder else None for ladder in source_ladders]
                                ) if sources else []
    encoders = [SharedEncoder(s, e) for s, e in zip(sources, settings, strict=True)]
    config = SessionConfig(server=args.server, room=args.room, name=args.name,
                           role=Role(args.role), ice_servers=args.ice_server,
                           token=args.token, ca_file=args.ca_file,
                           stock=args.stock, layers=not getattr(args, "no_layers", False),
                           ladders=tuple(source_ladders))
    for source in sources:
        source.start()
    session = None
    stats_task = None
    gaps: PictureGaps | None = None
    recorder = None
    unwatch: Callable[[], None] | None = None
    tracking: AnchoredMarks | None = None
    exit_code = 0
    wall0, cpu0 = time.monotonic(), time.process_time()
    try:
        session = await LiveSession.start(config, encoders)
        session.on("peer-problem", _print_peer_problem)
        tracking = follow_anchored_marks(session)  # our sources' marks stay on the tissue
        if getattr(args, "record", None):
            recorder = await start_recording(args, session, encoders)
        print(f"joined room {args.room!r} as {session.me.id} ({args.role}); "
              f"{len(session.participants)} other participant(s)", flush=True)
        if curtain is not None:
            unwatch = watch_curtain(curtain, session, args.name, lambda: recorder)
        stats_task = asyncio.ensure_future(_stats_loop(session, args.stats_every))
        gaps = PictureGaps(lambda: list(session.receivers))  # type: ignore[union-attr]
        gaps.start()
        await _wait_for_end(session, args.duration)
        gaps.stop()
        if session.removed:  # the server closed the link after saying why
            print(f"error: {session.removed}", file=sys.stderr, flush=True)
            exit_code = 2
    finally:
        if tracking is not None:
            tracking.stop()
        if gaps is not None:
            gaps.stop()
        if unwatch is not None:
            unwatch()
        if stats_task is not None:
            stats_task.cancel()
        if recorder is not None:
            manifest = await recorder.stop()
            duration = manifest.duration if manifest is not None else None
            print(f"recording saved in {recorder.folder} ({duration or 0:.0f} s)", flush=True)
        wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
        if session is not None:
            report = session_stats(session, wall, cpu)  # before close ends the tracks
            if gaps is not None:  # across paths: peer to peer, then the media server
                report["longest_picture_gap_s"] = {
                    label: round(gap, 3) for label, gap in gaps.longest.items()}
            await session.close()
            if args.stats_json:
                args.stats_json.write_text(json.dumps(report, indent=2, ensure_ascii=False),
                                           encoding="utf-8")
        for encoder in encoders:
            encoder.stop()
        for source in sources:
            source.stop()
    return exit_code


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=getattr(logging, str(args.__dict__.get("log_level", "warning"))
                                      .upper(), logging.WARNING),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command == PUBLISH_CASE:
            return run_publish_case(args)
        if args.command == "devices":
            devices = list_devices()
            for device in devices:
                print(f"{device.path}\t{device.name}")
            if not devices:
                print("no cameras or capture cards found; use --source synthetic to test")
            return 0
        # one plain line (and no password) for a malformed --ice-server, before any device
        args.ice_server = [parse_ice_server(text) for text in args.ice_server]
        sources: list[VideoSource] = []
        curtain = None
        if args.command == "publish":
            check_encoder_available()
            sources = [open_source(spec) for spec in (args.source or ["synthetic"])]
            curtain = protect_sources(args, sources)
        return asyncio.run(run_session(args, sources, curtain))
    except SurgeryTeachError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
