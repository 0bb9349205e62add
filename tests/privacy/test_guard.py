"""A protected source masks every frame once, before any consumer sees it; fails closed
(a frame that cannot be masked becomes a card, never the picture) and says so; and shows
the curtain's card from the very next frame."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from surgery_teach.capture import CapturedFrame, SyntheticSource
from surgery_teach.privacy import (
    CardKind,
    Mask,
    PrivacyCurtain,
    PrivacyProblem,
    card_kind,
    guard_of,
    preset,
    protect,
)
from surgery_teach.rtc.stills import FrameHistory
from tests.privacy.tower import BOTTOM_BAND, TOP_BAND, TowerSource, bright_pixels, region
from tests.timing import seconds


class BrokenMask(Mask):
    """A mask whose pixels cannot be worked out: masking raises, as a bug would."""

    broken = True

    def box(self, width: int, height: int) -> tuple[int, int, int, int]:
        if self.broken:
            raise ValueError("broken mask")
        return super().box(width, height)


def frames(source: SyntheticSource, count: int, after: int = 0) -> list[CapturedFrame]:
    """The next ``count`` frames the source's consumers get."""
    got: list[CapturedFrame] = []
    seq = after
    while len(got) < count:
        frame = source.slot.wait_after(seq, timeout=seconds(5))
        assert frame is not None, "the source stopped delivering"
        got.append(frame)
        seq = frame.seq
    return got


def test_every_frame_a_consumer_gets_is_masked() -> None:
    source = TowerSource(640, 360, 30, label="Laparoscope")
    guard = protect(source, (*preset("top-band"), Mask(*BOTTOM_BAND, style="blur")))
    source.start()
    try:
        for frame in frames(source, 10):
            top, bottom = region(frame.image, TOP_BAND), region(frame.image, BOTTOM_BAND)
            assert top.min() == top.max() == 0
            assert bright_pixels(bottom) == 0
            assert region(frame.image, (0.3, 0.3, 0.4, 0.4)).std() > 5  # the scene is there
    finally:
        source.stop()
    assert guard.stats.masked >= 10 and guard.stats.withheld == 0
    assert guard_of(source) is guard


def test_a_frame_that_cannot_be_masked_is_replaced_by_a_card_and_the_surgeon_is_told() -> None:
    source = TowerSource(640, 360, 30, label="Laparoscope")
    problems: list[PrivacyProblem | None] = []
    told = threading.Event()

    def on_problem(problem: PrivacyProblem | None) -> None:
        problems.append(problem)
        told.set()

    broken = BrokenMask(*TOP_BAND)
    guard = protect(source, [broken], on_problem=on_problem)
    source.start()
    try:
        for frame in frames(source, 8):
            assert card_kind(frame.image) is CardKind.WITHHELD
            assert bright_pixels(region(frame.image, TOP_BAND)) == 0
            assert bright_pixels(region(frame.image, BOTTOM_BAND)) == 0  # nothing of it
        assert told.wait(seconds(1))
        assert len(problems) == 1 and problems[0] is not None  # told once, not per frame
        assert problems[0].source == "Laparoscope" and "ValueError" in problems[0].reason
        assert guard.problem is problems[0]
        told.clear()
        broken.broken = False  # type: ignore[misc]  # the bug goes away
        assert told.wait(seconds(5))
        assert problems[-1] is None and guard.problem is None
        latest = frames(source, 1)[-1]
        assert card_kind(latest.image) is None
        assert region(latest.image, TOP_BAND).max() == 0
    finally:
        source.stop()


def test_if_not_even_a_card_can_be_made_nothing_is_published(
        monkeypatch: pytest.MonkeyPatch) -> None:
    source = TowerSource(320, 180, 30, label="Laparoscope")
    guard = protect(source, [BrokenMask(*TOP_BAND)])

    def no_card(*args: object, **kwargs: object) -> None:
        raise MemoryError("no card")

    monkeypatch.setattr(guard, "card", no_card)
    source.start()
    try:
        deadline = time.monotonic() + seconds(5)
        while guard.stats.dropped < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert guard.stats.dropped >= 3
        assert source.slot.latest() is None  # three frames captured, none published
    finally:
        source.stop()


def test_the_first_frame_after_the_curtain_closes_is_the_card_and_it_replaces_the_held_one(
        ) -> None:
    curtain = PrivacyCurtain()
    sources = [TowerSource(320, 180, 10, label=f"Source {n}") for n in range(2)]
    for source in sources:
        protect(source, preset("top-band"), curtain=curtain)
        source.start()
    try:
        seen = [frames(source, 2)[-1].seq for source in sources]
        curtain.close(by="Dr Wang")
        for source, seq in zip(sources, seen, strict=True):
            held = source.slot.latest()  # at once, not at the next capture
            assert held is not None and card_kind(held.image) is CardKind.PAUSED
            after = frames(source, 3, after=seq)
            assert all(card_kind(f.image) is CardKind.PAUSED for f in after)
            assert [f.seq for f in after] == sorted({f.seq for f in after})
        curtain.open()
        for source in sources:
            latest = source.slot.latest()
            assert latest is not None
            back = frames(source, 1, after=latest.seq)[0]
            assert card_kind(back.image) is None
    finally:
        for source in sources:
            source.stop()


def test_masks_change_from_the_next_frame() -> None:
    source = TowerSource(320, 180, 30, label="Laparoscope")
    guard = protect(source, ())
    source.start()
    try:
        assert bright_pixels(region(frames(source, 1)[0].image, TOP_BAND)) > 0
        guard.set_masks(preset("top-band"))
        latest = source.slot.latest()
        assert latest is not None
        assert bright_pixels(region(frames(source, 1, after=latest.seq)[0].image, TOP_BAND)) == 0
    finally:
        source.stop()


def test_a_started_source_cannot_be_protected_after_the_fact() -> None:
    source = SyntheticSource(320, 180, 30)
    source.start()
    try:
        frames(source, 1)
        with pytest.raises(RuntimeError, match="before starting it"):
            protect(source, preset("top-band"))
    finally:
        source.stop()


def test_a_stopped_source_stops_listening_to_the_curtain() -> None:
    curtain = PrivacyCurtain()
    source = SyntheticSource(320, 180, 30)
    protect(source, (), curtain=curtain)
    assert len(curtain._listeners) == 1
    source.start()
    source.stop()
    assert curtain._listeners == []


async def test_a_freeze_while_the_curtain_is_closed_gets_the_card_not_an_earlier_picture(
        ) -> None:
    curtain = PrivacyCurtain()
    source = TowerSource(320, 180, 30, label="Laparoscope")
    protect(source, preset("top-band"), curtain=curtain)
    source.start()
    history = FrameHistory(source)
    history.start()
    try:
        before = await asyncio.wait_for(source.slot.next_after(5), seconds(5))
        assert before is not None
        curtain.close(by="Dr Wang")
        # the history still holds pictures from before the curtain, `before` among them
        still = history.nearest(before.captured_at)
        assert still is not None and card_kind(still.image) is CardKind.PAUSED
        curtain.open()
        again = history.nearest(before.captured_at)
        assert again is not None and card_kind(again.image) is None
    finally:
        history.stop()
        source.stop()
