"""The ICE servers in each ``welcome``: ``--ice-server`` and ``--turn-secret-file``, with
TURN credentials made for each participant at each join, and never a credential in a log."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import os
import shlex
import sys
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from signaling_server import RunningServer, ServerConfig, start_server
from signaling_server.__main__ import SECRET_VARIABLE, _parse_args, read_ice_options
from signaling_server.ice import IceHandout
from surgery_teach.errors import ConfigError
from surgery_teach.protocol import Join, ParticipantInfo, Publishes, Role, Welcome
from surgery_teach.protocol.ice import IceServer, parse_ice_server
from tests.signaling_server.conftest import Client
from tests.timing import seconds

REPO = Path(__file__).resolve().parents[2]
TURN_SECRET = b"east-wing coturn static-auth-secret 2026"
RELAY = "turn:turn.example-hospital.cn:3478"
STUN = "stun:stun.example-hospital.cn"


def _password(username: str, secret: bytes = TURN_SECRET) -> str:
    """What coturn computes from its static-auth-secret (computed here on its own)."""
    return base64.b64encode(hmac.new(secret, username.encode(), hashlib.sha1).digest()).decode()


@pytest.fixture
async def ice_server() -> AsyncIterator[RunningServer]:
    config = ServerConfig(port=0, ice_servers=(parse_ice_server(STUN), parse_ice_server(RELAY)),
                          turn_secret=TURN_SECRET, turn_credential_ttl=3600)
    running = await start_server(config)
    try:
        yield running
    finally:
        await running.close()


async def _client(stack: AsyncExitStack, server: RunningServer) -> Client:
    return Client(await stack.enter_async_context(connect(server.url,
                                                          open_timeout=seconds(5))))


async def test_each_participant_gets_the_servers_with_turn_credentials_of_its_own(
        ice_server: RunningServer) -> None:
    async with AsyncExitStack() as stack:
        before = time.time()
        li = await (await _client(stack, ice_server)).join("chole-0425", "Dr Li")
        wang = await (await _client(stack, ice_server)).join("chole-0425", "Dr Wang",
                                                              Role.SURGEON)
    for welcome in (li, wang):
        stun, turn = welcome.ice_servers
        assert stun == IceServer((STUN,))  # STUN needs no credentials
        assert turn.urls == (RELAY,)
        expiry, _, participant = turn.username.partition(":")
        assert participant == welcome.you.id
        assert before + 3600 - 1 <= int(expiry) <= time.time() + 3600
        assert turn.credential == _password(turn.username)
    assert li.ice_servers[1].credential != wang.ice_servers[1].credential


async def test_a_rejoin_gets_credentials_again(ice_server: RunningServer) -> None:
    key = "rejoin-key-0123456789abcdef"
    async with AsyncExitStack() as stack:
        first = await _client(stack, ice_server)
        await first.send(Join("r", "Dr Li", Role.MENTOR, Publishes(), client_key=key))
        welcome = await first.expect(Welcome)
        await first.connection.close()
        again = await _client(stack, ice_server)
        await again.send(Join("r", "Dr Li", Role.MENTOR, Publishes(), client_key=key))
        rejoined = await again.expect(Welcome)
    assert rejoined.you.id == welcome.you.id
    turn = rejoined.ice_servers[1]
    assert turn.username.endswith(f":{welcome.you.id}")
    assert turn.credential == _password(turn.username)


def test_credentials_are_made_at_the_moment_of_each_welcome() -> None:
    now = [1767225600.0]
    config = ServerConfig(ice_servers=(parse_ice_server(RELAY),), turn_secret=TURN_SECRET)
    handout = IceHandout(config, clock=lambda: now[0])
    welcome = Welcome("r", _me(), (), "0.1.0")
    ((_, first),) = handout.fill([("conn", welcome)])
    now[0] += 7200  # a rejoin two hours later
    ((_, later),) = handout.fill([("conn", welcome)])
    assert isinstance(first, Welcome) and isinstance(later, Welcome)
    assert first.ice_servers[0].username == "1767312000:p-0a1b2c3d"  # 24 h by default
    assert later.ice_servers[0].username == "1767319200:p-0a1b2c3d"
    assert later.ice_servers[0].credential == _password("1767319200:p-0a1b2c3d")


def test_only_welcomes_change_and_a_server_without_ice_servers_changes_nothing() -> None:
    welcome = Welcome("r", _me(), (), "0.1.0")
    outbox = [("a", welcome), ("b", Welcome("r", _me(), (), "0.1.0"))]
    assert IceHandout(ServerConfig()).fill(outbox) is outbox
    fixed = parse_ice_server("turn:teach:fixed-pw@turn.partner.example.org")
    filled = IceHandout(ServerConfig(ice_servers=(fixed,))).fill(outbox)
    assert [message.ice_servers for _, message in filled] == [(fixed,), (fixed,)]


async def test_without_ice_servers_the_welcome_has_no_such_field(server: RunningServer) -> None:
    async with connect(server.url, open_timeout=seconds(5)) as link:
        await link.send(json.dumps({"v": 1, "type": "join", "room": "r", "name": "A",
                                    "role": "trainee"}))
        raw = json.loads(await asyncio.wait_for(link.recv(), seconds(5)))
    assert raw["type"] == "welcome"
    assert "ice_servers" not in raw


async def test_no_log_line_holds_the_secret_or_a_credential(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fixed = parse_ice_server("turn:teach:fixed-pw-9d3e@turn.partner.example.org")
    running = await start_server(ServerConfig(
        port=0, ice_servers=(parse_ice_server(RELAY), fixed), turn_secret=TURN_SECRET))
    try:
        async with AsyncExitStack() as stack:
            welcome = await (await _client(stack, running)).join("r", "Dr Li")
    finally:
        await running.close()
    # the server's own log lines (the test's websocket client logs what it received)
    text = "\n".join(record.getMessage() for record in caplog.records
                     if not record.name.startswith("websockets.client"))
    assert f"ice servers={RELAY}" in text  # what was configured is named
    for secret in (TURN_SECRET.decode(), "fixed-pw-9d3e", welcome.ice_servers[0].credential,
                   welcome.ice_servers[0].username):
        assert secret not in text
    shown = repr(ServerConfig(turn_secret=TURN_SECRET,
                              ice_servers=(parse_ice_server(RELAY), fixed)))
    assert "fixed-pw" not in shown and TURN_SECRET.decode() not in shown


def test_the_config_refuses_a_secret_without_a_turn_server() -> None:
    with pytest.raises(ConfigError, match="no TURN server to make credentials for"):
        ServerConfig(ice_servers=(parse_ice_server(STUN),), turn_secret=TURN_SECRET)
    with pytest.raises(ConfigError, match="at least 16 random bytes"):
        ServerConfig(ice_servers=(parse_ice_server(RELAY),), turn_secret=b"short")


async def _run_main(*args: str) -> tuple[int | None, str, str]:
    env = {name: value for name, value in os.environ.items() if name != SECRET_VARIABLE}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "signaling_server", "--port", "0", *args, cwd=REPO, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), seconds(20))
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.parametrize(("args", "words"), [
    (["--ice-server", "turn:teach:pw-7a1c@turn.example.cn:99999"], "has the port '99999'"),
    (["--ice-server", "turn://turn.example.cn"], "write turn:HOST, not turn://HOST"),
    (["--turn-secret-file", "{secret}"], "no TURN server to make credentials for"),
    (["--ice-server", RELAY, "--turn-secret-file", "{missing}"], "cannot read the TURN secret "
     "file"),
    (["--ice-server", RELAY, "--turn-secret-file", "{short}"], "at least 16 random bytes"),
])
async def test_bad_ice_options_stop_the_server_with_one_plain_line(
        tmp_path: Path, args: list[str], words: str) -> None:
    files = {"secret": tmp_path / "turn-secret", "short": tmp_path / "short",
             "missing": tmp_path / "missing"}
    files["secret"].write_bytes(TURN_SECRET + b"\n")
    files["short"].write_bytes(b"tiny\n")
    code, out, err = await _run_main(*(a.format(**{k: str(v) for k, v in files.items()})
                                       for a in args))
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("signaling_server: "), err
    assert words in lines[0]
    assert "pw-7a1c" not in err and TURN_SECRET.decode() not in err


async def test_the_options_reach_the_welcome_of_a_real_server_process(tmp_path: Path) -> None:
    secret_file = tmp_path / "turn-secret"
    secret_file.write_bytes(TURN_SECRET + b"\n")  # a trailing newline is not part of it
    env = {name: value for name, value in os.environ.items() if name != SECRET_VARIABLE}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "signaling_server", "--port", "0", "--log-level", "info",
        "--ice-server", STUN, "--ice-server", RELAY, "--turn-secret-file", str(secret_file),
        cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), seconds(10))).decode()
        url = line.split("listening on ")[1].split()[0]
        async with connect(url, open_timeout=seconds(5)) as link:
            welcome = await Client(link).join("r", "Dr Li")
    finally:
        proc.terminate()
        _, err = await asyncio.wait_for(proc.communicate(), seconds(10))
    turn = welcome.ice_servers[1]
    assert turn.credential == _password(turn.username)
    assert "ice servers=" in err.decode() and TURN_SECRET.decode() not in err.decode()


def _me() -> ParticipantInfo:
    return ParticipantInfo("p-0a1b2c3d", "Dr Li", Role.MENTOR)


def test_the_documented_server_command_is_one_the_server_takes() -> None:
    """docs/security.md 4.4's command line: its ICE options parse, and say what the
    relay test runs (a secret file and a turn: server)."""
    text = (REPO / "docs" / "security.md").read_text(encoding="utf-8")
    section = text.split("### 4.4")[1].split("### 4.5")[0]
    command = next(block for block in section.split("```sh")[1:]
                   if "--turn-secret-file" in block).split("```")[0]
    words = shlex.split(command.split("-m signaling_server", 1)[1].replace("\\\n", " "),
                        comments=True)
    args = _parse_args(words)
    servers, _ = read_ice_options(args.ice_server, None)
    assert args.turn_secret_file == "/etc/surgery_teach/turn-secret"
    assert [s.urls for s in servers] == [("turn:turn.example-hospital.cn:3478",),
                                         ("turns:turn.example-hospital.cn:5349",)]
