"""Freeze frame: the publisher sends the exact frozen picture at full quality.

When a source is frozen at a frame's capture time, the participant who captures that
source looks the frame up in its recent history, encodes it as a high-quality JPEG (not
a frame of the compressed live stream) and sends it over each peer connection's
``stills`` data channel: a JSON header, then the JPEG bytes. Everyone then shows the
same still; the live video carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from dataclasses import dataclass

import av
import cv2
import numpy as np
from av.video.reformatter import VideoReformatter

from surgery_teach.capture.base import CapturedFrame, VideoSource
from surgery_teach.errors import MediaError
from surgery_teach.media.receive import VideoReceiver
from surgery_teach.privacy import guard_of

CHANNEL = "stills"
JPEG_QUALITY = 95
HISTORY_SECONDS = 0.5  # viewers see a frame well within this after it was captured
MAX_STILL_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Still:
    """A frozen picture of ``source``, captured at ``frame_time``."""

    source: str
    frame_time: float
    jpeg: bytes

    def header(self) -> str:
        return json.dumps({"kind": "still", "source": self.source,
                           "frame_time": self.frame_time, "bytes": len(self.jpeg)})

    def to_frame(self) -> CapturedFrame:
        """The still as a frame a video view can show (and marks can be drawn on)."""
        return CapturedFrame(image=decode_jpeg(self.jpeg), seq=1, captured_at=self.frame_time)


def encode_jpeg(frame: av.VideoFrame, quality: int = JPEG_QUALITY) -> bytes:
    # a reformatter of our own: the frame's built-in one may be in use on another thread
    bgr = VideoReformatter().reformat(frame, format="bgr24").to_ndarray()
    ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise MediaError("could not encode the frozen frame as JPEG")
    return data.tobytes()


def decode_jpeg(data: bytes) -> av.VideoFrame:
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise MediaError("the frozen frame received is not a readable JPEG")
    return av.VideoFrame.from_ndarray(bgr, format="bgr24")


def _kind(text: str) -> object:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return "still"  # let parse_header say what is wrong
    return data.get("kind") if isinstance(data, dict) else "still"


def parse_header(text: str) -> tuple[str, float, int]:
    """``(source, frame_time, byte count)`` from a still's header; raises MediaError."""
    try:
        data = json.loads(text)
        source, frame_time, size = data["source"], float(data["frame_time"]), int(data["bytes"])
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise MediaError(f"malformed still header: {exc}") from exc
    if (data.get("kind") != "still" or not isinstance(source, str)
            or not 0 < size <= MAX_STILL_BYTES):
        raise MediaError("malformed still header")
    return source, frame_time, size


class FrameHistory:
    """The last half second of a local source's frames, to find the one a freeze names."""

    def __init__(self, source: VideoSource | VideoReceiver, *, fps: float | None = None) -> None:
        self.source = source  # a local source, or (in class mode) a received video
        rate = fps if fps is not None else getattr(source, "fps", 30.0)
        self._frames: deque[CapturedFrame] = deque(
            maxlen=max(2, round(rate * HISTORY_SECONDS)))
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._follow())

    async def _follow(self) -> None:
        seq = 0
        with contextlib.suppress(asyncio.CancelledError):
            while True:
                frame = await self.source.slot.next_after(seq)
                if frame is None:
                    return
                seq = frame.seq
                self._frames.append(frame)

    def nearest(self, frame_time: float) -> CapturedFrame | None:
        """The kept frame captured closest to ``frame_time``; while the source's privacy
        curtain is closed, its card (never a picture from before the curtain closed)."""
        guard = guard_of(self.source)
        if guard is not None and guard.curtain is not None and guard.curtain.closed:
            return self.source.slot.latest()
        if not self._frames:
            return self.source.slot.latest()
        return min(self._frames, key=lambda f: abs(f.captured_at - frame_time))

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None


class StillReceiver:
    """Reassembles stills from a data channel's messages (header, then the JPEG)."""

    def __init__(self) -> None:
        self._expect: tuple[str, float, int] | None = None

    def feed(self, message: str | bytes) -> Still | None:
        if isinstance(message, str):
            if _kind(message) != "still":
                return None  # another kind of message on the channel (a layer note)
            self._expect = parse_header(message)
            return None
        if self._expect is None:
            raise MediaError("still bytes arrived without a header")
        source, frame_time, size = self._expect
        self._expect = None
        if len(message) != size:
            raise MediaError(f"still of {len(message)} bytes, header said {size}")
        return Still(source, frame_time, bytes(message))
