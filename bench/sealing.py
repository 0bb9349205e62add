"""What encrypting case files costs: MB/s writing and reading, sealed against plain.

Writes ``--mb`` MiB of random bytes the way the muxer does (32 KiB writes, each followed
by sealing the newest chunk), then reads them back sequentially the way PyAV does (32 KiB
reads) and checks every chunk (:meth:`SealedReader.verify`, what the library's
``open_case`` does once per encrypted case). One core, page cache warm.

    .venv/bin/python -m bench.sealing --mb 256
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from surgery_teach.casefile.keys import KeyRing, random_key, use_key_ring
from surgery_teach.casefile.sealing import PlainSink, SealedFile, SealedReader

WRITE = 32 * 1024  # PyAV's AVIO buffer: the size of the muxer's writes


def _write(path: Path, data: bytes, sealed: bool) -> float:
    started = time.perf_counter()
    if sealed:
        key = random_key()
        ring = KeyRing(use_os_keyring=False)
        ring.add(key)
        use_key_ring(ring)  # the reader finds the key here
        file = SealedFile(PlainSink(path), key)
    else:
        file = open(path, "xb", buffering=0)  # type: ignore[assignment]
    with file:
        for at in range(0, len(data), WRITE):
            file.write(data[at : at + WRITE])
    return time.perf_counter() - started


def _read(path: Path, sealed: bool) -> float:
    started = time.perf_counter()
    with (SealedReader(path) if sealed else open(path, "rb", buffering=0)) as file:
        while file.read(WRITE):
            pass
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=128)
    args = parser.parse_args()
    data = os.urandom(args.mb * 1024 * 1024)
    mib = len(data) / 2**20
    result: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-sealing-") as folder:
        for sealed in (False, True):
            name = "sealed" if sealed else "plain"
            path = Path(folder) / name
            result[f"{name}_write_mib_s"] = round(mib / _write(path, data, sealed), 1)
            result[f"{name}_read_mib_s"] = round(mib / _read(path, sealed), 1)
            if sealed:
                started = time.perf_counter()
                with SealedReader(path) as reader:
                    assert reader.verify().damaged == []
                result["verify_mib_s"] = round(mib / (time.perf_counter() - started), 1)
                result["size_overhead_percent"] = round(
                    100 * (path.stat().st_size / len(data) - 1), 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
