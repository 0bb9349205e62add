"""The shared encoder: one encode per frame, the same packets for every viewer."""

from __future__ import annotations

import asyncio

import av
import pytest

from surgery_teach.capture import SyntheticSource, luma_of, read_stamp
from surgery_teach.errors import ConfigError
from surgery_teach.media.encoder import (
    MAX_QUEUED_FRAMES,
    EncoderSettings,
    SharedEncoder,
    default_bitrate,
)
from tests.timing import seconds


@pytest.fixture
async def encoder():  # type: ignore[no-untyped-def]
    source = SyntheticSource(640, 360, 30)
    source.start()
    enc = SharedEncoder(source, EncoderSettings(keyframe_interval=60))
    enc.start()
    try:
        yield enc
    finally:
        enc.stop()
        source.stop()


async def recv(track, n: int) -> list[av.Packet]:  # type: ignore[no-untyped-def]
    return [await asyncio.wait_for(track.recv(), seconds(10)) for _ in range(n)]


async def test_every_viewer_gets_the_same_packets_starting_at_a_keyframe(encoder) -> None:  # type: ignore[no-untyped-def]
    a = encoder.subscribe()
    b = encoder.subscribe()
    got_a, got_b = await asyncio.gather(recv(a, 20), recv(b, 20))
    assert got_a[0].is_keyframe and got_b[0].is_keyframe
    assert [p.pts for p in got_a] == [p.pts for p in got_b]
    assert all(x is y for x, y in zip(got_a, got_b, strict=True))  # encoded once, shared
    assert [p.pts for p in got_a] == sorted(set(p.pts for p in got_a))
    assert encoder.stats.frames < 20 + MAX_QUEUED_FRAMES + 10


async def test_packets_decode_to_the_stamped_source_frames(encoder) -> None:  # type: ignore[no-untyped-def]
    track = encoder.subscribe()
    decoder = av.CodecContext.create("h264", "r")
    seqs = []
    for packet in await recv(track, 15):
        for frame in decoder.decode(av.Packet(bytes(packet))):
            stamp = read_stamp(luma_of(frame))
            assert stamp is not None
            seqs.append(stamp.seq)
    assert len(seqs) == 15 and seqs == sorted(seqs)


async def test_a_late_viewer_gets_a_keyframe_promptly(encoder) -> None:  # type: ignore[no-untyped-def]
    first = encoder.subscribe()
    await recv(first, 30)  # the periodic keyframe is a minute away
    late = encoder.subscribe()
    loop = asyncio.get_running_loop()
    started = loop.time()
    packet = (await recv(late, 1))[0]
    assert packet.is_keyframe
    assert loop.time() - started < seconds(1)


async def test_pli_from_one_viewer_forces_one_keyframe(encoder) -> None:  # type: ignore[no-untyped-def]
    track = encoder.subscribe()
    await recv(track, 20)
    before = encoder.stats.keyframes
    for _ in range(5):
        track.request_keyframe()
    packets = await recv(track, 20)
    assert sum(p.is_keyframe for p in packets) == 1
    assert encoder.stats.keyframes == before + 1


async def test_a_stalled_viewer_stays_bounded_and_resumes_at_a_keyframe(encoder) -> None:  # type: ignore[no-untyped-def]
    stalled = encoder.subscribe()
    active = encoder.subscribe()
    await recv(active, 3 * MAX_QUEUED_FRAMES)  # stalled reads nothing meanwhile
    assert len(stalled._queue) <= MAX_QUEUED_FRAMES
    assert stalled.dropped > 0
    packets = await recv(stalled, 10)
    resumed = [p for p in packets if p.is_keyframe]
    assert resumed, "the stalled viewer must resume at a keyframe"


async def test_nothing_is_encoded_without_viewers() -> None:
    source = SyntheticSource(320, 180, 30)
    source.start()
    enc = SharedEncoder(source)
    enc.start()
    try:
        first = await asyncio.wait_for(source.slot.next_after(0), seconds(5))
        assert first is not None
        await asyncio.wait_for(source.slot.next_after(first.seq + 5), seconds(5))
        assert enc.stats.frames == 0
        track = enc.subscribe()
        await recv(track, 1)
        track.stop()
        assert enc.viewer_count == 0
    finally:
        enc.stop()
        source.stop()


def test_settings_reject_odd_sizes_and_absurd_bitrates() -> None:
    with pytest.raises(ConfigError, match="even"):
        EncoderSettings(width=1281, height=720)
    with pytest.raises(ConfigError, match="both"):
        EncoderSettings(width=1280)
    with pytest.raises(ConfigError, match="Mbit"):
        EncoderSettings(bitrate=10)
    with pytest.raises(ConfigError, match="threads"):
        EncoderSettings(threads=-1)


def test_default_bitrate_grows_with_picture_size() -> None:
    assert default_bitrate(640, 360) < default_bitrate(1280, 720) < default_bitrate(1920, 1080)
    assert default_bitrate(1920, 1080) >= 4_000_000
