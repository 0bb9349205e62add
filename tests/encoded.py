"""Fixtures of real encoded H.264 frames, shared by the recording and case-file tests."""

from __future__ import annotations

import asyncio

import pytest

from surgery_teach.capture import SyntheticSource
from surgery_teach.media.encoder import EncodedFrame, EncoderSettings, SharedEncoder
from surgery_teach.recording.tap import tap_encoder
from tests.timing import seconds


async def _collect(count: int) -> list[EncodedFrame]:
    source = SyntheticSource(640, 360, 30, label="Endoscope")
    source.start()
    encoder = SharedEncoder(source, EncoderSettings(keyframe_interval=0.5))
    encoder.start()
    frames: list[EncodedFrame] = []
    done = asyncio.Event()

    def sink(encoded: EncodedFrame) -> None:
        if not frames and not encoded.keyframe:
            return
        frames.append(encoded)
        if len(frames) >= count:
            done.set()

    tap = tap_encoder(encoder, sink)
    try:
        await asyncio.wait_for(done.wait(), seconds(15))
    finally:
        tap.stop()
        encoder.stop()
        source.stop()
    return frames[:count]


@pytest.fixture(scope="module")
def encoded_frames() -> list[EncodedFrame]:
    """About 1.5 s of a real shared encoder's output, starting at a keyframe, with a
    keyframe every half second, each packet with its capture time."""
    return asyncio.run(_collect(45))


@pytest.fixture
async def encoder():  # type: ignore[no-untyped-def]
    """A running synthetic source and its shared encoder (640x360, 30 fps)."""
    source = SyntheticSource(640, 360, 30, label="Endoscope")
    source.start()
    enc = SharedEncoder(source, EncoderSettings(keyframe_interval=2))
    enc.start()
    try:
        yield enc
    finally:
        enc.stop()
        source.stop()
