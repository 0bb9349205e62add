"""Case library benchmark: publishing a large case, and listing/searching 10,000 cases.

``publish``: records a short case with the project's recorder, makes its endoscope file
about ``--mb`` MB by repeating its packets (a real, playable Matroska file), starts
``python -m library_server`` over TLS on 127.0.0.1 in its own process and publishes the
case with ``surgery_teach.caselibrary.publish_case``; prints MB/s (whole publish, and the
sending part alone, after the checksums) and the CPU of the server and the client
(% of one core, psutil). ``--encrypted`` publishes the same case encrypted at rest (as
cases are recorded by default), so the client decrypts it as it reads and sends.

``search``: fills an embedded (SQLite) index with ``--cases`` synthetic cases in 20
hospitals and 10 courses, starts the server on it and times ``GET /api/v1/cases`` over
TLS for a student who may watch 3 collections and for a librarian who sees all: a plain
list, free text, a chapter title, a role, a date range, a sort by title; prints p50, p95
and max per query.

    .venv/bin/python -m bench.library publish --mb 1024 [--encrypted]
    .venv/bin/python -m bench.library search --cases 10000 --rounds 50
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import av
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from library_server.index import open_sqlite_index  # noqa: E402
from library_server.store import PUBLICATION_FILE  # noqa: E402
from surgery_teach.casefile.keys import recording_key  # noqa: E402
from surgery_teach.casefile.layout import new_case_folder  # noqa: E402
from surgery_teach.casefile.manifest import Participant  # noqa: E402
from surgery_teach.casefile.sealed_folder import create_case_file  # noqa: E402
from surgery_teach.caselibrary.connection import LibraryConnection  # noqa: E402
from surgery_teach.caselibrary.passes import LibraryRole, issue_library_token  # noqa: E402
from surgery_teach.caselibrary.publish import Phase, PublishProgress, publish_case  # noqa: E402
from surgery_teach.caselibrary.wire import CaseSummary, FileEntry  # noqa: E402
from surgery_teach.wire.role import Role  # noqa: E402
from tests.library_server.helpers import (  # noqa: E402
    SECRET,
    LibraryProcess,
    make_certificate,
)
from tests.recording.cases import recorded_case  # noqa: E402


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def grow(video: Path, megabytes: float) -> None:
    """Rewrite ``video`` with its packets repeated (timestamps shifted) up to the size."""
    target = megabytes * 1e6
    bigger = video.with_name("big-" + video.name)
    with av.open(str(video)) as source:
        stream = source.streams.video[0]
        packets = [p for p in source.demux(stream) if p.size]
        step = max(p.pts for p in packets) + (packets[1].pts - packets[0].pts)
        with av.open(str(bigger), "w", format="matroska") as out:
            copy = out.add_stream_from_template(stream)
            written, repeat = 0, 0
            while written < target:
                for packet in packets:
                    packet.pts += step if repeat else 0
                    packet.dts = packet.pts
                    packet.stream = copy
                    out.mux(packet)
                    written += packet.size
                repeat += 1
    os.replace(bigger, video)


def seal_copy(case: Path, into: Path) -> Path:
    """``case`` copied into a new folder encrypted with a hospital passphrase (the plain
    copy is removed), as the recorder writes an encrypted case."""
    key = recording_key(encrypt=True, passphrase="bench hospital passphrase")
    sealed = new_case_folder(into, "bench case", key=key)
    for path in sorted(case.iterdir()):
        if path.is_file():
            with open(path, "rb") as source, create_case_file(sealed / path.name) as target:
                shutil.copyfileobj(source, target, 8 << 20)
    shutil.rmtree(case)
    return sealed


def bench_publish(args: argparse.Namespace) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="bench-library-"))
    try:
        case = recorded_case(work)
        grow(case / "endoscope.mkv", args.mb)
        if args.encrypted:
            case = seal_copy(case, work / "sealed")
        size = sum(p.stat().st_size for p in case.iterdir() if p.is_file())
        cert = make_certificate(work)
        secret_file = work / "secret"
        secret_file.write_bytes(SECRET)
        server = LibraryProcess(work / "library", secret_file, cert)
        token = issue_library_token(SECRET, role=LibraryRole.MENTOR, collections=["*"],
                                    name="bench", ttl=3600, now=time.time())
        phases: dict[Phase, float] = {}

        def progress(p: PublishProgress) -> None:
            phases.setdefault(p.phase, time.monotonic())

        server_process = psutil.Process(server.process.pid)
        me = psutil.Process()
        try:
            with LibraryConnection(server.url, token, tls=cert.client_context(),
                                   timeout=120) as connection:
                server_cpu, client_cpu, began = _cpu(server_process), _cpu(me), time.monotonic()
                result = publish_case(case, connection, collections=["everyone"],
                                      progress=progress)
                wall = time.monotonic() - began
                server_cpu = _cpu(server_process) - server_cpu
                client_cpu = _cpu(me) - client_cpu
        finally:
            server.stop()
        sending = phases[Phase.FINISHING] - phases[Phase.SENDING]
        return {
            "case_mb": round(size / 1e6, 1),
            "sent_mb": round(result.sent / 1e6, 1),
            "seconds": round(wall, 2),
            "mb_per_s": round(size / 1e6 / wall, 1),
            "checksums_s": round(phases[Phase.SENDING] - began, 2),
            "sending_s": round(sending, 2),
            "sending_mb_per_s": round(result.sent / 1e6 / sending, 1),
            "finishing_s": round(phases[Phase.DONE] - phases[Phase.FINISHING], 2),
            "server_cpu_percent": round(100 * server_cpu / wall, 1),
            "client_cpu_percent": round(100 * client_cpu / wall, 1),
            "tls": True,
            "encrypted_case": bool(args.encrypted),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


_WORDS = ("cholecystectomy appendectomy hernia colectomy thyroidectomy gastrectomy "
          "nephrectomy hysterectomy splenectomy fundoplication").split()
_CHAPTERS = ("Exposure", "Calot's triangle", "Clipping", "Dissection", "Closure",
             "Mesoappendix", "Mesh placement", "Haemostasis", "Port placement", "Extraction")


def _synthetic(n: int, rng: random.Random) -> CaseSummary:
    started = dt.datetime(2024, 1, 1, 8, tzinfo=dt.UTC) + dt.timedelta(
        hours=rng.randrange(0, 3 * 365 * 24))
    procedure = rng.choice(_WORDS)
    hospital = f"Hospital {n % 20}"
    collections = [f"hospital:h{n % 20}"] + ([f"course:c{n % 10}"] if n % 3 == 0 else [])
    return CaseSummary(
        id=f"{n:032x}", title=f"{procedure.capitalize()} {n}", hospital=hospital,
        procedure=procedure, date=started.date(), started_at=started,
        duration=rng.uniform(600, 4 * 3600),
        participants=tuple(Participant(r, f"Person {rng.randrange(500)}") for r in
                           rng.sample(list(Role), rng.randint(1, 4))),
        chapters=tuple((c, 60.0 * i) for i, c in enumerate(rng.sample(_CHAPTERS, 4))),
        sources=("Endoscope", "Room camera"), audio=True, problems=(),
        collections=tuple(collections),
        files=(FileEntry("endoscope.mkv", 9 << 30, "0" * 64),), thumbnail=True,
        published_at=started + dt.timedelta(days=1), publisher="Dr Wang")


def fill(data: Path, count: int) -> None:
    """An index of ``count`` cases, with a stub folder each (so the server keeps them)."""
    rng = random.Random(7)
    data.mkdir(parents=True)
    index = open_sqlite_index(data / "index.sqlite3")
    index.connection.execute("PRAGMA synchronous=OFF")
    for n in range(count):
        summary = _synthetic(n, rng)
        index.add(summary)
        folder = data / "cases" / summary.id
        folder.mkdir(parents=True)
        (folder / PUBLICATION_FILE).write_text("{}")
    index.close()


def bench_search(args: argparse.Namespace) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="bench-library-"))
    try:
        filled = time.monotonic()
        fill(work / "library", args.cases)
        filled = time.monotonic() - filled
        cert = make_certificate(work)
        secret_file = work / "secret"
        secret_file.write_bytes(SECRET)
        server = LibraryProcess(work / "library", secret_file, cert)
        queries = {
            "list (date, 50)": {},
            "free text": {"q": "calot cholecystectomy"},
            "chapter title": {"chapter": "mesh placement"},
            "role": {"role": "trainee"},
            "date range": {"from": "2025-03-01", "to": "2025-06-30"},
            "sort by title": {"sort": "title"},
            "hospital + text": {"hospital": "hospital 7", "q": "hernia"},
            "page 40": {"offset": "2000"},
        }
        viewers = {
            "student (3 collections)": ["hospital:h3", "hospital:h7", "course:c1"],
            "librarian (all)": ["*"],
        }
        results: dict[str, object] = {"cases": args.cases, "fill_seconds": round(filled, 1)}
        try:
            for who, collections in viewers.items():
                token = issue_library_token(SECRET, role=LibraryRole.STUDENT,
                                            collections=collections, name="b", ttl=3600,
                                            now=time.time())
                with LibraryConnection(server.url, token, tls=cert.client_context(),
                                       timeout=60) as connection:
                    for name, params in queries.items():
                        path = "/cases" + (f"?{urllib.parse.urlencode(params)}" if params
                                           else "")
                        connection.request("GET", path)  # warm
                        times = []
                        total = 0
                        for _ in range(args.rounds):
                            began = time.perf_counter()
                            _, _, body = connection.request("GET", path)
                            times.append(1000 * (time.perf_counter() - began))
                            total = json.loads(body)["total"]
                        times.sort()
                        results[f"{who} / {name}"] = {
                            "matches": total,
                            "p50_ms": round(statistics.median(times), 1),
                            "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
                            "max_ms": round(times[-1], 1),
                        }
        finally:
            server.stop()
        return results
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.library", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    publish = commands.add_parser("publish")
    publish.add_argument("--mb", type=float, default=1024)
    publish.add_argument("--encrypted", action="store_true",
                         help="publish the case encrypted at rest (the recorder's default)")
    search = commands.add_parser("search")
    search.add_argument("--cases", type=int, default=10_000)
    search.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    result = bench_publish(args) if args.command == "publish" else bench_search(args)
    if args.command == "search":
        print(f"{'query':<45} {'matches':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
        for name, row in result.items():
            if isinstance(row, dict):
                print(f"{name:<45} {row['matches']:>8} {row['p50_ms']:>8} {row['p95_ms']:>8} "
                      f"{row['max_ms']:>8}")
    else:
        for key, value in result.items():
            print(f"{key:<22} {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
