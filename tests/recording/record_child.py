"""A recording process for the kill tests: ``python -m tests.recording.record_child DIR``.

Records a :class:`SyntheticSource` through a real :class:`SharedEncoder` into ``DIR`` and
logs a ``chat`` event every ``--every`` seconds. Each line on stdout is JSON: first
``{"ready": ...}`` once recording runs, then ``{"ack": n, "t": ...}`` after event ``n``
is on disk. It records until killed (or for ``--seconds``, then stops cleanly).
``--sealed`` encrypts the case with the passphrase in ``SURGERY_TEACH_CASE_PASSPHRASE``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

from surgery_teach.capture import SyntheticSource
from surgery_teach.casefile import ContainerFormat, ContainerOptions, Manifest
from surgery_teach.casefile.keys import recording_key
from surgery_teach.casefile.sealed_folder import seal_folder
from surgery_teach.media.encoder import EncoderSettings, SharedEncoder
from surgery_teach.recording import Recorder, RecorderOptions


def say(**message: object) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def main(args: argparse.Namespace) -> None:
    source = SyntheticSource(args.width, args.height, args.fps, label="Endoscope")
    source.start()
    encoder = SharedEncoder(source, EncoderSettings(keyframe_interval=args.keyframe_interval))
    encoder.start()
    options = RecorderOptions(
        container=ContainerOptions(format=ContainerFormat(args.format)), min_free_bytes=0
    )
    if args.sealed:
        key = recording_key(encrypt=True)
        assert key is not None
        Path(args.folder).mkdir(parents=True)
        seal_folder(Path(args.folder), key)
    recorder = Recorder(
        Path(args.folder), Manifest(title="Kill test"), [("Endoscope", encoder)],
        options=options,
    )
    await recorder.start()
    say(ready=time.time(), file=recorder.manifest.sources[0].file)
    started = time.monotonic()
    n = 0
    while args.seconds is None or time.monotonic() - started < args.seconds:
        n += 1
        event = recorder.log("chat", author="test", text=f"event {n}", n=n)
        assert event is not None
        await recorder.flush_events()
        say(ack=n, t=event.t)
        await asyncio.sleep(args.every)
    await recorder.stop()
    encoder.stop()
    source.stop()
    say(stopped=recorder.state.value)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--format", default="mkv", choices=[f.value for f in ContainerFormat])
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--fps", type=float, default=30)
    parser.add_argument("--every", type=float, default=1.0)
    parser.add_argument("--keyframe-interval", type=float, default=4.0)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--sealed", action="store_true")
    asyncio.run(main(parser.parse_args()))
