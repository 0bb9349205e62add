"""Room rules without a network: inputs are (connection, message), outputs are an outbox."""

from __future__ import annotations

import itertools

import pytest

from surgery_teach.errors import ConfigError
from surgery_teach.protocol.messages import (
    Answer,
    Candidate,
    ErrorCode,
    ErrorReply,
    Join,
    Joined,
    Leave,
    Left,
    Offer,
    ParticipantInfo,
    Ping,
    Pong,
    Relayed,
    Role,
    Signal,
    TrackInfo,
    Welcome,
)
from surgery_teach.protocol.room import Rooms, Seat, new_participant_id


def _rooms(max_room_size: int = 50) -> Rooms[str]:
    counter = itertools.count(1)
    return Rooms(
        max_room_size=max_room_size,
        server_version="9.9.9",
        clock=lambda: 1764099000.5,
        new_id=lambda: f"p-{next(counter):08x}",
    )


def _join(rooms: Rooms[str], conn: str, room: str = "theatre-1", role: Role = Role.MENTOR) -> str:
    """Join ``conn`` and return its participant id."""
    outbox = rooms.handle(conn, Join(room, f"name of {conn}", role))
    recipient, welcome = outbox[0]
    assert recipient == conn
    assert isinstance(welcome, Welcome)
    return welcome.you.id


def _only_error(outbox: object, conn: str) -> ErrorReply:
    assert isinstance(outbox, list)
    assert len(outbox) == 1
    recipient, reply = outbox[0]
    assert recipient == conn
    assert isinstance(reply, ErrorReply)
    return reply


def test_first_join_gets_a_welcome_with_nobody_else() -> None:
    rooms = _rooms()
    outbox = rooms.handle("a", Join("theatre-1", "Dr Li", Role.SURGEON, id="j1"))
    you = ParticipantInfo("p-00000001", "Dr Li", Role.SURGEON)
    assert outbox == [("a", Welcome("theatre-1", you, (), "9.9.9"))]
    assert rooms.seat("a") == Seat("theatre-1", you)
    assert (rooms.room_count, rooms.participant_count) == (1, 1)


def test_join_lists_the_others_in_order_and_announces_the_newcomer_to_them() -> None:
    rooms = _rooms()
    a, b = _join(rooms, "a"), _join(rooms, "b")
    outbox = rooms.handle("c", Join("theatre-1", "Иван", Role.STUDENT))
    newcomer = ParticipantInfo("p-00000003", "Иван", Role.STUDENT)
    others = rooms.participants("theatre-1")[:2]
    assert [p.id for p in others] == [a, b]
    assert outbox == [
        ("c", Welcome("theatre-1", newcomer, others, "9.9.9")),
        ("a", Joined(newcomer)),
        ("b", Joined(newcomer)),
    ]


def test_display_names_may_repeat_but_ids_are_unique() -> None:
    rooms = _rooms()
    ids = set()
    for conn in "abcd":
        outbox = rooms.handle(conn, Join("r", "Dr Li", Role.MENTOR))
        welcome = outbox[0][1]
        assert isinstance(welcome, Welcome)
        ids.add(welcome.you.id)
    assert len(ids) == 4


def test_colliding_generated_ids_are_drawn_again() -> None:
    ids = iter(["p-aaaaaaaa", "p-aaaaaaaa", "p-bbbbbbbb"])
    rooms: Rooms[str] = Rooms(new_id=lambda: next(ids))
    assert _join(rooms, "a") == "p-aaaaaaaa"
    assert _join(rooms, "b") == "p-bbbbbbbb"


def test_default_ids_are_p_dash_eight_hex_digits() -> None:
    participant_id = new_participant_id()
    assert participant_id.startswith("p-")
    assert len(participant_id) == 10
    int(participant_id[2:], 16)


def test_leave_tells_the_others_and_frees_the_seat() -> None:
    rooms = _rooms()
    _join(rooms, "a")
    b = _join(rooms, "b")
    leaver = rooms.participants("theatre-1")[1]
    assert leaver.id == b
    assert rooms.handle("b", Leave()) == [("a", Left(leaver, "leave"))]
    assert rooms.seat("b") is None
    assert rooms.participant_count == 1


def test_a_connection_that_left_may_join_again() -> None:
    rooms = _rooms()
    first = _join(rooms, "a", room="one")
    rooms.handle("a", Leave())
    second = _join(rooms, "a", room="two")
    assert first != second
    assert rooms.seat("a") is not None
    assert rooms.participants("one") == ()


def test_disconnect_of_a_joined_participant_tells_the_others() -> None:
    rooms = _rooms()
    _join(rooms, "a")
    _join(rooms, "b")
    _join(rooms, "c")
    gone = rooms.participants("theatre-1")[0]
    assert rooms.disconnect("a") == [
        ("b", Left(gone, "disconnect")),
        ("c", Left(gone, "disconnect")),
    ]


def test_disconnect_before_joining_is_silent() -> None:
    assert _rooms().disconnect("nobody") == []


def test_empty_rooms_are_removed() -> None:
    rooms = _rooms()
    _join(rooms, "a", room="one")
    _join(rooms, "b", room="two")
    assert rooms.room_count == 2
    assert rooms.handle("a", Leave()) == []
    assert rooms.disconnect("b") == []
    assert (rooms.room_count, rooms.participant_count) == (0, 0)
    assert rooms.participants("one") == ()


def test_signal_is_relayed_only_to_the_named_participant() -> None:
    rooms = _rooms()
    a, b = _join(rooms, "a"), _join(rooms, "b")
    _join(rooms, "c")
    offer = Offer("v=0\r\n", (TrackInfo("t1", "Laparoscope", "synthetic:1280x720@30"),))
    assert rooms.handle("a", Signal(b, offer)) == [("b", Relayed(a, offer))]
    assert rooms.handle("b", Signal(a, Answer("v=0"))) == [("a", Relayed(b, Answer("v=0")))]
    candidate = Candidate("candidate:1 1 udp 1 192.0.2.1 9 typ host", "0", 0)
    assert rooms.handle("b", Signal(a, candidate)) == [("a", Relayed(b, candidate))]


def test_signal_to_a_participant_in_another_room_is_unknown_participant() -> None:
    rooms = _rooms()
    _join(rooms, "a", room="one")
    other = _join(rooms, "b", room="two")
    error = _only_error(rooms.handle("a", Signal(other, Answer("v=0"), id=4)), "a")
    assert error.code == ErrorCode.UNKNOWN_PARTICIPANT
    assert error.ref == 4
    assert other in error.message


def test_signal_to_a_participant_who_left_is_unknown_participant() -> None:
    rooms = _rooms()
    _join(rooms, "a")
    b = _join(rooms, "b")
    rooms.handle("b", Leave())
    error = _only_error(rooms.handle("a", Signal(b, Answer("v=0"))), "a")
    assert error.code == ErrorCode.UNKNOWN_PARTICIPANT


def test_signal_to_yourself_is_refused() -> None:
    rooms = _rooms()
    a = _join(rooms, "a")
    error = _only_error(rooms.handle("a", Signal(a, Answer("v=0"))), "a")
    assert error.code == ErrorCode.BAD_MESSAGE
    assert "'to'" in error.message


def test_signal_and_leave_before_join_are_not_joined() -> None:
    rooms = _rooms()
    for message in (Signal("p-00000001", Answer("v=0"), id="s"), Leave(id="s")):
        error = _only_error(rooms.handle("a", message), "a")
        assert error.code == ErrorCode.NOT_JOINED
        assert error.ref == "s"
        assert '"type":"join"' in error.message


def test_second_join_is_already_joined_and_changes_nothing() -> None:
    rooms = _rooms()
    a = _join(rooms, "a", room="one")
    error = _only_error(rooms.handle("a", Join("two", "X", Role.STUDENT, id=9)), "a")
    assert error.code == ErrorCode.ALREADY_JOINED
    assert error.ref == 9
    assert a in error.message
    seat = rooms.seat("a")
    assert seat is not None
    assert seat.room == "one"
    assert rooms.room_count == 1


def test_full_room_refuses_the_next_join_and_frees_up_when_someone_leaves() -> None:
    rooms = _rooms(max_room_size=2)
    _join(rooms, "a")
    _join(rooms, "b")
    error = _only_error(rooms.handle("c", Join("theatre-1", "C", Role.STUDENT)), "c")
    assert error.code == ErrorCode.ROOM_FULL
    assert "2 participants" in error.message
    assert rooms.seat("c") is None
    _join(rooms, "c", room="elsewhere")  # other rooms are unaffected
    rooms.handle("a", Leave())
    _join(rooms, "d")


def test_ping_works_before_and_after_joining_and_reports_load() -> None:
    rooms = _rooms()
    assert rooms.handle("a", Ping()) == [("a", Pong(1764099000.5, 0, 0))]
    _join(rooms, "a", room="one")
    _join(rooms, "b", room="two")
    _join(rooms, "c", room="two")
    assert rooms.handle("a", Ping(id=1)) == [("a", Pong(1764099000.5, 2, 3))]


def test_room_size_must_be_positive() -> None:
    with pytest.raises(ConfigError):
        Rooms(max_room_size=0)


def test_default_server_version_is_the_package_version() -> None:
    from surgery_teach import __version__

    assert Rooms().server_version == __version__
