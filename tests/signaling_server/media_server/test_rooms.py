"""Which Janus room a teaching room uses and who holds which token: from literals."""

from __future__ import annotations

import itertools

import pytest

from signaling_server.media_server.rooms import (
    AddToken,
    AllowTokens,
    ClassRooms,
    CreateRoom,
    DestroyRoom,
    DisallowTokens,
    Kick,
    MediaGrant,
    RecreateRoom,
    RemoveToken,
    uses_media_server,
)


def _rooms(room_ids: tuple[int, ...] = (101, 202, 303)) -> ClassRooms:
    tokens = (f"tok{n}" for n in itertools.count(1))
    secrets = (f"secret{n}" for n in itertools.count(1))
    ids = iter(room_ids)
    return ClassRooms(bitrate=2_500_000, publishers=2, new_token=lambda: next(tokens),
                      new_secret=lambda: next(secrets), new_room_id=lambda: next(ids))


def test_the_first_participant_creates_the_room_with_only_its_token_allowed() -> None:
    rooms = _rooms()
    grant, commands = rooms.admit("or-3", "surgeon")
    assert grant == MediaGrant(101, "tok1")
    assert commands[0] == AddToken("tok1")
    assert isinstance(commands[1], CreateRoom) and len(commands) == 2
    spec = commands[1].spec
    assert (spec.room_id, spec.secret, spec.allowed_tokens) == (101, "secret1", ("tok1",))
    assert (spec.bitrate, spec.publishers, spec.video_codec) == (2_500_000, 2, "h264")


def test_later_participants_get_their_own_token_added_to_the_same_room() -> None:
    rooms = _rooms()
    rooms.admit("or-3", "surgeon")
    grant, commands = rooms.admit("or-3", "trainee-1")
    assert grant == MediaGrant(101, "tok2")
    assert commands == [AddToken("tok2"), AllowTokens(101, "secret1", ("tok2",))]
    assert rooms.participants("or-3") == ("surgeon", "trainee-1")


def test_a_rejoin_keeps_the_token_and_needs_nothing_from_janus() -> None:
    rooms = _rooms()
    first, _ = rooms.admit("or-3", "surgeon")
    again, commands = rooms.admit("or-3", "surgeon")
    assert (again, commands) == (first, [])


def test_rooms_are_separate_with_separate_secrets() -> None:
    rooms = _rooms()
    rooms.admit("or-3", "surgeon")
    grant, commands = rooms.admit("or-7", "surgeon")
    assert grant == MediaGrant(202, "tok2")
    assert isinstance(commands[1], CreateRoom) and commands[1].spec.secret == "secret2"


def test_leaving_throws_the_participant_out_and_withdraws_its_token() -> None:
    """Withdrawing the token stops new requests only; the kick (by the participant id
    it joined Janus as) stops what its session already receives."""
    rooms = _rooms()
    rooms.admit("or-3", "surgeon")
    rooms.admit("or-3", "trainee-1")
    assert rooms.release("or-3", "trainee-1") == [
        Kick(101, "secret1", "trainee-1"), DisallowTokens(101, "secret1", ("tok2",)),
        RemoveToken("tok2")]
    assert rooms.grant("or-3", "trainee-1") is None
    assert rooms.grant("or-3", "surgeon") == MediaGrant(101, "tok1")


def test_the_last_one_out_destroys_the_janus_room() -> None:
    rooms = _rooms()
    rooms.admit("or-3", "surgeon")
    assert rooms.release("or-3", "surgeon") == [DestroyRoom(101, "secret1"),
                                               RemoveToken("tok1")]
    assert "or-3" not in rooms
    # Coming back makes a fresh room and token.
    grant, commands = rooms.admit("or-3", "surgeon")
    assert grant == MediaGrant(202, "tok2") and isinstance(commands[1], CreateRoom)


def test_after_a_janus_restart_each_room_is_made_again_with_the_same_grants() -> None:
    rooms = _rooms()
    rooms.admit("or-3", "surgeon")
    rooms.admit("or-3", "trainee-1")
    rooms.admit("or-7", "surgeon")
    commands = rooms.restore("or-3")
    assert commands[:2] == [AddToken("tok1"), AddToken("tok2")]
    assert isinstance(commands[2], RecreateRoom) and len(commands) == 3
    spec = commands[2].spec
    assert (spec.room_id, spec.secret, spec.allowed_tokens) == (101, "secret1",
                                                                ("tok1", "tok2"))
    assert (spec.bitrate, spec.publishers) == (2_500_000, 2)
    assert rooms.restore("elsewhere") == []
    assert rooms.tokens() == {"tok1", "tok2", "tok3"}
    assert rooms.grant("or-3", "trainee-1") == MediaGrant(101, "tok2")  # unchanged


def test_releasing_someone_unknown_does_nothing() -> None:
    rooms = _rooms()
    rooms.admit("or-3", "surgeon")
    assert rooms.release("or-3", "nobody") == []
    assert rooms.release("elsewhere", "surgeon") == []


def test_closing_a_room_destroys_it_and_withdraws_every_token() -> None:
    rooms = _rooms()
    rooms.admit("or-3", "surgeon")
    rooms.admit("or-3", "trainee-1")
    assert rooms.close("or-3") == [DestroyRoom(101, "secret1"), RemoveToken("tok1"),
                                   RemoveToken("tok2")]
    assert rooms.close("or-3") == []
    assert list(rooms) == []


def test_a_room_id_in_use_is_never_given_twice() -> None:
    rooms = _rooms(room_ids=(101, 101, 505))
    rooms.admit("or-3", "surgeon")
    grant, _ = rooms.admit("or-7", "surgeon")
    assert grant.room_id == 505


def test_secrets_and_tokens_stay_out_of_reprs() -> None:
    rooms = _rooms()
    _, commands = rooms.admit("or-3", "surgeon")
    shown = repr(commands) + repr(rooms.grant("or-3", "surgeon"))
    assert "tok1" not in shown and "secret1" not in shown


@pytest.mark.parametrize(("viewers", "class_mode", "expected"), [
    (1, False, False), (4, False, False), (5, False, True), (1, True, True), (0, True, True)])
def test_a_room_uses_the_media_server_in_class_mode_or_above_four_viewers(
        viewers: int, class_mode: bool, expected: bool) -> None:
    assert uses_media_server(viewers, class_mode=class_mode) is expected


def test_the_viewer_threshold_is_configurable() -> None:
    assert uses_media_server(3, class_mode=False, threshold=2)
    assert not uses_media_server(10, class_mode=False, threshold=10)
