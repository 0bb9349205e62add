"""``python -m signaling_server``: run the signaling server until Ctrl-C or SIGTERM.

Exit status: 0 after a clean shutdown, 2 when the server cannot start (bad option, port
in use), with a one-line explanation on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

from signaling_server.server import HEALTH_PATH, ServerConfig, start_server
from surgery_teach.errors import ConfigError, SignalingError

EXIT_OK = 0
EXIT_CANNOT_START = 2

_LOG_LEVELS = ("debug", "info", "warning", "error")


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m signaling_server",
        description="Signaling server for surgery_teach (websocket, protocol v1).",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)",
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
    return parser.parse_args(argv)


def _configure_logging(level_name: str) -> None:
    level = getattr(logging, level_name.upper())
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr
    )
    # websockets logs every handshake at INFO; keep that for debugging only.
    quiet = level if level == logging.DEBUG else max(level, logging.WARNING)
    logging.getLogger("websockets").setLevel(quiet)


async def _serve(config: ServerConfig) -> None:
    running = await start_server(config)
    print(
        f"signaling server listening on {running.url} "
        f"(health: http://{running.url.removeprefix('ws://')}{HEALTH_PATH}); "
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server; return the process exit status."""
    args = _parse_args(argv)
    _configure_logging(args.log_level)
    try:
        config = ServerConfig(host=args.host, port=args.port, max_room_size=args.max_room_size)
        asyncio.run(_serve(config))
    except (ConfigError, SignalingError) as exc:
        print(f"signaling_server: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    except KeyboardInterrupt:
        pass
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
