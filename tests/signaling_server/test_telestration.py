"""Telestration through a real server on 127.0.0.1:0, with real websocket clients."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import pytest

from surgery_teach.annotations import Add, Arrow, Board, Op, Pointer, Remove, Text, Update
from surgery_teach.protocol import (
    Annotate,
    Annotation,
    AnnotationSnapshot,
    ErrorCode,
    GrantDraw,
    Joined,
    Ping,
    Pong,
    Role,
    Updated,
    Welcome,
)
from tests.signaling_server.conftest import Client, OpenClient

LAP = "Laparoscope"
ROOM = "chole-2026-11-25"


def arrow(author: str, shape_id: str, x: float = 0.75) -> Arrow:
    return Arrow(
        id=shape_id,
        author=author,
        source=LAP,
        colour="#ffd400",
        width=0.004,
        start=(0.25, 0.5),
        end=(x, 0.5),
    )


async def theatre(open_client: OpenClient) -> tuple[Client, Client, Client]:
    """A surgeon, a mentor and a trainee in one room, each having seen the others arrive."""
    surgeon, mentor, trainee = await open_client(), await open_client(), await open_client()
    await surgeon.join(ROOM, "Dr Wang", Role.SURGEON)
    await mentor.join(ROOM, "Dr Li", Role.MENTOR)
    await surgeon.expect(Joined)
    await trainee.join(ROOM, "Дмитрий", Role.TRAINEE)
    await surgeon.expect(Joined)
    await mentor.expect(Joined)
    return surgeon, mentor, trainee


async def annotations(client: Client, count: int) -> list[Annotation]:
    return [await client.expect(Annotation) for _ in range(count)]


async def test_a_mentors_arrow_reaches_the_trainee_and_the_surgeon_in_order(
    open_client: OpenClient,
) -> None:
    surgeon, mentor, trainee = await theatre(open_client)
    drawing: list[Op] = [
        Add(arrow(mentor.id, f"{mentor.id}:1", x=0.5)),
        Update(arrow(mentor.id, f"{mentor.id}:1", x=0.6)),
        Update(arrow(mentor.id, f"{mentor.id}:1", x=0.7)),
    ]
    pointing: list[Op] = [
        Add(
            Pointer(
                id=f"{surgeon.id}:ptr",
                author=surgeon.id,
                source=LAP,
                colour="#0f0f0f",
                width=0.01,
                at=(0.4, 0.4),
            )
        ),
        Remove(f"{surgeon.id}:ptr", author=surgeon.id),
    ]
    # Both draw at once, without waiting for each other's echoes.
    await asyncio.gather(
        *(mentor.send(Annotate(op, id=f"c-{n}")) for n, op in enumerate(drawing)),
        *(surgeon.send(Annotate(op)) for op in pointing),
    )
    seen = {client.id: await annotations(client, 5) for client in (surgeon, mentor, trainee)}
    for received in seen.values():
        assert [a.op.seq for a in received] == [1, 2, 3, 4, 5]
        assert [a.op for a in received] == [a.op for a in seen[trainee.id]]
    mine = [a for a in seen[mentor.id] if a.sender == mentor.id]
    assert [a.ref for a in mine] == ["c-0", "c-1", "c-2"]
    assert all(a.ref is None for a in seen[trainee.id])
    from_mentor = [a.op for a in seen[trainee.id] if a.sender == mentor.id]
    assert [op.shape.end for op in from_mentor] == [(0.5, 0.5), (0.6, 0.5), (0.7, 0.5)]  # type: ignore[union-attr]

    board = Board()
    for received in seen[trainee.id]:
        board.apply(received.op)
    now = from_mentor[-1].shape.created  # type: ignore[union-attr]
    assert [v.shape.id for v in board.shapes(LAP, now)] == [f"{mentor.id}:1"]  # the pointer went


async def test_a_denied_trainee_op_gets_forbidden_and_nothing_is_broadcast(
    open_client: OpenClient,
) -> None:
    surgeon, mentor, trainee = await theatre(open_client)
    await trainee.send(Annotate(Add(arrow(trainee.id, f"{trainee.id}:1")), id="c-1"))
    error = await trainee.expect_error(ErrorCode.FORBIDDEN)
    assert (error.ref, error.message) == ("c-1", "a trainee may draw only when a mentor allows it")

    await mentor.send(Annotate(Add(arrow(mentor.id, f"{mentor.id}:1"))))
    for client in (surgeon, mentor, trainee):  # the next thing anyone sees is the mentor's
        relayed = await client.expect(Annotation)
        assert (relayed.sender, relayed.op.seq) == (mentor.id, 1)


async def test_a_granted_trainee_draws_until_the_right_is_revoked(open_client: OpenClient) -> None:
    surgeon, mentor, trainee = await theatre(open_client)
    await mentor.send(GrantDraw(trainee.id, allowed=True))
    for client in (surgeon, mentor, trainee):
        updated = await client.expect(Updated)
        assert (updated.participant.id, updated.participant.can_draw) == (trainee.id, True)
    await trainee.send(Annotate(Add(arrow(trainee.id, f"{trainee.id}:1")), id="t"))
    assert (await trainee.expect(Annotation)).ref == "t"
    assert (await surgeon.expect(Annotation)).sender == trainee.id

    await mentor.send(GrantDraw(trainee.id, allowed=False))
    assert (await trainee.expect(Updated)).participant.can_draw is False
    await trainee.send(Annotate(Remove(f"{trainee.id}:1", author=trainee.id)))
    await trainee.expect_error(ErrorCode.FORBIDDEN)
    assert (await surgeon.expect(Updated)).participant.can_draw is False
    await surgeon.send(GrantDraw(trainee.id, allowed=True, id="g"))
    assert (await surgeon.expect_error(ErrorCode.FORBIDDEN)).ref == "g"


async def test_a_late_joiner_receives_the_annotations_after_welcome(
    open_client: OpenClient,
) -> None:
    surgeon, mentor, _ = await theatre(open_client)
    ops: list[Op] = [
        Add(arrow(mentor.id, f"{mentor.id}:1")),
        Add(arrow(mentor.id, f"{mentor.id}:2")),
        Remove(f"{mentor.id}:1", author=mentor.id),
    ]
    for op in ops:
        await mentor.send(Annotate(op))
    await annotations(surgeon, 3)
    live = await annotations(mentor, 3)

    late = await open_client()
    await late.join(ROOM, "Late", Role.STUDENT)
    snapshot = await late.expect(AnnotationSnapshot)
    assert snapshot.seq == 3
    assert [op.shape.id for op in snapshot.ops] == [f"{mentor.id}:2"]  # type: ignore[union-attr]
    assert snapshot.ops[0] == Add(live[1].op.shape, seq=3)  # type: ignore[union-attr]
    assert (await surgeon.expect(Joined)).participant.id == late.id

    await surgeon.send(Annotate(Add(arrow(surgeon.id, f"{surgeon.id}:1"))))
    assert (await late.expect(Annotation)).op.seq == 4


async def test_a_malformed_op_is_bad_annotation_and_the_link_stays_up(
    open_client: OpenClient,
) -> None:
    mentor = await open_client()
    await mentor.join(ROOM, "Dr Li", Role.MENTOR)
    frame = (
        '{"v":1,"type":"annotate","op":{"v":1,"op":"add","seq":0,"shape":{"kind":"arrow",'
        '"id":"m:1","author":"' + mentor.id + '","source":"Laparoscope","colour":"#ffd400",'
        '"width":0.004,"frame_time":0.0,"pinned":false,"created":0.0,"start":[0.25,1.5],'
        '"end":[0.75,0.5]}},"id":"c-1"}'
    )
    await mentor.send(frame)
    error = await mentor.expect_error(ErrorCode.BAD_ANNOTATION)
    assert error.ref == "c-1"
    assert error.message.startswith("field 'op.shape.start[1]' must be from 0 to 1")
    await mentor.send(Ping())
    await mentor.expect(Pong)


async def test_annotations_are_never_logged_but_drawing_rights_are(
    open_client: OpenClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="signaling_server")
    _, mentor, trainee = await theatre(open_client)
    label = Text(
        id=f"{mentor.id}:1",
        author=mentor.id,
        source=LAP,
        colour="#ffffff",
        width=0.004,
        anchor=(0.5, 0.5),
        text="SECRET patient name",
    )
    await mentor.send(Annotate(Add(label)))
    await mentor.expect(Annotation)
    await mentor.send(GrantDraw(trainee.id, allowed=True))
    await mentor.expect(Updated)
    await trainee.expect(Annotation)
    await trainee.expect(Updated)
    await trainee.send(Annotate(Add(replace(label, id="t:1"))))
    await trainee.expect_error(ErrorCode.FORBIDDEN)  # in the mentor's name, not its own

    lines = [r.getMessage() for r in caplog.records if r.name == "signaling_server"]
    assert f"draw room={ROOM} participant={trainee.id} allowed=yes by={mentor.id}" in lines
    assert f"error code=forbidden room={ROOM} participant={trainee.id} role=trainee" in lines
    assert "SECRET" not in caplog.text


async def test_welcome_says_who_may_draw(open_client: OpenClient) -> None:
    surgeon, mentor, trainee = await theatre(open_client)
    student = await open_client()
    welcome: Welcome = await student.join(ROOM, "Иван", Role.STUDENT)
    assert [(p.role, p.can_draw) for p in (*welcome.participants, welcome.you)] == [
        (Role.SURGEON, True),
        (Role.MENTOR, True),
        (Role.TRAINEE, False),
        (Role.STUDENT, False),
    ]
    assert {surgeon.id, mentor.id, trainee.id} == {p.id for p in welcome.participants}
