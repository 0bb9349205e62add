"""Per-viewer quality on the publisher: which layer each viewer's connection carries.

The publisher keeps one :class:`ViewerFeed` per viewer and source. Every RTCP receiver
report of that viewer (:func:`~.aiortc_tuning.watch_sender`) goes, in this order, to the
shared upload's estimate (:class:`~surgery_teach.media.uplink.UplinkEstimator`), to the
viewer's own :class:`~surgery_teach.media.layer_choice.LayerChoice`, then to the upload's
allotment over all viewers of the source (the mentor's quality first), whose ceiling the
viewer's choice takes. When the choice wants another level, the viewer's
:class:`~surgery_teach.media.layers.LayeredTrack` moves there at that layer's next
keyframe, and the choice hears of it.

Moving up: before a viewer moves to a better level, its link is tried with padding at
that level's extra bitrate (:mod:`.link_probe`); only if no burst of NACKs, lost packets
or longer round trips follows does it move, so a link that cannot carry the better layer
costs the viewer a few resent packets instead of a frozen picture.

Keyframe isolation: a viewer's keyframe requests pass a :class:`PliGuard` (none from a
connection not yet connected; at most one a second; none while a switch waits),
then reach only the encoder of the layer that viewer gets, whose own policy makes at most
one forced keyframe a second. Retransmissions to a viewer are capped by its
:class:`RetransmitBudget`, and all of them together by :class:`UploadRepairs` once the
upload is known to be limited, so a full link is not flooded further.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiortc.rtcrtpsender import RTCRtpSender

from surgery_teach.media.layer_choice import Choice, LayerChoice
from surgery_teach.media.layers import LayeredSource, LayeredTrack, Level
from surgery_teach.media.link_meter import LinkReport
from surgery_teach.media.pli_guard import PliGuard, RetransmitBudget, UploadRepairs
from surgery_teach.media.uplink import UPLINK_WARNING, Priority, UplinkEstimator, Viewer, allot
from surgery_teach.protocol.messages import ParticipantInfo, Role
from surgery_teach.rtc import aiortc_tuning
from surgery_teach.rtc.layer_note import LayerNote
from surgery_teach.rtc.link_probe import PROBE_HEADROOM, LinkProbe

logger = logging.getLogger(__name__)

# A move up that draws NACKs for this share of what was sent since (at least this many
# packets) failed: the viewer's link cannot carry it (each lost packet counts once,
# however often it is asked for: :meth:`~.aiortc_tuning.SenderWatch.count_nacks`).
PROBE_NACK_SHARE = 0.2
PROBE_MIN_PACKETS = 30
# Padding that tries a better level stops as soon as any viewer has lost
# PADDING_MIN_NACKS packets more than twice what its link lost before explains (a queue
# that overflows loses a few packets of everyone's within tens of milliseconds, and each
# one lost is a picture held up), or on a receiver report with a round trip this much
# longer than before or PADDING_LOSS_RISE more loss (the link's queue filling up).
PADDING_LOSS_RISE = 0.15
PADDING_MIN_PACKETS = 8
PADDING_MIN_NACKS = 4
PADDING_RTT_RISE = 0.06
# For this long after padding stopped, other viewers' bad reports are blamed on it (the
# shared upload), not on their links: a receiver report covers up to ~1.5 s, and pictures
# lost in the overflow cost a keyframe or two more.
PADDING_SHADOW = 4.0
UPLOAD_WAIT = 5.0
UPLOAD_MAX_WAIT = 120.0


@dataclass(frozen=True)
class ViewerState:
    """What the surgeon sees of one viewer's copy of one source."""

    participant: str
    name: str
    source: str
    layer: str
    reason: str
    loss: float | None  # 0..1, last receiver report
    rtt_ms: float | None
    switches: int
    resent_bytes: int = 0  # lost packets sent again to this viewer
    refused_bytes: int = 0  # lost packets not sent again (its budget, or the upload's)


@dataclass
class ViewerFeed:
    """One viewer's copy of one source, and what is known of its link."""

    key: str
    participant: ParticipantInfo
    source: LayeredSource
    track: LayeredTrack
    choice: LayerChoice
    guard: PliGuard
    budget: RetransmitBudget
    established: Callable[[], bool]
    last: LinkReport | None = None
    watch: aiortc_tuning.SenderWatch | None = None
    # when it last moved up: (time, NACKs, packets and bytes sent then), for a fast verdict
    probe: tuple[float, int, int, int] | None = None
    # padding that tries the link at a better level before moving there, and what was
    # known when it started: (time, NACKs, packets and bytes sent, loss, round trip)
    padding: LinkProbe | None = None
    padding_base: tuple[float, int, int, int, float, float | None] | None = None
    # every viewer's (NACKs, packets and bytes sent, loss) when it started: the upload
    # is shared
    padding_others: dict[str, tuple[int, int, int, float]] | None = None
    tried: Level | None = None  # a better level the padding showed the link carries

    @property
    def priority(self) -> Priority:
        return Priority.MENTOR if self.participant.role == Role.MENTOR else Priority.OTHER


class Adaptation:
    """Chooses and applies every viewer's layer for a publisher's sources."""

    def __init__(self, sources: list[LayeredSource], *,
                 clock: Callable[[], float] = time.monotonic,
                 on_switched: Callable[[ViewerFeed], None] = lambda feed: None) -> None:
        self.sources = sources
        self._on_switched = on_switched
        self.uplink = UplinkEstimator()
        self.repairs = UploadRepairs()
        self.resent_bytes = 0  # lost packets sent again, to every viewer there ever was
        self.feeds: dict[str, ViewerFeed] = {}
        self.uplink_limited = False
        self.departed: dict[str, ViewerState] = {}  # feed key -> how it was last
        self._clock = clock
        self._padding_ended = -1e9  # when the last padding stopped
        # padding the shared upload did not carry: no one pads again before this, and
        # each such try doubles the wait (5, 10, 20 ... s, at most 2 minutes)
        self._upload_tries = 0
        self._padding_after = -1e9

    def track_for(self, participant: ParticipantInfo, source_index: int,
                  established: Callable[[], bool]) -> LayeredTrack:
        """A new track of source ``source_index`` for ``participant``'s connection."""
        source = self.sources[source_index]
        key = f"{participant.id}/{source_index}"
        self.drop_feed(key)
        # a mentor starts at the top; others one layer down and move up after a few
        # seconds of clean link: a class joining at once must not flood the upload
        start = 0 if participant.role == Role.MENTOR else None
        choice = LayerChoice(source.ladder, start=start)
        level: Level = (choice.choice.current_layer, choice.choice.current_divisor)
        feed_box: list[ViewerFeed] = []
        track = LayeredTrack(source, level,
                             on_switched=lambda lv: self._switched(feed_box[0], lv))
        feed = ViewerFeed(key=key, participant=participant, source=source, track=track,
                          choice=choice, guard=PliGuard(),
                          budget=RetransmitBudget(choice.choice.bitrate, share=0.5,
                                                  burst_s=0.5),
                          established=established)
        feed_box.append(feed)
        self.feeds[key] = feed
        return track

    def watch(self, track: LayeredTrack, sender: RTCRtpSender) -> None:
        """Listen to ``sender``'s RTCP for the viewer of ``track``; route its keyframe
        requests through the viewer's guard."""
        feed = next((f for f in self.feeds.values() if f.track is track), None)
        if feed is None:
            return
        feed.watch = aiortc_tuning.watch_sender(
            sender, lambda report: self._on_report(feed, report),
            allow_retransmit=lambda size: self._allow_repair(feed, size))
        if feed.watch is not None:
            feed.watch.on_nacks = lambda: self._on_nacks(feed)
        aiortc_tuning.forward_keyframe_requests(sender, lambda: self._on_keyframe_request(feed))

    def _allow_repair(self, feed: ViewerFeed, size: int) -> bool:
        """Whether ``feed``'s viewer gets a lost packet of ``size`` bytes again: within
        its own budget and, on an upload known to be limited, within what the layers
        leave of it for everyone's repairs."""
        now = self._clock()
        capacity = self.uplink.capacity_bps
        if feed.budget.fits(now, size) and (capacity is None or self.repairs.allow(
                now, size, capacity_bps=capacity, layers_bps=self._layers_bps())):
            feed.budget.take(size)
            self.resent_bytes += size
            return True
        feed.budget.refused_bytes += size
        return False

    def _layers_bps(self) -> int:
        """The nominal bitrate of every viewer's layer now: what the upload carries."""
        return sum(f.choice.bitrate_of(f.choice.choice.current_layer,
                                       f.choice.choice.current_divisor)
                   for f in self.feeds.values())

    def drop(self, participant_id: str) -> None:
        """The participant's connection is gone."""
        for key in [k for k, f in self.feeds.items() if f.participant.id == participant_id]:
            self.drop_feed(key)

    def drop_feed(self, key: str) -> None:
        feed = self.feeds.pop(key, None)
        if feed is not None:
            self._stop_padding(feed)
            self.departed[key] = self._state(feed)
            self.uplink.forget(key)
            feed.track.stop()

    def stop(self) -> None:
        for key in list(self.feeds):
            self.drop_feed(key)
        for source in self.sources:
            source.stop()

    # -- feedback ---------------------------------------------------------------------

    def _on_keyframe_request(self, feed: ViewerFeed) -> None:
        if feed.guard.request(self._clock(), established=feed.established(),
                              switching=feed.track.switching):
            feed.track.request_keyframe()

    def _on_report(self, feed: ViewerFeed, report: LinkReport) -> None:
        if self.feeds.get(feed.key) is not feed:
            return
        feed.last = report
        if feed.padding is not None and self._padding_failed(feed, report):
            return
        # padding (now or within the interval this report covers) may have filled the
        # shared upload: losses then say nothing of this viewer's link, nor of what the
        # upload carries without it
        padded = any(f.padding is not None for f in self.feeds.values()) \
            or self._clock() - self._padding_ended < PADDING_SHADOW
        self.uplink.update(feed.key, report, judge=not padded)
        feed.choice.update(report, uplink_congested=self.uplink.congested or padded)
        self._allot(feed.source)

    def _allot(self, source: LayeredSource) -> None:
        feeds = [f for f in self.feeds.values() if f.source is source]
        capacity = self.uplink.capacity_bps
        if capacity is not None:
            # the upload is shared by every source: this one gets its share by bitrate
            tops = sum(s.ladder[0].bitrate for s in self.sources)
            capacity *= source.ladder[0].bitrate / tops
        allotment = allot([Viewer(f.key, f.choice.choice.link_layer, f.priority,
                                  f.choice.choice.link_divisor) for f in feeds],
                          source.ladder, capacity)
        if allotment.limited and not self.uplink_limited:
            logger.warning(UPLINK_WARNING)
        self.uplink_limited = allotment.limited
        for f in feeds:
            f.choice.limit(allotment.layers[f.key])
            self._apply(f)

    def _apply(self, feed: ViewerFeed) -> None:
        choice = feed.choice.choice
        target: Level = (choice.layer, choice.divisor)
        up = _better(feed.choice, target, (choice.current_layer, choice.current_divisor))
        if feed.padding is not None and (not feed.padding.running or not choice.pending_switch
                                         or feed.padding.level != target):
            self._stop_padding(feed)  # the choice changed its mind (or the probe died)
        if feed.tried is not None and feed.tried != target:
            feed.tried = None  # what padding showed was for another level
        if choice.pending_switch and up and feed.tried != target:
            if feed.track.switching and feed.track.pending_level != target:
                feed.track.switch(feed.track.level)  # no move elsewhere while trying
            self._try_link(feed, choice)
        elif choice.pending_switch:
            feed.track.switch(target)
        elif feed.track.switching:
            feed.track.switch(feed.track.level)  # the choice changed its mind: stay

    # -- trying the link before moving up ---------------------------------------------------

    def _try_link(self, feed: ViewerFeed, choice: Choice) -> None:
        """Send the better level's extra bitrate as padding before moving there (one
        viewer at a time: the upload is shared, and a failure must be this viewer's)."""
        target: Level = (choice.layer, choice.divisor)
        if feed.padding is not None:
            return  # already trying it
        if any(f.padding is not None and f.padding.running for f in self.feeds.values()):
            return  # another viewer's try first; the next report asks again
        if self._clock() < self._padding_after:
            return  # the upload was full a moment ago: let it be
        if feed.priority is not Priority.MENTOR and any(
                f.priority is Priority.MENTOR and f.source is feed.source
                and _better(f.choice, target, (f.choice.choice.current_layer,
                                               f.choice.choice.current_divisor))
                for f in self.feeds.values()):
            return  # the mentor's picture first: no one moves above it meanwhile
        watch = feed.watch
        extra = PROBE_HEADROOM * choice.bitrate - feed.choice.bitrate_of(
            choice.current_layer, choice.current_divisor)
        if watch is None or not watch.can_pad or watch.pad is None or extra <= 0:
            feed.tried = target
            feed.track.switch(target)
            return
        last = feed.last
        feed.padding_base = (self._clock(), watch.nacks, watch.packets_sent, watch.bytes_sent,
                             0.0 if last is None else last.fraction_lost,
                             None if last is None else last.rtt_s)
        feed.padding_others = {
            f.key: (f.watch.nacks, f.watch.packets_sent, f.watch.bytes_sent,
                    0.0 if f.last is None else f.last.fraction_lost)
            for f in self.feeds.values() if f is not feed and f.watch is not None}
        feed.padding = LinkProbe(watch.sender, watch.pad, level=target, rate_bps=extra,
                                 on_done=lambda probe: self._padding_done(feed, probe))

    def _stop_padding(self, feed: ViewerFeed) -> None:
        if feed.padding is not None:
            feed.padding.stop()
            self._padding_ended = self._clock()
        feed.padding = feed.padding_base = feed.padding_others = None

    def _padding_done(self, feed: ViewerFeed, probe: LinkProbe) -> None:
        if self.feeds.get(feed.key) is not feed or feed.padding is not probe:
            return
        if self._padding_failed(feed, report=None):
            return
        feed.padding = feed.padding_base = feed.padding_others = None
        self._padding_ended = self._clock()
        if not probe.kept_rate:  # this computer was too busy to try the link: later
            logger.info("%s: padding for %s fell behind (%.0f of %.0f kB not sent); later",
                        feed.participant.id, feed.source.name(probe.level),
                        probe.skipped_bytes / 1000, probe.sent_bytes / 1000)
            feed.choice.probe_deferred(self._clock())
            self._apply(feed)
            return
        feed.tried = probe.level
        self._upload_tries = max(0, self._upload_tries - 1)
        logger.info("%s: the link carried %s of padding", feed.participant.id,
                    f"{probe.rate_bps / 1e6:.2f} Mbit/s")
        self._apply(feed)

    def _padding_failed(self, feed: ViewerFeed, report: LinkReport | None) -> bool:
        """Judge the padding running for ``feed`` so far; on trouble stop it, tell the
        choice and return True."""
        watch, base, probe = feed.watch, feed.padding_base, feed.padding
        if watch is None or base is None or probe is None:
            return False
        at, nacks, packets, sent_bytes, loss, rtt = base
        sent = watch.packets_sent - packets
        asked = watch.nacks - nacks
        own = _losing(asked, sent, loss)
        if report is not None and not own:
            own = (report.rtt_s is not None and rtt is not None
                   and report.rtt_s > rtt + PADDING_RTT_RISE) \
                or report.fraction_lost > loss + PADDING_LOSS_RISE
        shared = False
        others = feed.padding_others or {}
        for key, (nacks_then, packets_then, _, loss_then) in others.items():
            other = self.feeds.get(key)
            if not own and not shared and other is not None and other.watch is not None:
                # another viewer losing packets now: the shared upload is full
                shared = _losing(other.watch.nacks - nacks_then,
                                 other.watch.packets_sent - packets_then, loss_then)
        if not own and not shared:
            return False
        now = self._clock()
        self._stop_padding(feed)
        if own:
            padded = probe.sent_bytes - probe.skipped_bytes
            offered = (watch.bytes_sent - sent_bytes + padded) * 8 / max(now - at, 0.1)
            goodput = offered * (1 - min(0.9, asked / max(sent, 1)))
            logger.info("%s: the link did not carry %s (%d of %d packets asked for again)",
                        feed.participant.id, feed.source.name(probe.level), asked, sent)
            feed.choice.probe_failed(now, goodput)
        else:  # the upload, not this viewer's link: try again later, no failure counted
            padded = probe.sent_bytes - probe.skipped_bytes + watch.bytes_sent - sent_bytes
            padded += sum(other.watch.bytes_sent - others[key][2]
                          for key, other in self.feeds.items()
                          if key in others and other.watch is not None)
            self.uplink.overflowed(padded * 8 / max(now - at, 0.1), self._layers_bps())
            self._upload_tries += 1
            wait = min(UPLOAD_MAX_WAIT, UPLOAD_WAIT * 2 ** (self._upload_tries - 1))
            self._padding_after = now + wait
            capacity = self.uplink.capacity_bps
            logger.info("%s: the upload did not carry padding for %s; no padding for %.0f s"
                        " (upload estimate %s)", feed.participant.id,
                        feed.source.name(probe.level), wait,
                        "unknown" if capacity is None else f"{capacity / 1e6:.2f} Mbit/s")
            feed.choice.probe_deferred(now)
            self._allot(feed.source)  # (its ceiling now holds the viewer where it is)
        self._apply(feed)
        self._on_switched(feed)  # the viewer hears why it stays where it is
        return True

    def _on_nacks(self, feed: ViewerFeed) -> None:
        """Right after moving up, many NACKs mean the new level does not fit: do not wait
        a second or more for the next receiver report while the viewer loses pictures."""
        for trying in [f for f in self.feeds.values() if f.padding is not None]:
            self._padding_failed(trying, report=None)  # (its padding may hurt others)
        if feed.padding is not None:
            return
        watch, probe = feed.watch, feed.probe
        if watch is None or probe is None or self.feeds.get(feed.key) is not feed:
            return
        at, nacks, packets, sent_bytes = probe
        now = self._clock()
        if now - at > feed.choice.settings.probe_grace:
            feed.probe = None
            return
        sent = watch.packets_sent - packets
        asked = watch.nacks - nacks
        if sent >= PROBE_MIN_PACKETS and asked >= PROBE_NACK_SHARE * sent:
            goodput = (watch.bytes_sent - sent_bytes) * 8 * (1 - min(0.9, asked / sent)) \
                / max(now - at, 0.1)
            feed.probe = None
            feed.choice.abandon_probe(now, goodput)
            self._apply(feed)

    def _switched(self, feed: ViewerFeed, level: Level) -> None:
        before = feed.choice.choice
        moved_up = _better(feed.choice, level, (before.current_layer, before.current_divisor))
        self._stop_padding(feed)
        choice: Choice = feed.choice.switched(level[0], level[1], now=self._clock())
        watch = feed.watch
        feed.probe = (self._clock(), watch.nacks, watch.packets_sent, watch.bytes_sent) \
            if moved_up and watch is not None else None
        feed.tried = None
        feed.guard.switched()
        feed.budget.set_bitrate(choice.bitrate)
        logger.info("%s now gets %s of %s (%s)", feed.participant.id,
                    feed.source.name(level), feed.source.label, choice.reason)
        self._on_switched(feed)

    # -- what the viewers and the surgeon see ----------------------------------------------

    def note(self, feed: ViewerFeed) -> LayerNote:
        """What to tell ``feed``'s viewer about the layer it gets."""
        return LayerNote(source=feed.source.label, layer=feed.source.name(feed.track.level),
                         top=feed.source.name((0, 1)), reason=str(feed.choice.choice.reason))

    def viewers(self) -> list[ViewerState]:
        """Every viewer's copy of every source now."""
        return [self._state(feed) for feed in self.feeds.values()]

    def _state(self, feed: ViewerFeed) -> ViewerState:
        report = feed.last
        return ViewerState(
            participant=feed.participant.id, name=feed.participant.name,
            source=feed.source.label, layer=feed.source.name(feed.track.level),
            reason=str(feed.choice.choice.reason),
            loss=None if report is None else report.fraction_lost,
            rtt_ms=None if report is None or report.rtt_s is None
            else round(report.rtt_s * 1000, 1),
            switches=feed.track.switches,
            resent_bytes=feed.budget.sent_bytes, refused_bytes=feed.budget.refused_bytes,
        )


def _losing(asked: int, sent: int, loss_before: float) -> bool:
    """Whether a viewer asked for more of the ``sent`` packets since padding started
    (``asked``, each counted once) than its link's loss before (``loss_before``, 0..1)
    explains."""
    return sent >= PADDING_MIN_PACKETS and asked >= 2 * loss_before * sent + PADDING_MIN_NACKS


def _better(choice: LayerChoice, level: Level, than: Level) -> bool:
    """Whether ``level`` is above ``than`` on ``choice``'s ladder (15 -> 30 fps at the
    bottom layer too)."""
    return choice.levels.index(level) < choice.levels.index(than)
