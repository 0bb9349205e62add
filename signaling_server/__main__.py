"""``python -m signaling_server``: run the signaling server until Ctrl-C or SIGTERM.

``python -m signaling_server token --room R --role mentor --name "Dr Li" --ttl 4h`` prints
a room token instead; ``python -m signaling_server media-server --config-dir DIR [--start]``
configures (and runs) the Janus media server for classes. The first two read the token
secret from ``--secret-file`` or the ``SURGERY_TEACH_SECRET`` environment variable; without
one the server runs open, which it allows on a loopback address only.

Exit status: 0 after a clean shutdown (or a printed token), 2 when the server cannot start
(bad option, port in use, no secret for a public address) or no token can be made, with a
one-line explanation on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from signaling_server.server import HEALTH_PATH, ServerConfig, start_server
from surgery_teach.errors import ConfigError, SignalingError
from surgery_teach.protocol import Role
from surgery_teach.protocol.ice import IceServer, parse_ice_server
from surgery_teach.protocol.limits import (
    CONNECTIONS_PER_ADDRESS,
    IDLE_TIMEOUT,
    MESSAGE_BURST,
    MESSAGES_PER_SECOND,
    Limits,
)
from surgery_teach.protocol.presence import REJOIN_GRACE
from surgery_teach.protocol.tokens import issue_token, parse_duration

EXIT_OK = 0
EXIT_CANNOT_START = 2
SECRET_VARIABLE = "SURGERY_TEACH_SECRET"
"""Environment variable holding the token secret (``--secret-file`` takes precedence)."""
TOKEN_COMMAND = "token"
MEDIA_SERVER_COMMAND = "media-server"

_LOG_LEVELS = ("debug", "info", "warning", "error")
_SECRET_HELP = (
    f"file holding the token secret (at least 32 bytes; default: ${SECRET_VARIABLE}). "
    "Never put it in the repository"
)


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m signaling_server",
        description="Signaling server for surgery_teach (websocket, protocol v1).",
        epilog=f"To print a room token instead: python -m signaling_server {TOKEN_COMMAND} "
        f"--help. For the Janus media server: python -m signaling_server "
        f"{MEDIA_SERVER_COMMAND} --help",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; 0.0.0.0 for every interface, which "
        "needs a token secret)",
    )
    parser.add_argument(
        "--port", type=int, default=8765, help="TCP port (default 8765; 0 picks a free one)"
    )
    parser.add_argument(
        "--max-room-size", type=int, default=50, help="most participants in one room (default 50)"
    )
    parser.add_argument(
        "--log-level", choices=_LOG_LEVELS, default="info", help="log detail (default info)"
    )
    parser.add_argument(
        "--secret-file",
        metavar="FILE",
        help=f"{_SECRET_HELP}; without a secret the server runs open, on a loopback address only",
    )
    parser.add_argument("--cert", metavar="FILE", help="PEM certificate: serve wss:// (TLS)")
    parser.add_argument(
        "--key", metavar="FILE", help="PEM private key of --cert (default: in the --cert file)"
    )
    parser.add_argument(
        "--allow-origin", metavar="ORIGIN", action="append", default=[],
        help="let web pages from ORIGIN (e.g. https://teach.example.org) connect; repeatable. "
        "Default: any origin. Clients that send no Origin (not browsers) are always let in",
    )
    parser.add_argument(
        "--audit-log", metavar="PATH",
        help="append one JSON line per join, leave, removal and refusal to PATH",
    )
    parser.add_argument(
        "--max-connections-per-address", type=int, default=CONNECTIONS_PER_ADDRESS, metavar="N",
        help=f"open connections from one IP address (default {CONNECTIONS_PER_ADDRESS})",
    )
    parser.add_argument(
        "--messages-per-second", type=float, default=MESSAGES_PER_SECOND, metavar="R",
        help=f"sustained messages a second per client (default {MESSAGES_PER_SECOND:g})",
    )
    parser.add_argument(
        "--message-burst", type=int, default=MESSAGE_BURST, metavar="N",
        help=f"messages a client may send at once (default {MESSAGE_BURST})",
    )
    parser.add_argument(
        "--idle-timeout", type=float, default=IDLE_TIMEOUT, metavar="SECONDS",
        help=f"close clients silent this long (default {IDLE_TIMEOUT:g})",
    )
    parser.add_argument(
        "--state-dir", metavar="DIR",
        help="keep each room's participants, chat and marks in DIR, so that a restarted "
        "server gives them back (default: in memory only). Holds chat text: keep it private",
    )
    parser.add_argument(
        "--rejoin-grace", type=float, default=REJOIN_GRACE, metavar="SECONDS",
        help="how long a participant whose connection dropped keeps its place for its "
        f"client to rejoin (default {REJOIN_GRACE:g})",
    )
    parser.add_argument(
        "--ice-server", metavar="URL", action="append", default=[],
        help="a STUN or TURN server every participant gets when it joins, e.g. "
        "stun:turn.example-hospital.cn or turn:turn.example-hospital.cn:3478 "
        "(repeatable; turn:USER:PASSWORD@HOST for a fixed user name and password)",
    )
    parser.add_argument(
        "--turn-secret-file", metavar="FILE",
        help="file holding coturn's static-auth-secret (use-auth-secret): each participant "
        "then gets its own time-limited credentials for the TURN servers of --ice-server",
    )
    parser.add_argument(
        "--media-server-dir", metavar="DIR",
        help=f"the folder python -m signaling_server {MEDIA_SERVER_COMMAND} wrote: rooms in "
        "class mode, or with more viewers than --class-threshold, go through that Janus",
    )
    parser.add_argument(
        "--class-threshold", type=int, default=4, metavar="N",
        help="viewers (everyone but the surgeons) above which a room moves to the media "
        "server by itself (default 4)",
    )
    return parser.parse_args(argv)


def _parse_token_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=f"python -m signaling_server {TOKEN_COMMAND}",
        description="Print a room token: who may join which room, in which role, until when.",
    )
    parser.add_argument("--room", required=True, help="the room it admits to")
    parser.add_argument(
        "--role", required=True, choices=[role.value for role in Role], help="the role it grants"
    )
    parser.add_argument("--name", required=True, help="the display name it grants")
    parser.add_argument(
        "--ttl", default="4h", help="how long it works: 90s, 30m, 4h, 2d (default 4h)"
    )
    parser.add_argument(
        "--user", metavar="ID",
        help="stable id of the person (the token's sub), kept across their tokens "
        "(default: a new random one)",
    )
    parser.add_argument("--secret-file", metavar="FILE", help=_SECRET_HELP)
    return parser.parse_args(argv)


def read_secret(secret_file: str | None) -> bytes | None:
    """The token secret: ``secret_file``'s contents, else the environment variable, else None.

    Surrounding white space (a trailing newline) is not part of it.
    """
    if secret_file is not None:
        return _read_secret_file(secret_file, "secret file")
    secret = os.environ.get(SECRET_VARIABLE, "").strip().encode("utf-8")
    return secret or None


def _read_secret_file(path: str, what: str) -> bytes:
    """A secret file's contents without surrounding white space; ConfigError if unusable."""
    try:
        secret = Path(path).read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} {path!r}: {exc.strerror or exc}") from exc
    if not secret:
        raise ConfigError(f"the {what} {path!r} is empty")
    return secret


def read_ice_options(urls: Sequence[str], turn_secret_file: str | None,
                     ) -> tuple[tuple[IceServer, ...], bytes | None]:
    """The ``--ice-server`` servers and the ``--turn-secret-file`` secret (or None)."""
    servers = tuple(parse_ice_server(url) for url in urls)
    secret = (None if turn_secret_file is None
              else _read_secret_file(turn_secret_file, "TURN secret file"))
    return servers, secret


def _configure_logging(level_name: str) -> None:
    level = getattr(logging, level_name.upper())
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr
    )
    # websockets logs every handshake at INFO; keep that for debugging only.
    quiet = level if level == logging.DEBUG else max(level, logging.WARNING)
    logging.getLogger("websockets").setLevel(quiet)


def _tune_gc() -> None:
    """Keep the collector's full passes rare and short: with 2,000 clients a full pass took
    30–180 ms, stalling every relay in that moment (bench/load.py's p99). What exists after
    start-up is frozen out of the passes, and the oldest generation runs 10× less often;
    the per-connection objects are freed by reference counting, so memory stays flat."""
    gc.collect()
    gc.freeze()
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, 50_000), middle, max(old, 100))


async def _serve(config: ServerConfig) -> None:
    running = await start_server(config)
    _tune_gc()
    scheme, _, where = running.url.partition("://")
    print(
        f"signaling server listening on {running.url} "
        f"(health: {'https' if scheme == 'wss' else 'http'}://{where}{HEALTH_PATH}); "
        "press Ctrl-C to stop",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Not available on Windows: there Ctrl-C arrives as KeyboardInterrupt instead.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await running.close()
        logging.getLogger("signaling_server").info("stopped")


def _print_token(argv: Sequence[str]) -> int:
    args = _parse_token_args(argv)
    try:
        secret = read_secret(args.secret_file)
        if secret is None:
            raise ConfigError(
                f"no token secret: give --secret-file FILE or set {SECRET_VARIABLE} (the "
                "server must use the same one)"
            )
        token = issue_token(
            secret,
            room=args.room,
            role=Role(args.role),
            name=args.name,
            ttl=parse_duration(args.ttl),
            user=args.user,
            now=time.time(),
        )
    except ConfigError as exc:
        print(f"signaling_server {TOKEN_COMMAND}: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    print(token)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server (or, given ``token ...``, print a token); return the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == [TOKEN_COMMAND]:
        return _print_token(argv[1:])
    if argv[:1] == [MEDIA_SERVER_COMMAND]:
        from signaling_server.media_server.command import main as media_server_main

        return media_server_main(argv[1:])
    args = _parse_args(argv)
    _configure_logging(args.log_level)
    try:
        ice_servers, turn_secret = read_ice_options(args.ice_server, args.turn_secret_file)
        config = ServerConfig(
            host=args.host,
            port=args.port,
            max_room_size=args.max_room_size,
            secret=read_secret(args.secret_file),
            cert_file=Path(args.cert) if args.cert else None,
            key_file=Path(args.key) if args.key else None,
            allowed_origins=tuple(args.allow_origin),
            audit_log=Path(args.audit_log) if args.audit_log else None,
            limits=Limits(
                connections_per_address=args.max_connections_per_address,
                messages_per_second=args.messages_per_second,
                message_burst=args.message_burst,
                idle_timeout=args.idle_timeout,
            ),
            state_dir=Path(args.state_dir) if args.state_dir else None,
            rejoin_grace=args.rejoin_grace,
            ice_servers=ice_servers,
            turn_secret=turn_secret,
            media_server_dir=Path(args.media_server_dir) if args.media_server_dir else None,
            class_threshold=args.class_threshold,
        )
        asyncio.run(_serve(config))
    except (ConfigError, SignalingError) as exc:
        print(f"signaling_server: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    except KeyboardInterrupt:
        pass
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
