"""A real Janus from Debian carries a class room: tokens admit, layers switch, refusals are clear.

Janus skips loopback interfaces for ICE, so it runs in the network lab's data centre
(``bench.netlab``: namespaces joined by veth pairs) with its admin API on that namespace's
127.0.0.1, next to a stand-in for the signaling server (``control_shell``) that admits and
releases participants exactly as the server will. The surgeon and the viewer run as aiortc
peers in a hospital site's namespace, across the lab's router. Needs root, the lab's tools
and ``janus``; skipped with the reason elsewhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from bench.netlab.commands import in_namespace, run
from bench.netlab.processes import PYTHON, LabProcess, lab_env
from bench.netlab.topology import DC_IP, Lab, Nat
from signaling_server.media_server.config_dir import read_access
from tests.janus_lab import janus_machine  # noqa: F401  (autouse: skips without a lab)
from tests.timing import seconds

pytestmark = pytest.mark.slow
API_PORT = 8188


class Control:
    """The control shell: one JSON command a line in, one numbered JSON answer out."""

    def __init__(self, process: LabProcess) -> None:
        self.process = process
        self._asked = 0

    def ask(self, command: dict[str, Any]) -> dict[str, Any]:
        stdin = self.process.popen.stdin
        assert stdin is not None
        stdin.write((json.dumps(command) + "\n").encode())
        stdin.flush()
        self._asked += 1
        mark = f'{{"n": {self._asked}, '
        assert self.process.wait_for(mark, seconds(20)), self.process.tail()
        line = next(line for line in self.process.tail(50).splitlines()
                    if line.startswith(mark))
        answer: dict[str, Any] = json.loads(line)
        assert answer["ok"], answer
        return answer


def _janus_pid(ns: str) -> int:
    for pid in run("ip", "netns", "pids", ns).split():
        if Path(f"/proc/{pid}/comm").read_text().strip() == "janus":
            return int(pid)
    raise AssertionError("no janus process in the data centre")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_class_room_through_janus_admits_by_token_and_switches_layers(
        tmp_path: Path) -> None:
    config_dir = tmp_path / "janus"
    with Lab([("county", Nat.NONE)]) as lab:
        county = lab.sites["county"]
        server = LabProcess.start(lab, "media-server", in_namespace(lab.dc_ns, [
            PYTHON, "-m", "signaling_server", "media-server", "--config-dir", str(config_dir),
            "--listen", DC_IP, "--port", str(API_PORT), "--start"]), tmp_path,
            env=lab_env(tmp_path))
        assert server.wait_for("media server ready", seconds(30)), server.tail(10)
        assert {p.name: oct(p.stat().st_mode & 0o777) for p in config_dir.iterdir()} == {
            name: "0o600" for name in (
                "janus.jcfg", "janus.plugin.videoroom.jcfg", "janus.transport.http.jcfg",
                "janus.transport.websockets.jcfg", "media-server.json")}
        janus = _janus_pid(lab.dc_ns)

        shell = LabProcess.start(lab, "control", in_namespace(lab.dc_ns, [
            PYTHON, "-m", "tests.signaling_server.media_server.control_shell",
            "--config-dir", str(config_dir)]), tmp_path, env=lab_env(tmp_path),
            stdin=subprocess.PIPE)
        assert shell.wait_for('{"ready": true}', seconds(20)), shell.tail()
        control = Control(shell)
        surgeon = control.ask({"admit": ["lab", "surgeon"]})
        viewer = control.ask({"admit": ["lab", "viewer"]})
        outsider = control.ask({"admit": ["another-room", "someone"]})
        assert surgeon["commands"] == ["AddToken", "CreateRoom"]
        assert viewer["commands"] == ["AddToken", "AllowTokens"]
        assert viewer["room_id"] == surgeon["room_id"] != outsider["room_id"]

        env = {**lab_env(tmp_path), "JANUS_SURGEON_TOKEN": surgeon["token"],
               "JANUS_VIEWER_TOKEN": viewer["token"], "JANUS_OUTSIDER_TOKEN": outsider["token"]}
        peers_command = [PYTHON, "-m", "tests.signaling_server.media_server.class_peers",
                         "media", "--api-url", f"ws://{DC_IP}:{API_PORT}",
                         "--room-id", str(surgeon["room_id"]),
                         "--timeout", str(seconds(30))]
        cpu_before, started = _cpu_seconds(janus), time.monotonic()
        peers = LabProcess.start(lab, "peers", in_namespace(county.lan_ns, peers_command),
                                 tmp_path, env=env)
        assert peers.wait(seconds(120)) == 0, peers.tail(20)
        cpu_janus, elapsed = _cpu_seconds(janus) - cpu_before, time.monotonic() - started
        result = json.loads(peers.tail(1))

        # The viewer decoded the top layer (640x360, red), then -- on the same m-line,
        # without a new offer -- the lower one (320x180, blue), and no top frame after.
        assert result["top"]["frames"] >= 90 and result["top"]["fps"] >= 25, result
        assert result["lower"]["frames"] >= 90 and result["lower"]["fps"] >= 25, result
        assert result["lower"]["first_after_s"] < seconds(2), result
        assert result["top_frames_after_lower_began"] == 0, result
        assert result["viewer_m_lines"] == 1
        assert result["viewer_signaling_state"] == "stable"
        # A token nobody was given is refused by Janus's core; a real token of another
        # room by the room's allowed list; both with an explanation.
        assert result["bogus_token"]["code"] == 403
        assert "token" in result["bogus_token"]["message"]
        assert result["outsider_token"]["code"] == 433
        assert "not allowed into this media-server room" in result["outsider_token"]["message"]

        # Once the viewer has left, its token no longer opens Janus.
        assert control.ask({"release": ["lab", "viewer"]})["commands"] == [
            "Kick", "DisallowTokens", "RemoveToken"]
        refused = LabProcess.start(lab, "refused", in_namespace(county.lan_ns, [
            *peers_command[:3], "refused", *peers_command[4:]]), tmp_path, env=env)
        assert refused.wait(seconds(60)) == 0, refused.tail(10)
        assert json.loads(refused.tail(1))["code"] == 403
        assert control.ask({"close": "lab"})["commands"] == ["DestroyRoom", "RemoveToken"]

        server.stop()
        shell.stop()
        access = read_access(config_dir)
        janus_log = server.log_path.read_text()
        for secret in (access.secrets.api_secret, access.secrets.admin_secret,
                       access.secrets.room_admin_key, surgeon["token"], viewer["token"]):
            assert secret not in janus_log
        print(f"\nJanus CPU: {cpu_janus:.2f} s in {elapsed:.1f} s "
              f"({100 * cpu_janus / elapsed:.1f}% of a core); top {result['top']}, "
              f"lower {result['lower']}")
