"""A real coturn (Debian's ``turnserver``) on 127.0.0.1, started from configuration lines:
those docs/security.md shows, plus what a lab on one machine needs."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.timing import seconds

TURNSERVER = shutil.which("turnserver")
SECURITY_DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
CONFIG_HEADING = "# /etc/turnserver.conf"
SECRET_PLACEHOLDER = "static-auth-secret=<"


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (coturn listens on both)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, socket.socket() as tcp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            try:
                tcp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(port)


def answers_stun(port: int) -> bool:
    """True once coturn answers a STUN binding request on ``port``."""
    request = struct.pack("!HHI", 0x0001, 0, 0x2112A442) + os.urandom(12)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.2)
        sock.sendto(request, ("127.0.0.1", port))
        try:
            answer = sock.recv(2048)
        except OSError:  # timeout, or refused while nothing listens yet
            return False
    return answer[:2] == b"\x01\x01" and answer[8:20] == request[8:20]


def documented_config(secret: str) -> list[str]:
    """The coturn configuration docs/security.md gives (its first block), with ``secret``
    as the static-auth-secret; comments left out."""
    text = SECURITY_DOC.read_text(encoding="utf-8")
    block = text.split(CONFIG_HEADING, 1)[1].split("```", 1)[0]
    lines = [line.strip() for line in block.splitlines()
             if line.strip() and not line.strip().startswith("#")]
    assert sum(line.startswith(SECRET_PLACEHOLDER) for line in lines) == 1, lines
    return [f"static-auth-secret={secret}" if line.startswith(SECRET_PLACEHOLDER) else line
            for line in lines]


@dataclass
class Coturn:
    port: int
    log: Path

    def log_tail(self, count: int = 30) -> str:
        lines = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return "\n".join(lines[-count:])


@contextlib.contextmanager
def running_coturn(config: Sequence[str], folder: Path) -> Iterator[Coturn]:
    """coturn with ``config`` on a free port of 127.0.0.1 (the lab's lines replace any
    ``listening-port`` given), until the block ends."""
    assert TURNSERVER is not None, "coturn is not installed (apt-get install coturn)"
    port = free_port()
    coturn = Coturn(port, folder / "turnserver.log")
    lab = [
        f"listening-port={port}", "listening-ip=127.0.0.1", "relay-ip=127.0.0.1",
        "allow-loopback-peers",  # every peer of the lab is on this machine
        "no-tls", "no-dtls", f"log-file={coturn.log}", "simple-log", "no-stdout-log",
        f"pidfile={folder / 'turnserver.pid'}", f"userdb={folder / 'turndb'}",
    ]
    kept = [line for line in config if not line.startswith("listening-port=")]
    conf = folder / "turnserver.conf"
    conf.write_text("\n".join([*kept, *lab]) + "\n", encoding="utf-8")
    proc = subprocess.Popen([TURNSERVER, "-c", str(conf)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + seconds(10)
        while not answers_stun(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"coturn did not start (exit {proc.poll()}):\n"
                                     f"{coturn.log_tail()}")
        yield coturn
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=seconds(5))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
