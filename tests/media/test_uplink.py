"""The shared upload: estimating it from literal reports, and fitting layers into it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from surgery_teach.media.ladder import ladder_for
from surgery_teach.media.layer_choice import LayerChoice, LinkReport
from surgery_teach.media.uplink import (
    UPLINK_WARNING,
    Allotment,
    Priority,
    UplinkEstimator,
    Viewer,
    allot,
)

HD = ladder_for(1920, 1080, 30)  # 5 / 1.5 / 0.45 Mbit/s
SD = ladder_for(1280, 720, 30)  # 2.5 / 0.45 / 0.15 Mbit/s


@dataclass
class Counters:
    """Cumulative counters of one connection; each lost packet is resent once (``resend``)."""

    at: float = 0.0
    packets: float = 0.0
    sent: float = 0.0
    resent: float = 0.0
    resend: bool = True

    def report(self, at: float, *, rate: float, loss: float = 0.0,
               rtt: float = 0.002) -> LinkReport:
        sent = rate * (at - self.at) / 8
        self.at = at
        self.sent += sent
        self.packets += sent / 1200
        self.resent += sent * loss * self.resend
        return LinkReport(now=at, fraction_lost=loss, jitter_s=0.002, rtt_s=rtt,
                          remb_bps=None, nacks=int(self.packets * loss),
                          packets_sent=int(self.packets), bytes_sent=int(self.sent),
                          retransmitted_bytes=int(self.resent), plis=0)


# -- allot ------------------------------------------------------------------------------


def test_without_a_known_limit_everyone_gets_what_their_link_takes() -> None:
    viewers = [Viewer("a", 0), Viewer("b", 1), Viewer("c", 2)]
    result = allot(viewers, HD, None)
    assert result == Allotment({"a": 0, "b": 1, "c": 2}, 6_950_000, None, False)
    assert result.message == ""


def test_a_4_mbit_upload_keeps_the_mentor_on_the_top_layer() -> None:
    viewers = [Viewer("trainee1", 0), Viewer("mentor", 0, Priority.MENTOR),
               Viewer("trainee2", 0)]
    result = allot(viewers, SD, 4e6)
    assert result.layers == {"trainee1": 1, "mentor": 0, "trainee2": 1}
    assert result.total_bps == 3_400_000 <= 4e6 * 0.85
    assert result.limited
    assert "media server" in result.message


def test_chosen_viewers_keep_quality_before_the_others() -> None:
    viewers = [Viewer("mentor", 0, Priority.MENTOR), Viewer("chosen", 0, Priority.CHOSEN),
               Viewer("other", 0)]
    # budgets (85 %): 6.12 fits 2.5 + 2.5 + 0.45; 5.27 only 2.5 + 2.5 + 0.15
    assert allot(viewers, SD, 7.2e6).layers == {"mentor": 0, "chosen": 0, "other": 1}
    assert allot(viewers, SD, 6.2e6).layers == {"mentor": 0, "chosen": 0, "other": 2}
    # 3.23: the chosen viewer goes down only once the other is at the bottom
    assert allot(viewers, SD, 3.8e6).layers == {"mentor": 0, "chosen": 1, "other": 2}
    # 2.55: even the mentor must go down; the room that frees goes back to the others
    result = allot(viewers, SD, 3.0e6)
    assert result.layers == {"mentor": 1, "chosen": 1, "other": 1}
    assert result.total_bps == 1_350_000


def test_freed_room_goes_back_to_the_most_important_viewer() -> None:
    viewers = [Viewer("mentor", 1, Priority.MENTOR), Viewer("a", 0), Viewer("b", 0)]
    # lowering a and b to 1.5 leaves 4.5 in 6.8*0.85 = 5.78: mentor keeps 1, nothing more
    result = allot(viewers, HD, 6.8e6)
    assert result.layers == {"mentor": 1, "a": 1, "b": 1}
    assert result.total_bps == 4_500_000


def test_when_even_the_bottom_layer_does_not_fit_it_says_so() -> None:
    result = allot([Viewer("a", 2), Viewer("b", 2)], HD, 0.5e6)
    assert result.layers == {"a": 2, "b": 2}
    assert result.limited and result.message == UPLINK_WARNING


def test_a_slowed_viewer_costs_its_slowed_bitrate() -> None:
    result = allot([Viewer("a", 2, divisor=3)], HD, None)
    assert result.total_bps == 180_000


def test_unknown_layer_is_refused() -> None:
    with pytest.raises(ValueError, match="no layer 3"):
        allot([Viewer("a", 3)], HD, None)


# -- UplinkEstimator --------------------------------------------------------------------


def test_one_viewers_bad_link_is_not_the_upload() -> None:
    uplink, good, bad = UplinkEstimator(), Counters(), Counters()
    for t in range(10):
        uplink.update("good", good.report(t, rate=1.5e6))
        uplink.update("bad", bad.report(t + 0.5, rate=1.5e6, loss=0.3, rtt=0.08))
        assert not uplink.congested
    assert uplink.capacity_bps is None


def test_a_single_viewer_never_counts_as_the_upload() -> None:
    uplink, link = UplinkEstimator(), Counters()
    for t in range(10):
        uplink.update("a", link.report(t, rate=5e6, loss=0.3, rtt=0.08))
    assert not uplink.congested and uplink.capacity_bps is None


def test_every_connection_hurting_together_measures_what_arrived() -> None:
    uplink, a, b = UplinkEstimator(), Counters(), Counters()
    uplink.update("a", a.report(0, rate=3e6))
    uplink.update("b", b.report(0.5, rate=3e6))
    # 3 Mbit/s each (+ resends) into a 4 Mbit/s upload: a third lost on each
    uplink.update("a", a.report(1, rate=3e6, loss=1 / 3, rtt=0.08))
    assert not uplink.congested  # b's latest interval was clean
    uplink.update("b", b.report(1.5, rate=3e6, loss=1 / 3, rtt=0.08))
    assert uplink.congested
    # each sent 3 + 1 (resends) = 4 Mbit/s, two thirds arrived
    assert uplink.capacity_bps == pytest.approx(16e6 / 3, rel=0.01)
    # within the cooldown a lower measurement does not cut again...
    uplink.update("a", a.report(2, rate=3e6, loss=0.5, rtt=0.08))
    assert uplink.capacity_bps == pytest.approx(16e6 / 3, rel=0.01)
    # ...after it, it does: 4.5 Mbit/s sent on each (3 + 1.5 resent), half of it arrived
    uplink.update("a", a.report(4, rate=3e6, loss=0.5, rtt=0.08))
    uplink.update("b", b.report(4.5, rate=3e6, loss=0.5, rtt=0.08))
    assert uplink.capacity_bps == pytest.approx(4.5e6, rel=0.01)


def _congest(uplink: UplinkEstimator, a: Counters, b: Counters, t: float) -> None:
    uplink.update("a", a.report(t, rate=3e6, loss=0.25, rtt=0.08))
    uplink.update("b", b.report(t + 0.5, rate=3e6, loss=0.25, rtt=0.08))


def _clean(uplink: UplinkEstimator, a: Counters, b: Counters, start: int, end: int) -> None:
    for t in range(start, end):
        uplink.update("a", a.report(t, rate=1.5e6))
        uplink.update("b", b.report(t + 0.5, rate=1.5e6))


def test_the_estimate_probes_up_after_clean_time_and_backs_off_when_that_hurts() -> None:
    uplink, a, b = UplinkEstimator(), Counters(), Counters()
    _clean(uplink, a, b, 0, 1)
    _congest(uplink, a, b, 1)
    measured = uplink.capacity_bps
    assert measured is not None
    assert uplink.probe_wait == 10.0
    _clean(uplink, a, b, 2, 12)  # clean from 2 (a) / 2.5 (b): at 12.5 it is 10 s
    assert uplink.capacity_bps == measured
    _clean(uplink, a, b, 12, 13)
    assert uplink.capacity_bps == pytest.approx(measured * 1.15)
    _congest(uplink, a, b, 14)  # the probe hurt: the next one waits twice as long
    assert uplink.probe_wait == 20.0
    assert uplink.capacity_bps <= measured * 1.15


def test_a_viewer_that_left_no_longer_shares_the_upload() -> None:
    uplink, a, b = UplinkEstimator(), Counters(), Counters()
    _clean(uplink, a, b, 0, 1)
    uplink.forget("b")
    for t in range(1, 5):
        uplink.update("a", a.report(t, rate=3e6, loss=0.3, rtt=0.08))
    assert not uplink.congested


def test_three_viewers_on_a_4_mbit_upload_settle_under_it_with_the_mentor_on_top() -> None:
    """The whole loop, one report per viewer per second at staggered times, a shaped
    4 Mbit/s upload: over its capacity every connection loses the excess and queues
    (no resends here, so what arrives is exactly the capacity)."""
    cap = 4e6
    ids = ("mentor", "trainee1", "trainee2")
    priority = {"mentor": Priority.MENTOR}
    choices = {v: LayerChoice(SD) for v in ids}
    links = {v: Counters(resend=False) for v in ids}
    uplink = UplinkEstimator()
    allotment = None
    switches = lossy_reports = 0
    estimates = []
    for step in range(90 * 3):
        t, viewer = step / 3, ids[step % 3]
        offered = sum(SD[c.choice.current_layer].slowed(c.choice.current_divisor).bitrate
                      for c in choices.values())
        loss = max(0.0, 1 - cap / offered)
        lossy_reports += loss > 0
        current = choices[viewer].choice
        rate = SD[current.current_layer].slowed(current.current_divisor).bitrate
        report = links[viewer].report(t, rate=rate, loss=loss, rtt=0.082 if loss else 0.002)
        uplink.update(viewer, report)
        if uplink.capacity_bps is not None:
            estimates.append(uplink.capacity_bps)
        choices[viewer].update(report, uplink_congested=uplink.congested)
        allotment = allot([Viewer(v, c.choice.link_layer, priority.get(v, Priority.OTHER),
                                  c.choice.link_divisor) for v, c in choices.items()],
                          SD, uplink.capacity_bps)
        for v, c in choices.items():
            target = c.limit(allotment.layers[v])
            if target.pending_switch:  # the target's keyframe comes at once
                c.switched(target.layer, target.divisor, now=t + 0.05)
                switches += 1
    assert allotment is not None and allotment.limited
    sending = {v: c.choice.current_layer for v, c in choices.items()}
    assert sending["mentor"] == 0
    assert sum(SD[layer].bitrate for layer in sending.values()) <= cap
    assert min(estimates) == pytest.approx(cap, rel=0.02)  # measured, then probed upwards
    assert lossy_reports <= 9  # of 270 (6 here): the first probe and one estimate probe
    assert switches <= 6  # 5 here


def test_intervals_while_padding_filled_the_upload_are_not_judged() -> None:
    """Padding that tried one viewer's link made everyone lose packets: that is not what
    the upload carries, so no capacity is learnt from it."""
    from surgery_teach.media.link_meter import LinkReport

    estimator = UplinkEstimator()

    def report(at: float, sent: int, lost: float) -> LinkReport:
        return LinkReport(now=at, fraction_lost=lost, jitter_s=0.002, rtt_s=0.2,
                          remb_bps=None, nacks=int(sent * lost), packets_sent=sent,
                          bytes_sent=sent * 1200, retransmitted_bytes=0, plis=0)

    for viewer in ("mentor", "trainee"):
        estimator.update(viewer, report(0.0, 0, 0.0))
    for viewer in ("mentor", "trainee"):
        estimator.update(viewer, report(1.0, 300, 0.3), judge=False)
    assert not estimator.congested and estimator.capacity_bps is None
    for viewer in ("mentor", "trainee"):
        estimator.update(viewer, report(2.0, 600, 0.3))
    assert estimator.congested  # judged again once the padding is over


def test_a_short_overflow_does_not_cut_the_estimate_below_what_was_carried_cleanly() -> None:
    """Three viewers at 3 Mbit/s in all, clean; then a burst overflows the queue (everyone
    loses, 2 Mbit/s delivered): the upload still carries 3 Mbit/s, so the mentor is not cut.
    Congestion that lasts past CLEAN_MEMORY is the upload itself: then it is cut."""
    from surgery_teach.media.link_meter import LinkReport
    from surgery_teach.media.uplink import CLEAN_MEMORY

    estimator = UplinkEstimator()
    sent = {"mentor": 0, "a": 0, "b": 0}
    nacks = dict.fromkeys(sent, 0)

    def step(at: float, per_viewer_bps: float, lost: float) -> None:
        for viewer in sent:
            packets = int(per_viewer_bps / 8 / 1200)
            sent[viewer] += packets
            nacks[viewer] += int(packets * lost)
            estimator.update(viewer, LinkReport(
                now=at, fraction_lost=lost, jitter_s=0.002, rtt_s=0.2 if lost else 0.01,
                remb_bps=None, nacks=nacks[viewer], packets_sent=sent[viewer],
                bytes_sent=sent[viewer] * 1200, retransmitted_bytes=0, plis=0))

    for t in range(6):
        step(float(t), 1e6, 0.0)
    step(6.0, 1e6, 0.35)
    step(7.0, 1e6, 0.35)
    assert estimator.congested
    assert estimator.capacity_bps is not None and estimator.capacity_bps >= 2.9e6
    t = 8.0
    while t < 8.0 + CLEAN_MEMORY + 6:  # the upload got slower and stays congested
        step(t, 1e6, 0.35)
        t += 1.0
    assert estimator.capacity_bps < 2.5e6


def test_padding_the_upload_did_not_carry_caps_the_estimate_at_what_it_carried() -> None:
    """Three viewers carried 3.4 Mbit/s cleanly; padding for one of them offered 5.6 Mbit/s
    in all and the upload did not carry it. The estimate keeps the layers that fit (3.4
    Mbit/s within the headroom) and holds a trainee off 720p, which would overflow the
    same way; before any clean total there is nothing to learn."""
    from surgery_teach.media.uplink import HEADROOM

    estimator = UplinkEstimator()
    estimator.overflowed(5.6e6, 3.4e6)
    assert estimator.capacity_bps is None  # nothing carried cleanly yet
    rates = {"mentor": 2.5e6, "a": 0.45e6, "b": 0.45e6}
    counters = {viewer: Counters() for viewer in rates}
    for t in range(5):
        for viewer, rate in rates.items():
            estimator.update(viewer, counters[viewer].report(float(t), rate=rate))
    assert estimator.capacity_bps is None  # clean: no limit seen
    estimator.overflowed(5.6e6, 3.4e6)
    capacity = estimator.capacity_bps
    assert capacity is not None and 3.4e6 / HEADROOM * 0.97 <= capacity <= 5.6e6, capacity
    viewers = [Viewer("mentor", 0, Priority.MENTOR), Viewer("a", 0), Viewer("b", 0)]
    assert allot(viewers, SD, capacity).layers == {"mentor": 0, "a": 1, "b": 1}
    estimator.overflowed(3.0e6, 3.4e6)  # an offer below that is the upper bound
    assert estimator.capacity_bps == 3.0e6
