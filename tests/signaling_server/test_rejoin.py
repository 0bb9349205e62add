"""Coming back: a client key gives a dropped participant its seat back, once, on time."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path

from websockets.asyncio.client import connect

from signaling_server import RunningServer, ServerConfig, start_server
from surgery_teach.annotations import Add, Arrow
from surgery_teach.protocol import (
    Annotate,
    Annotation,
    AnnotationSnapshot,
    Chat,
    ChatHistory,
    ChatMessage,
    Join,
    Joined,
    Left,
    Offer,
    Ping,
    Pong,
    Publishes,
    Relayed,
    Role,
    Signal,
    Updated,
    Welcome,
)
from surgery_teach.protocol.messages import GrantDraw
from tests.signaling_server.conftest import Client, join_with_token, make_token
from tests.timing import seconds

ROOM = "chole-0425"
KEY_T = "trainee-key-0123456789abcdef"
KEY_M = "mentor-key-0123456789abcdefgh"


async def connected(stack: AsyncExitStack, server: RunningServer) -> Client:
    connection = await stack.enter_async_context(connect(server.url, open_timeout=seconds(5)))
    return Client(connection)


async def join_with_key(client: Client, name: str, role: Role, key: str,
                        publishes: Publishes | None = None) -> Welcome:
    await client.send(Join(ROOM, name, role, publishes or Publishes(), client_key=key))
    welcome = await client.expect(Welcome)
    client.id = welcome.you.id
    return welcome


async def pong_next(client: Client) -> None:
    """Nothing else is waiting for ``client``: a ping's pong is the next message."""
    await client.send(Ping())
    await client.expect(Pong)


def arrow(author: str, number: int) -> Add:
    return Add(Arrow(id=f"{author}:{number}", author=author, source="Laparoscope",
                     colour="#ffd400", width=0.004, start=(0.1 * number, 0.5), end=(0.5, 0.5)))


async def test_a_granted_trainee_whose_link_dropped_comes_back_as_itself(tmp_path: Path) -> None:
    server = await start_server(ServerConfig(port=0))
    try:
        async with AsyncExitStack() as stack:
            mentor = await connected(stack, server)
            await join_with_key(mentor, "Dr Li", Role.MENTOR, KEY_M)
            trainee = await connected(stack, server)
            first = await join_with_key(trainee, "Trainee Osh", Role.TRAINEE, KEY_T)
            await mentor.expect(Joined)
            await mentor.send(GrantDraw(to=trainee.id, allowed=True))
            assert (await mentor.expect(Updated)).participant.can_draw
            assert (await trainee.expect(Updated)).participant.can_draw

            await trainee.connection.close()  # the link drops (here: cleanly)
            await pong_next(mentor)  # ... and the others hear nothing of it

            again = await connected(stack, server)
            welcome = await join_with_key(again, "Trainee Osh", Role.TRAINEE, KEY_T)
            assert welcome.you.id == first.you.id
            assert welcome.you.can_draw  # the drawing right came back with the seat
            assert [p.id for p in welcome.participants] == [mentor.id]
            await again.send(Annotate(arrow(again.id, 1), id="t-1"))
            assert (await mentor.expect(Annotation)).sender == first.you.id
            assert (await again.expect(Annotation)).ref == "t-1"
            await pong_next(mentor)  # no joined, no left: one participant, the same id
    finally:
        await server.close()


async def test_a_ghost_leaves_when_its_grace_is_over() -> None:
    server = await start_server(ServerConfig(port=0, rejoin_grace=0.5))
    try:
        async with AsyncExitStack() as stack:
            mentor, trainee = await connected(stack, server), await connected(stack, server)
            await join_with_key(mentor, "Dr Li", Role.MENTOR, KEY_M)
            await join_with_key(trainee, "Trainee Osh", Role.TRAINEE, KEY_T)
            await mentor.expect(Joined)
            await trainee.connection.close()
            left = await asyncio.wait_for(mentor.expect(Left), seconds(5))
            assert (left.participant.id, left.reason) == (trainee.id, "disconnect")

            again = await connected(stack, server)
            welcome = await join_with_key(again, "Trainee Osh", Role.TRAINEE, KEY_T)
            assert welcome.you.id != trainee.id  # too late: a new participant
            assert (await mentor.expect(Joined)).participant.id == welcome.you.id
    finally:
        await server.close()


async def test_an_offer_to_a_ghost_waits_for_it_and_a_rejoin_replaces_an_open_link() -> None:
    server = await start_server(ServerConfig(port=0))
    try:
        async with AsyncExitStack() as stack:
            surgeon, trainee = await connected(stack, server), await connected(stack, server)
            await join_with_key(surgeon, "Dr Wang", Role.SURGEON, KEY_M,
                                Publishes(video=1, audio=True))
            await join_with_key(trainee, "Trainee Osh", Role.TRAINEE, KEY_T)
            await surgeon.expect(Joined)
            await trainee.connection.close()
            await pong_next(surgeon)
            offer = Offer(sdp="v=0\r\n")
            await surgeon.send(Signal(to=trainee.id, data=offer))  # to the ghost: no error
            await pong_next(surgeon)

            again = await connected(stack, server)
            await join_with_key(again, "Trainee Osh", Role.TRAINEE, KEY_T)
            relayed = await again.expect(Relayed)  # the offer waited in its mailbox
            assert (relayed.sender, relayed.data) == (surgeon.id, offer)

            # the same key on yet another connection, while this one is still open
            third = await connected(stack, server)
            welcome = await join_with_key(third, "Trainee Osh", Role.TRAINEE, KEY_T)
            assert welcome.you.id == trainee.id
            await asyncio.wait_for(again.connection.wait_closed(), seconds(5))
            await pong_next(surgeon)  # still one trainee, never gone
    finally:
        await server.close()


async def test_a_chat_message_or_op_sent_again_is_taken_once() -> None:
    server = await start_server(ServerConfig(port=0))
    try:
        async with AsyncExitStack() as stack:
            mentor, trainee = await connected(stack, server), await connected(stack, server)
            await join_with_key(mentor, "Dr Li", Role.MENTOR, KEY_M)
            await join_with_key(trainee, "Trainee Osh", Role.TRAINEE, KEY_T)
            await mentor.expect(Joined)
            await mentor.send(Chat("Show the cystic duct", id="c-1"))
            mine = await mentor.expect(ChatMessage)
            assert (mine.ref, mine.seq) == ("c-1", 1)
            assert (await trainee.expect(ChatMessage)).ref is None  # refs are the sender's
            await mentor.send(Annotate(arrow(mentor.id, 1), id="a-1"))
            op = await mentor.expect(Annotation)
            await trainee.expect(Annotation)

            await mentor.connection.close()  # the echoes may have been lost: send again
            again = await connected(stack, server)
            await join_with_key(again, "Dr Li", Role.MENTOR, KEY_M)
            assert (await again.expect(ChatHistory)).messages == (mine.__class__(
                mine.sender, mine.name, mine.role, mine.text, mine.time, mine.seq),)
            assert (await again.expect(AnnotationSnapshot)).seq == op.op.seq
            await again.send(Chat("Show the cystic duct", id="c-1"))
            repeat = await again.expect(ChatMessage)
            assert (repeat.ref, repeat.seq, repeat.time) == ("c-1", 1, mine.time)
            await again.send(Annotate(arrow(again.id, 1), id="a-1"))
            assert (await again.expect(Annotation)).op.seq == op.op.seq
            await again.send(Chat("And now the artery", id="c-2"))
            assert (await again.expect(ChatMessage)).seq == 2
            # the trainee got each message once: the next thing it sees is the new one
            assert (await trainee.expect(ChatMessage)).seq == 2
    finally:
        await server.close()


async def test_with_tokens_only_the_same_person_takes_the_seat_back(
        token_server: RunningServer) -> None:
    async with AsyncExitStack() as stack:
        token = make_token(ROOM, "Trainee Osh", Role.TRAINEE, user="osh")
        first = await join_with_token(stack, token_server, make_token(ROOM, "Dr Li"), ROOM,
                                      "Dr Li", Role.MENTOR)
        trainee = await stack.enter_async_context(
            connect(f"{token_server.url}/?room={ROOM}&token={token}", open_timeout=seconds(5)))
        client = Client(trainee)
        welcome = await join_with_key(client, "Trainee Osh", Role.TRAINEE, KEY_T)
        await first.expect(Joined)
        await trainee.close()

        other = make_token(ROOM, "Trainee Osh", Role.TRAINEE, user="someone-else")
        thief = Client(await stack.enter_async_context(
            connect(f"{token_server.url}/?room={ROOM}&token={other}", open_timeout=seconds(5))))
        stolen = await join_with_key(thief, "Trainee Osh", Role.TRAINEE, KEY_T)
        assert stolen.you.id != welcome.you.id  # a key alone is not enough

        back = Client(await stack.enter_async_context(
            connect(f"{token_server.url}/?room={ROOM}&token={token}", open_timeout=seconds(5))))
        again = await join_with_key(back, "Trainee Osh", Role.TRAINEE, KEY_T)
        assert again.you.id == welcome.you.id
