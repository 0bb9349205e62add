"""The programs a scenario runs inside the lab: the signaling server, the surgeon's
publisher, the viewers and a silent participant, each its own process started with
``ip netns exec`` in its namespace.

Every process's output goes to ``<run dir>/<name>.log``; the lab stops them all when it
closes. Room tokens are made here with the server's secret and handed over in the
environment (``SURGERY_TEACH_TOKEN``), not on the command line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bench.netlab.commands import LabError, in_namespace
from bench.netlab.topology import DC_IP, Lab, stop_processes
from surgery_teach.protocol import Role
from surgery_teach.protocol.tokens import issue_token

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
SIGNALING_PORT = 8765
ROOM = "lab"
TOKEN_TTL = 3600.0


class LabProcess:
    """One process of the lab; its output is logged and can be waited on line by line."""

    def __init__(self, name: str, popen: subprocess.Popen[bytes], log_path: Path) -> None:
        self.name = name
        self.popen = popen
        self.log_path = log_path
        self._lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, name=f"netlab-{name}", daemon=True)
        self._reader.start()

    @classmethod
    def start(cls, lab: Lab, name: str, command: Sequence[str], run_dir: Path, *,
              env: dict[str, str] | None = None, stdin: int | None = subprocess.DEVNULL,
              ) -> LabProcess:
        """Start ``command`` in a session of its own (so the lab can stop its group)."""
        try:
            popen = subprocess.Popen(list(command), stdin=stdin, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, cwd=ROOT, env=env,
                                     start_new_session=True)
        except OSError as exc:
            raise LabError(f"cannot start {name} ({command[0]}): {exc}") from exc
        lab.track(popen)
        return cls(name, popen, run_dir / f"{name}.log")

    def _read(self) -> None:
        assert self.popen.stdout is not None
        with self.log_path.open("w", encoding="utf-8") as log:
            for raw in self.popen.stdout:
                line = raw.decode("utf-8", errors="replace")
                log.write(line)
                log.flush()
                with self._changed:
                    self._lines.append(line.rstrip("\n"))
                    self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, text: str, timeout: float) -> bool:
        """Wait until a line containing ``text`` appears (True), or the process ends
        or ``timeout`` passes (False)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                if any(text in line for line in self._lines):
                    return True
                left = deadline - time.monotonic()
                if left <= 0 or not self._reader.is_alive():
                    return False
                self._changed.wait(min(left, 0.5))

    def poll(self) -> int | None:
        return self.popen.poll()

    def wait(self, timeout: float) -> int | None:
        """The exit status, or None if the process still runs after ``timeout``. Once it
        has ended, all its output has been read."""
        try:
            status = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._reader.join(timeout)
        return status

    def stop(self, grace: float = 10.0) -> int:
        """Ask the process to stop (SIGTERM: a clean exit that writes its statistics)."""
        stop_processes([self.popen], grace)
        self._reader.join(grace)
        return self.popen.returncode

    def tail(self, lines: int = 5) -> str:
        with self._changed:
            return "\n".join(self._lines[-lines:])


def lab_env(run_dir: Path, token: str = "") -> dict[str, str]:
    """Environment of a lab process: unbuffered output, settings kept in the run dir."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("SURGERY_TEACH_TOKEN", "SURGERY_TEACH_SECRET")}
    env.update(PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT),
               SURGERY_TEACH_CONFIG_DIR=str(run_dir / "config"),
               SURGERY_TEACH_DATA_DIR=str(run_dir / "data"))
    if token:
        env["SURGERY_TEACH_TOKEN"] = token
    return env


@cache
def server_options() -> frozenset[str]:
    """The options ``python -m signaling_server --help`` lists (to see what it supports)."""
    done = subprocess.run([PYTHON, "-m", "signaling_server", "--help"], cwd=ROOT,
                          capture_output=True, text=True, check=False, timeout=60)
    return frozenset(word.rstrip(",") for word in done.stdout.split()
                     if word.startswith("--"))


def server_url() -> str:
    return f"ws://{DC_IP}:{SIGNALING_PORT}"


@dataclass(frozen=True)
class SignalingServer:
    """The running server and the secret its room tokens are signed with."""

    process: LabProcess
    secret: bytes

    def token(self, role: Role, name: str) -> str:
        return issue_token(self.secret, room=ROOM, role=role, name=name, ttl=TOKEN_TTL,
                           now=time.time())


def start_signaling(lab: Lab, run_dir: Path, *, ice_servers: Sequence[str] = (),
                    turn_secret_file: Path | None = None, timeout: float = 30.0,
                    extra: Sequence[str] = ()) -> SignalingServer:
    """Start the signaling server in the data centre (with room tokens: it does not run
    open on a non-loopback address) and wait until it listens."""
    secret = os.urandom(48).hex().encode("ascii")
    secret_file = run_dir / "token-secret"
    secret_file.touch(mode=0o600)
    secret_file.write_bytes(secret)
    command = [PYTHON, "-m", "signaling_server", "--host", DC_IP,
               "--port", str(SIGNALING_PORT), "--secret-file", str(secret_file)]
    for url in ice_servers:
        command += ["--ice-server", url]
    if turn_secret_file is not None:
        command += ["--turn-secret-file", str(turn_secret_file)]
    command += list(extra)  # e.g. --media-server-dir DIR
    process = LabProcess.start(lab, "signaling", in_namespace(lab.dc_ns, command), run_dir,
                               env=lab_env(run_dir))
    if not process.wait_for("listening on", timeout):
        raise LabError(f"the signaling server did not start: {process.tail(3) or 'no output'}"
                       f" (log: {process.log_path})")
    return SignalingServer(process, secret)


def start_client(lab: Lab, server: SignalingServer, run_dir: Path, *, ns: str, name: str,
                 role: Role, seconds: float, stats_json: Path,
                 ice_servers: Sequence[str] = (), log_name: str,
                 source: Sequence[str] = ("synthetic:1280x720@30", "2.5M")) -> LabProcess:
    """Start ``python -m surgery_teach publish`` (the surgeon, sending ``source``: spec and
    bitrate) or ``watch`` (anyone else) in namespace ``ns``."""
    command = [PYTHON, "-m", "surgery_teach"]
    if role is Role.SURGEON:
        command += ["publish", "--source", source[0], "--bitrate", source[1]]
    else:
        command += ["watch"]
    command += ["--server", server_url(), "--room", ROOM, "--name", name, "--role", role.value,
                "--duration", f"{seconds:g}", "--stats-json", str(stats_json),
                "--stats-every", "5",
                "--log-level", os.environ.get("NETLAB_LOG_LEVEL", "warning")]
    for url in ice_servers:
        command += ["--ice-server", url]
    return LabProcess.start(lab, log_name, in_namespace(ns, command), run_dir,
                            env=lab_env(run_dir, server.token(role, name)))


def start_silent_peer(lab: Lab, server: SignalingServer, run_dir: Path, *, ns: str,
                      name: str, seconds: float, report: Path) -> LabProcess:
    """Start a participant that joins as a trainee and never answers an offer."""
    command = [PYTHON, "-m", "bench.netlab.silent_peer", "--server", server_url(),
               "--room", ROOM, "--name", name, "--seconds", f"{seconds:g}",
               "--report", str(report)]
    return LabProcess.start(lab, "silent-peer", in_namespace(ns, command), run_dir,
                            env=lab_env(run_dir, server.token(Role.TRAINEE, name)))
