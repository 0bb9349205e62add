"""Per-client limits without a network: the documented defaults and the message rate."""

from __future__ import annotations

from typing import Any

import pytest

from surgery_teach.errors import ConfigError
from surgery_teach.protocol.limits import Limits, MessageRate, Verdict

NOW = 1000.0


def test_the_defaults_are_the_documented_ones() -> None:
    limits = Limits()
    assert (limits.messages_per_second, limits.message_burst) == (60, 120)
    assert limits.connections_per_address == 20
    assert (limits.open_timeout, limits.idle_timeout) == (10, 60)
    assert limits.send_buffer_bytes == 4 * 1024 * 1024


@pytest.mark.parametrize(
    ("options", "explanation"),
    [
        ({"messages_per_second": 0}, "messages per second"),
        ({"messages_per_second": float("inf")}, "messages per second"),
        ({"message_burst": 0}, "message burst"),
        ({"connections_per_address": 0}, "connections per address"),
        ({"open_timeout": 0}, "open timeout"),
        ({"idle_timeout": -1}, "idle timeout"),
        ({"send_buffer_bytes": 1000}, "send buffer"),
    ],
)
def test_limits_are_checked(options: dict[str, Any], explanation: str) -> None:
    with pytest.raises(ConfigError, match=explanation):
        Limits(**options)


def test_a_burst_is_accepted_then_the_next_message_is_refused() -> None:
    rate = MessageRate(per_second=20, burst=40, now=NOW)
    assert [rate.take(NOW) for _ in range(40)] == [Verdict.ACCEPT] * 40
    assert rate.take(NOW) is Verdict.REFUSE


def test_the_allowance_comes_back_at_the_rate() -> None:
    rate = MessageRate(per_second=20, burst=40, now=NOW)
    for _ in range(40):
        rate.take(NOW)
    assert rate.take(NOW + 0.049) is Verdict.REFUSE  # not yet a whole message back
    assert [rate.take(NOW + 0.1) for _ in range(3)] == [Verdict.ACCEPT] * 2 + [Verdict.REFUSE]
    assert [rate.take(NOW + 100) for _ in range(41)].count(Verdict.ACCEPT) == 40  # full again


def test_a_client_a_little_over_the_rate_loses_some_messages_and_stays() -> None:
    """A fast drawing hand at 30 a second for a minute: 20 a second get through."""
    rate = MessageRate(per_second=20, burst=40, now=NOW)
    verdicts = [rate.take(NOW + n / 30) for n in range(30 * 60)]
    assert Verdict.CLOSE not in verdicts
    accepted = verdicts.count(Verdict.ACCEPT)
    assert 20 * 60 + 40 - 2 <= accepted <= 20 * 60 + 40 + 1


def test_a_client_flooding_at_more_than_twice_the_rate_is_to_be_closed() -> None:
    rate = MessageRate(per_second=20, burst=40, now=NOW)
    verdicts = [rate.take(NOW + n / 1000) for n in range(200)]
    assert verdicts[:40] == [Verdict.ACCEPT] * 40
    assert Verdict.REFUSE in verdicts[40:80]
    assert verdicts[-1] is Verdict.CLOSE


def test_a_clock_going_backwards_gives_nothing_back() -> None:
    rate = MessageRate(per_second=20, burst=1, now=NOW)
    assert rate.take(NOW) is Verdict.ACCEPT
    assert rate.take(NOW - 10) is Verdict.REFUSE


def test_the_rate_is_made_from_the_limits() -> None:
    rate = MessageRate.of(Limits(messages_per_second=1, message_burst=2), NOW)
    assert [rate.take(NOW) for _ in range(3)] == [Verdict.ACCEPT] * 2 + [Verdict.REFUSE]
