"""Audio through real aiortc peers on 127.0.0.1: Opus-encoded, sent, decoded, played."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import MediaStreamTrack

from surgery_teach.audio import ToneTrack, frame_samples, tone_power
from surgery_teach.rtc.aiortc_tuning import use_loopback_ice
from tests.audio.fakes import FakeSpeakerPlayer, until
from tests.timing import seconds

pytestmark = pytest.mark.slow

RATE = 48000
# The Opus decoder starts with a few frames of silence and ramp; judge the steady part.
SETTLE = int(0.2 * RATE)


@pytest.fixture
def loopback_ice() -> Iterator[None]:
    use_loopback_ice(True)
    try:
        yield
    finally:
        use_loopback_ice(False)


@pytest.fixture
async def peers(loopback_ice: None) -> AsyncIterator[tuple[RTCPeerConnection, RTCPeerConnection]]:
    sender = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    receiver = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        yield sender, receiver
    finally:
        await sender.close()
        await receiver.close()


async def send_tone(
    sender: RTCPeerConnection, receiver: RTCPeerConnection, tone: ToneTrack
) -> MediaStreamTrack:
    """Connect the two peers with ``tone`` going one way; the received track."""
    arrived: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()
    receiver.on("track", lambda track: arrived.set_result(track))
    sender.addTrack(tone)
    await sender.setLocalDescription(await sender.createOffer())
    await receiver.setRemoteDescription(sender.localDescription)
    await receiver.setLocalDescription(await receiver.createAnswer())
    await sender.setRemoteDescription(receiver.localDescription)
    track = await asyncio.wait_for(arrived, seconds(5))
    assert track.kind == "audio"
    return track


@pytest.mark.parametrize(("sent", "other"), [(1000.0, 600.0), (600.0, 1000.0)])
async def test_the_tone_sent_is_the_tone_received(
    peers: tuple[RTCPeerConnection, RTCPeerConnection], sent: float, other: float
) -> None:
    tone = ToneTrack(sent)
    track = await send_tone(*peers, tone)
    chunks: list[np.ndarray] = []
    while sum(len(c) for c in chunks) < SETTLE + RATE:
        frame = await asyncio.wait_for(track.recv(), seconds(5))
        assert frame.sample_rate == RATE
        chunks.append(frame_samples(frame))
    received = np.concatenate(chunks)[SETTLE : SETTLE + RATE]
    assert tone_power(received, RATE, sent) > 0.9
    assert tone_power(received, RATE, other) < 0.01
    tone.stop()


async def test_received_tone_plays_on_the_speaker(
    peers: tuple[RTCPeerConnection, RTCPeerConnection],
) -> None:
    tone = ToneTrack(1000.0)
    player = FakeSpeakerPlayer(await send_tone(*peers, tone), clocked=True)
    player.start()

    def sounding() -> np.ndarray:
        left = player.fake.played()[:, 0]
        return left[np.flatnonzero(left)[0]:] if left.any() else left[:0]

    await until(lambda: len(sounding()) >= SETTLE + RATE // 2, seconds(5), "0.5 s of tone")
    await player.stop()
    tone.stop()
    played = sounding()[SETTLE : SETTLE + RATE // 2]
    assert tone_power(played, RATE, 1000) > 0.9
    assert player.frames_received >= 25
    assert player.buffer is not None and player.buffer.peak <= player.buffer.limit
