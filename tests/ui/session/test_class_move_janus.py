"""A mentor's window while the room moves onto a real Janus and back.

In the network lab (Janus skips loopback for ICE; root and ``janus`` needed, skipped with
the reason elsewhere): the surgeon publishes a laparoscope and a room camera from one
hospital (the command-line client); the mentor's desktop window at another
(:mod:`tests.ui.session.class_window_client`, Qt offscreen at 1366x768) pins an arrow on
the laparoscope, moves the room onto Janus with its "Class mode" button, freezes the
laparoscope there and gives class mode up. Each source comes on two paths at once during
both moves; the window must show it once, keep the laparoscope large with its arrow and
its freeze, and show the new path's pictures in the same tiles.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from bench.janus_class import start_janus
from bench.netlab.commands import in_namespace
from bench.netlab.processes import PYTHON, ROOM, LabProcess, lab_env, server_url, start_signaling
from bench.netlab.topology import Lab, Nat
from surgery_teach.protocol.messages import Role
from tests.janus_lab import janus_machine  # noqa: F401  (autouse: skips without a lab)
from tests.timing import seconds

pytestmark = pytest.mark.slow
LAP = "Laparoscope"
CAMERA = "手术室全景摄像机（三号手术间天花板东北角广角镜头）"
"""A long Chinese label: through Janus it must name the same source as peer to peer."""
SURGEON, MENTOR = "Dr Wang", "Prof Li"


def test_the_mentors_window_shows_each_source_once_onto_janus_and_back(
        tmp_path: Path) -> None:
    shots = Path(os.environ.get("SURGERY_TEACH_SHOTS", tmp_path / "shots"))
    with Lab([("or", Nat.NONE), ("mentor", Nat.NONE)]) as lab:
        janus, config_dir = start_janus(lab, tmp_path)
        server = start_signaling(lab, tmp_path, extra=["--media-server-dir", str(config_dir)])
        surgeon = LabProcess.start(lab, "surgeon", in_namespace(lab.sites["or"].lan_ns, [
            PYTHON, "-m", "surgery_teach", "publish", "--server", server_url(),
            "--room", ROOM, "--name", SURGEON, "--role", Role.SURGEON.value,
            "--source", f"{LAP}=synthetic:640x360@30", "--bitrate", "1.5M",
            "--source", f"{CAMERA}=synthetic:320x180@30", "--bitrate", "0.3M",
            "--duration", str(seconds(300))]), tmp_path,
            env=lab_env(tmp_path, server.token(Role.SURGEON, SURGEON)))
        report_path = tmp_path / "mentor.json"
        env = lab_env(tmp_path, server.token(Role.MENTOR, MENTOR))
        env["QT_QPA_PLATFORM"] = "offscreen"
        mentor = LabProcess.start(lab, "mentor", in_namespace(lab.sites["mentor"].lan_ns, [
            PYTHON, "-m", "tests.ui.session.class_window_client", "--server", server_url(),
            "--room", ROOM, "--name", MENTOR, "--report", str(report_path),
            "--shots", str(shots), "--wait", str(seconds(40))]), tmp_path, env=env)
        status = mentor.wait(seconds(300))
        surgeon.stop(30)
        janus.stop(30)
        assert report_path.exists(), mentor.tail(30)
        report: dict[str, Any] = json.loads(report_path.read_text(encoding="utf-8"))
        assert status == 0 and not report["error"], (report, mentor.tail(30))

    print(f"\nscreenshots in {shots}: {report['shots']}; {report['samples']} looks")
    assert report["large_at_first"] == LAP
    assert report["twice"] == [], report["twice"]  # never a source twice on screen
    assert report["mains"] == [LAP], report["mains"]  # the laparoscope large all along
    on_janus, back = report["on_janus"], report["back"]
    assert on_janus["both_paths_seen"] and back["both_paths_seen"], report
    assert on_janus["large"] == LAP and on_janus["large_on_the_new_path"], on_janus
    assert on_janus["thumbnail_on_the_new_path"] and on_janus["tiles"] == [LAP, CAMERA]
    assert on_janus["arrow_pixels"] > 200, on_janus  # the arrow went along
    assert on_janus["kbit_per_s"] > 100, on_janus  # link health measures Janus's path
    assert "frozen" in back["large"] and back["same_places"], back  # the freeze too
    assert back["thumbnails_on_the_new_path"] and sorted(back["tiles"]) == [LAP, CAMERA]
    assert back["large_after_unfreezing"] == LAP and back["arrow_pixels"] > 200, back
