"""Consultation: two doctors both send video and voice over one connection per pair;
a trainee watches both; chat reaches everyone once, in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from surgery_teach.audio import ToneTrack, frame_samples, tone_power
from surgery_teach.capture import SyntheticSource
from surgery_teach.media.encoder import SharedEncoder
from surgery_teach.protocol.messages import ChatMessage, ParticipantInfo, Role
from surgery_teach.rtc.session import LiveSession, SessionConfig
from tests.timing import seconds

pytestmark = pytest.mark.slow


async def until(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


class Heard:
    """Collects the audio a session receives, per sender."""

    def __init__(self, session: LiveSession) -> None:
        self.samples: dict[str, list[np.ndarray]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        session.on("audio", self._on_audio)

    def _on_audio(self, track: MediaStreamTrack, sender: ParticipantInfo) -> None:
        self._tasks.append(asyncio.ensure_future(self._pull(track, sender.name)))

    async def _pull(self, track: MediaStreamTrack, name: str) -> None:
        chunks = self.samples.setdefault(name, [])
        try:
            while True:
                chunks.append(frame_samples(await track.recv()))
        except MediaStreamError:
            pass

    def seconds_of(self, name: str) -> float:
        return sum(len(c) for c in self.samples.get(name, [])) / 48000

    def tone(self, name: str, frequency: float) -> float:
        recent = np.concatenate(self.samples[name][-50:])  # the last second
        return tone_power(recent, 48000, frequency)

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()


@pytest.fixture
async def sources() -> AsyncIterator[list[SyntheticSource]]:
    made = [SyntheticSource(640, 360, 30, label="Laparoscope"),
            SyntheticSource(640, 360, 30, label="Consultant camera")]
    for source in made:
        source.start()
    yield made
    for source in made:
        source.stop()


async def test_two_doctors_see_and_hear_each_other_and_a_trainee_gets_both(
    server_url: str, sources: list[SyntheticSource]
) -> None:
    lap, cam = sources
    enc_lap, enc_cam = SharedEncoder(lap), SharedEncoder(cam)
    voices = [ToneTrack(1000.0), ToneTrack(600.0)]
    surgeon = await LiveSession.start(
        SessionConfig(server=server_url, room="consult", name="Dr Wang", role=Role.SURGEON),
        [enc_lap], microphone=voices[0])
    mentor = await LiveSession.start(
        SessionConfig(server=server_url, room="consult", name="Prof Li", role=Role.MENTOR),
        [enc_cam], microphone=voices[1])
    surgeon_ears, mentor_ears = Heard(surgeon), Heard(mentor)
    trainee = await LiveSession.start(
        SessionConfig(server=server_url, room="consult", name="Trainee", role=Role.TRAINEE))
    trainee_ears = Heard(trainee)
    try:
        def videos(s: LiveSession) -> dict[str, int]:
            return {r.label: r.stats.frames for r in s.receivers}

        await until(lambda: videos(surgeon).get("Consultant camera", 0) > 20
                    and videos(mentor).get("Laparoscope", 0) > 20, seconds(20),
                    "the doctors to see each other")
        await until(lambda: set(videos(trainee)) == {"Laparoscope", "Consultant camera"}
                    and min(videos(trainee).values()) > 20, seconds(20),
                    "the trainee to see both")
        # exactly one connection per pair, both ways on the doctors' pair
        assert set(surgeon.peers) == {mentor.me.id, trainee.me.id}
        assert set(mentor.peers) == {surgeon.me.id, trainee.me.id}
        assert len(surgeon.receivers) == 1 and len(mentor.receivers) == 1

        await until(lambda: surgeon_ears.seconds_of("Prof Li") > 1.5
                    and mentor_ears.seconds_of("Dr Wang") > 1.5
                    and trainee_ears.seconds_of("Dr Wang") > 1.5
                    and trainee_ears.seconds_of("Prof Li") > 1.5, seconds(20), "voices")
        assert surgeon_ears.tone("Prof Li", 600) > 0.5 > surgeon_ears.tone("Prof Li", 1000)
        assert mentor_ears.tone("Dr Wang", 1000) > 0.5 > mentor_ears.tone("Dr Wang", 600)
        assert trainee_ears.tone("Dr Wang", 1000) > 0.5
        assert trainee_ears.tone("Prof Li", 600) > 0.5

        chats: dict[str, list[ChatMessage]] = {"s": [], "m": [], "t": []}
        surgeon.on("chat", chats["s"].append)
        mentor.on("chat", chats["m"].append)
        trainee.on("chat", chats["t"].append)
        await mentor.send_chat("请显示胆囊三角")
        await surgeon.send_chat("Showing it now")
        await until(lambda: all(len(c) == 2 for c in chats.values()), seconds(10), "chat")
        for received in chats.values():
            assert [(m.name, m.text) for m in received] == [
                ("Prof Li", "请显示胆囊三角"), ("Dr Wang", "Showing it now")]
    finally:
        for ears in (surgeon_ears, mentor_ears, trainee_ears):
            ears.stop()
        for session in (trainee, mentor, surgeon):
            await session.close()
        enc_lap.stop()
        enc_cam.stop()
        for voice in voices:
            voice.stop()
