"""Privacy pauses without a network: everyone hears who paused (the sender's copy
confirms), newcomers learn who is paused now, only the roles that send video pause, and
the messages round-trip in canonical form."""

from __future__ import annotations

import itertools

import pytest

from surgery_teach.errors import ProtocolError
from surgery_teach.protocol.messages import (
    ErrorCode,
    ErrorReply,
    Join,
    Leave,
    PrivacyNotice,
    PrivacyPause,
    Publishes,
    Role,
    Welcome,
    parse_client,
    parse_server,
    serialize,
)
from surgery_teach.protocol.room import Rooms

NOW = 1764099000.5


def _rooms() -> Rooms[str]:
    ids = itertools.count(1)
    clock = itertools.count(NOW, 0.25)
    return Rooms(clock=clock.__next__, new_id=lambda: f"p-{next(ids):08x}")


def _join(rooms: Rooms[str], conn: str, role: Role, name: str) -> str:
    publishes = Publishes(video=1) if role in (Role.SURGEON, Role.MENTOR) else Publishes()
    welcome = rooms.handle(conn, Join("theatre-1", name, role, publishes))[0][1]
    assert isinstance(welcome, Welcome)
    return welcome.you.id


def test_a_pause_reaches_everyone_with_who_paused_and_the_sender_gets_its_ref() -> None:
    rooms = _rooms()
    surgeon = _join(rooms, "s", Role.SURGEON, "Dr Wang")
    _join(rooms, "t", Role.TRAINEE, "Trainee")
    outbox = rooms.handle("s", PrivacyPause(paused=True, id="pp-1"))
    assert [conn for conn, _ in outbox] == ["s", "t"]
    mine, theirs = outbox[0][1], outbox[1][1]
    assert isinstance(mine, PrivacyNotice) and isinstance(theirs, PrivacyNotice)
    assert (theirs.sender, theirs.name, theirs.role, theirs.paused) == (
        surgeon, "Dr Wang", Role.SURGEON, True)
    assert mine.ref == "pp-1" and theirs.ref is None
    resumed = rooms.handle("s", PrivacyPause(paused=False))
    assert [m.paused for _, m in resumed] == [False, False]  # type: ignore[union-attr]


def test_a_newcomer_learns_who_is_paused_now_and_a_leaver_stops_counting() -> None:
    rooms = _rooms()
    _join(rooms, "s", Role.SURGEON, "Dr Wang")
    mentor = _join(rooms, "m", Role.MENTOR, "Prof Li")
    rooms.handle("s", PrivacyPause(paused=True))
    rooms.handle("m", PrivacyPause(paused=True))
    rooms.handle("s", PrivacyPause(paused=False))
    outbox = rooms.handle("late", Join("theatre-1", "Student", Role.STUDENT))
    notices = [m for conn, m in outbox if conn == "late" and isinstance(m, PrivacyNotice)]
    assert [(n.sender, n.paused) for n in notices] == [(mentor, True)]
    rooms.handle("m", Leave())
    outbox = rooms.handle("later", Join("theatre-1", "Student 2", Role.STUDENT))
    assert not any(isinstance(m, PrivacyNotice) for _, m in outbox)


@pytest.mark.parametrize("role", [Role.TRAINEE, Role.STUDENT])
def test_only_those_who_send_video_may_pause_it(role: Role) -> None:
    rooms = _rooms()
    _join(rooms, "s", Role.SURGEON, "Dr Wang")
    _join(rooms, "x", role, "Someone")
    outbox = rooms.handle("x", PrivacyPause(paused=True, id="pp-9"))
    assert len(outbox) == 1
    conn, reply = outbox[0]
    assert conn == "x" and isinstance(reply, ErrorReply)
    assert reply.code == ErrorCode.FORBIDDEN and reply.ref == "pp-9"
    assert f"a {role.value} may not announce a privacy pause" in reply.message


def test_privacy_messages_round_trip_and_bad_ones_name_the_field() -> None:
    client = '{"v":1,"type":"privacy","state":"paused","id":"pp-1"}'
    server = ('{"v":1,"type":"privacy","from":"p-1","name":"王医生","role":"surgeon",'
              '"state":"resumed","server_time":1764099000.5,"ref":"pp-1"}')
    assert serialize(parse_client(client)) == client
    assert serialize(parse_server(server)) == server
    with pytest.raises(ProtocolError) as caught:
        parse_client('{"v":1,"type":"privacy","state":"on"}')
    assert caught.value.code == ErrorCode.BAD_MESSAGE
    assert '"paused" or "resumed"' in caught.value.message
    with pytest.raises(ProtocolError):
        parse_client('{"v":1,"type":"privacy","state":"paused","by":"Dr Wang"}')  # strict
