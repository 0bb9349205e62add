"""``make run`` until the desktop client exists: a local server, a synthetic surgeon and a
trainee that prints what it receives. Each part is its own process, as in real use."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time

from surgery_teach.local_server import LOCAL_PORT, preferred_port
from surgery_teach.settings import server_state_dir


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (for a local server started just after)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    port = preferred_port() or free_port()  # 8765: a desktop client finds it there
    url = f"ws://127.0.0.1:{port}"
    py = sys.executable
    server = [py, "-m", "signaling_server", "--host", "127.0.0.1", "--port", str(port)]
    procs = [subprocess.Popen([*server, "--state-dir", str(server_state_dir())])]
    try:
        if not wait_for_port(port, procs[0]):  # its state folder is in use (or unwritable)
            print("demo: the server keeps rooms in memory only", flush=True)
            procs = [subprocess.Popen(server)]
            if not wait_for_port(port, procs[0]):
                raise SystemExit(f"error: the local signaling server did not start on {port}")
        procs.append(subprocess.Popen([
            py, "-m", "surgery_teach", "publish", "--server", url, "--room", "demo",
            "--name", "Surgeon (synthetic)", "--role", "surgeon",
            "--source", "Laparoscope=synthetic:1280x720@30",
            "--source", "Room camera=synthetic:640x360@30", "--stats-every", "0",
        ]))
        procs.append(subprocess.Popen([
            py, "-m", "surgery_teach", "watch", "--server", url, "--room", "demo",
            "--name", "Trainee", "--role", "trainee", "--stats-every", "2",
        ]))
        empty = " (or leave the server empty)" if port == LOCAL_PORT else ""
        print(f"demo running on {url} (room 'demo'); Ctrl-C to stop. To watch it: "
              f"python -m ui --server {url} --room demo{empty}", flush=True)
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in reversed(procs):
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
            if proc.poll() is None:
                proc.kill()
    return 0


def wait_for_port(port: int, proc: subprocess.Popen[bytes] | None = None,
                  timeout: float = 15.0) -> bool:
    """Wait until something listens on 127.0.0.1:``port`` (True), or ``proc`` exits
    (False); exit with a message if neither happens in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return True
        time.sleep(0.1)
    raise SystemExit(f"error: the local signaling server did not start on port {port}")


if __name__ == "__main__":
    sys.exit(main())
