"""Shared pictures in class mode, through the signaling server: the sharer uploads once,
each viewer fetches the picture from the server and checks its SHA-256; late joiners get
it, stopping or losing the right to share removes it, and a viewer whose link drops
mid-transfer resumes from the chunks it holds. Real server and sessions; the media server
is the stand-in of tests/rtc/class_stand_in.py (no peer-to-peer channel exists)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from signaling_server.server import RunningServer, ServerConfig, start_server
from surgery_teach.protocol.messages import ErrorReply, Role, ShareHead, ShareOffer
from surgery_teach.rtc.class_route import CLASS
from surgery_teach.rtc.session import LiveSession, SessionConfig
from surgery_teach.rtc.shares import NO_RIGHT
from surgery_teach.sharing import OutgoingShare, open_file, prepare_share
from surgery_teach.wire.fields import ErrorCode
from tests.rtc.class_stand_in import INTO_CLASS, route, use_stand_in
from tests.rtc.live import until
from tests.timing import seconds

pytestmark = pytest.mark.slow
Join = Callable[[str, Role], Awaitable[LiveSession]]


def _picture(tmp_path: Path, side: int = 160) -> OutgoingShare:
    noise = np.random.default_rng(side).integers(0, 255, (side, side, 3), np.uint8)
    path = tmp_path / f"ct-{side}.png"
    assert cv2.imwrite(str(path), noise)
    return prepare_share(open_file(path), title="CT chest, slice 41")


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    running = await start_server(ServerConfig(port=0))
    try:
        yield running
    finally:
        await running.close()


@pytest.fixture
async def join(server: RunningServer) -> AsyncIterator[Join]:
    """Joins a session in class mode (with the stand-in media server)."""
    sessions: list[LiveSession] = []

    async def join_one(name: str, role: Role) -> LiveSession:
        session = await LiveSession.start(SessionConfig(
            server=server.url, room="consult", name=name, role=role))
        sessions.append(session)
        use_stand_in(session)
        await route([session], INTO_CLASS)
        assert session.route == CLASS
        return session

    try:
        yield join_one
    finally:
        for session in reversed(sessions):
            await session.close()


def _holds(viewer: LiveSession, sharer: LiveSession, share: OutgoingShare) -> bool:
    got = viewer.shares.viewing.get(sharer.me.id)
    return got is not None and hashlib.sha256(got.picture).hexdigest() == share.sha256


async def test_a_mentors_picture_reaches_two_trainees_and_a_late_joiner(
        join: Join, tmp_path: Path) -> None:
    mentor = await join("Dr Li", Role.MENTOR)
    trainees = [await join("Trainee Osh", Role.TRAINEE), await join("Trainee Kashgar",
                                                                     Role.TRAINEE)]
    share = _picture(tmp_path)
    mentor.share_picture(share)
    for trainee in trainees:
        await until(lambda t=trainee: _holds(t, mentor, share), seconds(20),  # type: ignore[misc]
                    "the picture at each trainee")
        got = trainee.shares.viewing[mentor.me.id]
        assert got.picture == share.picture and got.description["title"] == share.description[
            "title"]
        assert trainee.server_shares.asked_from == [(mentor.me.id, 0)]  # through the server
        assert not trainee.peers  # no peer-to-peer channel carried it
    await until(lambda: mentor.server_shares.stored, seconds(10), "the server holding it")
    assert mentor.server_shares.uploaded_from == [0]  # uploaded once, for everyone

    student = await join("Student Xining", Role.STUDENT)
    await until(lambda: _holds(student, mentor, share), seconds(20), "the late joiner's copy")

    mentor.stop_sharing()
    for viewer in [*trainees, student]:
        await until(lambda v=viewer: mentor.me.id not in v.shares.viewing,  # type: ignore[misc]
                    seconds(10), "the picture gone after share-stop")
    assert mentor.shares.mine is None and mentor.server_shares.mine is None


async def test_a_trainee_shares_through_the_server_only_while_allowed_to_draw(
        join: Join, tmp_path: Path) -> None:
    mentor = await join("Dr Li", Role.MENTOR)
    trainee = await join("Trainee Osh", Role.TRAINEE)
    stopped: list[str] = []
    refused: list[ErrorReply] = []
    trainee.on("share-stopped", stopped.append)
    trainee.on("refused", refused.append)
    share = _picture(tmp_path)
    trainee.share_picture(share)  # the client knows it may not
    assert stopped == [NO_RIGHT] and trainee.server_shares.mine is None

    header = share.sha256  # the server refuses it too, whatever a client sends
    await trainee.client.send(ShareOffer(ShareHead(share.share_id, len(share.picture), header,
                                                   1024, share.description)))
    await until(lambda: refused, seconds(10), "the server's refusal")
    assert refused[0].code == ErrorCode.FORBIDDEN
    assert "while a mentor lets them draw" in refused[0].message

    await mentor.grant_draw(trainee.me.id, True)
    await until(lambda: trainee.me.can_draw, seconds(10), "the drawing right")
    trainee.share_picture(share)
    await until(lambda: _holds(mentor, trainee, share), seconds(20), "the trainee's picture")
    await mentor.grant_draw(trainee.me.id, False)
    await until(lambda: trainee.me.id not in mentor.shares.viewing, seconds(10),
                "the picture gone with the right")
    assert trainee.server_shares.mine is None and trainee.shares.mine is None


async def test_a_viewer_whose_link_drops_mid_transfer_resumes(
        join: Join, tmp_path: Path) -> None:
    mentor = await join("Dr Li", Role.MENTOR)
    trainee = await join("Trainee Osh", Role.TRAINEE)
    mentor.server_shares.chunk_bytes = 1024
    share = _picture(tmp_path, 512)  # about 770 chunks of 1 KiB
    dropped: list[int] = []

    def on_progress(who: str, held: int, total: int) -> None:
        if not dropped and 0 < held < total and held >= 32 * 1024:
            dropped.append(held)
            trainee.client.abort()  # the link drops mid-transfer

    trainee.on("share-progress", on_progress)
    mentor.share_picture(share)
    await until(lambda: _holds(trainee, mentor, share), seconds(40), "the picture, resumed")
    assert dropped, "the transfer ended before the link could drop"
    (sharer, first), (_, again) = trainee.server_shares.asked_from
    assert sharer == mentor.me.id and first == 0
    assert 32 <= again < -(-len(share.picture) // 1024)  # from the chunks it held
    assert trainee.shares.viewing[mentor.me.id].picture == share.picture


async def test_a_sharer_whose_link_drops_mid_upload_goes_on_after_the_rejoin(
        join: Join, tmp_path: Path) -> None:
    mentor = await join("Dr Li", Role.MENTOR)
    trainee = await join("Trainee Osh", Role.TRAINEE)
    mentor.server_shares.chunk_bytes = 1024
    share = _picture(tmp_path, 512)
    send_binary = mentor.server_shares._send_binary
    sent = 0

    async def drop_after_forty(frame: bytes) -> None:
        nonlocal sent
        sent += 1
        if sent == 40:
            mentor.client.abort()  # the sharer's link drops mid-upload
        await send_binary(frame)

    mentor.server_shares._send_binary = drop_after_forty  # type: ignore[method-assign]
    mentor.share_picture(share)
    await until(lambda: _holds(trainee, mentor, share), seconds(40), "the picture, uploaded")
    first, again = mentor.server_shares.uploaded_from
    assert first == 0 and 0 < again < 40  # the server asked only for what it lacked
    assert trainee.server_shares.asked_from == [(mentor.me.id, 0)]
