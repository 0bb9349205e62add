from __future__ import annotations

import pytest

from surgery_teach.media.pli_guard import (
    REPAIR_BURST_S,
    REPAIR_FLOOR,
    REPAIR_MIN_BURST,
    PliGuard,
    RetransmitBudget,
    UploadRepairs,
)


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


def test_a_budget_that_fits_takes_nothing_until_told() -> None:
    budget = RetransmitBudget(1_500_000)  # 11,718 B of burst
    assert all(budget.fits(0.0, 1200) for _ in range(20))
    for _ in range(9):
        budget.take(1200)
    assert not budget.fits(0.0, 1200) and budget.sent_bytes == 9 * 1200


def _resent_in_a_second(repairs: UploadRepairs, *, capacity: float, layers: float) -> int:
    """Bytes a NACK storm gets resent in one second: 1,200-byte packets asked for every
    millisecond (far more than any upload carries)."""
    return sum(1200 for ms in range(1, 1001)
               if repairs.allow(ms / 1000, 1200, capacity_bps=capacity, layers_bps=layers))


def test_every_viewers_repairs_together_get_what_the_layers_leave_of_the_upload() -> None:
    """A 4 Mbit/s upload carrying 3 Mbit/s of layers: 0.6 Mbit/s of repairs (90% of the
    upload less the layers: 75,000 B/s) plus the first burst, not a viewer budget's
    1.25 Mbit/s in 78 kB bursts."""
    repairs = UploadRepairs()
    burst = round(4_000_000 * REPAIR_BURST_S / 8)  # 12,500 B: ten packets
    first = [repairs.allow(0.0, 1200, capacity_bps=4e6, layers_bps=3e6) for _ in range(12)]
    assert first == [True] * (burst // 1200) + [False] * (12 - burst // 1200)
    sent = _resent_in_a_second(repairs, capacity=4e6, layers=3e6)
    assert 75_000 - 1200 <= sent <= 75_000 + 1200
    assert repairs.refused_bytes > 0 and repairs.sent_bytes == sent + first.count(True) * 1200


def test_layers_that_fill_the_upload_leave_the_repairs_a_floor() -> None:
    repairs = UploadRepairs()
    for _ in range(20):  # empty the first burst
        repairs.allow(0.0, 1200, capacity_bps=4e6, layers_bps=5e6)
    sent = _resent_in_a_second(repairs, capacity=4e6, layers=5e6)
    floor = 4e6 * REPAIR_FLOOR / 8  # 25,000 B/s
    assert floor - 1200 <= sent <= floor + 1200


def test_a_slow_upload_still_lets_whole_packets_be_repaired() -> None:
    """At 400 kbit/s, 25 ms of the upload is 1,250 B: less than one full packet."""
    repairs = UploadRepairs()
    assert REPAIR_MIN_BURST >= 2 * 1312
    assert repairs.allow(0.0, 1312, capacity_bps=400_000, layers_bps=300_000)
    assert repairs.allow(0.0, 1312, capacity_bps=400_000, layers_bps=300_000)
    assert not repairs.allow(0.0, 1312, capacity_bps=400_000, layers_bps=300_000)


def test_nonsense_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        PliGuard(min_gap=-1)
    with pytest.raises(ValueError):
        RetransmitBudget(1e6, share=2)
