"""``python -m signaling_server media-server``: configure (and with ``--start``, run) Janus.

Writes Janus's configuration and ``media-server.json`` (fresh secrets each time, owner-only
files) into ``--config-dir``; with ``--start`` it then runs Janus in the foreground, prints
one ``media server ready`` line once Janus answers, and stops Janus on Ctrl-C or SIGTERM.

Exit status: 0 after a clean stop (or once the files are written, without ``--start``);
2 when the configuration cannot be written or Janus cannot start, with a one-line
explanation on stderr; Janus's own status if it stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from signaling_server.media_server.config import JanusSettings, MediaServerSecrets, TurnRelay
from signaling_server.media_server.config_dir import (
    ACCESS_FILE,
    MediaServerAccess,
    write_config_dir,
)
from signaling_server.media_server.process import (
    READY_TIMEOUT,
    janus_command,
    start_janus,
    wait_until_ready,
)
from surgery_teach.errors import ConfigError, MediaServerError
from surgery_teach.protocol.ice import turn_rest_credentials

COMMAND = "media-server"
EXIT_OK = 0
EXIT_CANNOT_START = 2
JANUS_TURN_USER = "janus"
JANUS_TURN_TTL = 30 * 24 * 3600.0
"""Janus's own TURN REST credentials last 30 days; restart the media server before."""


def _parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=f"python -m signaling_server {COMMAND}",
        description="Configure the Janus media server that carries classes of many viewers "
        "(Debian: apt-get install janus), and with --start run it.",
    )
    parser.add_argument("--config-dir", required=True, metavar="DIR",
                        help=f"folder for Janus's configuration and {ACCESS_FILE} (the "
                        "secrets the signaling server uses); created owner-only")
    parser.add_argument("--listen", default="127.0.0.1", metavar="IP",
                        help="address of the Janus API that clients connect to (default "
                        "127.0.0.1; 0.0.0.0 for every interface)")
    parser.add_argument("--port", type=int, default=8188, help="Janus API (WebSocket) port "
                        "(default 8188)")
    parser.add_argument("--admin-port", type=int, default=7088,
                        help="admin API port, on 127.0.0.1 only (default 7088)")
    parser.add_argument("--public-ip", metavar="IP",
                        help="the box's public address behind a 1:1 NAT (cloud VM): put in "
                        "Janus's ICE candidates and in the URL clients are given")
    parser.add_argument("--ice-interface", metavar="NAME_OR_IP", action="append", default=[],
                        help="use only this interface or address for media (repeatable; "
                        "default: all but container and VM bridges)")
    parser.add_argument("--rtp-ports", default="20000-40000", metavar="LOW-HIGH",
                        help="UDP ports for media (default 20000-40000): open them in the "
                        "firewall")
    parser.add_argument("--stun", metavar="HOST[:PORT]",
                        help="STUN server Janus uses to learn its public address "
                        "(e.g. the coturn of this box)")
    parser.add_argument("--turn", metavar="HOST[:PORT]",
                        help="TURN server (coturn) Janus relays through when a viewer can "
                        "only be reached that way; needs --turn-secret-file")
    parser.add_argument("--turn-secret-file", metavar="FILE",
                        help="coturn's static-auth-secret (use-auth-secret): Janus gets "
                        "30-day TURN REST credentials made from it")
    parser.add_argument("--janus-log-level", type=int, default=4, metavar="0-7",
                        help="Janus's log detail (default 4; above 4 it logs SDP bodies)")
    parser.add_argument("--start", action="store_true",
                        help="run Janus in the foreground after writing the configuration")
    parser.add_argument("--ready-timeout", type=float, default=READY_TIMEOUT,
                        metavar="SECONDS", help="how long Janus gets to answer "
                        f"(default {READY_TIMEOUT:g})")
    return parser.parse_args(argv)


def _host_port(text: str, what: str, default_port: int) -> tuple[str, int]:
    host, _, port = text.rpartition(":") if ":" in text else (text, "", str(default_port))
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ConfigError(f"{what} {text!r} must be HOST or HOST:PORT (e.g. "
                          f"turn.example-hospital.cn:{default_port})")
    return host, int(port)


def _rtp_ports(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    if not (low.isdigit() and high.isdigit()):
        raise ConfigError(f"--rtp-ports {text!r} must be LOW-HIGH, e.g. 20000-40000")
    return int(low), int(high)


def settings_from(args: argparse.Namespace, *, now: float) -> JanusSettings:
    """The media server's settings from the parsed options (ConfigError if bad)."""
    turn = None
    if args.turn is not None:
        if args.turn_secret_file is None:
            raise ConfigError("--turn needs --turn-secret-file (coturn's static-auth-secret)")
        try:
            secret = Path(args.turn_secret_file).read_bytes().strip()
        except OSError as exc:
            raise ConfigError(f"cannot read the TURN secret file {args.turn_secret_file!r}: "
                              f"{exc.strerror or exc}") from exc
        user, password = turn_rest_credentials(secret, JANUS_TURN_USER, now=now,
                                               ttl=JANUS_TURN_TTL)
        host, port = _host_port(args.turn, "--turn", 3478)
        turn = TurnRelay(host, port, "udp", user, password)
    elif args.turn_secret_file is not None:
        raise ConfigError("--turn-secret-file needs --turn HOST[:PORT]")
    return JanusSettings(
        api_host=args.listen, api_port=args.port, admin_port=args.admin_port,
        public_ip=args.public_ip, ice_enforce=tuple(args.ice_interface),
        rtp_ports=_rtp_ports(args.rtp_ports),
        stun=_host_port(args.stun, "--stun", 3478) if args.stun else None, turn=turn,
        debug_level=args.janus_log_level)


def main(argv: Sequence[str]) -> int:
    """Write the configuration (and with ``--start`` run Janus); the exit status."""
    args = _parse_args(argv)
    folder = Path(args.config_dir)
    try:
        settings = settings_from(args, now=time.time())
        access = write_config_dir(folder, settings, MediaServerSecrets.generate())
    except ConfigError as exc:
        print(f"signaling_server {COMMAND}: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    if not args.start:
        print(f"media-server configuration written to {folder.resolve()}; run Janus with: "
              f"{' '.join(janus_command(folder.resolve()))}", flush=True)
        return EXIT_OK
    try:
        process = start_janus(folder.resolve())
    except ConfigError as exc:
        print(f"signaling_server {COMMAND}: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    try:
        return asyncio.run(_run(process, access, args.ready_timeout))
    except KeyboardInterrupt:
        return _stop(process)


async def _run(process: subprocess.Popen[bytes], access: MediaServerAccess,
               timeout: float) -> int:
    try:
        took = await wait_until_ready(access, process, timeout)
    except MediaServerError as exc:
        _stop(process)
        print(f"signaling_server {COMMAND}: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    print(f"media server ready in {took:.1f} s: clients connect to {access.api_url}; "
          f"admin API {access.admin_url} (secrets in {ACCESS_FILE}); press Ctrl-C to stop",
          flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    while not stop.is_set() and process.poll() is None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)
    if process.poll() is not None:
        print(f"signaling_server {COMMAND}: Janus stopped by itself (status "
              f"{process.returncode})", file=sys.stderr)
        return process.returncode or EXIT_CANNOT_START
    return _stop(process)


def _stop(process: subprocess.Popen[bytes], grace: float = 10.0) -> int:
    """Ask Janus to stop (SIGTERM), kill it after ``grace`` seconds."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return EXIT_OK
