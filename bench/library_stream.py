"""Case library benchmark: many students streaming different cases at once.

Makes a 720p H.264 endoscope video (the synthetic laparoscopy scene, ``--mbit`` Mbit/s,
``--seconds`` long), puts it into ``--students`` different cases (the project's recorded
test case, retitled, so each has its own id and its own files on the server), publishes
them to ``python -m library_server`` over TLS in its own process, then starts one process
per student. Each student opens its case's endoscope file through the library client
(:class:`~surgery_teach.caselibrary.media.RemoteMediaFile`: HTTP range requests, as the
player does) and demuxes it at playback speed, as a player would: when a packet arrives
after the moment it should be shown, the picture would freeze for that long and the
playback clock waits (a *stall*). Decoding is left out (each student decodes on their own
computer; 20 x 720p decoders do not fit on this machine's two cores).

Prints, per student, the time to the first packet and the longest stall, then the worst
of them, the number of stalls over 1 s and the server's CPU (% of one core). Before the
crowd, one student opens a case the way the desktop player does (small files fetched,
media streamed, decoded): the time to its first frame, and to the frame after a seek to
the middle, are printed too (targets: 2 s and 1 s on a LAN).

    .venv/bin/python -m bench.library_stream --students 20 --seconds 30
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from surgery_teach.capture.synthetic import LaparoscopyScene  # noqa: E402
from surgery_teach.casebook import SourcePlayer, open_case  # noqa: E402
from surgery_teach.casebook.media import stop_streaming  # noqa: E402
from surgery_teach.caselibrary.connection import LibraryConnection  # noqa: E402
from surgery_teach.caselibrary.media import RemoteMediaFile  # noqa: E402
from surgery_teach.caselibrary.passes import LibraryRole, issue_library_token  # noqa: E402
from surgery_teach.caselibrary.publish import publish_case  # noqa: E402
from surgery_teach.caselibrary.remote import RemoteLibrary  # noqa: E402
from tests.library_server.helpers import (  # noqa: E402
    SECRET,
    LibraryProcess,
    case_variant,
    make_certificate,
)
from tests.recording.cases import recorded_case  # noqa: E402

FPS = 30
START_MARGIN = 15.0  # seconds for the student processes to start before they all begin
WIDTH, HEIGHT = 1280, 720


def make_video(path: Path, seconds: float, mbit: float) -> None:
    """``seconds`` of 720p30 H.264 at about ``mbit`` Mbit/s: two seconds of the synthetic
    scene encoded, their packets repeated with shifted timestamps."""
    scene = LaparoscopyScene(WIDTH, HEIGHT)
    once = path.with_name("once.mkv")
    with av.open(str(once), "w", format="matroska") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.bit_rate = int(mbit * 1e6)
        stream.options = {"preset": "ultrafast", "g": str(FPS), "tune": "zerolatency"}
        for n in range(2 * FPS):
            frame = av.VideoFrame.from_ndarray(scene.render(n / FPS), format="bgr24")
            frame.pts, frame.time_base = n, Fraction(1, FPS)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    with av.open(str(once)) as source:
        stream = source.streams.video[0]
        packets = [p for p in source.demux(stream) if p.size]
        step = max(p.pts for p in packets) + (packets[1].pts - packets[0].pts)
        with av.open(str(path), "w", format="matroska") as out:
            copy = out.add_stream_from_template(stream)
            repeat = 0
            while repeat * step * stream.time_base < seconds:
                for packet in packets:
                    packet.pts += step if repeat else 0
                    packet.dts = packet.pts
                    packet.stream = copy
                    out.mux(packet)
                repeat += 1
    once.unlink()


def student(url: str, token: str, ca: str, case: str, start_at: float,
            seconds: float) -> dict[str, float]:
    """Stream ``case``'s endoscope at playback speed from ``start_at``; its figures."""
    time.sleep(max(0.0, start_at - time.time()))
    began = time.monotonic()
    connection = LibraryConnection(url, token, tls=_tls(ca), timeout=30)
    media = RemoteMediaFile(connection, case, "endoscope.mkv")
    stalls: list[float] = []
    first = 0.0
    with av.open(media) as container:  # type: ignore[arg-type]
        stream = container.streams.video[0]
        origin: float | None = None
        clock = 0.0  # when media time 0 is shown (moves on by every stall)
        for packet in container.demux(stream):
            if packet.pts is None or not packet.size:
                continue
            now = time.monotonic()
            t = float(packet.pts * stream.time_base)
            if origin is None:
                origin, first, clock = t, now - began, now
            if t - origin > seconds:
                break
            due = clock + (t - origin)
            if now > due:
                stalls.append(now - due)
                clock += now - due
            else:
                time.sleep(due - now)
    return {"first_packet_s": round(first, 3),
            "longest_stall_s": round(max(stalls, default=0.0), 3),
            "stalls_over_1s": sum(s > 1.0 for s in stalls),
            "stalled_s": round(sum(stalls), 3),
            "requests": media.requests, "fetched_mb": round(media.fetched / 1e6, 1)}


def player_timing(url: str, token: str, ca: str, cache: Path, middle: float
                  ) -> dict[str, float]:
    """Open one library case as the player does; seconds to its first frame, and to the
    frame after a seek to ``middle``."""
    remote = RemoteLibrary(url, token, cache=cache, ca_file=ca)
    began = time.monotonic()
    [found] = remote.entries("Case 00")
    folder = remote.prepare(found.summary)
    try:
        playable = open_case(folder)
        with SourcePlayer(playable.case, "Endoscope", start=playable.start) as player:
            assert player.next() is not None
            first = time.monotonic() - began
            seeking = time.monotonic()
            assert player.seek(middle) is not None
            seek = time.monotonic() - seeking
    finally:
        stop_streaming(folder)
    return {"first_frame_s": round(first, 3), "seek_s": round(seek, 3)}


def _tls(ca: str):  # type: ignore[no-untyped-def]
    from surgery_teach.caselibrary.connection import client_tls

    return client_tls(ca)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.library_stream", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--mbit", type=float, default=3.0, help="720p bitrate (default 3)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-stream-"))
    try:
        base = recorded_case(work)
        make_video(base / "endoscope.mkv", args.seconds + 2, args.mbit)
        cert = make_certificate(work)
        secret_file = work / "secret"
        secret_file.write_bytes(SECRET)
        server = LibraryProcess(work / "library", secret_file, cert)
        mentor = issue_library_token(SECRET, role=LibraryRole.MENTOR, collections=["*"],
                                     name="bench", ttl=3600, now=time.time())
        viewer = issue_library_token(SECRET, role=LibraryRole.STUDENT, collections=["*"],
                                     name="student", ttl=3600, now=time.time())
        try:
            cases = []
            with LibraryConnection(server.url, mentor, tls=cert.client_context(),
                                   timeout=120) as connection:
                for n in range(args.students):
                    folder = case_variant(base, work / "cases", title=f"Case {n:02d}")
                    cases.append(publish_case(folder, connection,
                                              collections=["everyone"]).case.id)
            size = (base / "endoscope.mkv").stat().st_size
            player = player_timing(server.url, viewer, str(cert.cert), work / "cache",
                                   args.seconds / 2)
            server_process = psutil.Process(server.process.pid)
            cpu_before = sum(server_process.cpu_times()[:2])
            began = time.monotonic()
            start_at = time.time() + START_MARGIN  # all processes started, then all begin
            with multiprocessing.get_context("spawn").Pool(args.students) as pool:
                results = pool.starmap(student, [
                    (server.url, viewer, str(cert.cert), case, start_at, args.seconds)
                    for case in cases])
            wall = time.monotonic() - began - START_MARGIN
            server_cpu = sum(server_process.cpu_times()[:2]) - cpu_before
        finally:
            server.stop()
        for n, row in enumerate(results):
            print(f"student {n:02d}: {json.dumps(row)}")
        summary = {
            "students": args.students, "seconds": args.seconds,
            "video_mbit_s": round(size * 8 / 1e6 / (args.seconds + 2), 2),
            "worst_first_packet_s": max(r["first_packet_s"] for r in results),
            "longest_stall_s": max(r["longest_stall_s"] for r in results),
            "stalls_over_1s": sum(int(r["stalls_over_1s"]) for r in results),
            "server_cpu_percent": round(100 * server_cpu / wall, 1),
            "player_first_frame_s": player["first_frame_s"],
            "player_seek_s": player["seek_s"],
        }
        print(json.dumps(summary))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
