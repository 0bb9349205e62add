"""A participant whose signaling link drops comes back as itself, media untouched."""

from __future__ import annotations

import pytest

from surgery_teach.annotations import Add, Arrow
from surgery_teach.capture import SyntheticSource
from surgery_teach.media.encoder import EncoderSettings, SharedEncoder
from surgery_teach.protocol.messages import Role
from surgery_teach.rtc.session import LiveSession, SessionConfig
from tests.rtc.live import until
from tests.timing import seconds

pytestmark = pytest.mark.slow


def arrow(author: str, n: int) -> Add:
    return Add(Arrow(id=f"{author}:{n}", author=author, source="Laparoscope", colour="#ffd400",
                     width=0.005, pinned=True, start=(0.1 * n, 0.1), end=(0.5, 0.5)))


def marks(session: LiveSession) -> list[str]:
    return sorted(s.shape.id for s in session.board.shapes("Laparoscope", 0))


async def test_a_granted_trainee_whose_websocket_dies_comes_back_and_still_draws(
        server_url: str) -> None:
    source = SyntheticSource(320, 180, 30, label="Laparoscope")
    source.start()
    encoder = SharedEncoder(source, EncoderSettings(bitrate=300_000))

    def join(name: str, role: Role, encoders: list[SharedEncoder] | None = None):  # type: ignore[no-untyped-def]
        return LiveSession.start(SessionConfig(server=server_url, room="rejoin", name=name,
                                               role=role), encoders)

    surgeon = await join("Dr Wang", Role.SURGEON, [encoder])
    mentor = await join("Prof Li", Role.MENTOR)
    trainee = await join("Trainee Osh", Role.TRAINEE)
    try:
        await until(lambda: trainee.receivers and trainee.receivers[0].stats.frames > 10,
                    seconds(20), "video at the trainee")
        await mentor.grant_draw(trainee.me.id, True)
        await until(lambda: trainee.me.can_draw, seconds(5), "the drawing right")
        seen: list[str] = []
        for session in (surgeon, mentor):
            session.on("joined", lambda p, seen=seen: seen.append(f"joined {p.id}"))
            session.on("left", lambda p, r, seen=seen: seen.append(f"left {p.id}"))
        chats: list[str] = []
        mentor.on("chat", lambda m: chats.append(m.text))
        me, made = trainee.me.id, trainee.connections_made
        states: list[str] = []
        trainee.on("link", states.append)

        await trainee.send_chat("Is that the cystic artery?")
        trainee.client.abort()  # its websocket dies (the chat may or may not be through)
        await until(lambda: states == ["reconnecting", "live"], seconds(15), "the rejoin")

        assert trainee.me.id == me and trainee.me.can_draw  # same id, right kept
        await trainee.annotate(arrow(me, 1))
        await until(lambda: marks(mentor) == [f"{me}:1"], seconds(10), "the trainee's mark")
        await until(lambda: chats == ["Is that the cystic artery?"] and not trainee.waiting,
                    seconds(10), "the chat message, once")
        frames = trainee.receivers[0].stats.frames
        await until(lambda: trainee.receivers[0].stats.frames > frames + 10, seconds(10),
                    "video still flowing")
        for session in (surgeon, mentor):
            names = [(p.id, p.name) for p in session.participants.values()
                     if p.role is Role.TRAINEE]
            assert names == [(me, "Trainee Osh")]
        assert seen == []  # nobody saw the trainee leave or arrive
        assert trainee.connections_made == made == 1  # the peer connection was kept
        assert chats == ["Is that the cystic artery?"]
    finally:
        for session in (trainee, mentor, surgeon):
            await session.close()
        encoder.stop()
        source.stop()
