"""Playing received audio: the jitter buffer's rules and the player over a fake speaker."""

from __future__ import annotations

import asyncio

import av
import numpy as np
import pytest

from surgery_teach.audio import AudioPlayer, PlayoutBuffer, ToneTrack, tone_power
from surgery_teach.audio.jitter import CONCEAL_MAX
from surgery_teach.errors import AudioDeviceError
from tests.audio.fakes import FakeSpeakerPlayer, FrameListTrack, tone_frames, until
from tests.timing import seconds


def chunk(value: int, n: int, channels: int = 1) -> np.ndarray:
    return np.full((n, channels), value, dtype=np.int16)


def take(buffer: PlayoutBuffer, n: int) -> np.ndarray:
    out = np.full((n, buffer.channels), -1, dtype=np.int16)
    buffer.take(out)
    return out[:, 0]


def numbered_frames(count: int) -> list[av.AudioFrame]:
    """Stereo 20 ms frames whose samples all carry the frame's number."""
    frames = []
    for i in range(count):
        frame = av.AudioFrame.from_ndarray(
            np.full((1, 1920), i, dtype=np.int16), format="s16", layout="stereo"
        )
        frame.sample_rate, frame.pts = 48000, 960 * i
        frames.append(frame)
    return frames


# -- PlayoutBuffer ------------------------------------------------------------------------

def test_silence_plays_until_the_target_is_buffered_then_audio_in_order() -> None:
    buffer = PlayoutBuffer(channels=1, target=100, limit=300)
    buffer.put(chunk(1, 60))
    assert not take(buffer, 10).any()
    assert buffer.buffered == 60
    buffer.put(chunk(2, 60))
    out = take(buffer, 80)
    assert list(out[:60]) == [1] * 60 and list(out[60:]) == [2] * 20
    assert buffer.underruns == 0


def test_running_dry_plays_silence_counts_an_underrun_and_waits_for_the_target_again() -> None:
    buffer = PlayoutBuffer(channels=1, target=100, limit=300)
    buffer.put(chunk(5, 120))
    out = take(buffer, 200)
    assert list(out[:120]) == [5] * 120 and not out[120:].any()
    assert buffer.underruns == 1
    buffer.put(chunk(6, 50))
    assert not take(buffer, 10).any()  # priming again: 50 < target
    assert buffer.underruns == 1


def test_too_much_audio_drops_the_oldest_back_to_the_target() -> None:
    buffer = PlayoutBuffer(channels=1, target=100, limit=300)
    for value in range(10):
        buffer.put(chunk(value, 50))
        assert buffer.buffered <= 300
    # The 7th chunk made 350 > 300: the oldest 250 went, leaving chunks 5 and 6.
    assert buffer.peak <= 300
    assert buffer.dropped == 250
    out = take(buffer, buffer.buffered)
    assert list(out) == [5] * 50 + [6] * 50 + [7] * 50 + [8] * 50 + [9] * 50


def test_target_must_be_below_the_limit() -> None:
    with pytest.raises(ValueError):
        PlayoutBuffer(channels=1, target=300, limit=300)


# -- AudioPlayer over a fake speaker --------------------------------------------------------

async def test_a_tone_arrives_at_the_speaker() -> None:
    track = ToneTrack(1000.0)
    player = FakeSpeakerPlayer(track, clocked=True)
    player.start()

    def sounding() -> np.ndarray:
        played = player.fake.played()
        return played[np.flatnonzero(played[:, 0])[0]:] if played[:, 0].any() else played[:0]

    await until(lambda: len(sounding()) >= 24000, seconds(5), "0.5 s of tone at the speaker")
    await player.stop()
    track.stop()
    left, right = sounding()[:24000].T
    assert np.array_equal(left, right)  # the mono tone is on both speaker channels
    assert tone_power(left, 48000, 1000) > 0.95
    assert tone_power(left, 48000, 600) < 0.01
    assert player.buffer is not None and player.buffer.peak <= player.buffer.limit
    assert player.fake.stopped and player.fake.closed and player.sink is None


async def test_audio_is_resampled_to_what_the_speaker_takes() -> None:
    player = FakeSpeakerPlayer(FrameListTrack(tone_frames(10, 1000.0)), samplerate=44100,
                               channels=1)
    player.start()
    await asyncio.wait_for(player.finished(), seconds(5))
    assert player.buffer is not None and player.buffer.rate == 44100
    buffered = player.buffer.buffered
    assert abs(buffered - 0.2 * 44100) < 1000  # 200 ms at 44.1 kHz, minus resampler delay
    played = player.fake.pull(buffered)[:, 0]
    assert tone_power(played, 44100, 1000) > 0.95
    await player.stop()


async def test_a_stalled_speaker_never_lets_the_buffer_grow_past_its_bound() -> None:
    player = FakeSpeakerPlayer(FrameListTrack(numbered_frames(100)))  # 2 s at once
    assert player.buffer is not None
    limit = player.buffer.limit
    assert limit == 19200  # 400 ms at 48 kHz
    player.start()
    await asyncio.wait_for(player.finished(), seconds(5))
    assert player.frames_received == 100
    assert player.buffer.peak <= limit
    assert player.buffer.target <= player.buffer.buffered <= limit
    assert player.buffer.dropped > 0
    newest = player.fake.pull(player.buffer.buffered)[:, 0]
    assert newest[-1] == 99 and newest[0] >= 90  # what is left is the newest audio
    await player.stop()


async def test_when_frames_stop_the_speaker_plays_silence() -> None:
    player = FakeSpeakerPlayer(FrameListTrack(tone_frames(5)))  # 100 ms
    player.start()
    await asyncio.wait_for(player.finished(), seconds(5))
    first = player.fake.pull(4800)  # the 100 ms buffered
    assert first[:, 0].any()
    # then the last sound carried on, fading (a frame might only be late), no longer
    # than CONCEAL_MAX
    bridge = player.fake.pull(round(CONCEAL_MAX * 48000))[:, 0].astype(np.float64)
    assert np.abs(bridge[:480]).mean() > 10 * np.abs(bridge[-480:]).mean()
    after = player.fake.pull(960)
    assert not after.any()  # silence, not garbage or an endless repeat
    assert player.buffer is not None and player.buffer.underruns == 1
    await player.stop()


async def test_without_a_speaker_frames_are_consumed_counted_and_measured() -> None:
    player = AudioPlayer(FrameListTrack(tone_frames(10)), output=False)
    assert player.sink is None and player.problem == "audio output is turned off"
    player.start()
    await asyncio.wait_for(player.finished(), seconds(5))
    assert player.frames_received == 10
    assert player.level > -20
    await player.stop()


async def test_a_missing_speaker_raises_unless_the_session_may_go_on_without_sound() -> None:
    with pytest.raises(AudioDeviceError) as caught:
        FakeSpeakerPlayer(ToneTrack(), "Bluetooth speaker")
    assert caught.value.available == ["0: Jabra Evolve2 headset", "2: HDMI 0"]
    player = FakeSpeakerPlayer(FrameListTrack(tone_frames(3)), "Bluetooth speaker",
                               required=False)
    assert player.sink is None and player.error is not None
    assert "Bluetooth speaker" in player.problem
    player.start()
    await asyncio.wait_for(player.finished(), seconds(5))
    assert player.frames_received == 3
    await player.stop()


async def test_a_track_that_breaks_leaves_the_player_quiet_with_a_reason() -> None:
    class Broken(FrameListTrack):
        async def recv(self) -> av.AudioFrame:
            raise RuntimeError("decoder exploded")

    player = FakeSpeakerPlayer(Broken([]))
    player.start()
    await asyncio.wait_for(player.finished(), seconds(5))
    assert "decoder exploded" in player.problem
    await player.stop()
