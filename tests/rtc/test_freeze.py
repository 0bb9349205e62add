"""Freeze frame: everyone gets the exact frozen picture at full quality, then live again."""

from __future__ import annotations

import asyncio

import cv2
import numpy as np
import pytest

from surgery_teach.annotations import Freeze, Unfreeze
from surgery_teach.capture import SyntheticSource, luma_of, read_stamp
from surgery_teach.media.encoder import EncoderSettings, SharedEncoder
from surgery_teach.protocol.messages import Role
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


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(cv2.PSNR(a, b))


async def test_mentor_freezes_the_frame_she_sees_and_everyone_gets_it_sharp(
        server_url: str) -> None:
    source = SyntheticSource(1280, 720, 30, label="Laparoscope")
    source.start()
    # a low bitrate makes the live picture visibly softer than the still must be
    encoder = SharedEncoder(source, EncoderSettings(bitrate=600_000))

    def join(name: str, role: Role, encoders=None) -> asyncio.Future[LiveSession]:  # type: ignore[no-untyped-def]
        return LiveSession.start(SessionConfig(server=server_url, room="freeze", name=name,
                                               role=role), encoders)  # type: ignore[return-value]

    surgeon = await join("Dr Wang", Role.SURGEON, [encoder])
    mentor = await join("Prof Li", Role.MENTOR)
    trainee = await join("Trainee", Role.TRAINEE)
    late = None
    try:
        for s in (mentor, trainee):
            await until(lambda s=s: s.receivers and s.receivers[0].stats.frames > 20,
                        seconds(20), "live video")
        seen = mentor.receivers[0].slot.latest()
        assert seen is not None
        seen_stamp = read_stamp(luma_of(seen.image))
        assert seen_stamp is not None
        await mentor.annotate(Freeze("Laparoscope", seen.captured_at, author=mentor.me.id))
        for s in (surgeon, mentor, trainee):
            await until(lambda s=s: "Laparoscope" in s.stills, seconds(10), "the still")
        still = trainee.stills["Laparoscope"].to_frame()
        # exactly the frame the mentor was looking at
        assert read_stamp(luma_of(still.image)).seq == seen_stamp.seq  # type: ignore[union-attr]
        original = surgeon._histories["Laparoscope"].nearest(seen.captured_at)
        assert original is not None and original.seq == seen_stamp.seq
        want = original.image.to_ndarray(format="bgr24")
        sharp = psnr(still.image.to_ndarray(format="bgr24"), want)
        soft = psnr(seen.image.to_ndarray(format="bgr24"), want)
        assert sharp > 38 and sharp > soft + 3, (sharp, soft)
        # the live video goes on meanwhile
        before = trainee.receivers[0].stats.frames
        await until(lambda: trainee.receivers[0].stats.frames > before + 15, seconds(10),
                    "live video during the freeze")

        late = await join("Late", Role.STUDENT)
        await until(lambda: "Laparoscope" in late.stills, seconds(15), "the still, late")  # type: ignore[union-attr]

        await surgeon.annotate(Unfreeze("Laparoscope", author=surgeon.me.id))
        for s in (surgeon, mentor, trainee, late):
            await until(lambda s=s: "Laparoscope" not in s.stills, seconds(10), "live again")
    finally:
        for s in (late, trainee, mentor, surgeon):
            if s is not None:
                await s.close()
        encoder.stop()
        source.stop()
