"""Judging one connection's intervals from literal cumulative reports."""

from __future__ import annotations

import pytest

from surgery_teach.media.link_meter import LinkMeter, LinkReport, Status, Why


def _report(now: float, *, packets: int, sent: int, lost: float = 0.0, rtt: float | None = 0.002,
            jitter: float = 0.002, remb: float | None = None, nacks: int = 0,
            resent: int = 0, plis: int = 0) -> LinkReport:
    return LinkReport(now=now, fraction_lost=lost, jitter_s=jitter, rtt_s=rtt, remb_bps=remb,
                      nacks=nacks, packets_sent=packets, bytes_sent=sent,
                      retransmitted_bytes=resent, plis=plis)


def test_rates_come_from_counter_differences() -> None:
    meter = LinkMeter()
    assert meter.observe(_report(10.0, packets=100, sent=100_000)) is None
    interval = meter.observe(_report(12.0, packets=400, sent=475_000, lost=0.02, nacks=6,
                                     resent=25_000))
    assert interval is not None
    assert (interval.start, interval.end, interval.seconds) == (10.0, 12.0, 2.0)
    assert interval.media_bps == 1_500_000
    assert interval.send_bps == 1_600_000
    assert interval.goodput_bps == pytest.approx(1_470_000)
    assert interval.delivered_bps == pytest.approx(1_568_000)
    assert interval.repair_share == pytest.approx(25_000 / 375_000)
    assert interval.status is Status.FAIR and interval.why is Why.REPAIRS


def test_queueing_delay_is_rtt_above_its_floor() -> None:
    meter = LinkMeter()
    meter.observe(_report(0, packets=0, sent=0, rtt=0.030))
    meter.observe(_report(1, packets=100, sent=100_000, rtt=0.020))
    interval = meter.observe(_report(2, packets=200, sent=200_000, rtt=0.140))
    assert interval is not None and interval.queue_delay_s == pytest.approx(0.120)
    assert (interval.status, interval.why) == (Status.BAD, Why.DELAY)


@pytest.mark.parametrize(
    ("kwargs", "status", "why"),
    [
        ({}, Status.CLEAN, Why.NONE),
        ({"lost": 0.10}, Status.FAIR, Why.LOSS),  # random loss: NACK repairs it
        ({"lost": 0.10, "rtt": 0.040}, Status.BAD, Why.LOSS),  # loss with a queue
        ({"lost": 0.10, "jitter": 0.040}, Status.BAD, Why.LOSS),
        ({"lost": 0.06, "remb": 700_000}, Status.BAD, Why.LOSS),  # REMB short of 0.8 Mbit/s
        ({"lost": 0.25}, Status.BAD, Why.LOSS),  # severe, whatever the delay
        ({"rtt": 0.040}, Status.FAIR, Why.DELAY),
        ({"nacks": 30}, Status.BAD, Why.REPAIRS),  # 30 of 100 packets asked again
        ({"plis": 2}, Status.BAD, Why.PICTURE_LOSS),
        ({"plis": 1}, Status.FAIR, Why.PICTURE_LOSS),
        # aiortc's REMB lags far behind a step up: alone it says nothing
        ({"remb": 300_000}, Status.CLEAN, Why.NONE),
        ({"remb": 700_000}, Status.CLEAN, Why.NONE),
    ],
)
def test_judgement_of_one_second(kwargs: dict, status: Status, why: Why) -> None:
    meter = LinkMeter()
    meter.observe(_report(0, packets=0, sent=0))
    interval = meter.observe(_report(1, packets=100, sent=100_000, **kwargs))
    assert interval is not None
    assert (interval.status, interval.why) == (status, why)


def test_a_second_with_nothing_sent_is_no_evidence() -> None:
    meter = LinkMeter()
    meter.observe(_report(0, packets=10, sent=10_000))
    interval = meter.observe(_report(1, packets=10, sent=10_000))
    assert interval is not None and interval.status is Status.FAIR


def test_late_reports_are_ignored_and_counters_going_back_start_over() -> None:
    meter = LinkMeter()
    meter.observe(_report(5, packets=100, sent=100_000))
    assert meter.observe(_report(4, packets=50, sent=50_000)) is None
    assert meter.observe(_report(6, packets=10, sent=10_000)) is None  # a new connection
    interval = meter.observe(_report(7, packets=110, sent=110_000))
    assert interval is not None and interval.media_bps == 800_000


def test_nonsense_reports_are_refused() -> None:
    with pytest.raises(ValueError, match="fraction_lost"):
        _report(0, packets=0, sent=0, lost=1.5)
    with pytest.raises(ValueError, match="negative"):
        _report(0, packets=-1, sent=0)
