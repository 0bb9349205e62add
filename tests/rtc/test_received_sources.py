"""One entry per received source, however many paths bring it: while a room moves onto the
media server or back, the new path takes over once its first picture is there (or when the
path shown ends), and the source goes only with its last path. Two cameras of one sender
left with the same name are two sources. Real receivers of real tracks (a synthetic
camera's pictures, as a stock aiortc sender takes them)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from surgery_teach.capture import SyntheticSource
from surgery_teach.media.raw_track import RawVideoTrack
from surgery_teach.media.receive import VideoReceiver
from surgery_teach.protocol.messages.classes import CLASS, PEER
from surgery_teach.rtc.received_sources import (
    ReceivedSources,
    Shown,
    SourceKey,
    one_per_source,
)
from tests.timing import seconds

SURGEON = "p-surgeon"
LAP = SourceKey(SURGEON, "Laparoscope")


class Paths:
    """Receivers of one camera, each started and ended when a test says."""

    def __init__(self, camera: SyntheticSource) -> None:
        self.camera = camera
        self.running: dict[VideoReceiver, asyncio.Task[None]] = {}

    def path(self, route: str = PEER, label: str = "Laparoscope",
             participant: str = SURGEON) -> VideoReceiver:
        return VideoReceiver(RawVideoTrack(self.camera), label=label, participant=participant,
                             route=route)

    async def pictures(self, receiver: VideoReceiver) -> None:
        """Start ``receiver`` and wait for its first picture."""
        self.running[receiver] = asyncio.ensure_future(receiver.run())
        assert await asyncio.wait_for(receiver.slot.next_after(0), seconds(5)) is not None

    async def end(self, receiver: VideoReceiver) -> None:
        receiver.track.stop()
        task = self.running.pop(receiver, None)
        if task is not None:
            await asyncio.wait_for(task, seconds(5))


@pytest.fixture
async def paths() -> AsyncIterator[Paths]:
    camera = SyntheticSource(160, 90, 30, label="Laparoscope")
    camera.start()
    made = Paths(camera)
    try:
        yield made
    finally:
        for receiver in list(made.running):
            await made.end(receiver)
        camera.stop()


async def test_a_source_on_one_path_comes_and_goes(paths: Paths) -> None:
    sources = ReceivedSources()
    receiver = paths.path()
    assert sources.add(receiver) == Shown(LAP, receiver, new=True)
    assert sources.add(receiver) is None  # told twice: nothing new
    assert sources.shown(LAP) is receiver and not sources.waiting(receiver)
    await paths.pictures(receiver)
    assert sources.pictures(receiver) is None  # shown already
    assert sources.end(receiver) == Shown(LAP, None)
    assert len(sources) == 0 and sources.end(receiver) is None


async def test_the_new_path_takes_over_at_its_first_picture(paths: Paths) -> None:
    sources = ReceivedSources()
    old, new = paths.path(PEER), paths.path(CLASS)
    await paths.pictures(old)
    sources.add(old)
    assert sources.add(new) is None  # no picture yet: the old path goes on showing
    assert sources.waiting(new) and sources.shown(LAP) is old
    await paths.pictures(new)
    assert sources.pictures(new) == Shown(LAP, new)
    assert sources.pictures(old) is None  # the old one never comes back
    assert sources.end(old) is None  # the old path closing changes nothing on screen
    assert sources.shown(LAP) is new and len(sources) == 1

    back = paths.path(PEER)  # and back to peer to peer, the same way
    assert sources.add(back) is None and sources.waiting(back)
    await paths.pictures(back)
    assert sources.pictures(back) == Shown(LAP, back)
    assert sources.end(new) is None
    assert sources.end(back) == Shown(LAP, None)


async def test_a_new_path_with_pictures_already_takes_over_as_it_is_told(
        paths: Paths) -> None:
    sources = ReceivedSources()
    old, new = paths.path(PEER), paths.path(CLASS)
    sources.add(old)
    await paths.pictures(new)  # its first picture came before the window heard of it
    assert sources.add(new) == Shown(LAP, new)


async def test_when_the_path_shown_ends_first_the_new_one_shows_at_once(
        paths: Paths) -> None:
    sources = ReceivedSources()
    old, new = paths.path(PEER), paths.path(CLASS)
    await paths.pictures(old)
    sources.add(old)
    sources.add(new)
    await paths.end(old)  # the handover's time ran out before the new path's pictures
    assert sources.end(old) == Shown(LAP, new)
    await paths.pictures(new)
    assert sources.pictures(new) is None and sources.shown(LAP) is new


async def test_of_the_paths_left_one_with_pictures_shows(paths: Paths) -> None:
    sources = ReceivedSources()
    first, second, third = paths.path(PEER), paths.path(CLASS), paths.path("")
    for receiver in (first, second, third):
        sources.add(receiver)
    assert len(sources) == 1
    await paths.pictures(second)
    assert sources.end(first) == Shown(LAP, second)  # the third has no picture yet
    await paths.pictures(third)
    assert sources.pictures(third) == Shown(LAP, third)  # newer: it takes over


async def test_sources_are_told_apart_by_sender_label_and_way(paths: Paths) -> None:
    sources = ReceivedSources()
    lap, room = paths.path(), paths.path(label="Room camera")
    other = paths.path(participant="p-mentor")  # a mentor's camera of the same name
    twin = paths.path()  # the surgeon's second camera, left with the same name
    for receiver in (lap, room, other, twin):
        shown = sources.add(receiver)
        assert shown is not None and shown.new and shown.receiver is receiver
    assert len(sources) == 4 and sources.key_of(twin) == SourceKey(SURGEON, "Laparoscope", 1)
    moved = paths.path(CLASS)  # the room moves: the first camera's new path ...
    moved_twin = paths.path(CLASS)  # ... and the second's
    sources.add(moved)
    sources.add(moved_twin)
    assert sources.key_of(moved) == LAP and sources.key_of(moved_twin) == sources.key_of(twin)
    assert len(sources) == 4


async def test_reports_take_one_path_of_each_source_the_one_with_pictures(
        paths: Paths) -> None:
    old, new, room = paths.path(PEER), paths.path(CLASS), paths.path(label="Room camera")
    assert one_per_source([old, new, room]) == [old, room]  # no pictures yet: the first
    await paths.pictures(new)
    assert one_per_source([old, new, room]) == [new, room]
    await paths.pictures(old)
    assert one_per_source([old, new, room]) == [old, room]  # the path so far
    twin = paths.path(PEER)  # a second camera of the same name: a line of its own
    assert one_per_source([old, new, room, twin]) == [old, room, twin]
