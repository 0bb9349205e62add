"""Voices and a viewer's recording through a real Janus, across the move onto it and back.

In the network lab (Janus skips loopback for ICE; root and ``janus`` needed, skipped
with the reason elsewhere): the surgeon sends the synthetic laparoscope and a 440 Hz
tone as its voice, a mentor an 880 Hz tone and records what it has, a trainee listens.
The room starts peer to peer; the surgeon asks for class mode (everything through
Janus), then gives it up (peer to peer again). Each participant is a
:mod:`tests.rtc.class_lab_client` process.

What must hold: through Janus the trainee hears the surgeon and the mentor, the mentor
hears the surgeon and the surgeon the mentor; when Janus hangs up one of the trainee's
subscriptions alone, the trainee watches that publisher again on a new one; the mentor's
recording is one file of the laparoscope that plays from start to end with no gap in the
pictures longer than the handover target (1 s) across both moves, and its sound has the
surgeon's voice all along.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from bench.janus_class import start_janus
from bench.netlab.commands import in_namespace
from bench.netlab.processes import (
    PYTHON,
    ROOM,
    LabProcess,
    SignalingServer,
    lab_env,
    server_url,
    start_signaling,
)
from bench.netlab.topology import Lab, Nat
from surgery_teach.audio.analysis import tone_power
from surgery_teach.casefile.manifest import read_manifest
from surgery_teach.protocol.messages import Role
from tests.janus_lab import janus_machine  # noqa: F401  (autouse: skips without a lab)
from tests.recording.helpers import decode_stamped
from tests.timing import seconds

pytestmark = pytest.mark.slow
HANDOVER_GAP_S = 1.0  # the target: no picture stops for more than a second
SURGEON, MENTOR, TRAINEE = "Dr Wang", "Prof Li", "Trainee Osh"
SURGEON_HZ, MENTOR_HZ = 440.0, 880.0


def _client(lab: Lab, server: SignalingServer, run_dir: Path, site: str, name: str,
            role: Role, *options: str) -> tuple[LabProcess, Path]:
    report = run_dir / f"{site}.json"
    command = [PYTHON, "-m", "tests.rtc.class_lab_client", "--server", server_url(),
               "--room", ROOM, "--name", name, "--role", role.value,
               "--seconds", str(seconds(300)), "--report", str(report), *options]
    process = LabProcess.start(lab, site, in_namespace(lab.sites[site].lan_ns, command),
                               run_dir, env=lab_env(run_dir, server.token(role, name)))
    return process, report


def _expect(process: LabProcess, *lines: str, wait: float = 60) -> None:
    for line in lines:
        assert process.wait_for(line, seconds(wait)), f"{process.name}: no {line!r}\n" + \
            process.tail(15)


def _handle(process: LabProcess, name: str, after: str = "") -> tuple[str, str]:
    """The handle (and Janus session) ``process`` watches ``name`` on (the first one
    said after handle ``after``)."""
    deadline = time.monotonic() + seconds(30)
    while time.monotonic() < deadline:
        found = [line.split() for line in process.tail(200).splitlines()
                 if line.startswith(f"watching {name} on handle")]
        handles = [(words[-4], words[-1]) for words in found]
        if after:
            handles = [h for h in handles if h[0] != after]
        if handles:
            return handles[-1]
        process.wait_for("\0never", 0.2)  # wait for more output
    raise AssertionError(f"{process.name} never said which handle carries {name}:\n"
                         + process.tail(15))


def _report(process: LabProcess, path: Path) -> dict[str, Any]:
    process.popen.send_signal(signal.SIGTERM)
    assert process.wait(seconds(60)) == 0, process.tail(20)
    result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return result


def _class_tracks(report: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [t for t in report["voices"][name]["tracks"] if t["route"] == "class"]


def _hears(report: dict[str, Any], name: str, hz: float) -> None:
    tracks = _class_tracks(report, name)
    assert tracks, f"{name}'s voice never came through Janus: {report['voices']}"
    assert max(t["tone"].get(str(hz), 0) for t in tracks) > 0.5, tracks  # not noise


def test_voices_and_a_mentors_recording_go_on_through_janus_and_back(tmp_path: Path) -> None:
    with Lab([("or", Nat.NONE), ("mentor", Nat.NONE), ("trainee", Nat.NONE)]) as lab:
        janus, config_dir = start_janus(lab, tmp_path)
        server = start_signaling(lab, tmp_path, extra=["--media-server-dir", str(config_dir)])
        surgeon, surgeon_report = _client(
            lab, server, tmp_path, "or", SURGEON, Role.SURGEON, "--source",
            "synthetic:640x360@30", "--tone", str(SURGEON_HZ), "--listen", str(MENTOR_HZ))
        _expect(surgeon, "joined as")
        mentor, mentor_report = _client(
            lab, server, tmp_path, "mentor", MENTOR, Role.MENTOR, "--tone", str(MENTOR_HZ),
            "--listen", str(SURGEON_HZ), "--watch", "--record", str(tmp_path / "cases"))
        trainee, trainee_report = _client(
            lab, server, tmp_path, "trainee", TRAINEE, Role.TRAINEE, "--watch",
            "--listen", str(SURGEON_HZ), "--listen", str(MENTOR_HZ))
        _expect(mentor, "peers open (phase 1)", f"heard {SURGEON} via peer (phase 1)")
        _expect(trainee, "peers open (phase 1)")

        surgeon.popen.send_signal(signal.SIGUSR1)  # class mode: through Janus
        _expect(mentor, "route class (phase 2)", "peers closed (phase 2)",
                f"heard {SURGEON} via class (phase 2)")
        _expect(trainee, "peers closed (phase 2)", f"heard {SURGEON} via class (phase 2)",
                f"heard {MENTOR} via class (phase 2)")
        _expect(surgeon, f"heard {MENTOR} via class (phase 2)")

        # Janus hangs up one of the trainee's subscriptions alone (as when that
        # connection's DTLS fails): the trainee watches the surgeon again on a new one.
        trainee_handle, janus_session = _handle(trainee, SURGEON)
        _expect(trainee, f"pictures on handle {trainee_handle}")
        hangup = LabProcess.start(lab, "hangup", in_namespace(lab.dc_ns, [
            PYTHON, "-m", "tests.rtc.janus_hangup", str(config_dir), janus_session,
            trainee_handle]), tmp_path, env=lab_env(tmp_path))
        assert hangup.wait(seconds(30)) == 0, hangup.tail(10)
        _expect(trainee, f"pictures on handle {trainee_handle}")
        again, _ = _handle(trainee, SURGEON, after=trainee_handle)
        _expect(trainee, f"pictures on handle {again}", wait=30)

        surgeon.popen.send_signal(signal.SIGUSR2)  # peer to peer again
        _expect(mentor, "route peer (phase 3)", "peers open (phase 3)",
                f"heard {SURGEON} via peer (phase 3)")
        heard = {name: _report(process, path) for name, process, path in (
            (MENTOR, mentor, mentor_report), (TRAINEE, trainee, trainee_report),
            (SURGEON, surgeon, surgeon_report))}
        janus.stop(30)

    # The voices through Janus: everyone hears the surgeon and the mentor.
    _hears(heard[TRAINEE], SURGEON, SURGEON_HZ)
    _hears(heard[TRAINEE], MENTOR, MENTOR_HZ)
    _hears(heard[MENTOR], SURGEON, SURGEON_HZ)
    _hears(heard[SURGEON], MENTOR, MENTOR_HZ)

    # The mentor's recording: one laparoscope file through both moves, that plays.
    folder = Path(heard[MENTOR]["folder"])
    manifest = read_manifest(folder)
    [source] = manifest.sources
    frames = decode_stamped(folder / source.file)
    assert frames, "the recording plays no picture"
    span = frames[-1].captured_at - frames[0].captured_at
    gaps = np.diff([f.captured_at for f in frames])
    print(f"\nmentor's recording: {len(frames)} pictures over {span:.1f} s, longest gap "
          f"{1000 * gaps.max():.0f} ms")
    # Peer to peer, Janus and peer to peer again, each with 3 s of voice: all in the file.
    worst = int(gaps.argmax())
    began = heard[MENTOR]["phases_began"]
    where = {"phase": sum(1 for t in began if t <= frames[worst].captured_at),
             "after_s": round(frames[worst].captured_at - max(
                 [t for t in began if t <= frames[worst].captured_at] or [began[0]]), 2)}
    assert span > 9
    assert gaps.max() <= HANDOVER_GAP_S, (
        f"{gaps.max():.2f} s without a picture in the recording (phase 1 peer to peer, 2 "
        f"Janus, 3 peer to peer): {where}; the voice: {heard[MENTOR]['voices'][SURGEON]}")
    steps = np.diff([f.seq for f in frames])
    assert np.all(steps > 0), "a picture twice, or out of order, where the paths changed"

    # ...and its sound has the surgeon's voice all along (half-second windows).
    assert manifest.audio is not None
    with av.open(str(folder / manifest.audio.file)) as container:
        rate = container.streams.audio[0].rate
        audio = np.concatenate([f.to_ndarray().reshape(-1, len(f.layout.channels))[:, 0]
                                for f in container.decode(audio=0)]).astype(np.float64)
    window = rate // 2
    powers = [tone_power(audio[at:at + window], rate, SURGEON_HZ)
              for at in range(rate, len(audio) - 2 * rate, window)]
    silent = longest_run([p < 0.1 for p in powers]) * 0.5
    print(f"mentor's recording: {len(audio) / rate:.1f} s of sound, the surgeon's voice "
          f"missing at most {silent:.1f} s at a time")
    assert len(audio) / rate > 9 and silent <= HANDOVER_GAP_S


def longest_run(flags: list[bool]) -> int:
    best = run = 0
    for flag in flags:
        run = run + 1 if flag else 0
        best = max(best, run)
    return best
