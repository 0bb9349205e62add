"""Per-viewer quality on the publisher: which layer each viewer's connection carries.

The publisher keeps one :class:`ViewerFeed` per viewer and source. Every RTCP receiver
report of that viewer (:func:`~.aiortc_tuning.watch_sender`) goes, in this order, to the
shared upload's estimate (:class:`~surgery_teach.media.uplink.UplinkEstimator`), to the
viewer's own :class:`~surgery_teach.media.layer_choice.LayerChoice`, then to the upload's
allotment over all viewers of the source (the mentor's quality first), whose ceiling the
viewer's choice takes. When the choice wants another level, the viewer's
:class:`~surgery_teach.media.layers.LayeredTrack` moves there at that layer's next
keyframe, and the choice hears of it.

Keyframe isolation: a viewer's keyframe requests pass a :class:`PliGuard` (none from a
connection not yet connected; at most one a second; none while a switch waits),
then reach only the encoder of the layer that viewer gets, whose own policy makes at most
one forced keyframe a second. Retransmissions to a viewer are capped by its
:class:`RetransmitBudget`, so a full link is not flooded further.
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
from surgery_teach.media.pli_guard import PliGuard, RetransmitBudget
from surgery_teach.media.uplink import UPLINK_WARNING, Priority, UplinkEstimator, Viewer, allot
from surgery_teach.protocol.messages import ParticipantInfo, Role
from surgery_teach.rtc import aiortc_tuning
from surgery_teach.rtc.layer_note import LayerNote

logger = logging.getLogger(__name__)

# A move up that draws NACKs for this share of what was sent since (at least this many
# packets) failed: the viewer's link cannot carry it (aiortc NACKs every packet still
# missing at each new loss, so the share counts repeats too).
PROBE_NACK_SHARE = 0.2
PROBE_MIN_PACKETS = 30


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
        self.feeds: dict[str, ViewerFeed] = {}
        self.uplink_limited = False
        self.departed: dict[str, ViewerState] = {}  # feed key -> how it was last
        self._clock = clock

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
            allow_retransmit=lambda size: feed.budget.allow(self._clock(), size))
        if feed.watch is not None:
            feed.watch.on_nacks = lambda: self._on_nacks(feed)
        aiortc_tuning.forward_keyframe_requests(sender, lambda: self._on_keyframe_request(feed))

    def drop(self, participant_id: str) -> None:
        """The participant's connection is gone."""
        for key in [k for k, f in self.feeds.items() if f.participant.id == participant_id]:
            self.drop_feed(key)

    def drop_feed(self, key: str) -> None:
        feed = self.feeds.pop(key, None)
        if feed is not None:
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
        self.uplink.update(feed.key, report)
        feed.choice.update(report, uplink_congested=self.uplink.congested)
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
        if choice.pending_switch:
            feed.track.switch((choice.layer, choice.divisor))
        elif feed.track.switching:
            feed.track.switch(feed.track.level)  # the choice changed its mind: stay

    def _on_nacks(self, feed: ViewerFeed) -> None:
        """Right after moving up, many NACKs mean the new level does not fit: do not wait
        a second or more for the next receiver report while the viewer loses pictures."""
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
        moved_up = (level[0], -level[1]) < (before.current_layer, -before.current_divisor)
        choice: Choice = feed.choice.switched(level[0], level[1], now=self._clock())
        watch = feed.watch
        feed.probe = (self._clock(), watch.nacks, watch.packets_sent, watch.bytes_sent) \
            if moved_up and watch is not None else None
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
        )
