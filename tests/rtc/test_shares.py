"""Shared pictures between real aiortc peers: late joiners get the current share, a
dropped link resumes from the chunks already held, stopping clears it everywhere."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import cv2
import numpy as np
import pytest
from aiortc import RTCDataChannel, RTCPeerConnection

from surgery_teach.rtc.shares import CHANNEL, SessionShares
from surgery_teach.sharing import OutgoingShare, decode_picture, open_file, prepare_share
from tests.timing import seconds

pytestmark = pytest.mark.slow


def _outgoing(tmp_path: Path) -> OutgoingShare:
    noise = np.random.default_rng(3).integers(0, 255, (160, 160, 3), np.uint8)
    path = tmp_path / "pathology.png"
    assert cv2.imwrite(str(path), noise)
    return prepare_share(open_file(path), title="biopsy, H&E x40")


class Side:
    """One participant's shares, with an event per arrival/departure of a picture."""

    def __init__(self, name: str, **options: object) -> None:
        self.name = name
        self.changed = asyncio.Event()
        self.chunks_seen = 0
        self.enough = asyncio.Event()
        self.stop_after: int | None = None

        def on_progress(who: str, held: int, total: int) -> None:
            self.chunks_seen += 1
            if self.stop_after is not None and self.chunks_seen >= self.stop_after:
                self.enough.set()

        self.shares = SessionShares(lambda who: self.changed.set(), on_progress=on_progress,
                                    **options)  # type: ignore[arg-type]


@asynccontextmanager
async def linked(sharer: Side, viewer: Side) -> AsyncIterator[tuple[RTCDataChannel,
                                                                     RTCPeerConnection]]:
    """A real peer connection from ``sharer`` (offerer) to ``viewer`` with a ``shares``
    channel wired on both sides."""
    offerer, answerer = RTCPeerConnection(), RTCPeerConnection()
    channel = offerer.createDataChannel(CHANNEL)
    sharer.shares.wire(channel, viewer.name)

    @answerer.on("datachannel")
    def _on_channel(incoming: RTCDataChannel) -> None:
        if incoming.label == CHANNEL:
            viewer.shares.wire(incoming, sharer.name)

    await offerer.setLocalDescription(await offerer.createOffer())
    await answerer.setRemoteDescription(offerer.localDescription)
    await answerer.setLocalDescription(await answerer.createAnswer())
    await offerer.setRemoteDescription(answerer.localDescription)
    try:
        yield channel, offerer
    finally:
        await offerer.close()
        await answerer.close()


async def _until(condition: object, timeout: float) -> None:
    async def wait() -> None:
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.02)
    await asyncio.wait_for(wait(), seconds(timeout))


async def test_a_late_joiner_gets_the_current_share_whole(tmp_path: Path) -> None:
    outgoing = _outgoing(tmp_path)
    sharer, viewer = Side("surgeon", chunk_bytes=4096), Side("mentor")
    sharer.shares.share(outgoing)  # shared before the viewer's link exists
    async with linked(sharer, viewer):
        await asyncio.wait_for(viewer.changed.wait(), seconds(20))
        got = viewer.shares.viewing["surgeon"]
        assert got.picture == outgoing.picture
        assert got.description["title"] == "biopsy, H&E x40"
        assert np.array_equal(decode_picture(got.picture), outgoing.preview())
        await _until(lambda: sharer.shares.delivered.get("mentor") == outgoing.share_id, 10)
        assert sharer.shares.sent_from == [("mentor", 0)]


async def test_a_dropped_link_resumes_from_the_chunks_held(tmp_path: Path) -> None:
    outgoing = _outgoing(tmp_path)
    total_chunks = -(-len(outgoing.picture) // 1024)
    assert total_chunks > 40
    sharer, viewer = Side("surgeon", chunk_bytes=1024), Side("mentor")
    viewer.stop_after = 10
    sharer.shares.share(outgoing)
    async with linked(sharer, viewer) as (_channel, offerer):
        await asyncio.wait_for(viewer.enough.wait(), seconds(20))
        await offerer.close()  # the link drops mid-transfer
    receiver = viewer.shares._receivers["surgeon"]
    held = receiver.next_chunk
    assert 10 <= held < total_chunks and "surgeon" not in viewer.shares.viewing
    viewer.stop_after = None
    async with linked(sharer, viewer):  # the link comes back
        await asyncio.wait_for(viewer.changed.wait(), seconds(20))
    assert viewer.shares.viewing["surgeon"].picture == outgoing.picture
    assert sharer.shares.sent_from == [("mentor", 0), ("mentor", held)]


async def test_stopping_a_share_clears_it_for_the_viewer(tmp_path: Path) -> None:
    sharer, viewer = Side("surgeon"), Side("mentor")
    async with linked(sharer, viewer) as (channel, _):
        await _until(lambda: channel.readyState == "open", 10)
        sharer.shares.share(_outgoing(tmp_path))
        await asyncio.wait_for(viewer.changed.wait(), seconds(20))
        assert "surgeon" in viewer.shares.viewing
        viewer.changed.clear()
        sharer.shares.stop()
        await asyncio.wait_for(viewer.changed.wait(), seconds(10))
        assert "surgeon" not in viewer.shares.viewing


async def test_a_large_picture_goes_whole_with_at_most_a_megabyte_queued(tmp_path: Path) -> None:
    from surgery_teach.rtc.shares import HIGH_WATER
    from surgery_teach.sharing.transfer import CHUNK_BYTES
    noise = np.random.default_rng(5).integers(0, 255, (1100, 1100, 3), np.uint8)
    path = tmp_path / "slide.png"
    assert cv2.imwrite(str(path), noise)
    outgoing = prepare_share(open_file(path))
    assert len(outgoing.picture) > 3 * 1024 * 1024
    sharer, viewer = Side("surgeon"), Side("mentor")
    peak = 0
    async with linked(sharer, viewer) as (channel, _):
        await _until(lambda: channel.readyState == "open", 10)

        async def watch() -> None:
            nonlocal peak
            while True:
                peak = max(peak, channel.bufferedAmount)
                await asyncio.sleep(0)

        watcher = asyncio.ensure_future(watch())
        started = asyncio.get_running_loop().time()
        sharer.shares.share(outgoing)
        await asyncio.wait_for(viewer.changed.wait(), seconds(60))
        elapsed = asyncio.get_running_loop().time() - started
        watcher.cancel()
    assert viewer.shares.viewing["surgeon"].picture == outgoing.picture
    assert 0 < peak <= HIGH_WATER + CHUNK_BYTES, peak
    print(f"{len(outgoing.picture) / 1e6:.1f} MB in {elapsed:.2f} s, peak queue {peak} B")


async def test_a_viewer_ignores_shares_from_a_participant_whose_role_may_not_share(
        tmp_path: Path) -> None:
    """A trainee not allowed to draw may not share: the viewer asks for no chunk of it
    (the rule is checked on the receiving side too, not only by the sharer's window)."""
    allowed: set[str] = set()
    sharer = Side("trainee")
    viewer = Side("surgeon", may_share=lambda who: who in allowed)
    async with linked(sharer, viewer) as (channel, _):
        await _until(lambda: channel.readyState == "open"
                     and "trainee" in viewer.shares._channels, 10)
        headers = asyncio.Event()

        @viewer.shares._channels["trainee"].on("message")
        def _seen(message: str | bytes) -> None:  # after the viewer's own listener
            if isinstance(message, str) and '"kind":"share"' in message:
                headers.set()

        sharer.shares.share(_outgoing(tmp_path))
        await asyncio.wait_for(headers.wait(), seconds(10))
        assert viewer.shares._receivers["trainee"].header is None
        assert not viewer.shares.viewing and not viewer.changed.is_set()
        allowed.add("trainee")  # a mentor lets the trainee draw: the next share arrives
        again = _outgoing(tmp_path)
        sharer.shares.share(again)
        await asyncio.wait_for(viewer.changed.wait(), seconds(20))
        assert viewer.shares.viewing["trainee"].picture == again.picture
        assert sharer.shares.sent_from == [("surgeon", 0)]  # nothing sent for the first


async def test_a_sharer_who_loses_the_right_is_dropped_whatever_they_still_send(
        tmp_path: Path) -> None:
    """When a mentor stops a trainee's drawing, a viewer drops the trainee's picture
    (held whole or arriving) at once, even if the trainee's side keeps sending: chunks
    still on the way are ignored and the progress bar is told nothing is coming."""
    allowed = {"trainee"}
    sharer = Side("trainee", chunk_bytes=1024)
    viewer = Side("surgeon", may_share=lambda who: who in allowed)
    progress: list[tuple[str, int, int]] = []
    viewer.shares._on_progress = lambda *held: progress.append(held)  # type: ignore[assignment]
    async with linked(sharer, viewer) as (channel, _):
        await _until(lambda: channel.readyState == "open", 10)
        outgoing = _outgoing(tmp_path)
        sharer.shares.share(outgoing)
        await asyncio.wait_for(viewer.changed.wait(), seconds(20))
        assert viewer.shares.sharers() == ["trainee"]
        viewer.changed.clear()
        allowed.clear()  # the right went: the session drops what it holds of theirs
        assert viewer.shares.follow_rights(True) is False  # (the viewer shares nothing)
        assert viewer.changed.is_set() and "trainee" not in viewer.shares.viewing
        assert viewer.shares.sharers() == []

        # Mid-transfer: a picture announced while allowed, the right gone half-way
        # (the room's word arrives between two chunk messages, as it does in a session).
        allowed.add("trainee")
        progress.clear()
        viewer.changed.clear()
        loop = asyncio.get_running_loop()

        def on_progress(*held: object) -> None:
            progress.append(held)  # type: ignore[arg-type]
            if len(progress) == 5:
                allowed.clear()
                loop.call_soon(viewer.shares.follow_rights, True)

        viewer.shares._on_progress = on_progress  # type: ignore[assignment]
        again = _outgoing(tmp_path)
        sharer.shares.share(again)
        await _until(lambda: ("trainee", 0, 0) in progress, 10)  # nothing more is coming
        seen = len(progress)
        assert seen < len(again.picture) // 1024
        await _until(lambda: not sharer.shares._tasks or all(
            t.done() for t in sharer.shares._tasks.values()), 20)  # the sharer sent it all
        assert progress[-1] == ("trainee", 0, 0) and len(progress) == seen
        assert "trainee" not in viewer.shares.viewing and viewer.shares.sharers() == []
        assert not viewer.changed.is_set()
        # the trainee's own side stops its share (the session then says why)
        assert sharer.shares.follow_rights(False) and sharer.shares.mine is None
