"""Recording rules without a network: who records is announced to everyone, late joiners
included; only surgeons and mentors record and start chapters; a recorder who leaves stops."""

from __future__ import annotations

import itertools

import pytest

from surgery_teach.protocol.messages import (
    ChapterMessage,
    ChapterStart,
    ErrorCode,
    ErrorReply,
    Join,
    Joined,
    Leave,
    Left,
    Publishes,
    Record,
    RemoveParticipant,
    Role,
    RoomRecording,
    Welcome,
    parse_client,
    parse_server,
    serialize,
)
from surgery_teach.protocol.recording import chapter_refusal, record_refusal
from surgery_teach.protocol.room import Rooms

NOW = 1764099000.5


def _rooms() -> Rooms[str]:
    ids = itertools.count(1)
    clock = itertools.count(NOW, 0.25)
    return Rooms(clock=clock.__next__, new_id=lambda: f"p-{next(ids):08x}")


def _join(rooms: Rooms[str], conn: str, role: Role, name: str | None = None) -> str:
    publishes = Publishes(video=1) if role is Role.SURGEON else Publishes()
    outbox = rooms.handle(conn, Join("theatre-1", name or f"name of {conn}", role, publishes))
    welcome = outbox[0][1]
    assert isinstance(welcome, Welcome)
    return welcome.you.id


def test_starting_to_record_tells_everyone_who_records_and_confirms_to_the_sender() -> None:
    rooms = _rooms()
    surgeon = _join(rooms, "s", Role.SURGEON, "Dr Wang")
    _join(rooms, "t", Role.TRAINEE)
    outbox = rooms.handle("s", Record(on=True, id="rec-1"))
    assert [conn for conn, _ in outbox] == ["s", "t"]
    mine, theirs = outbox[0][1], outbox[1][1]
    assert isinstance(mine, RoomRecording) and isinstance(theirs, RoomRecording)
    assert mine.ref == "rec-1" and theirs.ref is None
    (recorder,) = theirs.recorders
    assert (recorder.id, recorder.name, recorder.role) == (surgeon, "Dr Wang", Role.SURGEON)
    assert rooms.records("s") and not rooms.records("t")

    since = recorder.since
    again = rooms.handle("s", Record(on=True))  # idempotent: "since" stays
    assert again[1][1] == theirs and again[1][1].recorders[0].since == since
    stopped = rooms.handle("s", Record(on=False))
    assert [m for _, m in stopped] == [RoomRecording(()), RoomRecording(())]
    assert not rooms.records("s")


def test_a_late_joiner_learns_at_once_that_the_session_is_recorded() -> None:
    rooms = _rooms()
    _join(rooms, "s", Role.SURGEON)
    mentor = _join(rooms, "m", Role.MENTOR, "Dr Li")
    rooms.handle("s", Record(on=True))
    rooms.handle("m", Record(on=True))
    outbox = rooms.handle("late", Join("theatre-1", "Student", Role.STUDENT))
    to_late = [m for conn, m in outbox if conn == "late"]
    assert isinstance(to_late[0], Welcome)
    state = to_late[-1]
    assert isinstance(state, RoomRecording)
    assert [r.role for r in state.recorders] == [Role.SURGEON, Role.MENTOR]  # in start order
    assert state.recorders[1].id == mentor
    assert [type(m) for conn, m in outbox if conn != "late"] == [Joined, Joined]

    # Nobody records: a newcomer gets no recording message at all.
    quiet = _rooms()
    _join(quiet, "s", Role.SURGEON)
    outbox = quiet.handle("n", Join("theatre-1", "N", Role.TRAINEE))
    assert not any(isinstance(m, RoomRecording) for _, m in outbox)


@pytest.mark.parametrize("how", ["leave", "disconnect", "removed"])
def test_a_recorder_who_leaves_or_drops_stops_recording_for_everyone(how: str) -> None:
    rooms = _rooms()
    _join(rooms, "s", Role.SURGEON)
    mentor = _join(rooms, "m", Role.MENTOR)
    _join(rooms, "m2", Role.MENTOR)
    rooms.handle("s", Record(on=True))
    rooms.handle("m", Record(on=True))
    if how == "leave":
        outbox = rooms.handle("m", Leave())
    elif how == "disconnect":
        outbox = rooms.disconnect("m")
    else:
        outbox = rooms.handle("m2", RemoveParticipant(mentor))[1:]  # after its "removed"
    by_conn: dict[str, list[object]] = {}
    for conn, message in outbox:
        by_conn.setdefault(conn, []).append(message)
    assert set(by_conn) == {"s", "m2"}
    for messages in by_conn.values():
        assert isinstance(messages[0], Left)  # first who left, then the new state
        state = messages[1]
        assert isinstance(state, RoomRecording)
        assert [r.role for r in state.recorders] == [Role.SURGEON]

    # Someone who was not recording leaves: no recording message.
    outbox = rooms.handle("m2", Leave())
    assert not any(isinstance(m, RoomRecording) for _, m in outbox)


@pytest.mark.parametrize("role", [Role.TRAINEE, Role.STUDENT])
def test_trainees_and_students_may_neither_record_nor_start_chapters(role: Role) -> None:
    rooms = _rooms()
    _join(rooms, "s", Role.SURGEON)
    _join(rooms, "x", role)
    for message in (Record(on=True, id=7), ChapterStart("Step 1", NOW, id=8)):
        (reply,) = rooms.handle("x", message)
        assert reply[0] == "x"
        error = reply[1]
        assert isinstance(error, ErrorReply)
        assert error.code == ErrorCode.FORBIDDEN and error.ref == message.id
        assert f"a {role.value} may not" in error.message
        assert "surgeon and mentors" in error.message
    assert not rooms.records("x")
    assert record_refusal(Role.SURGEON) is None and chapter_refusal(Role.MENTOR) is None


def test_record_and_chapter_before_joining_are_refused() -> None:
    rooms = _rooms()
    for message in (Record(on=True), ChapterStart("Step 1", NOW)):
        ((_, error),) = rooms.handle("c", message)
        assert isinstance(error, ErrorReply) and error.code == ErrorCode.NOT_JOINED


def test_chapters_are_numbered_per_room_and_reach_everyone_with_the_server_time() -> None:
    rooms = _rooms()
    surgeon = _join(rooms, "s", Role.SURGEON, "Dr Wang")
    _join(rooms, "m", Role.MENTOR, "Dr Li")
    _join(rooms, "t", Role.TRAINEE)
    first = rooms.handle("s", ChapterStart("  Calot's triangle ", 1764099001.0))
    assert [conn for conn, _ in first] == ["s", "m", "t"]  # the sender too
    chapter = first[0][1]
    assert isinstance(chapter, ChapterMessage)
    assert (chapter.sender, chapter.name, chapter.role) == (surgeon, "Dr Wang", Role.SURGEON)
    assert (chapter.title, chapter.time, chapter.seq) == ("Calot's triangle", 1764099001.0, 1)
    assert chapter.server_time >= NOW
    second = rooms.handle("m", ChapterStart("Clipping", 1764099002.0))[0][1]
    assert isinstance(second, ChapterMessage) and second.seq == 2

    # A room created anew counts from 1 again.
    for conn in ("s", "m", "t"):
        rooms.disconnect(conn)
    _join(rooms, "s", Role.SURGEON)
    again = rooms.handle("s", ChapterStart("Step 1", NOW))[0][1]
    assert isinstance(again, ChapterMessage) and again.seq == 1


@pytest.mark.parametrize(
    ("frame", "problem"),
    [
        ('{"v":1,"type":"record","state":"yes"}', "field 'state' must be \"on\" or \"off\""),
        ('{"v":1,"type":"record"}', "field 'state' is missing"),
        ('{"v":1,"type":"record","state":"on","by":"x"}', "unknown field 'by'"),
        ('{"v":1,"type":"chapter","title":"   ","time":1}', "field 'title' must contain"),
        ('{"v":1,"type":"chapter","title":"a\\nb","time":1}', "field 'title' contains a control"),
        ('{"v":1,"type":"chapter","title":"' + "x" * 201 + '","time":1}', "the limit is 200"),
        ('{"v":1,"type":"chapter","title":"Step 1","time":-5}', "field 'time' must be 0 or more"),
        ('{"v":1,"type":"chapter","title":"Step 1"}', "field 'time' is missing"),
        ('{"v":1,"type":"chapter","title":"Step 1","time":"now"}', "field 'time' must be a num"),
    ],
)
def test_malformed_record_and_chapter_messages_are_refused_naming_the_field(
    frame: str, problem: str
) -> None:
    from surgery_teach.errors import ProtocolError

    with pytest.raises(ProtocolError) as caught:
        parse_client(frame)
    assert caught.value.code == ErrorCode.BAD_MESSAGE
    assert problem in caught.value.message


def test_record_and_chapter_round_trip_in_canonical_form() -> None:
    texts = [
        '{"v":1,"type":"record","state":"off","id":"r-2"}',
        '{"v":1,"type":"chapter","title":"胆囊三角 / Треугольник Кало","time":1764099000.5}',
    ]
    for text in texts:
        assert serialize(parse_client(text)) == text
    server = [
        '{"v":1,"type":"recording","recorders":[]}',
        '{"v":1,"type":"chapter","from":"p-1","name":"Dr Li","role":"mentor","title":"Step 3",'
        '"time":1764099000.5,"server_time":1764099000.61,"seq":3}',
    ]
    for text in server:
        assert serialize(parse_server(text)) == text
    # Clients read leniently: unknown fields from a newer server are ignored.
    newer = parse_server(
        '{"v":1,"type":"recording","recorders":[{"id":"p-1","name":"A","role":"surgeon",'
        '"since":1.5,"device":"OR-3"}],"extra":true}'
    )
    assert isinstance(newer, RoomRecording) and newer.records("p-1")
