"""``python -m surgery_teach publish`` and privacy: ``--mask`` is checked before anything
starts and masks what viewers get; ``p`` + Enter and SIGUSR1 pause and resume all video,
the room is told who paused, and the recording notes it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from signaling_server.server import ServerConfig, start_server
from surgery_teach.casefile.events import EventKind, read_events
from surgery_teach.privacy import CardKind, card_kind
from surgery_teach.protocol.messages import PrivacyNotice, Role
from surgery_teach.rtc.session import LiveSession, SessionConfig
from surgery_teach.rtc.signaling_client import SignalingClient
from tests.privacy.tower import TOP_BAND, region
from tests.privacy.viewer import receiver_of, until
from tests.timing import seconds

ROOT = Path(__file__).resolve().parents[1]


async def _start(*args: str, stdin: int | None = None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "surgery_teach", *args, cwd=ROOT,
        env=dict(os.environ, PYTHONUNBUFFERED="1"), stdin=stdin,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


@pytest.mark.parametrize(("mask", "words"), [
    ("Laparoscope=0,0,1280,80", "fractions of the picture from 0 to 1, not pixels"),
    ("Scope=top-band", "names the source 'Scope', but the sources are 'Laparoscope'"),
])
async def test_a_bad_mask_is_a_plain_error_before_anything_starts(mask: str, words: str) -> None:
    proc = await _start("publish", "--room", "r", "--name", "A", "--server",
                        "ws://127.0.0.1:9", "--source", "Laparoscope=synthetic:320x180",
                        "--mask", mask)
    out, err = await asyncio.wait_for(proc.communicate(), seconds(30))
    assert proc.returncode == 2
    text = err.decode()
    assert text.startswith("error: ") and words in text
    assert "Traceback" not in text and "joined" not in out.decode()


async def _line(stream: asyncio.StreamReader, wanted: str, timeout: float) -> str:
    async def find() -> str:
        while line := (await stream.readline()).decode():
            if wanted in line:
                return line
        raise AssertionError(f"the publisher ended without saying {wanted!r}")

    return await asyncio.wait_for(find(), timeout)


async def _notice(observer: SignalingClient, paused: bool, timeout: float) -> PrivacyNotice:
    async def find() -> PrivacyNotice:
        async for message in observer.messages():
            if isinstance(message, PrivacyNotice) and message.paused == paused:
                return message
        raise AssertionError("the observer's link closed")

    return await asyncio.wait_for(find(), timeout)


@pytest.mark.slow
async def test_stdin_and_sigusr1_pause_and_resume_the_masked_video_for_everyone(
        tmp_path: Path) -> None:
    server = await start_server(ServerConfig(host="127.0.0.1", port=0))
    publisher = await _start(
        "publish", "--server", server.url, "--room", "privacy", "--name", "Dr Wang",
        "--source", "Laparoscope=synthetic:640x360@15", "--mask", "laparoscope=top-band",
        "--bitrate", "600k", "--stats-every", "0", "--duration", "120",
        "--record", str(tmp_path), stdin=asyncio.subprocess.PIPE)
    trainee = observer = None
    try:
        assert publisher.stdout is not None and publisher.stdin is not None
        await _line(publisher.stdout, "recording into", seconds(30))
        await _line(publisher.stdout, "joined room 'privacy'", seconds(30))
        observer = await SignalingClient.join(server.url, room="privacy", name="Observer",
                                              role=Role.STUDENT)
        trainee = await LiveSession.start(SessionConfig(
            server=server.url, room="privacy", name="Trainee", role=Role.TRAINEE))
        await until(lambda: (r := receiver_of(trainee, "Laparoscope")) is not None
                    and r.stats.frames >= 15, seconds(30), "the masked video")
        receiver = receiver_of(trainee, "Laparoscope")
        assert receiver is not None
        live = receiver.slot.latest()
        assert live is not None and card_kind(live.image) is None
        band = region(live.image, TOP_BAND, inset=4)
        assert int(band.max()) - int(band.min()) <= 6  # masked: the stamp band is gone

        publisher.stdin.write(b"p\n")
        await publisher.stdin.drain()
        await _line(publisher.stdout, "privacy: video paused by Dr Wang", seconds(10))
        notice = await _notice(observer, True, seconds(10))
        assert notice.name == "Dr Wang" and notice.role is Role.SURGEON
        await until(lambda: (f := receiver.slot.latest()) is not None
                    and card_kind(f.image) is CardKind.PAUSED, seconds(10), "the paused card")

        publisher.send_signal(signal.SIGUSR1)
        await _line(publisher.stdout, "privacy: video resumed by Dr Wang", seconds(10))
        await _notice(observer, False, seconds(10))
        await until(lambda: (f := receiver.slot.latest()) is not None
                    and card_kind(f.image) is None, seconds(10), "the picture again")
    finally:
        if trainee is not None:
            await trainee.close()
        if observer is not None:
            await observer.close()
        if publisher.returncode is None:
            publisher.send_signal(signal.SIGINT)
        await asyncio.wait_for(publisher.communicate(), seconds(60))
        await server.close()
    assert publisher.returncode == 0
    (events_file,) = tmp_path.glob("*/events.jsonl")
    events = read_events(events_file).events  # decrypted if the case is encrypted
    privacy = [(e.kind, e.data["by"]) for e in events if e.kind.startswith("privacy")]
    assert privacy == [(EventKind.PRIVACY_PAUSE, "Dr Wang"), (EventKind.PRIVACY_RESUME, "Dr Wang")]
