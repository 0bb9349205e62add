"""A viewer's own receive counters turned into the reports the layer choice judges.

Peer to peer, the publisher chooses each viewer's layer from the viewer's RTCP receiver
reports (:mod:`.link_meter`, :mod:`.layer_choice`). Through a media server the viewer
chooses for itself (Janus does no per-viewer estimation), from what its own receiver
counts. :class:`ReceiveReports` turns those counters into the same
:class:`~.link_meter.LinkReport`, so the same rules decide with the same thresholds.

What the viewer knows, and how it maps (pure arithmetic, no I/O):

* ``packets_expected`` (highest sequence number seen minus the first, plus one) and
  ``packets_received`` (first transmissions that arrived) give the interval's
  ``fraction_lost``, exactly as the viewer's RTCP receiver report would.
* What was *sent* is not known; what arrived is. The report's ``bytes_sent`` is what
  arrived scaled up by the interval's loss (so that the meter's goodput, sent times
  one minus loss, is what arrived), and ``packets_sent`` is ``packets_expected``.
* ``nacks`` (sequence numbers the viewer asked to resend) and ``plis`` (keyframe
  requests) are its own; resent bytes that arrived are ``retransmitted_bytes``.
* No round trip and no REMB: a receive-only viewer measures neither, so delay
  evidence is the jitter alone (loss with jitter, or severe loss, is bad).
"""

from __future__ import annotations

from dataclasses import dataclass

from surgery_teach.media.link_meter import LinkReport


@dataclass(frozen=True)
class ReceiveCounters:
    """One video stream's receive counters at ``now`` (monotonic s), cumulative."""

    now: float
    packets_expected: int
    packets_received: int
    bytes_received: int
    retransmitted_bytes: int
    jitter_s: float
    nacks: int
    plis: int

    def __post_init__(self) -> None:
        counters = (self.packets_expected, self.packets_received, self.bytes_received,
                    self.retransmitted_bytes, self.nacks, self.plis)
        if min(counters) < 0 or self.jitter_s < 0:
            raise ValueError("receive counters and jitter cannot be negative")


class ReceiveReports:
    """Makes one :class:`LinkReport` per :class:`ReceiveCounters` of one stream."""

    def __init__(self) -> None:
        self._last: ReceiveCounters | None = None
        self._sent_estimate = 0.0

    def report(self, counters: ReceiveCounters) -> LinkReport:
        """The report for the interval since the previous counters (the first: no loss)."""
        last = self._last
        loss = 0.0
        if last is not None and counters.now > last.now:
            expected = counters.packets_expected - last.packets_expected
            received = counters.packets_received - last.packets_received
            arrived = counters.bytes_received - last.bytes_received
            if expected > 0 and received >= 0 and arrived >= 0:
                loss = min(1.0, max(0.0, 1 - received / expected))
                # what was sent, as far as what arrived tells (all lost: count none)
                self._sent_estimate += arrived / (1 - loss) if loss < 1 else 0.0
            elif expected < 0 or received < 0 or arrived < 0:
                self._sent_estimate = float(counters.bytes_received)  # counting restarted
        else:
            self._sent_estimate = float(counters.bytes_received)
        self._last = counters
        return LinkReport(
            now=counters.now, fraction_lost=loss, jitter_s=counters.jitter_s, rtt_s=None,
            remb_bps=None, nacks=counters.nacks, packets_sent=counters.packets_expected,
            bytes_sent=round(self._sent_estimate),
            retransmitted_bytes=counters.retransmitted_bytes, plis=counters.plis)
