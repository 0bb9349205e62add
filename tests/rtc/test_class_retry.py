"""A participant in class mode that loses the media server tries it again; it never goes
peer to peer on its own while the rest of the room stays in class mode.

The signaling server and a real Janus from Debian on 127.0.0.1, with two viewers'
sessions (a mentor and a trainee, who publish nothing: Janus ignores loopback for ICE,
so no media flows here; the joins, sessions and events are Janus's own). Losing Janus is
real: Janus forgets the trainee's session (its admin API's ``destroy_session``), or
Janus itself restarts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from signaling_server import RunningServer, ServerConfig, start_server
from signaling_server.media_server.admin import JanusAdmin
from surgery_teach.janus import session as janus_session
from surgery_teach.protocol.messages import Role
from surgery_teach.rtc.class_route import CLASS
from surgery_teach.rtc.session import LiveSession, SessionConfig
from tests.janus_local import LocalJanus, local_janus_fixture  # noqa: F401
from tests.rtc.live import until
from tests.timing import seconds

pytestmark = pytest.mark.slow


@pytest.fixture
async def class_room(local_janus: LocalJanus, monkeypatch: pytest.MonkeyPatch,
                     ) -> AsyncIterator[tuple[LiveSession, LiveSession, list[tuple[str, str]]]]:
    """A mentor and a trainee in a room the server moved onto Janus (two viewers > 1);
    the trainee's ``route`` events from then on. Janus sessions keep alive every 0.3 s, so one Janus
    forgot shows within a second (25 s in use)."""
    monkeypatch.setattr(janus_session, "KEEPALIVE_EVERY", 0.3)
    async with AsyncExitStack() as stack:
        server: RunningServer = await start_server(ServerConfig(
            port=0, media_server_dir=local_janus.folder, class_threshold=1))
        stack.push_async_callback(server.close)

        async def join(name: str, role: Role) -> LiveSession:
            session = await LiveSession.start(SessionConfig(
                server=server.url, room="retry", name=name, role=role))
            stack.push_async_callback(session.close)
            return session

        mentor = await join("Prof Li", Role.MENTOR)
        trainee = await join("Trainee Osh", Role.TRAINEE)
        routes: list[tuple[str, str]] = []
        trainee.on("route", lambda mode, why: routes.append((mode, why)))
        await until(lambda: mentor.class_media and trainee.class_media, seconds(15),
                    "both in the Janus room")
        assert routes == [(CLASS, "")]
        routes.clear()
        yield mentor, trainee, routes


async def test_a_viewer_whose_janus_session_is_lost_joins_again_and_stays_in_class_mode(
        class_room: tuple[LiveSession, LiveSession, list[tuple[str, str]]],
        local_janus: LocalJanus) -> None:
    mentor, trainee, routes = class_room
    kept, lost = mentor.class_media, trainee.class_media
    assert lost is not None and trainee.class_tries == 1
    room_id = lost.participant.joined.room_id
    async with JanusAdmin(local_janus.access.admin_url,
                          local_janus.access.secrets.admin_secret) as admin:
        await admin.request("destroy_session", session_id=lost.participant.session.id)

    await until(lambda: trainee.class_media is None, seconds(5), "the loss noticed")
    assert trainee.route == CLASS and trainee.in_class  # no peer-to-peer on its own
    await until(lambda: trainee.class_media is not None, seconds(10), "the trainee back")
    assert trainee.class_media is not lost and trainee.class_tries == 2
    assert trainee.class_media.participant.joined.room_id == room_id  # the same grant
    assert mentor.class_media is kept  # the others never noticed
    assert routes == [] and trainee.peers == {}


async def test_after_janus_restarts_every_viewer_is_back_in_the_same_room(
        class_room: tuple[LiveSession, LiveSession, list[tuple[str, str]]],
        local_janus: LocalJanus) -> None:
    mentor, trainee, routes = class_room
    before = {s.me.id: s.class_media for s in (mentor, trainee)}
    room_id = trainee.class_media.participant.joined.room_id  # type: ignore[union-attr]

    local_janus.stop()
    await until(lambda: mentor.class_media is None and trainee.class_media is None,
                seconds(5), "both to notice")
    assert mentor.in_class and trainee.in_class
    await local_janus.start_async()
    # The server makes the room again with the same tokens; the viewers' own tries
    # (after 1, 2, 4... s) find it.
    await until(lambda: mentor.class_media and trainee.class_media, seconds(40),
                "both back in the Janus room")
    for session in (mentor, trainee):
        media = session.class_media
        assert media is not None and media is not before[session.me.id]
        assert media.participant.joined.room_id == room_id
        assert session.class_tries >= 2 and session.peers == {}
    assert routes == []
