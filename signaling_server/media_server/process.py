"""Running Janus from Debian's package with a generated configuration folder.

:func:`start_janus` starts ``janus -F DIR -C DIR/janus.jcfg`` in the foreground (its own
process group, output to ours) and :func:`wait_until_ready` waits until its admin API
answers, or says why it will not (the program is missing, it exited, a port is taken).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from pathlib import Path

from signaling_server.media_server.admin import JanusAdmin
from signaling_server.media_server.config import JANUS_CONFIG
from signaling_server.media_server.config_dir import MediaServerAccess
from surgery_teach.errors import ConfigError, MediaServerError, MediaServerUnavailableError

JANUS_PROGRAM = "janus"
READY_TIMEOUT = 30.0


def janus_command(folder: Path, program: str = JANUS_PROGRAM) -> list[str]:
    """The command line that runs Janus on ``folder``'s configuration, in the foreground."""
    return [program, "--configs-folder", str(folder), "--config", str(folder / JANUS_CONFIG),
            "--disable-colors"]


def find_janus() -> str:
    """Janus's program path; ConfigError naming the package when it is not installed."""
    path = shutil.which(JANUS_PROGRAM)
    if path is None:
        raise ConfigError("Janus is not installed: apt-get install janus (Debian 12 has "
                          "1.1.2; make setup installs it)")
    return path


def start_janus(folder: Path) -> subprocess.Popen[bytes]:
    """Start Janus on ``folder`` (written by :func:`~.config_dir.write_config_dir`)."""
    command = janus_command(folder, find_janus())
    try:
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, cwd=folder,
                                start_new_session=True)
    except OSError as exc:
        raise ConfigError(f"cannot start Janus ({command[0]}): {exc}") from exc


async def wait_until_ready(access: MediaServerAccess, process: subprocess.Popen[bytes] | None,
                           timeout: float = READY_TIMEOUT) -> float:
    """Wait until Janus's admin API answers a ping; return the seconds it took.

    MediaServerUnavailableError if ``process`` exits first (look at its output: a port
    in use, a bad setting) or ``timeout`` passes.
    """
    started = time.monotonic()
    async with JanusAdmin(access.admin_url, access.secrets.admin_secret,
                          timeout=2.0) as admin:
        while True:
            if process is not None and process.poll() is not None:
                raise MediaServerUnavailableError(
                    f"Janus exited with status {process.returncode} before it answered; "
                    "its output above says why (often: a port already in use)",
                    access.admin_url)
            try:
                await admin.ping()
                return time.monotonic() - started
            except MediaServerUnavailableError:
                if time.monotonic() - started > timeout:
                    raise MediaServerUnavailableError(
                        f"Janus did not answer on {access.admin_url} within {timeout:g} s",
                        access.admin_url) from None
            except MediaServerError:
                raise
            await asyncio.sleep(0.2)
