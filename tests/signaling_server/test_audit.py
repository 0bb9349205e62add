"""The audit log: one JSON line per join, leave, removal, denial and authentication failure,
written as it happens, never with tokens, SDP or chat text."""

from __future__ import annotations

import asyncio
import json
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from signaling_server import RunningServer, ServerConfig, start_server
from signaling_server.audit import AuditEvent, AuditRecord, audit_line
from surgery_teach.errors import ConfigError
from surgery_teach.protocol import (
    Answer,
    Candidate,
    Chat,
    ChatMessage,
    ErrorCode,
    Join,
    Joined,
    Leave,
    Left,
    Offer,
    Publish,
    Publishes,
    Relayed,
    RemoveParticipant,
    Role,
    Signal,
    Updated,
)
from surgery_teach.protocol.limits import Limits
from tests.signaling_server.conftest import (
    Client,
    join_with_token,
    make_token,
    refused,
)
from tests.timing import seconds

ROOM = "chole-2026-11-25"
KEYS = [
    "time", "event", "outcome", "action", "room", "role", "name", "participant", "user", "by",
    "address", "status",
]


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _find(lines: list[dict[str, Any]], **fields: object) -> dict[str, Any]:
    found = [line for line in lines if fields.items() <= line.items()]
    assert len(found) == 1, (fields, lines)
    return found[0]


async def test_every_event_is_one_line_without_secrets(
    token_server: RunningServer, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    mentor_token = make_token(ROOM, "Dr Li", user="staff-1")
    trainee_token = make_token(ROOM, "Дмитрий", Role.TRAINEE, user="staff-2")
    student_token = make_token(ROOM, "S", Role.STUDENT, user="staff-3")
    forged = make_token(ROOM, "Dr Li", secret=b"a forger's secret, long enough to sign with")
    other_room = make_token("theatre-2", "Dr Li", user="staff-1")
    url = f"{token_server.url}/?room={ROOM}"

    assert (await refused(url))[0] == 401
    assert (await refused(f"{url}&token={forged}"))[0] == 401
    assert (await refused(f"{url}&token={other_room}"))[0] == 403
    async with AsyncExitStack() as stack:
        mentor = await join_with_token(
            stack, token_server, mentor_token, ROOM, "Dr Li", Role.MENTOR
        )
        trainee = await join_with_token(
            stack, token_server, trainee_token, ROOM, "Дмитрий", Role.TRAINEE
        )
        await mentor.expect(Joined)
        student_link = await stack.enter_async_context(connect(f"{url}&token={student_token}"))
        student = Client(student_link)
        await student.send(Join(ROOM, "S", Role.MENTOR))  # not what the token says
        await student.expect_error(ErrorCode.NOT_ALLOWED)
        await student.join(ROOM, "S", Role.STUDENT)
        await mentor.expect(Joined)
        await trainee.expect(Joined)

        await mentor.send(Publish(Publishes(video=1)))
        for client in (mentor, trainee, student):
            await client.expect(Updated)
        await mentor.send(Signal(trainee.id, Offer("v=0 SECRET-SDP-BODY")))
        await trainee.expect(Relayed)
        await mentor.send(Signal(trainee.id, Candidate("candidate:SECRET-CANDIDATE", None, 0)))
        await trainee.expect(Relayed)
        await trainee.send(Signal(mentor.id, Answer("v=0 SECRET-SDP-BODY")))
        await mentor.expect(Relayed)
        await student.send(RemoveParticipant(trainee.id))  # a student may not
        await student.expect_error(ErrorCode.FORBIDDEN)
        await mentor.send(Chat("SECRET patient name and bed"))
        for client in (mentor, trainee, student):
            await client.expect(ChatMessage)

        await mentor.send(RemoveParticipant(trainee.id))
        await trainee.expect_error(ErrorCode.REMOVED)
        for client in (mentor, student):
            await client.expect(Left)
        await student.send(Leave())
        await mentor.expect(Left)
        with pytest.raises(ConnectionClosed):
            await trainee.recv()

        # Written as it happens: the server is still running.
        lines = _lines(audit)
        joined = {"name": "Dr Li", "role": "mentor", "user": "staff-1", "room": ROOM}
        _find(lines, event="join", participant=mentor.id, outcome="ok", **joined)
        _find(lines, event="denial", outcome="not-allowed", user="staff-3", role="mentor")
        _find(
            lines,
            event="denial",
            outcome="forbidden",
            action="remove",
            participant=student.id,
            role="student",
            user="staff-3",
        )
        removed = {"participant": trainee.id, "name": "Дмитрий", "user": "staff-2"}
        _find(lines, event="removal", by=mentor.id, outcome="removed", **removed)
        _find(lines, event="leave", participant=trainee.id, outcome="removed")
        _find(lines, event="leave", participant=student.id, outcome="leave")
        mentor_id = mentor.id
    async with asyncio.timeout(seconds(5)):  # the server notices the close a moment later
        while not any(line["participant"] == mentor_id for line in _lines(audit)[-1:]):
            await asyncio.sleep(0.01)

    lines = _lines(audit)
    first = {"event": "auth-failure", "outcome": "missing-token", "status": 401, "room": ROOM}
    assert first.items() <= lines[0].items()
    assert lines[0]["address"] == "127.0.0.1"
    assert (lines[1]["outcome"], lines[1]["status"]) == ("invalid-token", 401)
    third = {"event": "denial", "outcome": "other-room", "status": 403, "room": ROOM}
    assert third.items() <= lines[2].items()
    assert (lines[2]["user"], lines[2]["name"]) == ("staff-1", "Dr Li")  # from the token
    _find(lines, event="leave", participant=mentor_id, outcome="disconnect")
    assert [list(line) for line in lines] == [KEYS] * len(lines)
    assert all(line["time"].endswith("Z") for line in lines)

    text = audit.read_text(encoding="utf-8")
    assert "SECRET" not in text
    for token in (mentor_token, trainee_token, student_token, forged, other_room):
        assert token not in text
        assert token.split(".")[2] not in text  # not even the signature


async def test_limits_that_close_a_connection_are_audited(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    config = ServerConfig(port=0, audit_log=audit, limits=Limits(idle_timeout=seconds(0.3)))
    running = await start_server(config)
    try:
        async with connect(running.url) as link:
            client = Client(link)
            await client.join("r", "Quiet", Role.STUDENT)
            with pytest.raises(ConnectionClosed):
                await client.recv()
    finally:
        await running.close()
    lines = _lines(audit)
    assert [(line["event"], line["outcome"]) for line in lines] == [
        ("join", "ok"),
        ("close", "idle"),
        ("leave", "disconnect"),
    ]
    assert lines[1]["name"] == "Quiet"


async def test_the_audit_log_is_appended_to(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    audit.write_text('{"earlier":"line"}\n', encoding="utf-8")
    running = await start_server(ServerConfig(port=0, audit_log=audit))
    try:
        async with connect(running.url) as link:
            await Client(link).join("r", "A", Role.SURGEON)
    finally:
        await running.close()
    assert _lines(audit)[0] == {"earlier": "line"}
    assert [line["event"] for line in _lines(audit)[1:]] == ["join", "leave"]


async def test_an_unwritable_audit_log_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot open the audit log"):
        await start_server(ServerConfig(port=0, audit_log=tmp_path / "no-such-dir" / "a.jsonl"))


def test_a_line_has_every_key_in_order() -> None:
    line = audit_line(
        AuditRecord(event=AuditEvent.JOIN, outcome="ok", room="r", name="李明"),
        datetime(2026, 11, 25, 9, 30, 0, 123456, tzinfo=UTC),
    )
    assert line == (
        '{"time":"2026-11-25T09:30:00.123Z","event":"join","outcome":"ok","action":null,'
        '"room":"r","role":null,"name":"李明","participant":null,"user":null,"by":null,"address":null,'
        '"status":null}'
    )
