"""The signaling server dies (SIGKILL) and comes back: media never stops, nothing doubles.

A real server process with a state directory; a surgeon publishing a synthetic source and
participants watching, all aiortc on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from surgery_teach.annotations import Add, Arrow
from surgery_teach.capture import SyntheticSource
from surgery_teach.media.encoder import EncoderSettings, SharedEncoder
from surgery_teach.protocol.messages import Role
from surgery_teach.rtc.session import LiveSession, SessionConfig
from tests.rtc.live import FrameLog, ServerProcess, free_port, largest_gap, until
from tests.timing import seconds

pytestmark = pytest.mark.slow

OUTAGE = 3.0  # seconds of media measured while the server is down


async def test_video_keeps_flowing_while_the_server_is_down_and_everyone_rejoins_as_before(
        tmp_path: Path) -> None:
    server = ServerProcess(free_port(), "--state-dir", str(tmp_path / "state"))
    await server.start(seconds(15))
    source = SyntheticSource(640, 360, 30, label="Laparoscope")
    source.start()
    encoder = SharedEncoder(source, EncoderSettings(bitrate=800_000))
    config = SessionConfig(server=server.url, room="outage", name="Dr Wang", role=Role.SURGEON)
    surgeon = await LiveSession.start(config, [encoder])
    viewer = await LiveSession.start(SessionConfig(server=server.url, room="outage",
                                                   name="Trainee Osh", role=Role.TRAINEE))
    log = None
    try:
        await until(lambda: viewer.receivers and viewer.receivers[0].stats.frames > 30,
                    seconds(20), "video at the viewer")
        ids = (surgeon.me.id, viewer.me.id)
        made = (surgeon.connections_made, viewer.connections_made)
        receiver = viewer.receivers[0]
        log = FrameLog(receiver).start()
        loop = asyncio.get_running_loop()

        await server.kill()
        await until(lambda: surgeon.link == viewer.link == "reconnecting", seconds(10),
                    "both to notice the server is gone")
        down = loop.time()
        await until(lambda: log.last_at - down >= OUTAGE, seconds(OUTAGE + 5),
                    f"{OUTAGE:g} s of video during the outage")
        during = log.between(down, down + OUTAGE)
        stamps = [seq for _, seq in during]
        assert len(during) >= 25 * OUTAGE, len(during)  # at least 25 fps
        assert stamps == sorted(set(stamps)) and stamps[-1] - stamps[0] >= 25 * OUTAGE - 1
        assert largest_gap(log.frames, down, down + OUTAGE) < 0.5

        await server.start(seconds(15))
        back = loop.time()
        await until(lambda: surgeon.link == viewer.link == "live", seconds(5),
                    "both to rejoin within 5 s of the server's return")
        print(f"rejoined {loop.time() - back:.2f} s after the server returned; "
              f"{len(during) / OUTAGE:.1f} fps during the outage")
        assert (surgeon.me.id, viewer.me.id) == ids
        assert list(surgeon.participants) == [ids[1]] and list(viewer.participants) == [ids[0]]
        assert (surgeon.connections_made, viewer.connections_made) == made  # no new ones
        assert viewer.receivers == [receiver]
        frames = receiver.stats.frames
        await until(lambda: receiver.stats.frames > frames + 30, seconds(10), "video after")
        assert receiver.stats.out_of_order == 0
    finally:
        if log is not None:
            log.stop()
        for session in (viewer, surgeon):
            await session.close()
        encoder.stop()
        source.stop()
        await server.stop()


def arrow(author: str, n: int) -> Add:
    return Add(Arrow(id=f"{author}:{n}", author=author, source="Laparoscope", colour="#ffd400",
                     width=0.005, pinned=True, start=(0.1 * n, 0.1), end=(0.5, 0.5)))


def marks(session: LiveSession) -> list[str]:
    return sorted(s.shape.id for s in session.board.shapes("Laparoscope", 0))


async def test_marks_and_chat_survive_a_server_crash_and_what_was_sent_meanwhile_arrives_once(
        tmp_path: Path) -> None:
    server = ServerProcess(free_port(), "--state-dir", str(tmp_path / "state"))
    await server.start(seconds(15))

    def join(name: str, role: Role):  # type: ignore[no-untyped-def]
        return LiveSession.start(SessionConfig(server=server.url, room="crash", name=name,
                                               role=role))

    mentor = await join("Prof Li", Role.MENTOR)
    trainee = await join("Дмитрий", Role.TRAINEE)
    chats: dict[str, list[tuple[int, str]]] = {"mentor": [], "trainee": []}
    mentor.on("chat", lambda m: chats["mentor"].append((m.seq, m.text)))
    trainee.on("chat", lambda m: chats["trainee"].append((m.seq, m.text)))
    try:
        m, t = mentor.me.id, trainee.me.id
        await mentor.grant_draw(t, True)
        await until(lambda: trainee.me.can_draw, seconds(5), "the drawing right")
        await mentor.annotate(arrow(m, 1))
        await trainee.annotate(arrow(t, 2))
        await mentor.send_chat("Clip the cystic duct first")
        # Two connections: the server numbers whichever arrives first, so wait for the
        # mentor's line before the trainee answers it.
        await until(lambda: chats["trainee"] == [(1, "Clip the cystic duct first")],
                    seconds(10), "the mentor's line")
        await trainee.send_chat("Понял")
        before = sorted([f"{m}:1", f"{t}:2"])
        said = [(1, "Clip the cystic duct first"), (2, "Понял")]
        await until(lambda: marks(mentor) == marks(trainee) == before
                    and chats["mentor"] == chats["trainee"] == said,
                    seconds(10), "marks and chat before the crash")

        await server.kill()
        await until(lambda: mentor.link == trainee.link == "reconnecting", seconds(10),
                    "both to notice the crash")
        await mentor.annotate(arrow(m, 3))  # drawn and said while the server is down
        await trainee.send_chat("Where is the artery?")
        assert mentor.waiting == trainee.waiting == 1

        await server.start(seconds(15))
        after = sorted([*before, f"{m}:3"])
        everything = [*said, (3, "Where is the artery?")]
        await until(lambda: mentor.link == trainee.link == "live", seconds(10), "the rejoin")
        await until(lambda: marks(mentor) == marks(trainee) == after
                    and chats["mentor"] == chats["trainee"] == everything
                    and mentor.waiting == trainee.waiting == 0,
                    seconds(10), "the same marks and chat, each once")
        assert (mentor.me.id, trainee.me.id) == (m, t) and trainee.me.can_draw
        assert mentor.board.snapshot() == trainee.board.snapshot()
        assert mentor.board.last_seq == trainee.board.last_seq == 3
    finally:
        for session in (trainee, mentor):
            await session.close()
        await server.stop()
