"""The publisher's shared upload: how much it carries, and who gets which layer: pure logic.

Without a media server the publisher sends every viewer its own copy, so the sum of what
all viewers get must fit the publisher's upload. No one reports that capacity; it shows
as loss and delay rising on *every* connection together (one viewer's poor link hurts
only that viewer's connection). :class:`UplinkEstimator` watches all connections with the
same judgement as each viewer's (:mod:`.link_meter`) and :func:`allot` fits the layers.

Rules, and why:

* **Shared congestion** is every connection that reported in the last :data:`WINDOW`
  (2 s) being bad at once, with at least two connections (with one viewer its link and
  the upload cannot be told apart; its own :class:`~.layer_choice.LayerChoice` copes).
* **The estimate** is what arrived in total then: the sum over connections of everything
  sent (media and repairs) times (1 - loss). A shaped upload delivers its capacity while
  it drops the rest, so that sum is the capacity, whatever was offered (27 Mbit/s offered
  to a 4 Mbit/s upload still measures ~4). It only goes down on congestion, at most once
  per :data:`COOLDOWN` (3 s: time for the lowered layers to start at their keyframes).
* **Probing up**: after :data:`UP_AFTER` (10 s, doubled after each probe that was followed
  by congestion within :data:`PROBE_BLAME` (30 s), at most 120 s) of every connection clean,
  the estimate grows by :data:`PROBE_STEP` (15 %); probes keep going while the link stays
  clean, so a limit that no longer holds fades away. :data:`FORGIVE_AFTER` (60 s) without
  congestion forgets one failed probe.
* **Padding the upload did not carry** (:meth:`overflowed`) caps the estimate at what it
  carried cleanly just before, as the layers' share: the viewer whose link was tried
  stays where it is, and no one tries the same overflow every few seconds.
* **Allotting** (:func:`allot`): layers must fit :data:`HEADROOM` (85 %) of the estimate,
  leaving room for audio, repairs and keyframe bursts. The least important viewer on
  the most expensive layer goes down one layer at a time (the mentor and viewers the
  surgeon chose come last), then the most important go back up while it still fits. Any
  viewer held below what its own link takes means the upload limits the class:
  :data:`UPLINK_WARNING` tells the surgeon.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from surgery_teach.media.ladder import Layer
from surgery_teach.media.link_meter import Interval, LinkMeter, LinkReport, Status

WINDOW = 2.0
COOLDOWN = 3.0
UP_AFTER = 10.0
MAX_WAIT = 120.0
PROBE_STEP = 1.15
PROBE_BLAME = 30.0
FORGIVE_AFTER = 60.0
HEADROOM = 0.85
CLEAN_MEMORY = 10.0
"""Seconds a total the upload carried cleanly stays a floor under its estimate (longer
congestion means the upload itself got slower)."""
UPLINK_WARNING = (
    "Your upload limits the class: some viewers get a smaller picture. "
    "Use a media server to send each picture once."
)


class Priority(IntEnum):
    """Who keeps quality longest when the upload is short (lower keeps it longer)."""

    MENTOR = 0
    CHOSEN = 1  # viewers the surgeon chose
    OTHER = 2


@dataclass(frozen=True)
class Viewer:
    """One viewer's claim: ``layer`` (and ``divisor``) its own link takes
    (:attr:`.layer_choice.Choice.link_layer`), and its priority."""

    id: str
    layer: int
    priority: Priority = Priority.OTHER
    divisor: int = 1


@dataclass(frozen=True)
class Allotment:
    """The layer each viewer gets (``layers[id]``), their total bitrate, and whether the
    upload limits the class (then show :attr:`message` to the surgeon)."""

    layers: dict[str, int]
    total_bps: int
    budget_bps: int | None
    limited: bool

    @property
    def message(self) -> str:
        return UPLINK_WARNING if self.limited else ""


def allot(viewers: Sequence[Viewer], ladder: Sequence[Layer],
          capacity_bps: float | None, *, headroom: float = HEADROOM) -> Allotment:
    """Fit the viewers' layers into ``headroom`` of ``capacity_bps`` (None: no limit)."""
    bottom = len(ladder) - 1
    for viewer in viewers:
        if not 0 <= viewer.layer <= bottom:
            raise ValueError(f"viewer {viewer.id}: no layer {viewer.layer} in the ladder")
    got = {v.id: v.layer for v in viewers}

    def cost(viewer: Viewer, layer: int) -> int:
        return ladder[layer].slowed(viewer.divisor if layer == viewer.layer else 1).bitrate

    def total() -> int:
        return sum(cost(v, got[v.id]) for v in viewers)

    budget = None if capacity_bps is None else int(capacity_bps * headroom)
    if budget is not None:
        order = {v.id: i for i, v in enumerate(viewers)}
        while total() > budget:
            movable = [v for v in viewers if got[v.id] < bottom]
            if not movable:
                break
            # least important first; among them the most expensive; then the latest joiner
            victim = max(movable, key=lambda v: (v.priority, -got[v.id], order[v.id]))
            got[victim.id] += 1
        for viewer in sorted(viewers, key=lambda v: (v.priority, order[v.id])):
            while got[viewer.id] > viewer.layer:
                more = total() - cost(viewer, got[viewer.id]) + cost(viewer, got[viewer.id] - 1)
                if more > budget:
                    break
                got[viewer.id] -= 1
    spent = total()
    limited = any(got[v.id] > v.layer for v in viewers) or (
        budget is not None and spent > budget)
    return Allotment(layers=got, total_bps=spent, budget_bps=budget, limited=limited)


class UplinkEstimator:
    """Learns the publisher's upload capacity from all its viewers' link reports.

    Feed every viewer's :class:`~.link_meter.LinkReport` to :meth:`update` (before that
    viewer's :meth:`.layer_choice.LayerChoice.update`, which takes :attr:`congested`).
    """

    def __init__(self) -> None:
        self._meters: dict[str, LinkMeter] = {}
        self._latest: dict[str, Interval] = {}
        self._capacity: float | None = None
        self._now = 0.0
        self._congested_at: float | None = None
        self._cut_at: float | None = None
        self._probed_at: float | None = None
        self._clean_since: float | None = None
        self._failures = 0
        self._forgiven_at = 0.0
        self._clean_carried: list[tuple[float, float]] = []  # (when, total delivered) clean

    @property
    def capacity_bps(self) -> float | None:
        """The upload's estimated capacity (bit/s); None until it was seen to limit."""
        return self._capacity

    @property
    def congested(self) -> bool:
        """Every connection is hurting together now: the upload, not a viewer's link."""
        return self._congested_at is not None and self._now - self._congested_at <= WINDOW

    @property
    def probe_wait(self) -> float:
        """Seconds of clean links before the estimate next grows."""
        return min(MAX_WAIT, UP_AFTER * 2**self._failures)

    def forget(self, viewer: str) -> None:
        """The viewer left: its connection no longer shares the upload."""
        self._meters.pop(viewer, None)
        self._latest.pop(viewer, None)

    def update(self, viewer: str, report: LinkReport, *, judge: bool = True) -> None:
        """Take ``viewer``'s report. ``judge=False``: the interval it closes says nothing
        of the upload (padding that tried a viewer's link filled it): counted, not
        judged, and no earlier interval of this viewer's stands in for it."""
        interval = self._meters.setdefault(viewer, LinkMeter()).observe(report)
        self._now = max(self._now, report.now)
        if interval is None:
            return
        if not judge:
            self._latest.pop(viewer, None)
            return
        self._latest[viewer] = interval
        now = self._now
        self._forgive(now)
        fresh = [iv for iv in self._latest.values() if iv.end >= now - WINDOW]
        if len(fresh) >= 2 and all(iv.status is Status.BAD for iv in fresh):
            self._on_congestion(now, sum(iv.delivered_bps for iv in fresh))
        elif fresh and all(iv.status is Status.CLEAN for iv in fresh):
            self._clean_carried = [(t, bps) for t, bps in self._clean_carried
                                   if t >= now - CLEAN_MEMORY] + [
                (now, sum(iv.delivered_bps for iv in fresh))]
            if self._clean_since is None:
                self._clean_since = max(iv.start for iv in fresh)
            if self._capacity is not None and now - self._clean_since >= self.probe_wait:
                self._capacity *= PROBE_STEP
                self._probed_at = self._clean_since = now
        else:
            self._clean_since = None

    def overflowed(self, offered_bps: float, layers_bps: float = 0.0) -> None:
        """A burst offered ``offered_bps`` in all (padding that tried a viewer's link) and
        the upload did not carry it: the estimate goes below that, to what the upload
        carried cleanly a moment ago (or the layers it carried, ``layers_bps`` by their
        nominal bitrates) as the layers' share, so the layers that fit stay and no viewer
        is moved up into the same overflow. Without a clean total to go by, nothing is
        learned."""
        now = self._now
        carried = max((bps for t, bps in self._clean_carried if t >= now - CLEAN_MEMORY),
                      default=0.0)
        if carried <= 0:
            return
        self._clean_since = None
        if self._probed_at is not None and now - self._probed_at <= PROBE_BLAME:
            self._failures += 1
            self._probed_at = None
        self._forgiven_at = now
        estimate = min(offered_bps, max(carried, layers_bps) / HEADROOM)
        if self._capacity is None or estimate < self._capacity:
            self._capacity = estimate

    def _on_congestion(self, now: float, delivered: float) -> None:
        self._congested_at = now
        self._clean_since = None
        if self._cut_at is not None and now - self._cut_at < COOLDOWN:
            return
        self._cut_at = self._forgiven_at = now
        if self._probed_at is not None and now - self._probed_at <= PROBE_BLAME:
            self._failures += 1
            self._probed_at = None
        # what the upload carried cleanly a moment ago it can carry: a burst (a keyframe,
        # padding) that overflowed its queue says little of its rate, and delivered counts
        # only what got through while packets were lost
        carried = max((bps for t, bps in self._clean_carried if t >= now - CLEAN_MEMORY),
                      default=0.0)
        delivered = max(delivered, carried)
        self._capacity = delivered if self._capacity is None else min(self._capacity, delivered)

    def _forgive(self, now: float) -> None:
        if self._failures and now - self._forgiven_at >= FORGIVE_AFTER:
            self._failures -= 1
            self._forgiven_at = now
