"""A participant removed from a class room stops receiving at once, not when its Janus
session expires.

Withdrawing a token only refuses its holder's next request; what its session already
receives would flow on. So releasing a participant also throws it out of the Janus room
(``kick`` by the participant id it joined as; rooms require private ids, so its
subscriptions stop with it). Janus runs in the network lab's data centre (it skips
loopback for ICE), the surgeon publishes from one hospital and two light receivers watch
from another; one of them is released through the control shell (the signaling server's
own code) and its pictures must stop while the other's go on. Needs root, the lab's
tools and ``janus``; skipped with the reason elsewhere.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from bench.janus_class import peers_command, peers_env, start_janus
from bench.netlab.commands import in_namespace
from bench.netlab.processes import PYTHON, LabProcess, lab_env
from bench.netlab.topology import Lab, Nat
from tests.janus_lab import janus_machine  # noqa: F401  (autouse: skips without a lab)
from tests.signaling_server.media_server.test_janus_class import Control
from tests.timing import seconds

pytestmark = pytest.mark.slow
STOPPED_WITHIN_S = 1.0


def _counts(process: LabProcess, at_least: list[int], timeout: float) -> list[int]:
    """The light receivers' frame counts, once each has reached ``at_least``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = [line for line in process.tail(20).splitlines()
                 if line.startswith('{"counts"')]
        if lines:
            counts: list[int] = json.loads(lines[-1])["counts"]
            if all(c >= n for c, n in zip(counts, at_least, strict=True)):
                return counts
        time.sleep(0.2)  # polling the process's output, not waiting for time to pass
    raise AssertionError(f"frame counts did not reach {at_least}: {process.tail(10)}")


def test_a_released_viewer_is_thrown_out_and_its_pictures_stop(tmp_path: Path) -> None:
    with Lab([("or", Nat.NONE), ("class", Nat.NONE)]) as lab:
        janus, config_dir = start_janus(lab, tmp_path)
        shell = LabProcess.start(lab, "control", in_namespace(lab.dc_ns, [
            PYTHON, "-m", "tests.signaling_server.media_server.control_shell",
            "--config-dir", str(config_dir)]), tmp_path, env=lab_env(tmp_path),
            stdin=subprocess.PIPE)
        assert shell.wait_for('{"ready": true}', seconds(20)), shell.tail()
        control = Control(shell)
        # The light receivers join Janus as "light0" and "light1": their participant ids.
        granted = {name: control.ask({"admit": ["kick", name]})
                   for name in ("surgeon", "light0", "light1")}
        room_id = granted["surgeon"]["room_id"]

        surgeon = LabProcess.start(lab, "surgeon", in_namespace(
            lab.sites["or"].lan_ns, peers_command(
                "surgeon", room_id, "--size", "320x180", "--layers", "1")),
            tmp_path, env=peers_env(tmp_path, [granted["surgeon"]["token"]]))
        assert surgeon.wait_for('{"published"', seconds(60)), surgeon.tail(10)
        lights = LabProcess.start(lab, "lights", in_namespace(
            lab.sites["class"].lan_ns, peers_command(
                "light", room_id, "--count", "2", "--progress")),
            tmp_path, env=peers_env(tmp_path, [granted[n]["token"] for n in
                                               ("light0", "light1")]))
        assert lights.wait_for('{"receiving"', seconds(60)), lights.tail(10)
        before = _counts(lights, [30, 30], seconds(60))

        assert control.ask({"release": ["kick", "light0"]})["commands"] == [
            "Kick", "DisallowTokens", "RemoveToken"]
        released_at = time.time()
        # The other viewer goes on: 90 more pictures (3 s at 30 fps).
        _counts(lights, [0, before[1] + 90], seconds(30))
        lights.stop(30)
        result: dict[str, Any] = json.loads(lights.tail(1))
        surgeon.stop(30)
        shell.stop()
        janus.stop()

    thrown_out, stayed = result["light"]
    assert thrown_out["frames"] >= 30 and thrown_out["last_frame_at"] is not None
    print(f"\nlast picture of the released viewer {released_at - thrown_out['last_frame_at']:.3f}"
          f" s before its release was done; the other: {stayed['frames']} frames")
    assert thrown_out["last_frame_at"] < released_at + STOPPED_WITHIN_S, result
    assert stayed["last_frame_at"] > released_at + 2 * STOPPED_WITHIN_S, result
