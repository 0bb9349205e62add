"""A publisher and a viewer in one process over the real server: what the viewer decodes."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from surgery_teach.capture.base import CapturedFrame, VideoSource
from surgery_teach.media.encoder import EncoderSettings, SharedEncoder
from surgery_teach.media.receive import VideoReceiver
from surgery_teach.protocol.messages import Role
from surgery_teach.rtc.session import LiveSession, SessionConfig


@dataclass
class Decoded:
    """Every frame a viewer decodes of one source, with ``time.monotonic()`` at decode."""

    receiver: VideoReceiver
    frames: list[tuple[float, CapturedFrame]] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        async def follow() -> None:
            seq = 0
            while (frame := await self.receiver.slot.next_after(seq)) is not None:
                seq = frame.seq
                self.frames.append((time.monotonic(), frame))

        self._task = asyncio.ensure_future(follow())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


@contextlib.asynccontextmanager
async def publisher_and_viewer(server_url: str, room: str, sources: Sequence[VideoSource],
                               *, bitrate: int = 800_000
                               ) -> AsyncIterator[tuple[LiveSession, LiveSession]]:
    """``sources`` (started here) published by a surgeon and watched by a trainee."""
    for source in sources:
        source.start()
    encoders = [SharedEncoder(source, EncoderSettings(bitrate=bitrate, preset="ultrafast"))
                for source in sources]
    surgeon = trainee = None
    try:
        surgeon = await LiveSession.start(
            SessionConfig(server=server_url, room=room, name="Dr Wang", role=Role.SURGEON),
            encoders)
        trainee = await LiveSession.start(
            SessionConfig(server=server_url, room=room, name="Trainee", role=Role.TRAINEE))
        yield surgeon, trainee
    finally:
        for session in (trainee, surgeon):
            if session is not None:
                await session.close()
        for encoder in encoders:
            encoder.stop()
        for source in sources:
            source.stop()


async def until(predicate: object, timeout: float, what: str) -> None:
    """Wait until ``predicate()`` is true, checking every 20 ms; fail after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():  # type: ignore[operator]
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.02)


def receiver_of(session: LiveSession, label: str) -> VideoReceiver | None:
    return next((r for r in session.receivers if r.label == label), None)
