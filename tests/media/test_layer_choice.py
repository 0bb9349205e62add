"""LayerChoice from literal report sequences: exact decisions at exact times."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from surgery_teach.media.ladder import ladder_for
from surgery_teach.media.layer_choice import Choice, LayerChoice, LinkReport, Reason

HD = ladder_for(1920, 1080, 30)  # 5 / 1.5 / 0.45 Mbit/s; slowed 0.25 / 0.18 / 0.1


@dataclass
class Counters:
    """One viewer's cumulative send counters, advanced one literal interval at a time.

    Each interval sends ``rate`` bit/s in 1200-byte packets; ``loss`` of them are lost,
    NACKed once and resent once.
    """

    at: float = 0.0
    packets: float = 0.0
    sent: float = 0.0
    nacks: float = 0.0
    resent: float = 0.0
    plis: int = 0

    def report(self, at: float, *, rate: float, loss: float = 0.0, rtt: float | None = 0.002,
               jitter: float = 0.002, remb: float | None = None, plis: int = 0) -> LinkReport:
        sent = rate * (at - self.at) / 8
        self.at = at
        self.sent += sent
        self.packets += sent / 1200
        self.nacks += sent / 1200 * loss
        self.resent += sent * loss
        self.plis += plis
        return LinkReport(now=at, fraction_lost=loss, jitter_s=jitter, rtt_s=rtt,
                          remb_bps=remb, nacks=int(self.nacks), packets_sent=int(self.packets),
                          bytes_sent=int(self.sent), retransmitted_bytes=int(self.resent),
                          plis=self.plis)


def test_starts_one_below_the_top_while_it_learns_the_link() -> None:
    choice = LayerChoice(HD).choice
    assert (choice.layer, choice.divisor, choice.pending_switch) == (1, 1, False)
    assert choice.reason is Reason.CHECKING
    assert choice.bitrate == 1_500_000


def test_clean_link_probes_up_only_after_five_clean_seconds() -> None:
    viewer, link = LayerChoice(HD), Counters()
    for t in range(5):
        assert viewer.update(link.report(t, rate=1.5e6)).layer == 1
    probe = viewer.update(link.report(5, rate=1.5e6))
    assert (probe.layer, probe.current_layer, probe.pending_switch) == (0, 1, True)
    done = viewer.switched(0, now=5.1)
    assert (done.layer, done.pending_switch, done.reason) == (0, False, Reason.BEST)


def test_congestion_steps_down_on_the_second_bad_report() -> None:
    """10 % loss with the queue growing (RTT 60 ms over a 2 ms floor): tbf's signature."""
    viewer, link = LayerChoice(HD, start=0), Counters()
    for t in range(4):
        viewer.update(link.report(t, rate=5e6))
    first = viewer.update(link.report(4, rate=5e6, loss=0.10, rtt=0.062))
    assert (first.layer, first.pending_switch) == (0, False)
    second = viewer.update(link.report(5, rate=5e6, loss=0.10, rtt=0.062))
    # goodput 4.5 Mbit/s, 80 % of it is 3.6: the 1.5 Mbit/s layer
    assert (second.layer, second.pending_switch, second.reason) == (1, True, Reason.LINK)
    assert second.estimate_bps == 4_500_000


def test_random_loss_without_delay_is_left_to_retransmission() -> None:
    """10 % random loss (iptables drops) with a flat RTT: a lower layer would not help."""
    viewer, link = LayerChoice(HD), Counters()
    choices = [viewer.update(link.report(t, rate=1.5e6, loss=0.10)) for t in range(31)]
    assert {(c.layer, c.divisor, c.pending_switch) for c in choices} == {(1, 1, False)}


def test_severe_loss_jumps_as_far_down_as_the_goodput_needs_at_once() -> None:
    """A 0.3 Mbit/s link under the 5 Mbit/s layer: goodput 0.3, room for 0.24: 360p at
    10 fps (0.18 Mbit/s), in one step on the second bad report."""
    viewer, link = LayerChoice(HD, start=0), Counters()
    viewer.update(link.report(0, rate=5e6))
    assert not viewer.update(link.report(1, rate=5e6, loss=0.94, rtt=0.05)).pending_switch
    choice = viewer.update(link.report(2, rate=5e6, loss=0.94, rtt=0.05))
    assert (choice.layer, choice.divisor, choice.reason) == (2, 3, Reason.FRAME_RATE)
    assert choice.bitrate == 180_000


def test_a_link_below_the_bottom_layer_gets_fewer_frames_then_probes_back() -> None:
    viewer, link = LayerChoice(HD, start=2), Counters()
    viewer.update(link.report(0, rate=450e3))
    # 0.35 Mbit/s link: 22 % loss, goodput 0.35, room for 0.28: 15 fps (0.25 Mbit/s)
    for t in (1, 2):
        down = viewer.update(link.report(t, rate=450e3, loss=0.22, rtt=0.04))
    assert (down.layer, down.divisor, down.pending_switch) == (2, 2, True)
    viewer.switched(2, 2, now=2.1)
    assert viewer.probe_wait(2, 1) == 10.0  # one failure at full rate: twice 5 s
    times = []
    for t in range(3, 16):
        if viewer.update(link.report(t, rate=250e3)).pending_switch:
            times.append(t)
            break
    assert times == [13]  # clean since 3, and 10 s of it


def test_no_oscillation_on_a_link_that_carries_layer_1_but_not_layer_0() -> None:
    """120 s on a 3 Mbit/s link: each failed probe to 5 Mbit/s doubles the next wait."""
    viewer, link = LayerChoice(HD), Counters()
    capacity, probes, switches, seconds_on_top = 3e6, [], 0, 0
    choice = viewer.choice
    for t in range(121):
        rate = HD[choice.current_layer].slowed(choice.current_divisor).bitrate
        seconds_on_top += choice.current_layer == 0
        loss = max(0.0, 1 - capacity / rate)
        choice = viewer.update(link.report(t, rate=rate, loss=loss,
                                           rtt=0.052 if loss else 0.002))
        if choice.pending_switch:
            if choice.layer < choice.current_layer:
                probes.append(t)
            choice = viewer.switched(choice.layer, choice.divisor, now=t + 0.1)
            switches += 1
    assert probes == [5, 18, 41, 84]  # waits of 5, 10, 20, 40 s clean
    assert switches == 8
    assert seconds_on_top == 8  # two seconds per failed probe: it comes back at once
    assert viewer.probe_wait(0) == 80.0


def test_reports_covering_time_before_a_switch_are_not_judged() -> None:
    viewer, link = LayerChoice(HD), Counters()
    for t in range(6):
        viewer.update(link.report(t, rate=1.5e6))
    viewer.switched(0, now=5.5)
    # this interval (5..6) is half the old layer: its loss says nothing about the new one
    assert not viewer.update(link.report(6, rate=5e6, loss=0.4, rtt=0.05)).pending_switch
    # the first report wholly on the new layer is bad: a failed probe comes back at once
    assert viewer.update(link.report(7, rate=5e6, loss=0.4, rtt=0.05)).layer == 1


def test_a_probe_far_beyond_the_link_is_retried_much_later() -> None:
    """0.8 Mbit/s arrive of a 5 Mbit/s probe: hopeless, so the next try waits 8x longer."""
    viewer, link = LayerChoice(HD, start=1), Counters()
    for t in range(6):
        viewer.update(link.report(t, rate=1.5e6))
    viewer.switched(0, now=5.5)
    viewer.update(link.report(6, rate=5e6, loss=0.84, rtt=0.05))
    choice = viewer.update(link.report(7, rate=5e6, loss=0.84, rtt=0.05))
    assert choice.pending_switch and choice.layer == 2  # 0.8 Mbit/s carries 0.45, not 1.5
    assert viewer.probe_wait(0) == 40.0


def test_uplink_congestion_does_not_step_the_viewer_down() -> None:
    viewer, link = LayerChoice(HD, start=0), Counters()
    viewer.update(link.report(0, rate=5e6))
    for t in range(1, 10):
        choice = viewer.update(link.report(t, rate=5e6, loss=0.3, rtt=0.08),
                               uplink_congested=True)
        assert (choice.layer, choice.pending_switch) == (0, False)


def test_remb_far_below_what_is_sent_does_not_step_down_by_itself() -> None:
    """aiortc's REMB grows slowly from what arrived: right after a step up to 5 Mbit/s it
    still says 1 Mbit/s on a clean link. Alone it must not undo the step."""
    viewer, link = LayerChoice(HD, start=0), Counters()
    viewer.update(link.report(0, rate=5e6))
    choices = [viewer.update(link.report(t, rate=5e6, remb=1e6)) for t in range(1, 6)]
    assert not any(c.pending_switch for c in choices) and choices[-1].layer == 0


def test_remb_short_with_loss_steps_down() -> None:
    viewer, link = LayerChoice(HD, start=0), Counters()
    viewer.update(link.report(0, rate=5e6))
    viewer.update(link.report(1, rate=5e6, remb=1e6, loss=0.06))
    choice = viewer.update(link.report(2, rate=5e6, remb=1e6, loss=0.06))
    assert choice.pending_switch and choice.layer > 0 and choice.reason == Reason.LINK


def test_many_keyframe_requests_step_down_with_their_own_reason() -> None:
    viewer, link = LayerChoice(HD, start=0), Counters()
    viewer.update(link.report(0, rate=5e6))
    viewer.update(link.report(1, rate=5e6, plis=3))
    choice = viewer.update(link.report(2, rate=5e6, plis=3))
    assert (choice.layer, choice.reason) == (1, Reason.PICTURE_LOSS)


def _held(viewer: LayerChoice, link: Counters, start: int, end: int, rate: float) -> Choice:
    choice = viewer.choice
    for t in range(start, end):
        choice = viewer.update(link.report(t, rate=rate))
    return choice


def test_the_uplink_limit_holds_a_viewer_below_its_link_without_probing() -> None:
    viewer, link = LayerChoice(HD, start=0), Counters()
    held = viewer.limit(2)
    assert (held.layer, held.link_layer, held.pending_switch, held.reason) == (
        2, 0, True, Reason.UPLINK)
    viewer.switched(2, now=0.0)
    assert not _held(viewer, link, 0, 30, 450e3).pending_switch
    freed = viewer.limit(None)
    assert (freed.layer, freed.pending_switch) == (0, True)


def test_holding_a_level_for_a_minute_forgets_one_failure_there() -> None:
    viewer, link = LayerChoice(HD, start=0), Counters()
    _held(viewer, link, 0, 4, 5e6)
    for t in (4, 5):
        choice = viewer.update(link.report(t, rate=5e6, loss=0.1, rtt=0.06))
    assert choice.pending_switch
    viewer.switched(1, now=5.1)
    assert viewer.probe_wait(0) == 10.0
    assert _held(viewer, link, 6, 18, 1.5e6).pending_switch  # clean 7..17: 10 s
    viewer.switched(0, now=17.1)
    _held(viewer, link, 18, 78, 5e6)
    assert viewer.probe_wait(0) == 10.0  # 59.9 s held at t=77
    _held(viewer, link, 78, 79, 5e6)
    assert viewer.probe_wait(0) == 5.0


def test_switched_to_an_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="no level"):
        LayerChoice(HD).switched(0, 2, now=0.0)
    with pytest.raises(ValueError, match="no layer 3"):
        LayerChoice(HD).limit(3)


def test_a_burst_of_nacks_right_after_moving_up_brings_the_viewer_back_at_once() -> None:
    viewer, link = LayerChoice(HD, start=1), Counters()
    for t in range(6):
        viewer.update(link.report(t, rate=1.5e6))
    viewer.switched(0, now=5.5)
    choice = viewer.abandon_probe(6.0, goodput_bps=2e6)  # no report needed
    assert choice.pending_switch and choice.layer == 1 and choice.reason == Reason.LINK
    settled, link = LayerChoice(HD, start=1), Counters()
    for t in range(6):
        settled.update(link.report(t, rate=1.5e6))
    settled.switched(0, now=5.5)
    before = settled.update(link.report(7, rate=5e6))
    assert settled.abandon_probe(5.5 + 60, goodput_bps=2e6) == before  # long settled


def test_padding_that_the_link_did_not_carry_keeps_the_viewer_and_doubles_the_wait() -> None:
    viewer, link = LayerChoice(HD, start=1), Counters()
    for t in range(6):
        choice = viewer.update(link.report(t, rate=1.5e6))
    assert choice.pending_switch and choice.layer == 0  # it wants to try the top
    stayed = viewer.probe_failed(6.5, goodput_bps=3.5e6)
    assert (stayed.layer, stayed.current_layer, stayed.pending_switch) == (1, 1, False)
    assert stayed.reason is Reason.LINK and stayed.estimate_bps == 3_500_000
    assert viewer.probe_wait(0) == 10.0  # one failure: twice the clean time
    # clean again: the next try comes after 10 clean seconds, not 5
    for t in range(7, 16):
        assert not viewer.update(link.report(t, rate=1.5e6)).pending_switch
    assert viewer.update(link.report(17, rate=1.5e6)).pending_switch


def test_padding_far_beyond_the_link_waits_eight_times_longer() -> None:
    viewer, link = LayerChoice(HD, start=1), Counters()
    for t in range(6):
        viewer.update(link.report(t, rate=1.5e6))
    viewer.probe_failed(6.5, goodput_bps=1.6e6)  # under 60 % of the top's 5 Mbit/s
    assert viewer.probe_wait(0) == 40.0


def test_a_failed_padding_probe_when_not_moving_up_changes_nothing() -> None:
    viewer = LayerChoice(HD, start=1)
    before = viewer.choice
    assert viewer.probe_failed(1.0, goodput_bps=1e5) == before
    assert viewer.probe_wait(0) == 5.0


def test_a_failed_probe_counts_against_the_level_tried_even_when_the_upload_set_it() -> None:
    viewer = LayerChoice(HD, start=0)  # its own link carries the top
    assert viewer.limit(2).pending_switch  # the upload pushes it down to 360p
    viewer.switched(2, now=1.0)
    choice = viewer.limit(1)  # the upload allows 720p again
    assert choice.pending_switch and (choice.layer, choice.link_layer) == (1, 0)
    viewer.probe_failed(6.5, goodput_bps=1.0e6)
    assert viewer.probe_wait(1) == 10.0 and viewer.probe_wait(0) == 5.0  # 720p's failure


def test_padding_stopped_by_the_shared_upload_counts_no_failure() -> None:
    viewer, link = LayerChoice(HD, start=1), Counters()
    for t in range(6):
        choice = viewer.update(link.report(t, rate=1.5e6))
    assert choice.pending_switch
    stayed = viewer.probe_deferred(6.5)
    assert (stayed.layer, stayed.pending_switch) == (1, False)
    assert viewer.probe_wait(0) == 5.0  # no failure: the next try after 5 clean seconds
