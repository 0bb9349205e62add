"""The signaling server one computer runs for itself, and how a second client finds it.

``make run`` (the desktop client's demo), ``python -m ui`` with an empty server field and
``python -m surgery_teach.demo`` all start a server on 127.0.0.1. They prefer one fixed
port, :data:`LOCAL_PORT`, so that a second client on the same computer finds the running
one (:func:`find_local_server`) and joins the same rooms instead of starting a second,
empty server on a random port. The server listens on 127.0.0.1 only: other computers
cannot reach it (they need a server on the network, see ``python -m signaling_server``).
"""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Final

LOCAL_PORT: Final = 8765
"""The port the built-in server takes when it is free."""
LOCAL_HOST: Final = "127.0.0.1"
_PROBE_TIMEOUT: Final = 1.0  # seconds; a local server answers in milliseconds


def local_url(port: int = LOCAL_PORT) -> str:
    """``ws://127.0.0.1:8765``: the address of a built-in server on ``port``."""
    return f"ws://{LOCAL_HOST}:{port}"


def preferred_port(port: int = LOCAL_PORT) -> int:
    """``port`` when nothing listens on it (others on this computer can find the server
    there), else ``0``: any free port."""
    with socket.socket() as sock:
        try:
            sock.bind((LOCAL_HOST, port))
            return port
        except OSError:
            return 0


async def find_local_server(port: int = LOCAL_PORT, *,
                            timeout: float = _PROBE_TIMEOUT) -> str | None:
    """The ``ws://`` address of a signaling server running on this computer's ``port``
    (it answers its health check, ``GET /healthz``), or ``None`` when nothing, or
    something else, listens there."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(LOCAL_HOST, port), timeout)
    except (OSError, TimeoutError):
        return None
    try:
        writer.write(f"GET /healthz HTTP/1.1\r\nHost: {LOCAL_HOST}:{port}\r\n"
                     "Connection: close\r\n\r\n".encode("ascii"))
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(4096), timeout)
    except (OSError, TimeoutError):
        return None
    finally:
        writer.close()
    return local_url(port) if is_health_answer(answer) else None


def is_health_answer(raw: bytes) -> bool:
    """Whether ``raw`` is the signaling server's answer to ``GET /healthz``: HTTP 200
    with a JSON body whose ``status`` is ``"ok"``."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    if len(status_line) < 2 or status_line[1] != b"200":
        return False
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return False
    return isinstance(data, dict) and data.get("status") == "ok" and "rooms" in data
