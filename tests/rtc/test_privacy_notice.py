"""A surgeon's privacy pause reaches the room through the live session: everyone knows who
paused, a rejoin after a dropped link says it again, and resuming clears it."""

from __future__ import annotations

from surgery_teach.protocol.messages import PrivacyNotice, Role
from surgery_teach.rtc.session import LiveSession, SessionConfig
from tests.rtc.live import until
from tests.timing import seconds


async def test_a_pause_is_known_to_everyone_and_survives_the_surgeons_rejoin(
        server_url: str) -> None:
    def join(name: str, role: Role):  # type: ignore[no-untyped-def]
        return LiveSession.start(SessionConfig(server=server_url, room="privacy", name=name,
                                               role=role))

    surgeon = await join("Dr Wang", Role.SURGEON)
    trainee = await join("Trainee Osh", Role.TRAINEE)
    try:
        heard: list[PrivacyNotice] = []
        trainee.on("privacy", heard.append)
        await surgeon.announce_privacy(True)
        await until(lambda: surgeon.me.id in trainee.privacy, seconds(10), "the pause")
        assert heard[-1].paused and heard[-1].name == "Dr Wang"
        assert surgeon.me.id in surgeon.privacy  # the sender's own copy too

        states: list[str] = []
        surgeon.on("link", states.append)
        surgeon.client.abort()  # the surgeon's link drops; the video stays paused
        await until(lambda: states == ["reconnecting", "live"], seconds(15), "the rejoin")
        await until(lambda: surgeon.me.id in surgeon.privacy, seconds(10),
                    "the pause told again after the rejoin")
        assert surgeon.me.id in trainee.privacy

        await surgeon.announce_privacy(False)
        await until(lambda: not trainee.privacy, seconds(10), "the resume")
        assert not heard[-1].paused
    finally:
        for session in (trainee, surgeon):
            await session.close()
