"""What the recording tests share: reading files back the way a player would."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av

from surgery_teach.capture import luma_of, read_stamp
from surgery_teach.casebook.media import open_media


async def until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait until ``predicate()`` holds, checking every few milliseconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.1f} s waiting for {what}")
        await asyncio.sleep(0.005)


def annexb_nal_units(data: bytes) -> list[bytes]:
    """The NAL units of an Annex-B access unit (start codes removed)."""
    units, start = [], data.find(b"\x00\x00\x01")
    while start >= 0:
        following = data.find(b"\x00\x00\x01", start + 3)
        end = len(data) if following < 0 else following
        units.append(data[start + 3 : end].rstrip(b"\x00"))
        start = following
    return units


def length_prefixed_nal_units(data: bytes) -> list[bytes]:
    """The NAL units of an access unit as MP4 and Matroska store them (4-byte lengths)."""
    units, at = [], 0
    while at < len(data):
        size = int.from_bytes(data[at : at + 4], "big")
        units.append(data[at + 4 : at + 4 + size])
        at += 4 + size
    assert at == len(data), "lengths do not add up"
    return units


@dataclass(frozen=True)
class DecodedFrame:
    media_time: float  # seconds from the file's start
    captured_at: float  # from the stamp in the picture
    seq: int


def decode_stamped(path: Path) -> list[DecodedFrame]:
    """Every frame a player gets from ``path`` with its stamp; stops at a damaged tail.
    An encrypted case's file is read as the player reads it (decrypted in memory)."""
    frames = []
    try:
        with open_media(path) as container:
            for frame in container.decode(video=0):
                stamp = read_stamp(luma_of(frame))
                assert stamp is not None, f"frame at {frame.time} s has no readable stamp"
                assert frame.time is not None
                frames.append(DecodedFrame(frame.time, stamp.captured_at, stamp.seq))
    except av.FFmpegError:
        pass  # a killed recording may end in a half-written cluster; players stop there too
    return frames


def ffprobe(path: Path) -> dict:
    """``ffprobe``'s view of the first video stream; fails the test if it cannot open it."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets",
         "-show_entries", "stream=codec_name,width,height,nb_read_packets", "-of", "json",
         str(path)],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, f"ffprobe cannot open {path}: {out.stderr}"
    streams = json.loads(out.stdout)["streams"]
    assert streams, f"ffprobe finds no video in {path}"
    return dict(streams[0])
