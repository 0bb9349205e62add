"""``python -m surgery_teach`` and ICE servers: a malformed ``--ice-server`` is one plain
line, and a connection that does not come up is said on standard error."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from signaling_server.server import ServerConfig, start_server
from surgery_teach.protocol.messages import Role
from surgery_teach.rtc.signaling_client import SignalingClient
from tests.timing import seconds

ROOT = Path(__file__).resolve().parents[1]


async def _start(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "surgery_teach", *args, cwd=ROOT,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


@pytest.mark.parametrize(("url", "words"), [
    ("turn:teach:pw-5b2e@turn.example.cn:70000", "has the port '70000'"),
    ("turn:teach@turn.example.cn", "give both the user name and the password"),
    ("https://turn.example.cn", "has the scheme 'https'"),
])
async def test_a_malformed_ice_server_is_one_plain_line_without_the_password(
        url: str, words: str) -> None:
    proc = await _start("watch", "--room", "r", "--name", "A", "--ice-server", url)
    out, err = await asyncio.wait_for(proc.communicate(), seconds(30))
    assert proc.returncode == 2
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ICE server"), err
    assert words in lines[0] and "pw-5b2e" not in lines[0]
    assert "joined" not in out.decode()


@pytest.mark.slow
async def test_a_participant_that_never_answers_is_named_on_stderr_within_20_s() -> None:
    server = await start_server(ServerConfig(port=0))
    proc = await _start("publish", "--server", server.url, "--room", "silent", "--name",
                        "Dr Wang", "--source", "synthetic:320x180@15", "--bitrate", "300k",
                        "--stats-every", "0", "--duration", "60")
    silent = None
    try:
        assert proc.stdout is not None and proc.stderr is not None
        line = await asyncio.wait_for(proc.stdout.readline(), seconds(30))
        assert b"joined room 'silent'" in line, line
        silent = await SignalingClient.join(server.url, room="silent", name="Dr Silent",
                                            role=Role.TRAINEE)  # reads nothing, answers nothing
        loop = asyncio.get_running_loop()
        joined = loop.time()
        warning = b""
        while b"did not answer" not in warning:
            warning = await asyncio.wait_for(proc.stderr.readline(), seconds(20))
            assert warning, "the publisher ended without saying anything"
        assert loop.time() - joined < seconds(20)
        assert warning.decode().strip() == (
            "warning: Dr Silent's computer did not answer (no reply to the offer to connect "
            "in 15 s); trying once more in 30 s.")
    finally:
        if silent is not None:
            await silent.close()
        if proc.returncode is None:
            proc.terminate()
        await asyncio.wait_for(proc.communicate(), seconds(30))
        await server.close()


async def test_a_bad_layer_list_is_one_plain_line() -> None:
    proc = await _start("publish", "--room", "r", "--name", "A", "--source",
                        "synthetic:640x360@30", "--layers", "640x360@1M,640x360@0.5M")
    _, err = await asyncio.wait_for(proc.communicate(), seconds(30))
    assert proc.returncode == 2
    assert err.decode().strip() == "error: two layers are 640x360: give each layer its own size"


@pytest.mark.slow
async def test_the_publisher_sends_the_layers_it_was_given(tmp_path: Path) -> None:
    server = await start_server(ServerConfig(host="127.0.0.1", port=0))
    stats = tmp_path / "publisher.json"
    try:
        url = f"ws://127.0.0.1:{server.port}"
        publisher = await _start("publish", "--server", url, "--room", "r", "--name", "Dr Wang",
                                 "--source", "synthetic:1280x720@30", "--stats-every", "0",
                                 "--layers", "1280x720@2M,854x480@0.8M", "--duration", "10",
                                 "--stats-json", str(stats))
        viewer = await _start("watch", "--server", url, "--room", "r", "--name", "Trainee",
                              "--duration", "6", "--stats-every", "0")
        await asyncio.wait_for(viewer.communicate(), seconds(60))
        await asyncio.wait_for(publisher.communicate(), seconds(60))
        assert publisher.returncode == 0
        report = json.loads(stats.read_text())
        layers = {layer["layer"]: layer for layer in report["layers"]}
        assert set(layers) == {"720p", "480p"}  # the top, and the one the trainee needed
        # the trainee starts a layer down: the 480p layer of the list, not a default 360p
        assert layers["480p"]["size"] == [854, 480] and layers["480p"]["frames_encoded"] > 0
        assert [v["name"] for v in report["viewers"]] == ["Trainee"]
    finally:
        await server.close()
