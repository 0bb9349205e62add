"""A camera without the synthetic pixel stamp (a real capture card's picture): the viewer
still knows which captured frame is on screen, from the SEI inside the video, so marks
anchored to tissue use the pose of that very frame and the delay is measured."""

from __future__ import annotations

import asyncio

import av
import numpy as np
import pytest

from surgery_teach.capture import SyntheticSource, luma_of, read_stamp
from surgery_teach.media.encoder import SharedEncoder
from surgery_teach.protocol.messages import Role
from surgery_teach.rtc.session import LiveSession, SessionConfig
from tests.rtc.live import until
from tests.timing import seconds

pytestmark = pytest.mark.slow


def level(seq: int) -> int:
    """The grey of frame ``seq``: a picture says which frame it is only by its content."""
    return 30 + (seq * 37) % 190


class PlainCamera(SyntheticSource):
    """Flat grey pictures with no stamp, their capture times noted by frame number."""

    def __init__(self) -> None:
        super().__init__(640, 360, 30, label="Tower")
        self.spec = "camera:0"  # announced as a camera: no stamp expected
        self.captured: dict[int, float] = {}

    def render(self, seq: int, t: float, captured_at: float) -> av.VideoFrame:
        self.captured[seq] = captured_at
        yuv = np.full((360 * 3 // 2, 640), 128, np.uint8)
        yuv[:360] = level(seq)
        return av.VideoFrame.from_ndarray(yuv, format="yuv420p")


async def test_an_unstamped_cameras_pictures_are_named_at_the_viewer(server_url: str) -> None:
    source = PlainCamera()
    source.start()
    encoder = SharedEncoder(source)

    def join(name: str, role: Role, encoders=None) -> asyncio.Future[LiveSession]:  # type: ignore[no-untyped-def]
        return LiveSession.start(SessionConfig(server=server_url, room="sei", name=name,
                                               role=role), encoders)  # type: ignore[return-value]

    surgeon = await join("Dr Wang", Role.SURGEON, [encoder])
    mentor = await join("Prof Li", Role.MENTOR)
    try:
        await until(lambda: mentor.receivers and mentor.receivers[0].stats.frames >= 30,
                    seconds(20), "live video")
        seen = 0
        checked = set()
        while len(checked) < 20:
            await until(lambda seen=seen: mentor.receivers[0].stats.frames > seen, seconds(5),  # type: ignore[misc]
                        "the next picture")
            receiver = mentor.receivers[0]
            seen = receiver.stats.frames
            shown = receiver.slot.latest()
            assert shown is not None
            assert read_stamp(luma_of(shown.image)) is None  # no pixel stamp to go by
            named = [s for s, at in source.captured.items() if at == shown.captured_at]
            assert len(named) == 1, "the shown picture's time is not a capture time"
            grey = float(luma_of(shown.image).mean())
            assert abs(grey - level(named[0])) <= 3, (grey, named[0])  # that very picture
            checked.add(named[0])
        latency = mentor.receivers[0].stats.latency.summary()
        assert latency is not None and latency["count"] > 0 and latency["p50"] < 1000
    finally:
        for s in (mentor, surgeon):
            await s.close()
        encoder.stop()
        source.stop()
