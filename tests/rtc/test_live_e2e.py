"""End to end with real parts: signaling server, aiortc peers on 127.0.0.1, x264, decoders."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path

import pytest

from surgery_teach.casebook.media import open_media
from surgery_teach.media.receive import VideoReceiver
from surgery_teach.protocol.messages import Role
from surgery_teach.rtc.session import LiveSession, SessionConfig
from tests.rtc.conftest import Cli
from tests.timing import seconds

pytestmark = pytest.mark.slow

SOURCES = ["Laparoscope=synthetic:1280x720@30", "Room camera=synthetic:640x360@30"]


def publish(cli: Cli, url: str, room: str, *extra: str) -> None:
    args = ["publish", "--server", url, "--room", room, "--name", "Dr Wang", "--role", "surgeon",
            "--stats-every", "0"]
    for spec in SOURCES:
        args += ["--source", spec]
    cli.start(*args, *extra)


async def watcher(url: str, room: str, name: str) -> LiveSession:
    return await LiveSession.start(
        SessionConfig(server=url, room=room, name=name, role=Role.TRAINEE)
    )


async def wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def by_label(session: LiveSession) -> dict[str, VideoReceiver]:
    return {r.label: r for r in session.receivers}


async def test_two_watchers_decode_both_labelled_tracks_at_full_rate(
    server_url: str, cli: Cli, tmp_path: Path
) -> None:
    """Two watcher processes each decode both sources, stamps in order, >= 25 fps, on the
    top layers by the end (trainees start a layer down and try the better one first)."""
    publish(cli, server_url, "case-1")
    stats = [tmp_path / "w1.json", tmp_path / "w2.json"]
    watchers = [
        cli.start("watch", "--server", server_url, "--room", "case-1", "--name", f"Trainee {i}",
                  "--duration", "20", "--stats-json", str(path), "--stats-every", "0")
        for i, path in enumerate(stats)
    ]
    for proc in watchers:
        await asyncio.to_thread(proc.wait, seconds(60))
        assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    for path in stats:
        report = json.loads(path.read_text(encoding="utf-8"))
        tracks = {t["label"]: t for t in report["tracks"]}
        assert set(tracks) == {"Laparoscope", "Room camera"}
        lap = tracks["Laparoscope"]
        assert lap["resolution"] == [1280, 720]
        assert tracks["Room camera"]["resolution"] == [640, 360]
        for track in tracks.values():
            assert track["frames_decoded"] >= 250, track
            assert track["fps"] >= 25, track
            assert track["out_of_order"] == 0, track
            assert track["unreadable_stamps"] == 0, track
            assert track["latency_ms"]["count"] >= 250, track
            assert 0 < track["latency_ms"]["p50"] < 1000, track


async def test_late_watcher_gets_a_picture_within_two_seconds(server_url: str, cli: Cli) -> None:
    publish(cli, server_url, "case-2")
    first = await watcher(server_url, "case-2", "Early")
    try:
        await wait_for(lambda: len(first.receivers) == 2 and all(
            r.stats.frames > 30 for r in first.receivers), seconds(30), "the first watcher's video")
        # Keyframes come only every few seconds unless asked: the newcomer's request matters.
        joined_at = time.monotonic()
        late = await watcher(server_url, "case-2", "Late")
        try:
            await wait_for(lambda: len(late.receivers) == 2 and all(
                r.stats.frames > 0 for r in late.receivers), seconds(10),
                "the late watcher's video")
            assert time.monotonic() - joined_at < seconds(2)
        finally:
            await late.close()
    finally:
        await first.close()


async def test_watcher_leaving_does_not_disturb_others_and_publisher_leaving_is_seen(
    server_url: str, cli: Cli
) -> None:
    publish(cli, server_url, "case-3")
    a = await watcher(server_url, "case-3", "A")
    b = await watcher(server_url, "case-3", "B")
    try:
        for session in (a, b):
            await wait_for(lambda s=session: len(s.receivers) == 2 and all(
                r.stats.frames > 10 for r in s.receivers), seconds(30), "video at both watchers")
        surgeon_id = next(p.id for p in b.participants.values() if p.role == Role.SURGEON)
        assert {p.name for p in b.participants.values()} == {"Dr Wang", "A"}
        await a.close()
        await wait_for(lambda: {p.name for p in b.participants.values()} == {"Dr Wang"},
                       seconds(10), "B to see A leave")
        before = {label: r.stats.frames for label, r in by_label(b).items()}
        await wait_for(lambda: all(r.stats.frames >= before[label] + 60
                                   for label, r in by_label(b).items()),
                       seconds(15), "B's video to keep flowing after A left")

        ended: list[str] = []
        b.on("video-ended", lambda r: ended.append(r.label))
        publisher = cli.procs[0]
        publisher.send_signal(signal.SIGINT)
        assert await asyncio.to_thread(publisher.wait, seconds(15)) == 0
        await wait_for(lambda: surgeon_id not in b.participants, seconds(10),
                       "B to see the surgeon leave")
        await wait_for(lambda: sorted(ended) == ["Laparoscope", "Room camera"], seconds(10),
                       "B's tracks to end")
    finally:
        await a.close()
        await b.close()


async def test_publish_records_every_source_without_stopping_the_stream(
    server_url: str, cli: Cli, tmp_path: Path
) -> None:

    from surgery_teach.capture import luma_of, read_stamp
    from surgery_teach.casefile import read_manifest

    proc = cli.start("publish", "--server", server_url, "--room", "rec", "--name", "Dr Wang",
                     "--source", "Laparoscope=synthetic:640x360@30", "--duration", "4",
                     "--record", str(tmp_path), "--title", "Cholecystectomy", "--stats-every",
                     "0")
    assert await asyncio.to_thread(proc.wait, seconds(60)) == 0, proc.stderr.read()  # type: ignore[union-attr]
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    manifest = read_manifest(folder)
    assert manifest.title == "Cholecystectomy" and manifest.duration
    (video,) = folder.glob("*.mkv")
    with open_media(video) as container:  # encrypted at rest: read as the player reads
        seqs = [read_stamp(luma_of(f)).seq for f in container.decode(video=0)]  # type: ignore[union-attr]
    assert len(seqs) >= 60 and seqs == sorted(seqs)
