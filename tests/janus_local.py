"""A real Janus from Debian on 127.0.0.1, for tests that only talk to its APIs (test tool).

Janus skips loopback interfaces for ICE, so no media flows here; rooms, tokens, joins
and events do. :class:`LocalJanus` runs it on a generated configuration folder and can
stop it, start it again on the same ports and secrets (a restart), or freeze it
(``SIGSTOP``: it answers nothing until thawed). The ``local_janus`` fixture skips with
the reason where Janus is not installed (import ``local_janus_fixture`` to use it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from signaling_server.media_server.config import JanusSettings, MediaServerSecrets
from signaling_server.media_server.config_dir import MediaServerAccess, write_config_dir
from signaling_server.media_server.process import start_janus, wait_until_ready
from tests.timing import seconds


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalJanus:
    """Janus on loopback with its configuration in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        low = 20000 + free_port() % 20000
        self.access: MediaServerAccess = write_config_dir(folder, JanusSettings(
            api_port=free_port(), admin_port=free_port(), rtp_ports=(low, low + 200),
            session_timeout=60), MediaServerSecrets.generate())
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = start_janus(self.folder)
        asyncio.run(wait_until_ready(self.access, self.process, timeout=seconds(20)))

    async def start_async(self) -> None:
        self.process = start_janus(self.folder)
        await wait_until_ready(self.access, self.process, timeout=seconds(20))

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        self.thaw(process)
        process.terminate()
        try:
            process.wait(timeout=seconds(10))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def freeze(self) -> None:
        """Janus stops answering (as a machine under load or a hung process would)."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self, process: subprocess.Popen[bytes] | None = None) -> None:
        process = process or self.process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGCONT)


@pytest.fixture(name="local_janus")
def local_janus_fixture(tmp_path: Path) -> Iterator[LocalJanus]:
    if shutil.which("janus") is None:
        pytest.skip("Janus is not installed: apt-get install janus (make setup installs it)")
    janus = LocalJanus(tmp_path / "janus")
    janus.start()
    try:
        yield janus
    finally:
        janus.stop()
