"""Rejoining rules without a network: ghosts, their grace, their mailbox, removal."""

from __future__ import annotations

from surgery_teach.protocol import (
    Join,
    Joined,
    Left,
    Offer,
    Publishes,
    Relayed,
    RemoveParticipant,
    Role,
    Signal,
    Welcome,
)
from surgery_teach.protocol.durable import DurableRooms

KEY = "a-client-key-of-sixteen-or-more"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def setup() -> tuple[DurableRooms[str], Clock, str, str]:
    clock = Clock()
    rooms: DurableRooms[str] = DurableRooms(clock=clock, grace=60.0)
    rooms.handle("surgeon", Join("r", "Dr Wang", Role.SURGEON, Publishes(video=1)))
    rooms.handle("trainee", Join("r", "Osh", Role.TRAINEE, client_key=KEY))
    surgeon = rooms.seat("surgeon").participant.id  # type: ignore[union-attr]
    trainee = rooms.seat("trainee").participant.id  # type: ignore[union-attr]
    return rooms, clock, surgeon, trainee


def test_a_dropped_participant_with_a_key_waits_unseen_and_leaves_after_the_grace() -> None:
    rooms, clock, _, trainee = setup()
    assert rooms.disconnect("trainee") == []  # nobody is told
    assert rooms.is_ghost("r", trainee) and rooms.participant_count == 1
    assert [p.id for p in rooms.participants("r")][-1] == trainee
    assert rooms.member("r", trainee) is None  # nothing to close or audit
    clock.now += 59.0
    assert rooms.expire() == []
    clock.now += 1.0
    ((to, left),) = rooms.expire()
    assert to == "surgeon" and isinstance(left, Left) and left.participant.id == trainee


def test_without_a_key_a_drop_is_a_departure_as_before() -> None:
    rooms, _, surgeon, _ = setup()
    ((to, left),) = rooms.disconnect("surgeon")
    assert to == "trainee" and isinstance(left, Left) and left.participant.id == surgeon


def test_signals_for_a_ghost_wait_and_arrive_after_its_welcome() -> None:
    rooms, _, surgeon, trainee = setup()
    rooms.disconnect("trainee")
    offer = Offer(sdp="v=0\r\n")
    assert rooms.handle("surgeon", Signal(to=trainee, data=offer)) == []
    outbox = rooms.handle("back", Join("r", "Osh", Role.TRAINEE, client_key=KEY))
    assert [type(m) for _, m in outbox] == [Welcome, Relayed]
    assert all(to == "back" for to, _ in outbox)  # the surgeon hears nothing
    assert outbox[1][1] == Relayed(surgeon, offer)


def test_a_mentor_may_remove_a_ghost_and_its_key_then_brings_a_newcomer() -> None:
    rooms, _, _, trainee = setup()
    rooms.handle("mentor", Join("r", "Dr Li", Role.MENTOR))
    rooms.disconnect("trainee")
    outbox = rooms.handle("mentor", RemoveParticipant(participant=trainee))
    assert {type(m) for _, m in outbox} == {Left}
    back = rooms.handle("back", Join("r", "Osh", Role.TRAINEE, client_key=KEY))
    welcome = back[0][1]
    assert isinstance(welcome, Welcome) and welcome.you.id != trainee
    assert any(isinstance(m, Joined) for _, m in back)
