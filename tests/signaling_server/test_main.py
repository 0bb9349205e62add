"""``python -m signaling_server`` as a user runs it: a real subprocess on a free port."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from signaling_server import RunningServer, ServerConfig, start_server
from signaling_server.__main__ import SECRET_VARIABLE
from surgery_teach.protocol import Role
from tests.signaling_server.conftest import SECRET, Client, http_get, refused
from tests.timing import seconds

REPO = Path(__file__).resolve().parents[2]


async def _launch(*args: str, secret: bytes | None = None) -> asyncio.subprocess.Process:
    """``python -m signaling_server ARGS``; ``secret`` goes in the environment variable."""
    env = {name: value for name, value in os.environ.items() if name != SECRET_VARIABLE}
    if secret is not None:
        env[SECRET_VARIABLE] = secret.decode()
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "signaling_server",
        *args,
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


@pytest.fixture
async def process() -> AsyncIterator[asyncio.subprocess.Process]:
    proc = await _launch("--host", "127.0.0.1", "--port", "0", "--log-level", "info")
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def _port_of(proc: asyncio.subprocess.Process, scheme: bytes = b"ws") -> int:
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), seconds(10))
    found = re.search(rb"listening on " + scheme + rb"://127\.0\.0\.1:(\d+)", line)
    assert found, f"unexpected first line: {line!r}"
    return int(found.group(1))


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_runs_answers_healthz_and_stops_cleanly_on_signal(
    process: asyncio.subprocess.Process, signum: signal.Signals
) -> None:
    port = await _port_of(process)
    status, _, body = await http_get("127.0.0.1", port, "/healthz")
    assert status == 200
    assert json.loads(body)["status"] == "ok"

    process.send_signal(signum)
    _, stderr = await asyncio.wait_for(process.communicate(), seconds(10))
    assert process.returncode == 0
    assert b"Traceback" not in stderr
    assert b"stopped" in stderr


async def test_port_in_use_exits_2_with_one_clear_line(server: RunningServer) -> None:
    proc = await _launch("--port", str(server.port))
    stdout, stderr = await asyncio.wait_for(proc.communicate(), seconds(10))
    assert proc.returncode == 2
    lines = [line for line in stderr.decode().splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "already in use" in lines[0]
    assert "--port" in lines[0]
    assert stdout == b""


async def test_bad_option_exits_2_without_traceback() -> None:
    proc = await _launch("--max-room-size", "0")
    _, stderr = await asyncio.wait_for(proc.communicate(), seconds(10))
    assert proc.returncode == 2
    assert b"Traceback" not in stderr
    assert b"max room size" in stderr


async def _token(*args: str, secret: bytes | None = None) -> tuple[int, str, str]:
    """``python -m signaling_server token ARGS``: exit status, stdout, stderr."""
    proc = await _launch("token", *args, secret=secret)
    stdout, stderr = await asyncio.wait_for(proc.communicate(), seconds(10))
    assert proc.returncode is not None
    return proc.returncode, stdout.decode(), stderr.decode()


async def test_the_token_command_prints_a_token_the_server_accepts(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_bytes(SECRET + b"\n")
    status, stdout, stderr = await _token(
        "--room", "chole-2026-11-25", "--role", "mentor", "--name", "Dr Li", "--ttl", "4h",
        "--secret-file", str(secret_file),
    )
    assert (status, stderr) == (0, "")
    token = stdout.strip()
    assert stdout == token + "\n"

    server = await _launch("--port", "0", "--secret-file", str(secret_file))
    try:
        port = await _port_of(server)
        url = f"ws://127.0.0.1:{port}/?room=chole-2026-11-25"
        assert (await refused(url))[0] == 401
        async with connect(f"{url}&token={token}", open_timeout=seconds(5)) as connection:
            welcome = await Client(connection).join("chole-2026-11-25", "Dr Li", Role.MENTOR)
            assert welcome.you.name == "Dr Li"
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr_bytes = await asyncio.wait_for(server.communicate(), seconds(10))
    assert server.returncode == 0
    assert token.encode() not in stderr_bytes  # the log never shows a token


async def test_the_token_secret_may_come_from_the_environment() -> None:
    status, stdout, _ = await _token(
        "--room", "r", "--role", "trainee", "--name", "Дмитрий", "--user", "staff-4711",
        secret=SECRET,
    )
    assert status == 0
    running = await start_server(ServerConfig(port=0, secret=SECRET))
    try:
        async with connect(f"{running.url}/?token={stdout.strip()}") as connection:
            welcome = await Client(connection).join("r", "Дмитрий", Role.TRAINEE)
            assert welcome.you.role is Role.TRAINEE
    finally:
        await running.close()


@pytest.mark.parametrize(
    ("args", "secret", "explanation"),
    [
        (("--room", "r", "--role", "mentor", "--name", "A"), None, "no token secret"),
        (
            ("--room", "r", "--role", "mentor", "--name", "A", "--secret-file", "/nowhere/s"),
            None,
            "cannot read the secret file",
        ),
        (("--room", "a b", "--role", "mentor", "--name", "A"), SECRET, "'room' may contain"),
        (("--room", "r", "--role", "mentor", "--name", "A", "--ttl", "4w"), SECRET, "like 90s"),
        (("--room", "r", "--role", "mentor", "--name", "A"), b"short", "at least 32"),
    ],
    ids=["no-secret", "unreadable-secret", "bad-room", "bad-ttl", "short-secret"],
)
async def test_the_token_command_explains_what_is_wrong_and_exits_2(
    args: tuple[str, ...], secret: bytes | None, explanation: str
) -> None:
    status, stdout, stderr = await _token(*args, secret=secret)
    assert (status, stdout) == (2, "")
    assert explanation in stderr
    assert "Traceback" not in stderr


async def test_without_a_secret_it_refuses_to_listen_on_a_public_address() -> None:
    proc = await _launch("--host", "0.0.0.0", "--port", "0")
    stdout, stderr = await asyncio.wait_for(proc.communicate(), seconds(10))
    assert proc.returncode == 2
    assert stdout == b""  # it never listened
    lines = [line for line in stderr.decode().splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "refusing to listen on 0.0.0.0 without room tokens" in lines[0]
    assert "--secret-file" in lines[0] and SECRET_VARIABLE in lines[0]


async def test_a_short_secret_is_refused_at_start(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("hunter2\n")
    proc = await _launch("--port", "0", "--secret-file", str(secret_file))
    _, stderr = await asyncio.wait_for(proc.communicate(), seconds(10))
    assert proc.returncode == 2
    assert b"at least 32" in stderr
    assert b"hunter2" not in stderr
