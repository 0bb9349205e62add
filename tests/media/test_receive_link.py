"""A viewer's receive counters become the link reports the layer choice judges."""

from __future__ import annotations

import pytest

from surgery_teach.media.ladder import ladder_for
from surgery_teach.media.layer_choice import ChoiceSettings, LayerChoice
from surgery_teach.media.receive_link import ReceiveCounters, ReceiveReports


def counters(now: float, expected: int, received: int, arrived: int, *, nacks: int = 0,
             plis: int = 0, jitter: float = 0.002) -> ReceiveCounters:
    return ReceiveCounters(now=now, packets_expected=expected, packets_received=received,
                           bytes_received=arrived, retransmitted_bytes=0, jitter_s=jitter,
                           nacks=nacks, plis=plis)


def test_loss_is_the_interval_s_share_of_expected_packets_that_did_not_arrive() -> None:
    reports = ReceiveReports()
    first = reports.report(counters(0.0, 100, 100, 120_000))
    assert first.fraction_lost == 0.0 and first.bytes_sent == 120_000
    second = reports.report(counters(1.0, 300, 250, 180_000))
    assert second.fraction_lost == pytest.approx(0.25)
    # what was sent is scaled up by the loss: the goodput the meter computes is what arrived
    assert second.bytes_sent == 120_000 + 80_000
    assert second.packets_sent == 300 and second.rtt_s is None and second.remb_bps is None


def test_counters_that_go_back_start_the_estimate_again() -> None:
    reports = ReceiveReports()
    reports.report(counters(0.0, 500, 500, 600_000))
    again = reports.report(counters(1.0, 10, 10, 12_000))
    assert again.fraction_lost == 0.0 and again.bytes_sent == 12_000


def test_negative_counters_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        counters(0.0, -1, 0, 0)


def test_a_viewer_on_a_link_too_narrow_for_the_top_layer_steps_itself_down() -> None:
    """1.5 Mbit/s arriving of a 2.5 Mbit/s top layer (40 % lost), jitter from the queue:
    the same choice as peer to peer goes to the layer that fits what arrives."""
    ladder = ladder_for(1280, 720, 30)
    choice = LayerChoice(ladder, start=0, settings=ChoiceSettings(divisors=(1,)))
    reports = ReceiveReports()
    expected = received = arrived = 0
    for second in range(4):
        expected += 260
        received += 156
        arrived += 187_500  # 1.5 Mbit/s
        result = choice.update(reports.report(counters(
            float(second), expected, received, arrived, nacks=second * 100, jitter=0.04)))
    assert result.pending_switch and result.layer == 1, result
    assert result.estimate_bps == pytest.approx(1_500_000, rel=0.01)


def test_a_clean_link_moves_a_viewer_up_after_the_same_wait_as_peer_to_peer() -> None:
    choice = LayerChoice(ladder_for(1280, 720, 30), settings=ChoiceSettings(divisors=(1,)))
    reports = ReceiveReports()
    result = choice.choice
    for second in range(8):
        result = choice.update(reports.report(counters(
            float(second), 50 * (second + 1), 50 * (second + 1), 56_000 * (second + 1))))
        if result.pending_switch:
            break
    assert result.pending_switch and result.layer == 0 and second >= 5
