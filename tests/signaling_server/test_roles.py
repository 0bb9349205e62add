"""Every role denial through a real server on 127.0.0.1:0, with real websocket clients.

Each forbidden message gets an ``error`` with code ``forbidden`` and a message naming the
rule; it reaches nobody, the sender's next message works as usual, and the audit log has a
``denial`` line naming the message type.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from signaling_server import RunningServer, ServerConfig, start_server
from surgery_teach.annotations import Add, Arrow, Clear, ClearScope, Freeze
from surgery_teach.protocol import (
    Annotate,
    Answer,
    Candidate,
    Chat,
    ChatMessage,
    ClientMessage,
    ErrorCode,
    GrantDraw,
    Join,
    Joined,
    Left,
    Offer,
    Publish,
    Publishes,
    Relayed,
    RemoveParticipant,
    Role,
    Signal,
    TrackInfo,
    Updated,
)
from tests.signaling_server.conftest import Client
from tests.timing import seconds

ROOM = "chole-2026-11-25"
SURGEON_MEDIA = Publishes(video=1, audio=True)


@dataclass
class Theatre:
    """A surgeon (one camera and a microphone), a mentor, a trainee and a student."""

    clients: dict[Role, Client]
    audit: Path
    url: str

    def id(self, role: Role) -> str:
        return self.clients[role].id

    def audit_lines(self) -> list[dict[str, Any]]:
        text = self.audit.read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
async def theatre(tmp_path: Path) -> AsyncIterator[Theatre]:
    audit = tmp_path / "audit.jsonl"
    server = await start_server(ServerConfig(port=0, audit_log=audit))
    try:
        async with AsyncExitStack() as stack:
            clients: dict[Role, Client] = {}
            for role in Role:
                client = await _connect(stack, server)
                publishes = SURGEON_MEDIA if role is Role.SURGEON else None
                await client.join(ROOM, f"the {role.value}", role, publishes)
                for earlier in clients.values():
                    await earlier.expect(Joined)
                clients[role] = client
            yield Theatre(clients, audit, server.url)
    finally:
        await server.close()


async def _connect(stack: AsyncExitStack, server: RunningServer) -> Client:
    return Client(await stack.enter_async_context(connect(server.url, open_timeout=seconds(5))))


def _arrow(author: str) -> Add:
    return Add(
        Arrow(
            id=f"{author}:1",
            author=author,
            source="Laparoscope",
            colour="#ffd400",
            width=0.004,
            start=(0.25, 0.5),
            end=(0.75, 0.5),
        )
    )


@dataclass(frozen=True)
class Denial:
    sender: Role
    message: Callable[[Theatre], ClientMessage]
    rule: str
    """The start of the error message: it names the role, the action and the rule."""
    action: str


DENIALS = {
    "student-offers": Denial(
        Role.STUDENT,
        lambda t: Signal(t.id(Role.SURGEON), Offer("v=0")),
        "a student who publishes nothing may not send offers",
        "signal",
    ),
    "quiet-trainee-trickles": Denial(
        Role.TRAINEE,
        lambda t: Signal(t.id(Role.SURGEON), Candidate("")),
        "a trainee who publishes nothing may not send ICE candidates",
        "signal",
    ),
    "surgeon-labels-more-video-than-announced": Denial(
        Role.SURGEON,
        lambda t: Signal(
            t.id(Role.MENTOR),
            Offer("v=0", (TrackInfo("a", "Laparoscope"), TrackInfo("b", "Room camera"))),
        ),
        "the offer labels 2 video track(s) but you announced 1 in publishes",
        "signal",
    ),
    "student-answers-with-video": Denial(
        Role.STUDENT,
        lambda t: Signal(t.id(Role.SURGEON), Answer("v=0", (TrackInfo("c", "Webcam"),))),
        "the answer labels 1 video track(s) but you announced 0",
        "signal",
    ),
    "trainee-publishes-video": Denial(
        Role.TRAINEE,
        lambda t: Publish(Publishes(video=1, audio=True)),
        "a trainee may publish only audio",
        "publish",
    ),
    "student-speaks": Denial(
        Role.STUDENT,
        lambda t: Publish(Publishes(audio=True)),
        "a student may not publish media",
        "publish",
    ),
    "student-draws": Denial(
        Role.STUDENT,
        lambda t: Annotate(_arrow(t.id(Role.STUDENT))),
        "a student may not draw or point",
        "annotate",
    ),
    "trainee-draws-unasked": Denial(
        Role.TRAINEE,
        lambda t: Annotate(_arrow(t.id(Role.TRAINEE))),
        "a trainee may draw only when a mentor allows it",
        "annotate",
    ),
    "trainee-freezes": Denial(
        Role.TRAINEE,
        lambda t: Annotate(Freeze("Laparoscope", 1.0, author=t.id(Role.TRAINEE))),
        "a trainee may not freeze or unfreeze the picture",
        "annotate",
    ),
    "trainee-clears-everyones-marks": Denial(
        Role.TRAINEE,
        lambda t: Annotate(Clear(ClearScope.ALL, "Laparoscope", author=t.id(Role.TRAINEE))),
        "a trainee may not clear everyone's marks; only the surgeon and mentors may",
        "annotate",
    ),
    "mentor-draws-in-the-surgeons-name": Denial(
        Role.MENTOR,
        lambda t: Annotate(_arrow(t.id(Role.SURGEON))),
        "the op's author is",
        "annotate",
    ),
    "surgeon-grants-drawing": Denial(
        Role.SURGEON,
        lambda t: GrantDraw(t.id(Role.TRAINEE), allowed=True),
        "a surgeon may not let others draw; only a mentor may",
        "grant-draw",
    ),
    "trainee-grants-drawing": Denial(
        Role.TRAINEE,
        lambda t: GrantDraw(t.id(Role.TRAINEE), allowed=True),
        "a trainee may not let others draw; only a mentor may",
        "grant-draw",
    ),
    "trainee-removes": Denial(
        Role.TRAINEE,
        lambda t: RemoveParticipant(t.id(Role.STUDENT)),
        "a trainee may not remove participants; only the surgeon and mentors may",
        "remove",
    ),
    "student-removes": Denial(
        Role.STUDENT,
        lambda t: RemoveParticipant(t.id(Role.TRAINEE)),
        "a student may not remove participants; only the surgeon and mentors may",
        "remove",
    ),
    "mentor-removes-the-surgeon": Denial(
        Role.MENTOR,
        lambda t: RemoveParticipant(t.id(Role.SURGEON)),
        "a mentor may not remove a surgeon",
        "remove",
    ),
}


@pytest.mark.parametrize("case", list(DENIALS))
async def test_a_forbidden_message_is_refused_audited_and_reaches_nobody(
    theatre: Theatre, case: str
) -> None:
    denial = DENIALS[case]
    sender = theatre.clients[denial.sender]
    message = denial.message(theatre)
    await sender.send(_with_id(message, f"m-{case}"))
    error = await sender.expect_error(ErrorCode.FORBIDDEN)
    assert error.ref == f"m-{case}"
    assert error.message.startswith(denial.rule), error.message

    await sender.send(Chat("still here"))  # the sender's other traffic is unaffected...
    for client in theatre.clients.values():  # ...and nobody saw anything before it
        chat = await client.expect(ChatMessage)
        assert (chat.sender, chat.text) == (sender.id, "still here")
    if denial.sender is not Role.SURGEON:
        await sender.send(Signal(theatre.id(Role.SURGEON), Answer("v=0")))
        assert await theatre.clients[Role.SURGEON].recv() == Relayed(sender.id, Answer("v=0"))

    denials = [line for line in theatre.audit_lines() if line["event"] == "denial"]
    assert len(denials) == 1
    expected = {
        "outcome": "forbidden",
        "action": denial.action,
        "room": ROOM,
        "role": denial.sender.value,
        "participant": sender.id,
        "address": "127.0.0.1",
    }
    assert expected.items() <= denials[0].items()


def _with_id(message: ClientMessage, ref: str) -> ClientMessage:
    return replace(message, id=ref)


async def test_a_join_announcing_more_than_the_role_is_forbidden_and_audited(
    theatre: Theatre,
) -> None:
    surgeon = theatre.clients[Role.SURGEON]
    async with connect(theatre.url, open_timeout=seconds(5)) as connection:
        late = Client(connection)
        await late.send(Join(ROOM, "Late trainee", Role.TRAINEE, Publishes(video=1), id="j"))
        error = await late.expect_error(ErrorCode.FORBIDDEN)
        assert error.ref == "j"
        assert error.message.startswith("a trainee may publish only audio")
        await late.join(ROOM, "Late trainee", Role.TRAINEE, Publishes(audio=True))
        assert (await surgeon.expect(Joined)).participant.id == late.id
    line = next(line for line in theatre.audit_lines() if line["event"] == "denial")
    assert (line["outcome"], line["action"], line["role"]) == ("forbidden", "join", "trainee")


async def test_a_trainee_who_speaks_offers_its_voice(theatre: Theatre) -> None:
    trainee, surgeon = theatre.clients[Role.TRAINEE], theatre.clients[Role.SURGEON]
    await trainee.send(Publish(Publishes(audio=True)))
    for client in theatre.clients.values():
        assert (await client.expect(Updated)).participant.id == trainee.id
    await trainee.send(Signal(surgeon.id, Offer("v=0")))
    assert await surgeon.recv() == Relayed(trainee.id, Offer("v=0"))
    await trainee.send(Signal(surgeon.id, Candidate("")))
    assert await surgeon.recv() == Relayed(trainee.id, Candidate(""))


async def test_the_surgeon_removes_a_mentor_who_is_closed_with_1008(theatre: Theatre) -> None:
    surgeon, mentor = theatre.clients[Role.SURGEON], theatre.clients[Role.MENTOR]
    await surgeon.send(RemoveParticipant(mentor.id))
    removed = await mentor.expect_error(ErrorCode.REMOVED)
    assert removed.message.startswith(f"surgeon 'the surgeon' removed you from room '{ROOM}'")
    with pytest.raises(ConnectionClosed) as closed:
        await mentor.recv()
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1008, "removed by a surgeon")
    for role in (Role.SURGEON, Role.TRAINEE, Role.STUDENT):
        left = await theatre.clients[role].expect(Left)
        assert (left.participant.id, left.reason) == (mentor.id, "removed")
    async with asyncio.timeout(seconds(5)):
        while not any(line["event"] == "removal" for line in theatre.audit_lines()):
            await asyncio.sleep(0.01)
    removal = next(line for line in theatre.audit_lines() if line["event"] == "removal")
    assert (removal["participant"], removal["by"]) == (mentor.id, surgeon.id)
