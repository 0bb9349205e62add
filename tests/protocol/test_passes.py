"""Who a mentor removed, and for how long, without a network."""

from __future__ import annotations

from surgery_teach.protocol import Role
from surgery_teach.protocol.passes import CLOCK_TOLERANCE, Bars, RoomPass

NOW = 1764099000.0
HOUR = 3600.0


def _pass(
    room: str = "r", user: str = "u-1", token_id: str = "j-1", expires: float = HOUR
) -> RoomPass:
    return RoomPass(
        room=room,
        role=Role.TRAINEE,
        name="T",
        user=user,
        token_id=token_id,
        issued_at=NOW,
        expires_at=NOW + expires,
    )


def test_a_removal_bars_the_token_and_its_person_from_that_room_only() -> None:
    bars = Bars()
    bars.bar(_pass(), now=NOW)
    assert bars.barred(_pass(), now=NOW + 1)
    assert bars.barred(_pass(token_id="j-2", expires=10 * HOUR), now=NOW + 1)  # same person
    assert bars.barred(_pass(user="u-2"), now=NOW + 1)  # same token (a shared one)
    assert not bars.barred(_pass(user="u-2", token_id="j-2"), now=NOW + 1)
    assert not bars.barred(_pass(room="other"), now=NOW + 1)


def test_a_bar_lasts_while_the_removed_token_would_have_worked() -> None:
    bars = Bars()
    bars.bar(_pass(), now=NOW)
    assert bars.barred(_pass(), now=NOW + HOUR + CLOCK_TOLERANCE - 1)
    assert not bars.barred(_pass(token_id="j-2"), now=NOW + HOUR + CLOCK_TOLERANCE)


def test_expired_bars_are_forgotten() -> None:
    bars = Bars()
    bars.bar(_pass(), now=NOW)
    bars.bar(_pass(room="other"), now=NOW + 2 * HOUR)
    assert bars.count == 2  # the other room's token and person


def test_bars_are_told_to_keep_and_come_back_from_what_was_kept() -> None:
    kept: list[tuple[str, str, float]] = []
    bars = Bars(keep=lambda room, key, until: kept.append((room, key, until)))
    bars.bar(_pass(), now=NOW)
    until = NOW + HOUR + CLOCK_TOLERANCE
    assert sorted(kept) == [("r", "jti:j-1", until), ("r", "sub:u-1", until)]
    assert sorted(bars.entries(now=NOW)) == sorted(kept)
    assert bars.entries(now=until) == []  # expired ones are not kept again

    after = Bars()  # a restarted server
    after.restore([*kept, ("r", "sub:gone", NOW - 1), ("r", "nonsense", until)], now=NOW + 1)
    assert after.barred(_pass(token_id="j-9"), now=NOW + 1)  # the person
    assert after.barred(_pass(user="u-9"), now=NOW + 1)  # the token
    assert after.count == 2
