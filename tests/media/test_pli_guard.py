from __future__ import annotations

import pytest

from surgery_teach.media.pli_guard import PliGuard, RetransmitBudget


def test_requests_from_a_connection_not_yet_established_are_ignored() -> None:
    guard = PliGuard()
    assert not any(guard.request(t / 10, established=False) for t in range(40))
    assert (guard.ignored, guard.received, guard.forwarded) == (40, 0, 0)
    assert guard.request(4.0, established=True)


def test_a_viewer_losing_pictures_reaches_the_encoder_once_per_two_seconds() -> None:
    """16 requests a second (measured on a link below the layer) for 5 s: 3 get through."""
    guard = PliGuard(min_gap=2.0)
    forwarded = [t / 16 for t in range(80) if guard.request(t / 16, established=True)]
    assert forwarded == [0.0, 2.0, 4.0]
    assert guard.received == 80  # all counted: the rate steps the viewer down


def test_requests_while_switching_layers_wait_for_the_switch() -> None:
    guard = PliGuard()
    assert not guard.request(0.0, established=True, switching=True)
    assert guard.received == 1
    assert guard.request(0.1, established=True)
    assert not guard.request(0.2, established=True)
    guard.switched()  # a keyframe of the new layer arrived: a later loss is new
    assert guard.request(0.3, established=True)


def test_retransmissions_are_capped_at_a_quarter_of_the_layer() -> None:
    """1.5 Mbit/s layer: resends may add 0.375 Mbit/s (46,875 B/s), burst 0.25 s."""
    budget = RetransmitBudget(1_500_000)
    # the burst: 11,718 bytes; nine 1,200-byte packets fit, the tenth does not
    allowed = [budget.allow(0.0, 1200) for _ in range(10)]
    assert allowed == [True] * 9 + [False]
    # one second later the bucket is full again (capped at the burst), not 46,875 B
    sent = sum(budget.allow(1.0, 1200) for _ in range(50))
    assert sent == 9
    assert budget.sent_bytes == 18 * 1200 and budget.refused_bytes == 42 * 1200


def test_a_lower_layer_gets_a_smaller_retransmission_budget() -> None:
    budget = RetransmitBudget(5_000_000)
    budget.set_bitrate(450_000)  # 3,515 B of burst now
    assert [budget.allow(0.0, 1200) for _ in range(3)] == [True, True, False]


def test_time_going_backwards_adds_nothing() -> None:
    budget = RetransmitBudget(450_000)
    while budget.allow(5.0, 1200):
        pass
    assert not budget.allow(4.0, 1200)


def test_nonsense_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        PliGuard(min_gap=-1)
    with pytest.raises(ValueError):
        RetransmitBudget(1e6, share=2)
