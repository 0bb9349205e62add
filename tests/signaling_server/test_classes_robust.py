"""Class mode survives a media server that restarts, stalls or was never up.

A real Janus from Debian on 127.0.0.1 (only its APIs: no media flows on loopback): the
signaling server connects to it again after a restart and makes its class rooms again
with the same ids and tokens, so the grants participants hold open them again and
nobody is sent a new route; a room that outgrew peer to peer while Janus was away is
told so once and moves when Janus is back; a Janus that stops answering holds up no
join, signal or chat; and a room that empties through the rejoin grace leaves nothing
behind in the server's records.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack

import pytest
from websockets.asyncio.client import connect

from signaling_server import RunningServer, ServerConfig, start_server
from signaling_server.classes import DOWN_REASON
from signaling_server.media_server.admin import ADMIN_TIMEOUT, JanusAdmin
from surgery_teach.errors import MediaServerError
from surgery_teach.janus import session as janus_session
from surgery_teach.janus.messages import plugin_data
from surgery_teach.janus.participant import ClassParticipant
from surgery_teach.protocol import ServerMessage, parse_server
from surgery_teach.protocol.messages import (
    Chat,
    ChatMessage,
    ClassMode,
    Join,
    MediaRoute,
    Role,
    Welcome,
)
from tests.janus_local import LocalJanus, local_janus_fixture  # noqa: F401
from tests.signaling_server.conftest import Client
from tests.timing import seconds

pytestmark = pytest.mark.slow


async def _next(client: Client, kind: type, timeout: float) -> list[ServerMessage]:
    """Everything ``client`` gets up to and including the next ``kind``."""
    seen: list[ServerMessage] = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {kind.__name__} within {timeout:g} s; got {seen}")
        text = await asyncio.wait_for(client.connection.recv(), left)
        message = parse_server(str(text))
        seen.append(message)
        if isinstance(message, kind):
            return seen


async def next_route(client: Client, timeout: float | None = None) -> MediaRoute:
    route = (await _next(client, MediaRoute, timeout or seconds(10)))[-1]
    assert isinstance(route, MediaRoute)
    return route


async def _until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.05)


async def _opens(route: MediaRoute, timeout: float) -> None:
    """Wait until Janus lets ``route``'s holder into its room."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            inside = await ClassParticipant.join(route.url, route.token, route.room, "probe",
                                                 timeout=seconds(5))
        except MediaServerError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
            continue
        await inside.leave()
        return


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as exits:
        yield exits


async def _server(janus: LocalJanus, stack: AsyncExitStack, **options: object,
                  ) -> RunningServer:
    server = await start_server(ServerConfig(port=0, media_server_dir=janus.folder,
                                             **options))  # type: ignore[arg-type]
    stack.push_async_callback(server.close)
    return server


async def _client(server: RunningServer, stack: AsyncExitStack, room: str, name: str,
                  role: Role, key: str | None = None) -> Client:
    client = Client(await stack.enter_async_context(connect(server.url)))
    await client.send(Join(room, name, role, client_key=key))
    client.id = (await client.expect(Welcome)).you.id
    return client


async def test_after_janus_restarts_the_class_rooms_are_made_again_with_the_same_grants(
        local_janus: LocalJanus, stack: AsyncExitStack) -> None:
    server = await _server(local_janus, stack, class_threshold=1)
    surgeon = await _client(server, stack, "lecture", "Dr Wang", Role.SURGEON)
    first = await _client(server, stack, "lecture", "Osh", Role.TRAINEE)
    second = await _client(server, stack, "lecture", "Almaty", Role.TRAINEE)
    routes = [await next_route(c) for c in (surgeon, first, second)]
    assert {r.mode for r in routes} == {"class"}
    await _opens(routes[1], seconds(5))

    local_janus.stop()
    await _until(lambda: not server.classes.up, seconds(10), "the server to notice")
    # Someone who joins meanwhile is given the room it will find once Janus is back.
    late = await _client(server, stack, "lecture", "Bishkek", Role.TRAINEE)
    late_route = await next_route(late)
    assert (late_route.mode, late_route.room) == ("class", routes[0].room)

    await local_janus.start_async()
    for route in (*routes, late_route):
        await _opens(route, seconds(40))  # 1+2+4+8+16 s of pauses at most, then at once
    assert server.classes.up

    # Nobody was sent a route again: their grants never changed.
    await first.send(Chat("still there?"))
    for client in (surgeon, first, second):
        seen = await _next(client, ChatMessage, seconds(5))
        assert not [m for m in seen if isinstance(m, MediaRoute)], seen


async def test_when_only_the_line_to_janus_breaks_the_rooms_janus_kept_go_on(
        local_janus: LocalJanus, stack: AsyncExitStack,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Janus forgets the signaling server's session (as after a network break longer than
    its session timeout) but keeps its rooms: the server connects again, finds each room
    there and lets everyone in again; nobody inside is disturbed."""
    monkeypatch.setattr(janus_session, "KEEPALIVE_EVERY", 0.3)  # noticed within a second
    server = await _server(local_janus, stack, class_threshold=1)
    surgeon = await _client(server, stack, "lecture", "Dr Wang", Role.SURGEON)
    await _client(server, stack, "lecture", "Osh", Role.TRAINEE)
    trainee = await _client(server, stack, "lecture", "Almaty", Role.TRAINEE)
    route, other = await next_route(surgeon), await next_route(trainee)
    inside = await ClassParticipant.join(route.url, route.token, route.room, surgeon.id)
    stack.push_async_callback(inside.leave)
    line = server.classes.control
    async with JanusAdmin(local_janus.access.admin_url,
                          local_janus.access.secrets.admin_secret) as admin:
        sessions = (await admin.request("list_sessions"))["sessions"]
        for session_id in sessions:
            if session_id != inside.session.id:  # the signaling server's own
                await admin.request("destroy_session", session_id=session_id)
    await _until(lambda: server.classes.control not in (None, line), seconds(10),
                 "a new line to Janus")
    await _opens(other, seconds(5))
    assert not inside.session.ended.is_set()
    news = []
    while not inside.handle.events.empty():
        news.append(plugin_data(inside.handle.events.get_nowait()))
    assert not [n for n in news if n.get("videoroom") == "destroyed"], news  # kept
    await surgeon.send(Chat("all here?"))
    seen = await _next(surgeon, ChatMessage, seconds(5))
    assert not [m for m in seen if isinstance(m, MediaRoute)], seen


async def test_a_room_that_outgrows_peer_to_peer_while_janus_is_away_is_told_once_then_moves(
        local_janus: LocalJanus, stack: AsyncExitStack) -> None:
    local_janus.stop()  # away before the signaling server starts
    server = await _server(local_janus, stack, class_threshold=1)
    assert server.classes.enabled and not server.classes.up
    surgeon = await _client(server, stack, "ward", "Dr Wang", Role.SURGEON)
    await _client(server, stack, "ward", "Osh", Role.TRAINEE)
    trainee = await _client(server, stack, "ward", "Almaty", Role.TRAINEE)
    for client in (surgeon, trainee):
        told = await next_route(client)
        assert (told.mode, told.reason) == ("peer", DOWN_REASON)
    # The server's upkeep looks at the room every second meanwhile: it says nothing new.
    await _until(lambda: server.classes.unavailable and not server.classes.busy,
                 seconds(5), "a first reconnection try")
    await local_janus.start_async()
    moved = await next_route(surgeon, seconds(40))  # not the same "peer" route again
    assert moved.mode == "class"
    assert (await next_route(trainee, seconds(10))).mode == "class"
    await _opens(moved, seconds(5))


async def test_a_stalled_janus_holds_up_no_join_and_no_chat(
        local_janus: LocalJanus, stack: AsyncExitStack) -> None:
    server = await _server(local_janus, stack, class_threshold=1)
    surgeon = await _client(server, stack, "theatre", "Dr Wang", Role.SURGEON)
    await _client(server, stack, "theatre", "Osh", Role.TRAINEE)
    await _client(server, stack, "theatre", "Almaty", Role.TRAINEE)
    assert (await next_route(surgeon)).mode == "class"

    local_janus.freeze()  # answers nothing: each request waits for its timeout (5 s)
    try:
        started = time.monotonic()
        late = await _client(server, stack, "theatre", "Bishkek", Role.TRAINEE)
        await late.send(Chat("can you hear me?"))  # its join is now waiting on Janus
        said = [m for m in await _next(surgeon, ChatMessage, seconds(10))
                if isinstance(m, ChatMessage)]
        took = time.monotonic() - started
        assert said[-1].text == "can you hear me?"
        assert took < min(seconds(1.5), ADMIN_TIMEOUT / 2), took
        elsewhere = await _client(server, stack, "clinic", "Dr Li", Role.MENTOR)
        assert elsewhere.id
    finally:
        local_janus.thaw()
    # Once Janus answers again, the newcomer is let in (the upkeep tries each second).
    route = await next_route(late, seconds(30))
    assert route.mode == "class"
    await _opens(route, seconds(10))


async def test_rooms_that_empty_through_the_rejoin_grace_leave_no_records(
        local_janus: LocalJanus, stack: AsyncExitStack) -> None:
    server = await _server(local_janus, stack, class_threshold=1, rejoin_grace=0.5)
    classes = server.classes
    small = await _client(server, stack, "small", "Dr Wang", Role.SURGEON, "s" * 32)
    big = [await _client(server, stack, "big", name, role, key * 32) for name, role, key in
           (("Dr Li", Role.SURGEON, "a"), ("Osh", Role.TRAINEE, "b"),
            ("Almaty", Role.TRAINEE, "c"))]
    route = await next_route(big[0])
    assert route.mode == "class"
    await small.send(ClassMode(False))  # a choice the server keeps for the small room
    await _until(lambda: {"small", "big"} <= classes.known() and not classes.busy,
                 seconds(5), "both rooms in the records")

    for client in (small, *big):  # links drop; the seats wait for a rejoin, then go
        await client.connection.close()
    await _until(lambda: not classes.known() and not classes.busy, seconds(15),
                 "the records of both rooms to go")
    assert "big" not in classes.rooms
    with pytest.raises(MediaServerError):  # the Janus room went with it
        await ClassParticipant.join(route.url, route.token, route.room, "probe",
                                    timeout=seconds(5))
