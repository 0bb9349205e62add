"""Keep one viewer's repairs from costing every other viewer: pure rules, no I/O.

With one shared encoder per layer, a keyframe one viewer asks for (PLI/FIR) is a keyframe
for everyone on that layer: a large burst on each of their links and on the publisher's
upload. Measured here: a viewer on a link below its layer's bitrate sent ~16 PLIs a
second and the encoder made 142 keyframes in 45 s instead of 11, for every viewer; a
participant that never answered an offer drove keyframes to ~3.7 a second.

:class:`PliGuard` (one per viewer) decides which of its keyframe requests reach the
encoder:

* requests from a connection that is not established (ICE/DTLS not connected) are ignored
  and not counted: nothing is being shown there;
* requests while the viewer waits for a layer switch are counted but not forwarded: the
  target layer's keyframe is already on its way;
* otherwise at most one request per ``min_gap`` (1 s: a viewer that lost a picture shows
  nothing until the keyframe comes) reaches the encoder; the rest are counted. The
  encoder itself also caps forced keyframes (``KeyframePolicy(min_gap=1.0)``
  per layer), and the periodic keyframe still recovers a viewer whose requests were held
  back. :attr:`PliGuard.received` goes into :attr:`.link_meter.LinkReport.plis`, where a
  rate of 2 a second steps that viewer down a layer (:mod:`.layer_choice`) instead.

:class:`RetransmitBudget` (one per viewer) caps resends: a token bucket that lets
retransmissions add at most ``share`` (25 %) of the viewer's layer bitrate, with a burst of
``burst_s`` (0.25 s) of it. Past that, repairs are dropped: on a link losing that much
they crowd out the pictures (measured: 27 Mbit/s offered to a 4 Mbit/s upload, mostly
repairs and keyframes), and the loss steps the viewer down anyway.

:class:`UploadRepairs` (one per publisher) caps all viewers' resends together once the
shared upload is known to be limited (:mod:`.uplink`): each viewer's budget alone let a
mentor's repairs (1.25 Mbit/s, bursts of 78 kB) overflow a 4 Mbit/s upload that already
carried 3 Mbit/s of pictures; the resends were lost in turn and asked for again, and the
mentor's picture froze 2-6 s while every viewer lost packets. Together they get what the
allotted layers leave of 90% of the estimate, in bursts a shaped upload's queue holds
beside the pictures.
"""

from __future__ import annotations

REPAIR_CEILING = 0.9
"""Layers and repairs together stay under this share of the upload's estimate: packet
overhead and the estimate's own error fill the rest. (Up to the whole estimate, the
4 Mbit/s upload was offered 3.9-4.4 Mbit/s for 2 s after an overflow and stayed full;
at 0.9 the viewers' p95 delay was lower in 5 interleaved runs of each.)"""
REPAIR_FLOOR = 0.05
"""Share of the upload's capacity the repairs keep when the layers fill all of it."""
REPAIR_BURST_S = 0.025
"""The largest burst of repairs, in seconds of the upload (a router queues ~0.1 s)..."""
REPAIR_MIN_BURST = 2 * 1312
"""...but at least two full packets (RTP header and 1,300 bytes of payload), or a slow
upload's estimate (under ~420 kbit/s) would let no repair through at all."""


class PliGuard:
    """Which of one viewer's keyframe requests reach its layer's encoder."""

    def __init__(self, *, min_gap: float = 1.0) -> None:
        if min_gap < 0:
            raise ValueError("min_gap must be >= 0")
        self.min_gap = min_gap
        self.received = 0  # counted requests: feed LinkReport.plis
        self.forwarded = 0
        self.ignored = 0  # from a connection that was not established
        self._last_forwarded: float | None = None

    def request(self, now: float, *, established: bool, switching: bool = False) -> bool:
        """A PLI or FIR arrived at ``now``; True when it should reach the encoder.

        ``established``: the viewer's connection is connected; ``switching``: it waits for
        a keyframe of another layer (:attr:`.layer_choice.Choice.pending_switch`).
        """
        if not established:
            self.ignored += 1
            return False
        self.received += 1
        if switching:
            return False
        if self._last_forwarded is not None and now - self._last_forwarded < self.min_gap:
            return False
        self._last_forwarded = now
        self.forwarded += 1
        return True

    def switched(self) -> None:
        """The viewer got a keyframe of its new layer: its next request goes through."""
        self._last_forwarded = None


class _Bucket:
    """Bytes that refill at a rate up to a depth; time going backwards adds nothing."""

    def __init__(self, tokens: float) -> None:
        self.tokens = tokens
        self._at: float | None = None

    def refill(self, now: float, rate: float, depth: float) -> None:
        if self._at is not None and now > self._at:
            self.tokens += (now - self._at) * rate
        self.tokens = min(self.tokens, depth)
        self._at = now if self._at is None else max(self._at, now)


class RetransmitBudget:
    """A token bucket on one viewer's retransmitted bytes."""

    def __init__(self, bitrate_bps: float, *, share: float = 0.25,
                 burst_s: float = 0.25) -> None:
        if not 0 <= share <= 1 or burst_s <= 0:
            raise ValueError("share must be 0..1 and burst_s > 0")
        self.share, self.burst_s = share, burst_s
        self.sent_bytes = 0
        self.refused_bytes = 0
        self._rate = max(0.0, bitrate_bps) * share / 8  # bytes per second
        self._bucket = _Bucket(self._capacity)

    @property
    def _capacity(self) -> float:
        return self._rate * self.burst_s

    def set_bitrate(self, bitrate_bps: float) -> None:
        """The viewer moved to a layer of this bitrate (bit/s)."""
        self._rate = max(0.0, bitrate_bps) * self.share / 8  # bytes per second
        self._bucket.tokens = min(self._bucket.tokens, self._capacity)

    def allow(self, now: float, size: int) -> bool:
        """Whether a resend of ``size`` bytes at ``now`` fits; it is counted if so."""
        if self.fits(now, size):
            self.take(size)
            return True
        self.refused_bytes += size
        return False

    def fits(self, now: float, size: int) -> bool:
        """Whether a resend of ``size`` bytes fits at ``now`` (nothing is counted)."""
        self._bucket.refill(now, self._rate, self._capacity)
        return size <= self._bucket.tokens

    def take(self, size: int) -> None:
        """Count a resend of ``size`` bytes that :meth:`fits` allowed."""
        self._bucket.tokens -= size
        self.sent_bytes += size


class UploadRepairs:
    """A token bucket on every viewer's retransmissions together, once the shared upload
    is known to be limited: they get what the layers leave of :data:`REPAIR_CEILING` of
    its estimated capacity (at least :data:`REPAIR_FLOOR` of it), in bursts of at most
    :data:`REPAIR_BURST_S` of the upload. ``refused_bytes`` counts each refusal: a
    packet asked for again and refused again counts again."""

    def __init__(self) -> None:
        self.sent_bytes = 0
        self.refused_bytes = 0
        self._bucket = _Bucket(float("inf"))  # full at the first call

    def allow(self, now: float, size: int, *, capacity_bps: float, layers_bps: float) -> bool:
        """Whether a resend of ``size`` bytes fits at ``now`` on an upload of
        ``capacity_bps`` whose viewers' layers take ``layers_bps``; counted if so."""
        rate = max(REPAIR_CEILING * capacity_bps - layers_bps,
                   REPAIR_FLOOR * capacity_bps) / 8
        self._bucket.refill(now, rate, max(capacity_bps * REPAIR_BURST_S / 8, REPAIR_MIN_BURST))
        if size <= self._bucket.tokens:
            self._bucket.tokens -= size
            self.sent_bytes += size
            return True
        self.refused_bytes += size
        return False
