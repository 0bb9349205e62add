"""``python -m signaling_server media-server``: files written, bad options explained."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from signaling_server.media_server.admin import JanusAdmin
from signaling_server.media_server.config_dir import read_access
from surgery_teach.errors import MediaServerUnavailableError
from tests.timing import seconds

ROOT = Path(__file__).resolve().parents[3]


def _command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "signaling_server", "media-server", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=seconds(60),
                          check=False)


@pytest.mark.skipif(shutil.which("janus") is None,
                    reason="Janus is not installed: apt-get install janus (make setup does)")
def test_without_start_it_writes_the_configuration_and_says_how_to_run_janus(
        tmp_path: Path) -> None:
    done = _command("--config-dir", str(tmp_path / "janus"), "--listen", "0.0.0.0",
                    "--public-ip", "203.0.113.7")
    assert done.returncode == 0, done.stderr
    assert "janus --configs-folder" in done.stdout
    access = read_access(tmp_path / "janus")
    assert access.api_url == "ws://203.0.113.7:8188"
    for secret in (access.secrets.api_secret, access.secrets.admin_secret):
        assert secret not in done.stdout + done.stderr


@pytest.mark.parametrize(("args", "named"), [
    (["--listen", "janus.example"], "not an IP address"),
    (["--rtp-ports", "lots"], "LOW-HIGH"),
    (["--turn", "10.0.0.1"], "needs --turn-secret-file"),
    (["--turn-secret-file", "/nonexistent"], "needs --turn"),
    (["--turn", "10.0.0.1", "--turn-secret-file", "/nonexistent/secret"], "cannot read"),
    (["--stun", "host:99999"], "HOST:PORT"),
])
def test_bad_options_end_with_one_line_naming_the_problem(tmp_path: Path, args: list[str],
                                                          named: str) -> None:
    done = _command("--config-dir", str(tmp_path / "janus"), *args)
    assert done.returncode == 2
    assert named in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_the_admin_api_down_is_a_clear_unavailable_error() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/admin"
    async with JanusAdmin(url, "secret", timeout=seconds(5)) as admin:
        with pytest.raises(MediaServerUnavailableError, match="admin API") as caught:
            await admin.ping()
    assert "secret" not in str(caught.value)
