"""What one viewer's connection tells the publisher, turned into clean/fair/bad intervals.

Pure arithmetic on RTCP and send counters, no I/O; :mod:`.layer_choice` (one viewer's
layer) and :mod:`.uplink` (the publisher's shared upload) both judge links with it.

Feed one :class:`LinkReport` per RTCP receiver report of the viewer's video stream
(aiortc's receivers send one every 0.5-1.5 s). Counters in a report are **cumulative**
since the connection started; :class:`LinkMeter` takes differences between consecutive
reports, so a missed or extra report changes nothing but the interval's length.

Thresholds, and why (the lab has no added delay: a ``tbf``-shaped link shows as loss and
as queueing delay growing up to tbf's latency parameter; random ``iptables`` loss shows
as loss alone, and 3-10 % of it is repaired by NACK at full frame rate):

* **Loss alone is not congestion.** Random loss up to 10 % is repaired by retransmission,
  and a lower layer does not lower it. An interval is *bad* for loss only when loss is at
  least :data:`LOSS_BAD` (5 %) *and* there is delay evidence (queueing delay at least
  :data:`DELAY_RISING`, jitter at least :data:`JITTER_RISING`, or REMB below what is sent),
  or when loss is severe (:data:`LOSS_SEVERE`, 20 %), which no layer shows well.
* **Queueing delay** is RTT above its floor (the least RTT of the last
  :data:`FLOOR_WINDOW` s). :data:`DELAY_BAD` (100 ms) of queue alone is bad: a mentor's
  word arriving that much later matters, whatever the loss.
* **Repairs**: when the viewer asks for (NACK) or we resend (retransmitted bytes) at least
  :data:`REPAIR_BAD` (30 %) of what is sent, the layer does not fit.
* **Picture loss**: :data:`PLI_BAD` (2) keyframe requests a second means the viewer keeps
  losing pictures; a lower layer is cheaper for it and for everyone's keyframes.
* **REMB** below :data:`REMB_SHORT` (90 %) of what is sent counts as delay evidence for
  loss, never on its own: aiortc's REMB starts at 1.5x what arrives and grows slowly, so
  right after a step up it is always far below the new rate (measured: 0.6 Mbit/s REMB
  for a 2.5 Mbit/s layer on a clean loopback link), and judging by it made every probe
  up fail.
* *Clean* (the only kind that counts towards probing up): loss under 4 %, repairs under
  5 %, queueing delay under 25 ms (or unknown), fewer than 0.5 PLIs a second. Jitter is
  evidence only beside loss: a busy viewer's computer reports tens of milliseconds of it
  on a clean link. Anything between clean and bad is *fair*: hold.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from enum import StrEnum

LOSS_BAD = 0.05
LOSS_SEVERE = 0.20
LOSS_CLEAN = 0.04
DELAY_BAD = 0.100
DELAY_RISING = 0.025
JITTER_RISING = 0.030
REPAIR_BAD = 0.30
REPAIR_CLEAN = 0.05
PLI_BAD = 2.0
PLI_CLEAN = 0.5
REMB_BAD = 0.5
REMB_SHORT = 0.9
FLOOR_WINDOW = 60.0


@dataclass(frozen=True)
class LinkReport:
    """What the publisher knows about one viewer's video stream at time ``now``.

    ``now``: monotonic seconds when the receiver report arrived. ``fraction_lost`` 0..1
    (aiortc's RR gives 0..255: divide by 256), ``jitter_s`` in seconds (RR jitter is in
    RTP clock units: divide by 90000), ``rtt_s`` from SR/RR timing (None if unknown),
    ``remb_bps`` the latest REMB (None until one came). Cumulative since the connection
    started: ``nacks`` (distinct sequence numbers the viewer asked to resend), ``packets_sent``
    and ``bytes_sent`` (media only, retransmissions not included: aiortc's outbound-rtp
    ``packetsSent``/``bytesSent``), ``retransmitted_bytes``, ``plis`` (PLI and FIR).
    """

    now: float
    fraction_lost: float
    jitter_s: float
    rtt_s: float | None
    remb_bps: float | None
    nacks: int
    packets_sent: int
    bytes_sent: int
    retransmitted_bytes: int
    plis: int

    def __post_init__(self) -> None:
        if not 0.0 <= self.fraction_lost <= 1.0:
            raise ValueError(f"fraction_lost must be 0..1, got {self.fraction_lost}")
        counters = (self.nacks, self.packets_sent, self.bytes_sent, self.retransmitted_bytes,
                    self.plis)
        if min(counters) < 0 or self.jitter_s < 0 or (self.rtt_s is not None and self.rtt_s < 0):
            raise ValueError("counters, jitter and rtt cannot be negative")


class Status(StrEnum):
    CLEAN = "clean"
    FAIR = "fair"
    BAD = "bad"


class Why(StrEnum):
    """Why an interval was bad (or held back from clean)."""

    NONE = ""
    LOSS = "loss"
    DELAY = "delay"
    REPAIRS = "repairs"
    PICTURE_LOSS = "picture loss"
    REMB = "remb"


@dataclass(frozen=True)
class Interval:
    """The link between two consecutive reports, judged."""

    start: float
    end: float
    loss: float
    queue_delay_s: float | None
    jitter_s: float
    media_bps: float  # media sent, retransmissions not included
    send_bps: float  # everything sent: media and retransmissions
    goodput_bps: float  # media that arrived: media_bps * (1 - loss)
    repair_share: float  # max(NACKed packets / sent packets, resent bytes / media bytes)
    pli_rate: float  # keyframe requests per second
    remb_bps: float | None
    status: Status
    why: Why

    @property
    def seconds(self) -> float:
        return self.end - self.start

    @property
    def delivered_bps(self) -> float:
        """Everything sent that arrived (media and repairs): what the path carried."""
        return self.send_bps * (1 - self.loss)


class LinkMeter:
    """Turns one connection's cumulative reports into judged :class:`Interval`\\ s."""

    def __init__(self) -> None:
        self._last: LinkReport | None = None
        self._rtts: deque[tuple[float, float]] = deque()

    @property
    def rtt_floor(self) -> float | None:
        return min((rtt for _, rtt in self._rtts), default=None)

    def observe(self, report: LinkReport) -> Interval | None:
        """The interval since the previous report; None for the first report, for one no
        later than the previous (ignored), and when counters went back (a new connection:
        counting starts again from this report)."""
        last = self._last
        if last is not None and report.now <= last.now:
            return None  # late or repeated: the next report covers its time
        self._last = report
        if report.rtt_s is not None:
            self._rtts.append((report.now, report.rtt_s))
        while self._rtts and self._rtts[0][0] < report.now - FLOOR_WINDOW:
            self._rtts.popleft()
        if last is None:
            return None
        packets = report.packets_sent - last.packets_sent
        media = report.bytes_sent - last.bytes_sent
        resent = report.retransmitted_bytes - last.retransmitted_bytes
        nacks, plis = report.nacks - last.nacks, report.plis - last.plis
        if min(packets, media, resent, nacks, plis) < 0:
            return None
        seconds = report.now - last.now
        floor = self.rtt_floor
        queue = None if report.rtt_s is None or floor is None else report.rtt_s - floor
        media_bps = media * 8 / seconds
        repair = max(nacks / packets if packets else 0.0, resent / media if media else 0.0)
        status, why = Status.FAIR, Why.NONE  # nothing sent: no evidence either way
        if packets:
            status, why = judge(
                loss=report.fraction_lost, queue_delay_s=queue, jitter_s=report.jitter_s,
                repair_share=repair, pli_rate=plis / seconds, remb_bps=report.remb_bps,
                media_bps=media_bps,
            )
        return Interval(
            start=last.now, end=report.now, loss=report.fraction_lost, queue_delay_s=queue,
            jitter_s=report.jitter_s, media_bps=media_bps,
            send_bps=(media + resent) * 8 / seconds,
            goodput_bps=media_bps * (1 - report.fraction_lost),
            repair_share=min(1.0, repair), pli_rate=plis / seconds, remb_bps=report.remb_bps,
            status=status, why=why,
        )


def judge(*, loss: float, queue_delay_s: float | None, jitter_s: float, repair_share: float,
          pli_rate: float, remb_bps: float | None, media_bps: float) -> tuple[Status, Why]:
    """Clean, fair or bad, and the main reason; see the module docstring."""
    queue = queue_delay_s if queue_delay_s is not None and not math.isnan(queue_delay_s) else 0.0
    remb_short = remb_bps is not None and media_bps > 0 and remb_bps < REMB_SHORT * media_bps
    delay_evidence = queue >= DELAY_RISING or jitter_s >= JITTER_RISING or remb_short
    if loss >= LOSS_SEVERE or (loss >= LOSS_BAD and delay_evidence):
        return Status.BAD, Why.LOSS
    if queue >= DELAY_BAD:
        return Status.BAD, Why.DELAY
    if repair_share >= REPAIR_BAD:
        return Status.BAD, Why.REPAIRS
    if pli_rate >= PLI_BAD:
        return Status.BAD, Why.PICTURE_LOSS
    if loss >= LOSS_CLEAN:
        return Status.FAIR, Why.LOSS
    if queue >= DELAY_RISING:
        # (jitter alone does not hold a viewer back: a busy viewer's computer measures
        # tens of milliseconds of it on a clean link; with loss it is evidence above)
        return Status.FAIR, Why.DELAY
    if repair_share >= REPAIR_CLEAN:
        return Status.FAIR, Why.REPAIRS
    if pli_rate >= PLI_CLEAN:
        return Status.FAIR, Why.PICTURE_LOSS
    return Status.CLEAN, Why.NONE
