"""``python -m library_server --data-dir DIR``: run the hospital case library until Ctrl-C.

``python -m library_server token --role student --name "Li Wei" --collection
hospital:zepu --ttl 30d`` prints a library token instead. Both read the token secret from
``--secret-file`` or ``SURGERY_TEACH_LIBRARY_SECRET``.

Exit status: 0 after a clean shutdown (or a printed token), 2 when the server cannot start
(bad option, port in use, no secret, no certificate for a public address) or no token can
be made, with a one-line explanation on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from library_server.config import (
    DEFAULT_MAX_CHUNK,
    DEFAULT_MIN_FREE,
    DEFAULT_PORT,
    LibraryConfig,
)
from library_server.server import start_library
from surgery_teach.caselibrary.passes import LibraryRole, issue_library_token
from surgery_teach.errors import ConfigError
from surgery_teach.protocol.tokens import parse_duration

EXIT_OK = 0
EXIT_CANNOT_START = 2
SECRET_VARIABLE = "SURGERY_TEACH_LIBRARY_SECRET"
TOKEN_COMMAND = "token"
_SECRET_HELP = (f"file holding the token secret (at least 32 bytes; default: "
                f"${SECRET_VARIABLE}). Never put it in the repository")


def _parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m library_server",
        description="The hospital case library: recorders publish cases, students stream them.",
        epilog=f"To print a library token: python -m library_server {TOKEN_COMMAND} --help",
    )
    parser.add_argument("--data-dir", required=True, metavar="DIR",
                        help="folder of the stored cases, the index and the audit log")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1; another needs --cert)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"TCP port (default {DEFAULT_PORT}; 0 picks a free one)")
    parser.add_argument("--cert", metavar="FILE", help="PEM certificate: serve https://")
    parser.add_argument("--key", metavar="FILE",
                        help="PEM private key of --cert (default: in the --cert file)")
    parser.add_argument("--secret-file", metavar="FILE", help=_SECRET_HELP)
    parser.add_argument("--index", default="sqlite", metavar="sqlite|URL",
                        help="sqlite (default, in the data folder) or postgresql://USER@HOST/DB "
                             "for several servers sharing one data folder")
    parser.add_argument("--audit-log", metavar="PATH",
                        help="one JSON line per view and publish (default DIR/audit.log)")
    parser.add_argument("--min-free", type=int, default=DEFAULT_MIN_FREE // (1 << 20),
                        metavar="MB", help="disk space publishes must leave free "
                        f"(default {DEFAULT_MIN_FREE >> 20} MB)")
    parser.add_argument("--max-chunk", type=int, default=DEFAULT_MAX_CHUNK >> 20, metavar="MB",
                        help=f"largest upload chunk (default {DEFAULT_MAX_CHUNK >> 20} MB)")
    parser.add_argument("--log-level", default="info",
                        choices=("debug", "info", "warning", "error"))
    return parser.parse_args(argv)


def _parse_token_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=f"python -m library_server {TOKEN_COMMAND}",
        description="Print a library token: who may watch which collections, and publish.",
    )
    parser.add_argument("--role", required=True, choices=[r.value for r in LibraryRole],
                        help="student: list and play; mentor: also publish")
    parser.add_argument("--name", required=True, help="the holder's display name")
    parser.add_argument("--collection", action="append", default=[], required=True,
                        metavar="NAME", help="hospital:NAME, course:NAME, everyone, or * for "
                        "all (repeatable)")
    parser.add_argument("--ttl", default="30d", help="how long it works (default 30d)")
    parser.add_argument("--user", metavar="ID", help="stable id of the person (default: new)")
    parser.add_argument("--secret-file", metavar="FILE", help=_SECRET_HELP)
    return parser.parse_args(argv)


def read_secret(secret_file: str | None) -> bytes:
    """The token secret from ``secret_file`` or the environment; ConfigError if none."""
    if secret_file is not None:
        try:
            secret = Path(secret_file).read_bytes().strip()
        except OSError as exc:
            raise ConfigError(f"cannot read the secret file {secret_file!r}: "
                              f"{exc.strerror or exc}") from exc
    else:
        secret = os.environ.get(SECRET_VARIABLE, "").strip().encode()
    if not secret:
        raise ConfigError(f"no token secret: give --secret-file FILE or set {SECRET_VARIABLE} "
                          "(the server and the token command must use the same one)")
    return secret


async def _serve(config: LibraryConfig) -> None:
    running = await start_library(config)
    print(f"case library listening on {running.url} (data in {config.data_dir}); press "
          "Ctrl-C to stop", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await running.close()


def _print_token(argv: Sequence[str]) -> int:
    args = _parse_token_args(argv)
    try:
        token = issue_library_token(
            read_secret(args.secret_file), role=LibraryRole(args.role),
            collections=args.collection, name=args.name, ttl=parse_duration(args.ttl),
            now=time.time(), user=args.user)
    except ConfigError as exc:
        print(f"library_server {TOKEN_COMMAND}: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    print(token)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == [TOKEN_COMMAND]:
        return _print_token(argv[1:])
    args = _parse_args(argv)
    logging.basicConfig(level=getattr(logging, args.log_level.upper()), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        config = LibraryConfig(
            data_dir=Path(args.data_dir), secret=read_secret(args.secret_file),
            host=args.host, port=args.port,
            cert_file=Path(args.cert) if args.cert else None,
            key_file=Path(args.key) if args.key else None,
            index=args.index, audit_log=Path(args.audit_log) if args.audit_log else None,
            min_free_bytes=args.min_free << 20, max_chunk_bytes=args.max_chunk << 20,
        )
        asyncio.run(_serve(config))
    except ConfigError as exc:
        print(f"library_server: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    except KeyboardInterrupt:
        pass
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
