"""Which layer (and, at the bottom, which frame rate) one viewer's link carries: pure logic.

The publisher runs one :class:`LayerChoice` per viewer and feeds it one
:class:`~.link_meter.LinkReport` per RTCP receiver report. It answers with a
:class:`Choice`: the layer to send, a frame-rate divisor for the bottom layer (1, 2, 3, 6:
30/15/10/5 fps from 30), whether a switch is waiting for a keyframe, and a plain reason
for the viewer's screen.

The levels, best first, are every layer at full rate, then the bottom layer slowed by each
divisor (never below :attr:`ChoiceSettings.min_fps`): a viewer whose path cannot carry even
the smallest picture gets it at fewer frames a second rather than nothing.

Rules, and why:

* **Step down fast.** Bad intervals (see :mod:`.link_meter`) covering at least
  ``down_after`` (1 s) in at least ``down_reports`` (2) reports in a row step down: at
  least one level, and as far as the measured goodput (media that arrived, capped by
  REMB) needs: the best level whose bitrate is at most ``fit`` (80 %) of it, leaving room
  for repairs and keyframe bursts. With RTCP every ~1 s that is within ~2 s of the
  trouble. Even severe loss waits for the second report: by then the other viewers have
  reported too, and :mod:`.uplink` can tell a full upload (everyone hurts) from this
  viewer's link, so a shared problem is not blamed on each viewer's link.
* **Probe up slowly.** Only after ``up_after`` (5 s) of clean intervals in a row, one
  level at a time. Where the uplink's limit (:meth:`LayerChoice.limit`) is the level
  sent, the probe only raises the viewer's claim (``link_layer``), which the uplink
  allocator weighs; nothing more is sent until it allows it.
* **Try before moving.** The publisher first sends the better level's extra bitrate as
  padding (:meth:`LayerChoice.probe_failed` when that draws losses); only a link that
  carried it moves up.
* **A failed probe returns at once.** Within ``probe_grace`` (4 s) of moving up, one bad
  report is enough to come back down (the viewer is losing pictures meanwhile). When
  what arrived was under ``hopeless`` (60 %) of the level's bitrate, the link is far from
  carrying it: the failure counts three times (the next try waits 8x longer).
* **Never oscillate.** Each step down from a level doubles the clean time needed before
  the next probe back to it (5, 10, 20, ... s, at most ``max_wait``, 120 s): on a link that
  carries layer 1 but not layer 0, probes to layer 0 come at 5, 19, 43 and 87 s, then
  at most every ~2 minutes, each costing ~3 s (one report straddling the switch, two bad
  ones). A link that got better is so used again within two minutes. Holding a level for
  ``forgive_after`` (60 s) forgets one of its failures: it has earned trust back.
* **Switch only at a keyframe** of the target. The choice is ``pending_switch`` until the
  caller sees the target layer's encoder emit a keyframe, sends it, and calls
  :meth:`LayerChoice.switched`; reports whose interval began before the switch describe
  the old layer and are not judged.
* **Uplink trouble is not the viewer's.** While the publisher's uplink is congested for
  everyone (:mod:`.uplink`), bad intervals do not step this viewer down: the uplink
  allocator lowers layers by priority instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from surgery_teach.media.ladder import Layer
from surgery_teach.media.link_meter import Interval, LinkMeter, LinkReport, Status, Why

__all__ = ["Choice", "ChoiceSettings", "LayerChoice", "LinkReport", "Reason"]


@dataclass(frozen=True, kw_only=True)
class ChoiceSettings:
    """The timing of :class:`LayerChoice`; the module docstring says why these values."""

    down_after: float = 1.0
    down_reports: int = 2
    up_after: float = 5.0
    max_wait: float = 120.0
    forgive_after: float = 60.0
    fit: float = 0.8
    divisors: tuple[int, ...] = (1, 2, 3, 6)
    probe_grace: float = 4.0  # a level moved up to this recently falls back on one bad report
    hopeless: float = 0.6  # goodput under this share of a level's bitrate: retry it 8x later
    min_fps: float = 4.0

    def __post_init__(self) -> None:
        if self.down_after < 0 or self.down_reports < 1 or self.up_after <= 0:
            raise ValueError("down_after >= 0, down_reports >= 1 and up_after > 0 needed")
        if self.max_wait < self.up_after or not 0 < self.fit <= 1:
            raise ValueError("max_wait must be >= up_after and fit in (0, 1]")
        if not self.divisors or self.divisors[0] != 1 or list(self.divisors) != sorted(
                set(self.divisors)):
            raise ValueError("divisors must start at 1 and increase")


class Reason(StrEnum):
    """Why a viewer gets what it gets, in words for the viewer's screen."""

    BEST = "best quality"
    CHECKING = "checking your link"
    LINK = "limited by your link"
    PICTURE_LOSS = "limited: pictures keep breaking up on your link"
    FRAME_RATE = "fewer pictures a second: your link cannot carry the smallest picture"
    UPLINK = "limited by the surgeon's upload"


@dataclass(frozen=True)
class Choice:
    """What one viewer should receive.

    ``layer``/``divisor``: the target (after the uplink's limit); ``current_layer`` /
    ``current_divisor``: what it receives now; ``pending_switch``: they differ, and the
    caller should switch at the target's next keyframe. ``link_layer`` is what the
    viewer's own link would take (hand it to :func:`.uplink.allot`). ``bitrate`` is the
    target's, ``estimate_bps`` the goodput measured when the link last hurt (None: never).
    """

    layer: int
    divisor: int
    current_layer: int
    current_divisor: int
    link_layer: int
    link_divisor: int
    pending_switch: bool
    reason: Reason
    bitrate: int
    estimate_bps: int | None


class LayerChoice:
    """Chooses one viewer's layer from its link reports; see the module docstring.

    ``ladder`` is best first (:func:`.ladder.ladder_for`); the viewer starts on ``start``
    (default: the second-best layer, so a poor link is not flooded while it is learned).
    """

    def __init__(self, ladder: Sequence[Layer], *, start: int | None = None,
                 settings: ChoiceSettings | None = None) -> None:
        if not ladder:
            raise ValueError("a ladder needs at least one layer")
        self.settings = settings or ChoiceSettings()
        bottom = len(ladder) - 1
        self.levels: tuple[tuple[int, int], ...] = tuple(
            [(i, 1) for i in range(len(ladder))]
            + [(bottom, d) for d in self.settings.divisors[1:]
               if ladder[bottom].fps / d >= self.settings.min_fps]
        )
        self._bitrates = [ladder[i].slowed(d).bitrate for i, d in self.levels]
        start = min(1, bottom) if start is None else start
        if not 0 <= start <= bottom:
            raise ValueError(f"start must be a layer 0..{bottom}, got {start}")
        self._meter = LinkMeter()
        self._sending = self._link = start
        self._ceiling = 0
        self._failures: dict[int, int] = {}
        self._bad_since: float | None = None
        self._bad_reports = 0
        self._bad_goodput: list[float] = []
        self._clean_since: float | None = None
        self._switched_at: float | None = None
        self._held_since: float | None = None
        self._estimate: float | None = None
        self._why = Why.NONE
        self._stepped_down = False
        self._probed_at: float | None = None  # when the viewer last moved up a level

    # -- inputs ----------------------------------------------------------------------

    def update(self, report: LinkReport, *, uplink_congested: bool = False) -> Choice:
        """Judge the interval since the previous report and maybe choose another level.

        ``uplink_congested``: the publisher's upload is congested for every viewer now
        (:attr:`.uplink.UplinkEstimator.congested`); bad intervals then do not count.
        """
        interval = self._meter.observe(report)
        now = report.now
        self._forgive(now)
        if interval is None or (self._switched_at is not None
                                and interval.start < self._switched_at):
            return self.choice
        if interval.status is Status.BAD and not uplink_congested:
            self._on_bad(interval)
        elif interval.status is Status.CLEAN:
            self._on_clean(interval)
        else:
            self._reset_streaks()
        return self.choice

    def switched(self, layer: int, divisor: int = 1, *, now: float) -> Choice:
        """The viewer now receives ``layer`` at ``divisor``, from a keyframe sent at ``now``."""
        try:
            level = self.levels.index((layer, divisor))
        except ValueError:
            raise ValueError(f"no level layer={layer} divisor={divisor} in {self.levels}") from None
        self._probed_at = now if level < self._sending else None
        self._sending = level
        self._switched_at = self._held_since = now
        self._reset_streaks()
        return self.choice

    def limit(self, layer: int | None) -> Choice:
        """The uplink allows this viewer at best ``layer`` (None: no limit)."""
        if layer is not None and (layer, 1) not in self.levels:
            raise ValueError(f"no layer {layer} in this ladder of {self.levels[-1][0] + 1}")
        self._ceiling = 0 if layer is None else self.levels.index((layer, 1))
        return self.choice

    # -- output ----------------------------------------------------------------------

    @property
    def choice(self) -> Choice:
        target = max(self._link, self._ceiling)
        layer, divisor = self.levels[target]
        return Choice(
            layer=layer, divisor=divisor,
            current_layer=self.levels[self._sending][0],
            current_divisor=self.levels[self._sending][1],
            link_layer=self.levels[self._link][0], link_divisor=self.levels[self._link][1],
            pending_switch=target != self._sending, reason=self._reason(target),
            bitrate=self._bitrates[target],
            estimate_bps=None if self._estimate is None else round(self._estimate),
        )

    def probe_wait(self, layer: int, divisor: int = 1) -> float:
        """Seconds of clean link needed before probing up to this level."""
        failures = self._failures.get(self.levels.index((layer, divisor)), 0)
        return min(self.settings.max_wait, self.settings.up_after * 2**failures)

    # -- rules -----------------------------------------------------------------------

    def _on_bad(self, interval: Interval) -> None:
        self._clean_since = None
        if self._bad_since is None:
            self._bad_since = interval.start
        self._bad_reports += 1
        goodput = interval.goodput_bps
        if interval.remb_bps is not None:
            goodput = min(goodput, interval.remb_bps)
        self._bad_goodput.append(goodput)
        probing = (self._probed_at is not None
                   and interval.end - self._probed_at <= self.settings.probe_grace)
        if probing or (interval.end - self._bad_since >= self.settings.down_after
                       and self._bad_reports >= self.settings.down_reports):
            self._step_down(interval.why)

    def abandon_probe(self, now: float, goodput_bps: float) -> Choice:
        """Faster feedback than a receiver report (a burst of NACKs right after moving up)
        says the level does not fit: come back down now, as on a bad report."""
        if self._probed_at is None or now - self._probed_at > self.settings.probe_grace:
            return self.choice
        self._bad_goodput = [goodput_bps]
        self._step_down(Why.LOSS)
        return self.choice

    def probe_failed(self, now: float, goodput_bps: float) -> Choice:
        """The link was tried at the level the choice moves up to (padding at its rate,
        :mod:`~surgery_teach.rtc.link_probe`) and lost packets: stay where it is, and
        wait longer before trying that level again, as after a failed move."""
        tried = max(self._link, self._ceiling)  # (what the move up aimed at)
        if tried >= self._sending:
            return self.choice  # not moving up: nothing was being tried
        hopeless = goodput_bps < self.settings.hopeless * self._bitrates[tried]
        self._failures[tried] = self._failures.get(tried, 0) + (3 if hopeless else 1)
        self._link = self._sending
        self._estimate = goodput_bps if self._estimate is None else min(self._estimate,
                                                                        goodput_bps)
        self._why = Why.LOSS
        self._stepped_down = True
        self._switched_at = now  # reports covering the padding are not judged
        self._reset_streaks()
        return self.choice

    def probe_deferred(self, now: float) -> Choice:
        """Padding to try the level above was stopped by trouble that is not this
        viewer's (other viewers losing packets: the shared upload): stay, count no
        failure, and try again after clean time as before."""
        if max(self._link, self._ceiling) < self._sending:
            self._link = self._sending
            self._switched_at = now
            self._reset_streaks()
        return self.choice

    def bitrate_of(self, layer: int, divisor: int = 1) -> int:
        """The bitrate of a level of this viewer's ladder."""
        return self._bitrates[self.levels.index((layer, divisor))]

    def _step_down(self, why: Why) -> None:
        measured = sum(self._bad_goodput) / len(self._bad_goodput)
        self._estimate = measured
        self._reset_streaks()
        last = len(self.levels) - 1
        if self._sending == last:
            return
        # a link that carried far less than the level needs will not carry it soon:
        # wait much longer before trying it again (each failure doubles the wait)
        hopeless = measured < self.settings.hopeless * self._bitrates[self._sending]
        self._failures[self._sending] = self._failures.get(self._sending, 0) + (
            3 if hopeless else 1)
        self._probed_at = None
        target = next((level for level in range(self._sending + 1, last + 1)
                       if self._bitrates[level] <= self.settings.fit * measured), last)
        self._link = max(self._link, target)
        self._why = why
        self._stepped_down = True

    def _on_clean(self, interval: Interval) -> None:
        self._bad_since, self._bad_reports, self._bad_goodput = None, 0, []
        if self._estimate is not None:
            self._estimate = max(self._estimate, interval.goodput_bps)
        if self._clean_since is None:
            self._clean_since = interval.start
        up = self._sending - 1
        if self._link != self._sending or up < 0 or self._ceiling > self._sending:
            return  # a switch is pending or already at the top
        layer, divisor = self.levels[up]
        if interval.end - self._clean_since >= self.probe_wait(layer, divisor):
            # if the uplink allows no more, the claim waits for it (reason: the uplink)
            self._link = up
            self._clean_since = None

    def _reset_streaks(self) -> None:
        self._bad_since, self._bad_reports, self._bad_goodput = None, 0, []
        self._clean_since = None

    def _forgive(self, now: float) -> None:
        if self._held_since is None:
            self._held_since = now
        if self._link != self._sending:
            return
        if now - self._held_since >= self.settings.forgive_after:
            self._held_since = now
            if self._failures.get(self._sending, 0) > 0:
                self._failures[self._sending] -= 1

    def _reason(self, target: int) -> Reason:
        if target > self._link:
            return Reason.UPLINK
        if target < self._sending:
            return Reason.CHECKING  # moving up: the link is being tried, nothing better yet
        if target == 0:
            return Reason.BEST
        if self.levels[target][1] > 1:
            return Reason.FRAME_RATE
        if not self._stepped_down:
            return Reason.CHECKING
        return Reason.PICTURE_LOSS if self._why is Why.PICTURE_LOSS else Reason.LINK
