"""Room rules without a network: inputs are (connection, message), outputs are an outbox."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from surgery_teach.errors import ConfigError
from surgery_teach.protocol.messages import (
    Answer,
    Candidate,
    Chat,
    ChatHistory,
    ChatMessage,
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
    Publish,
    Publishes,
    Relayed,
    RemoveParticipant,
    Role,
    Signal,
    TrackInfo,
    Updated,
    Welcome,
)
from surgery_teach.protocol.passes import CLOCK_TOLERANCE, Bars, RoomPass
from surgery_teach.protocol.roles import PUBLISHING_LIMITS, publishing_refusal
from surgery_teach.protocol.room import (
    CHAT_HISTORY_LENGTH,
    Rooms,
    Seat,
    new_participant_id,
)

NOW = 1764099000.5
NOTHING = Publishes()


def _rooms(max_room_size: int = 50, clock: itertools.count[float] | None = None) -> Rooms[str]:
    counter = itertools.count(1)
    return Rooms(
        max_room_size=max_room_size,
        server_version="9.9.9",
        clock=(lambda: NOW) if clock is None else clock.__next__,
        new_id=lambda: f"p-{next(counter):08x}",
    )


def _join(
    rooms: Rooms[str],
    conn: str,
    room: str = "theatre-1",
    role: Role = Role.MENTOR,
    publishes: Publishes = NOTHING,
) -> str:
    """Join ``conn`` and return its participant id."""
    outbox = rooms.handle(conn, Join(room, f"name of {conn}", role, publishes))
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
    you = ParticipantInfo("p-00000001", "Dr Li", Role.SURGEON, can_draw=True)
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
    a = _join(rooms, "a", role=Role.SURGEON, publishes=Publishes(video=1, audio=True))
    b = _join(rooms, "b")
    _join(rooms, "c")
    offer = Offer("v=0\r\n", (TrackInfo("t1", "Laparoscope", "synthetic:1280x720@30"),))
    assert rooms.handle("a", Signal(b, offer)) == [("b", Relayed(a, offer))]
    assert rooms.handle("b", Signal(a, Answer("v=0"))) == [("a", Relayed(b, Answer("v=0")))]
    candidate = Candidate("candidate:1 1 udp 1 192.0.2.1 9 typ host", "0", 0)
    assert rooms.handle("a", Signal(b, candidate)) == [("b", Relayed(a, candidate))]


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
    assert rooms.handle("a", Ping()) == [("a", Pong(NOW, 0, 0))]
    _join(rooms, "a", room="one")
    _join(rooms, "b", room="two")
    _join(rooms, "c", room="two")
    assert rooms.handle("a", Ping(id=1)) == [("a", Pong(NOW, 2, 3))]


def test_room_size_must_be_positive() -> None:
    with pytest.raises(ConfigError):
        Rooms(max_room_size=0)


def test_default_server_version_is_the_package_version() -> None:
    from surgery_teach import __version__

    assert Rooms().server_version == __version__


# -- what participants publish ----------------------------------------------------------------


def test_what_a_participant_publishes_is_shown_in_welcome_and_joined() -> None:
    rooms = _rooms()
    surgeon = Publishes(video=2, audio=True)
    _join(rooms, "a", role=Role.SURGEON, publishes=surgeon)
    outbox = rooms.handle("b", Join("theatre-1", "Дмитрий", Role.TRAINEE, Publishes(audio=True)))
    first, newcomer = rooms.participants("theatre-1")
    assert first.publishes == surgeon
    assert newcomer.publishes == Publishes(audio=True)
    assert outbox == [
        ("b", Welcome("theatre-1", newcomer, (first,), "9.9.9")),
        ("a", Joined(newcomer)),
    ]


@pytest.mark.parametrize(
    ("role", "most"),
    [
        (Role.SURGEON, Publishes(8, True)),
        (Role.MENTOR, Publishes(8, True)),
        (Role.TRAINEE, Publishes(0, True)),
        (Role.STUDENT, Publishes(0, False)),
    ],
)
def test_each_role_may_publish_up_to_its_limit(role: Role, most: Publishes) -> None:
    assert PUBLISHING_LIMITS[role] == most
    assert publishing_refusal(role, most) is None
    assert publishing_refusal(role, Publishes()) is None
    if most.video < 8:
        refusal = publishing_refusal(role, Publishes(video=most.video + 1))
        assert refusal is not None
        assert refusal.startswith(f"a {role.value} may ")
    if not most.audio:
        assert publishing_refusal(role, Publishes(audio=True)) is not None


def test_a_student_who_announces_media_is_not_let_in() -> None:
    rooms = _rooms()
    join = Join("theatre-1", "Иван", Role.STUDENT, Publishes(audio=True), id="j")
    error = _only_error(rooms.handle("a", join), "a")
    assert error.code == ErrorCode.FORBIDDEN
    assert error.ref == "j"
    assert error.message == (
        'a student may not publish media (asked for audio); leave "publishes" out: '
        "a student watches, listens and chats"
    )
    assert rooms.seat("a") is None
    assert rooms.room_count == 0


def test_a_trainee_may_join_with_audio_but_not_with_video() -> None:
    rooms = _rooms()
    join = Join("theatre-1", "T", Role.TRAINEE, Publishes(video=1, audio=True))
    error = _only_error(rooms.handle("a", join), "a")
    assert error.code == ErrorCode.FORBIDDEN
    assert error.message == (
        "a trainee may publish only audio (asked for 1 video track and audio); "
        'announce no more than "publishes":{"video":0,"audio":true}'
    )
    assert rooms.seat("a") is None
    _join(rooms, "a", role=Role.TRAINEE, publishes=Publishes(audio=True))


def test_a_refused_publisher_is_told_before_a_full_room() -> None:
    rooms = _rooms(max_room_size=1)
    _join(rooms, "a")
    join = Join("theatre-1", "S", Role.STUDENT, Publishes(video=1))
    assert _only_error(rooms.handle("b", join), "b").code == ErrorCode.FORBIDDEN


def test_publish_before_join_is_not_joined() -> None:
    error = _only_error(_rooms().handle("a", Publish(Publishes(1), id=3)), "a")
    assert error.code == ErrorCode.NOT_JOINED
    assert error.ref == 3


def test_publish_is_stored_and_sent_as_updated_to_everyone_including_the_sender() -> None:
    rooms = _rooms()
    _join(rooms, "a")
    _join(rooms, "b", role=Role.SURGEON)
    _join(rooms, "c", role=Role.STUDENT)
    _join(rooms, "elsewhere", room="theatre-2")
    outbox = rooms.handle("b", Publish(Publishes(video=2, audio=True)))
    seat = rooms.seat("b")
    assert seat is not None
    assert seat.participant.publishes == Publishes(video=2, audio=True)
    updated = Updated(seat.participant)
    assert outbox == [("a", updated), ("b", updated), ("c", updated)]
    # and a newcomer sees it in welcome
    _join(rooms, "d")
    assert rooms.participants("theatre-1")[1].publishes == Publishes(video=2, audio=True)


def test_publishing_nothing_again_is_still_confirmed() -> None:
    rooms = _rooms()
    _join(rooms, "a")
    outbox = rooms.handle("a", Publish(Publishes()))
    assert outbox == [("a", Updated(rooms.participants("theatre-1")[0]))]


@pytest.mark.parametrize(
    ("role", "publishes"),
    [
        (Role.STUDENT, Publishes(video=1)),
        (Role.STUDENT, Publishes(audio=True)),
        (Role.TRAINEE, Publishes(video=1, audio=True)),
    ],
)
def test_publishing_beyond_the_role_is_forbidden_and_changes_nothing(
    role: Role, publishes: Publishes
) -> None:
    rooms = _rooms()
    _join(rooms, "a", role=role)
    _join(rooms, "b")
    before = rooms.participants("theatre-1")
    error = _only_error(rooms.handle("a", Publish(publishes, id="p")), "a")
    assert error.code == ErrorCode.FORBIDDEN
    assert error.ref == "p"
    assert f"a {role.value} may" in error.message
    assert rooms.participants("theatre-1") == before


def test_a_trainee_may_switch_audio_on_and_off() -> None:
    rooms = _rooms()
    _join(rooms, "a", role=Role.TRAINEE)
    on = rooms.handle("a", Publish(Publishes(audio=True)))
    assert [type(m) for _, m in on] == [Updated]
    off = rooms.handle("a", Publish(Publishes()))
    assert off == [("a", Updated(rooms.participants("theatre-1")[0]))]
    assert not rooms.participants("theatre-1")[0].publishes.any


# -- chat -------------------------------------------------------------------------------------


def _chat(rooms: Rooms[str], conn: str, text: str) -> ChatMessage:
    """Send a chat from ``conn``; return the message its room received."""
    outbox = rooms.handle(conn, Chat(text))
    message = outbox[0][1]
    assert isinstance(message, ChatMessage)
    return message


def test_chat_before_join_is_not_joined() -> None:
    error = _only_error(_rooms().handle("a", Chat("hello", id="c")), "a")
    assert error.code == ErrorCode.NOT_JOINED
    assert error.ref == "c"


def test_chat_goes_to_everyone_in_the_room_including_the_sender() -> None:
    rooms = _rooms()
    a, b = _join(rooms, "a"), _join(rooms, "b", role=Role.STUDENT)
    _join(rooms, "elsewhere", room="theatre-2")
    outbox = rooms.handle("b", Chat("请放大胆囊三角"))
    message = ChatMessage(b, "name of b", Role.STUDENT, "请放大胆囊三角", NOW, 1)
    assert outbox == [("a", message), ("b", message)]
    assert a != b


def test_chat_seq_counts_from_one_per_room_and_time_comes_from_the_clock() -> None:
    rooms = _rooms(clock=itertools.count(100.0, 0.25))
    _join(rooms, "a")
    _join(rooms, "b", role=Role.TRAINEE)
    _join(rooms, "x", room="theatre-2")
    sent = [_chat(rooms, conn, text) for conn, text in [("a", "1"), ("b", "2"), ("a", "3")]]
    assert [(m.seq, m.time, m.text) for m in sent] == [
        (1, 100.0, "1"),
        (2, 100.25, "2"),
        (3, 100.5, "3"),
    ]
    assert _chat(rooms, "x", "other room").seq == 1


def test_a_newcomer_gets_the_chat_history_right_after_welcome() -> None:
    rooms = _rooms()
    _join(rooms, "a")
    first = _chat(rooms, "a", "Please show Calot's triangle")
    second = _chat(rooms, "a", "Теперь клипсы")
    outbox = rooms.handle("b", Join("theatre-1", "B", Role.STUDENT))
    assert [(conn, type(m)) for conn, m in outbox] == [
        ("b", Welcome),
        ("b", ChatHistory),
        ("a", Joined),
    ]
    assert outbox[1][1] == ChatHistory((first, second))


def test_the_history_keeps_the_last_200_messages_in_order() -> None:
    rooms = _rooms()
    _join(rooms, "a")
    for index in range(CHAT_HISTORY_LENGTH + 5):
        _chat(rooms, "a", f"message {index + 1}")
    history = rooms.handle("b", Join("theatre-1", "B", Role.STUDENT))[1][1]
    assert isinstance(history, ChatHistory)
    assert len(history.messages) == CHAT_HISTORY_LENGTH == 200
    assert [m.seq for m in history.messages] == list(range(6, 206))
    assert history.messages[-1].text == "message 205"


def test_no_history_message_when_the_room_has_no_chat() -> None:
    rooms = _rooms()
    _join(rooms, "a")
    _chat(rooms, "a", "only in this room")
    outbox = rooms.handle("b", Join("theatre-2", "B", Role.STUDENT))
    assert [type(m) for _, m in outbox] == [Welcome]


def test_the_history_names_senders_who_have_left() -> None:
    rooms = _rooms()
    leaver = _join(rooms, "a", role=Role.SURGEON)
    _join(rooms, "b")
    _chat(rooms, "a", "Closing now")
    rooms.handle("a", Leave())
    history = rooms.handle("c", Join("theatre-1", "C", Role.STUDENT))[1][1]
    assert history == ChatHistory(
        (ChatMessage(leaver, "name of a", Role.SURGEON, "Closing now", NOW, 1),)
    )


def test_the_history_is_forgotten_when_the_room_empties() -> None:
    rooms = _rooms()
    _join(rooms, "a")
    _chat(rooms, "a", "Patient details, not to be kept")
    rooms.disconnect("a")
    outbox = rooms.handle("b", Join("theatre-1", "B", Role.MENTOR))
    assert [type(m) for _, m in outbox] == [Welcome]
    assert _chat(rooms, "b", "fresh start").seq == 1


# -- room tokens and removal ------------------------------------------------------------------


def _pass(conn: str, room: str = "theatre-1", role: Role = Role.TRAINEE) -> RoomPass:
    return RoomPass(
        room=room,
        role=role,
        name=f"name of {conn}",
        user=f"u-{conn}",
        token_id=f"j-{conn}",
        issued_at=NOW - 60,
        expires_at=NOW + 3600,
    )


def test_an_admitted_connection_joins_as_its_token_says() -> None:
    rooms = _rooms()
    rooms.admit("a", _pass("a", role=Role.MENTOR))
    _join(rooms, "a", role=Role.MENTOR)
    rooms.admit("b", _pass("b"))
    welcome = rooms.handle("b", Join("theatre-1", "  name of b ", Role.TRAINEE))[0][1]
    assert isinstance(welcome, Welcome)


@pytest.mark.parametrize(
    "join",
    [
        Join("theatre-2", "name of a", Role.TRAINEE, id="j"),
        Join("theatre-1", "name of a", Role.MENTOR, id="j"),
        Join("theatre-1", "Dr Somebody Else", Role.TRAINEE, id="j"),
    ],
    ids=["room", "role", "name"],
)
def test_a_join_that_does_not_match_the_token_is_not_allowed(join: Join) -> None:
    rooms = _rooms()
    rooms.admit("a", _pass("a"))
    error = _only_error(rooms.handle("a", join), "a")
    assert (error.code, error.ref) == (ErrorCode.NOT_ALLOWED, "j")
    assert "your token admits you to room 'theatre-1' as trainee 'name of a'" in error.message
    assert rooms.participant_count == 0


def _mentor_trainee_student(rooms: Rooms[str], *, tokens: bool) -> tuple[str, str, str]:
    ids = []
    for conn, role in (("m", Role.MENTOR), ("t", Role.TRAINEE), ("s", Role.STUDENT)):
        if tokens:
            rooms.admit(conn, _pass(conn, role=role))
        ids.append(_join(rooms, conn, role=role))
    return ids[0], ids[1], ids[2]


def test_a_mentor_removes_a_participant_who_is_told_and_leaves() -> None:
    rooms = _rooms()
    _, trainee, _ = _mentor_trainee_student(rooms, tokens=True)
    outbox = rooms.handle("m", RemoveParticipant(trainee, id="r"))
    assert outbox[0][0] == "t"
    error = outbox[0][1]
    assert isinstance(error, ErrorReply)
    assert (error.code, error.ref) == (ErrorCode.REMOVED, None)
    assert "removed you from room 'theatre-1'" in error.message
    assert "while your token lasts" in error.message
    assert {recipient for recipient, _ in outbox[1:]} == {"m", "s"}
    for _, left in outbox[1:]:
        assert isinstance(left, Left)
        assert (left.participant.id, left.reason) == (trainee, "removed")
    assert rooms.seat("t") is None
    assert rooms.member("theatre-1", trainee) is None


def test_a_removed_participant_may_not_join_that_room_again_while_the_token_lasts() -> None:
    rooms = _rooms()
    _, trainee, _ = _mentor_trainee_student(rooms, tokens=True)
    rooms.handle("m", RemoveParticipant(trainee))
    assert rooms.bars.barred(_pass("t"), now=NOW)
    error = _only_error(rooms.handle("t", Join("theatre-1", "name of t", Role.TRAINEE)), "t")
    assert error.code == ErrorCode.NOT_ALLOWED
    assert "were removed from room 'theatre-1'" in error.message
    rooms.admit("t2", _pass("t"))  # the same token on a second connection
    assert _only_error(rooms.handle("t2", Join("theatre-1", "name of t", Role.TRAINEE)), "t2")


def test_the_bar_ends_when_the_removed_token_would_have_expired() -> None:
    clock = [NOW]
    rooms: Rooms[str] = Rooms(clock=lambda: clock[0], bars=Bars())
    for conn, role in (("m", Role.MENTOR), ("t", Role.TRAINEE)):
        rooms.admit(conn, _pass(conn, role=role))
        rooms.handle(conn, Join("theatre-1", f"name of {conn}", role))
    trainee = rooms.seat("t")
    assert trainee is not None
    rooms.handle("m", RemoveParticipant(trainee.participant.id))
    later = replace(_pass("t"), token_id="j-new", expires_at=NOW + 7200)
    rooms.admit("t", later)
    clock[0] = NOW + 3600 + CLOCK_TOLERANCE + 1
    welcome = rooms.handle("t", Join("theatre-1", "name of t", Role.TRAINEE))[0][1]
    assert isinstance(welcome, Welcome)


def test_on_an_open_server_removal_disconnects_but_bars_nobody() -> None:
    rooms = _rooms()
    _, trainee, _ = _mentor_trainee_student(rooms, tokens=False)
    outbox = rooms.handle("m", RemoveParticipant(trainee))
    error = outbox[0][1]
    assert isinstance(error, ErrorReply)
    assert error.code == ErrorCode.REMOVED and "token" not in error.message
    assert rooms.bars.count == 0


@pytest.mark.parametrize("remover", ["t", "s"])
def test_only_the_surgeon_and_mentors_may_remove(remover: str) -> None:
    rooms = _rooms()
    mentor, _, _ = _mentor_trainee_student(rooms, tokens=True)
    error = _only_error(rooms.handle(remover, RemoveParticipant(mentor, id=1)), remover)
    assert (error.code, error.ref) == (ErrorCode.FORBIDDEN, 1)
    assert "only the surgeon and mentors may" in error.message
    assert rooms.participant_count == 3


def test_the_surgeon_removes_a_mentor_but_nobody_removes_the_surgeon() -> None:
    rooms = _rooms()
    mentor, _, _ = _mentor_trainee_student(rooms, tokens=True)
    rooms.admit("c", _pass("c", role=Role.SURGEON))
    surgeon = _join(rooms, "c", role=Role.SURGEON)
    error = _only_error(rooms.handle("m", RemoveParticipant(surgeon, id="r")), "m")
    assert (error.code, error.ref) == (ErrorCode.FORBIDDEN, "r")
    assert error.message.startswith("a mentor may not remove a surgeon")
    assert rooms.seat("c") is not None and rooms.bars.count == 0

    outbox = rooms.handle("c", RemoveParticipant(mentor))
    removed = outbox[0][1]
    assert outbox[0][0] == "m" and isinstance(removed, ErrorReply)
    assert removed.code == ErrorCode.REMOVED
    assert removed.message.startswith("surgeon 'name of c' removed you from room 'theatre-1'")
    assert rooms.seat("m") is None and rooms.bars.barred(_pass("m"), now=NOW)


def test_removing_nobody_yourself_or_before_joining_is_refused() -> None:
    rooms = _rooms()
    mentor, _, _ = _mentor_trainee_student(rooms, tokens=False)
    error = _only_error(rooms.handle("m", RemoveParticipant("p-ffffffff")), "m")
    assert error.code == ErrorCode.UNKNOWN_PARTICIPANT
    error = _only_error(rooms.handle("m", RemoveParticipant(mentor)), "m")
    assert error.code == ErrorCode.BAD_MESSAGE and "leave" in error.message
    error = _only_error(rooms.handle("x", RemoveParticipant(mentor)), "x")
    assert error.code == ErrorCode.NOT_JOINED
    other = _join(rooms, "o", room="theatre-2")
    error = _only_error(rooms.handle("m", RemoveParticipant(other)), "m")
    assert error.code == ErrorCode.UNKNOWN_PARTICIPANT
    assert rooms.participant_count == 4


def test_a_disconnected_connection_forgets_its_token() -> None:
    rooms = _rooms()
    rooms.admit("a", _pass("a"))
    rooms.disconnect("a")
    _join(rooms, "a", room="anywhere", role=Role.MENTOR)  # the key is free again
