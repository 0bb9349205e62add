"""Watching one publisher of a class room through Janus, at the layer this link carries.

One :class:`FeedSubscription` per publisher: one Janus subscriber handle and one peer
connection with one video m-line per source (at one layer at a time) and the voice.
Every second :meth:`FeedSubscription.adapt` reads what this viewer's own receiver
counted (:mod:`.receiver_watch`), makes the same link report the publisher makes peer to
peer (:mod:`surgery_teach.media.receive_link`) and gives it to the same
:class:`~surgery_teach.media.layer_choice.LayerChoice`. When the choice wants another
layer, Janus's ``switch`` points the m-line at that layer's published m-line: no new
offer, the decoder skips to the new layer's first keyframe (Janus asks the publisher for
it). Decoded pictures go to a :class:`~surgery_teach.media.receive.VideoReceiver`, as
peer to peer, so whoever draws or records them sees no difference.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from surgery_teach.errors import MediaServerError
from surgery_teach.janus.participant import ClassParticipant, Subscription
from surgery_teach.janus.videoroom import StreamChoice
from surgery_teach.media.layer_choice import ChoiceSettings, LayerChoice
from surgery_teach.media.receive import VideoReceiver
from surgery_teach.media.receive_link import ReceiveReports
from surgery_teach.protocol.ice import IceServer
from surgery_teach.protocol.messages.classes import CLASS
from surgery_teach.rtc import aiortc_tuning
from surgery_teach.rtc.class_streams import Feed, PublishedSource
from surgery_teach.rtc.peer import new_peer_connection
from surgery_teach.rtc.receiver_watch import ReceiverWatch, watch_receiver

logger = logging.getLogger(__name__)

# Janus forwards the published layers as they are: there is no slowed bottom layer.
CLASS_CHOICE = ChoiceSettings(divisors=(1,))

OnVideo = Callable[[VideoReceiver], None]
OnAudio = Callable[[MediaStreamTrack, str], None]


def subscription_lost(event: dict[str, Any]) -> str:
    """Why a subscriber handle no longer receives, from an event on that handle ("" if it
    still does): Janus hung up its peer connection or detached the handle. The session
    ending ("closed") is not a subscription's own loss: the whole participant starts
    again (:func:`~surgery_teach.rtc.class_media.lost_reason`)."""
    kind = event.get("janus")
    if kind == "hangup":
        return f"the media server hung up ({event.get('reason') or 'no reason given'})"
    if kind == "detached":
        return "the media server detached the subscription"
    return ""


@dataclass(frozen=True)
class WatchedLayer:
    """What this viewer receives of one source now, and why (for its screen)."""

    publisher: str
    source: str
    layer: str
    top: str
    reason: str
    switches: int


@dataclass
class WatchedSource:
    """One source of the publisher on one of this viewer's m-lines."""

    source: PublishedSource
    sub_mid: str
    layer: int
    choice: LayerChoice
    reports: ReceiveReports = field(default_factory=ReceiveReports)
    watch: ReceiverWatch | None = None
    receiver: VideoReceiver | None = None
    switches: int = 0


class FeedSubscription:
    """One publisher's sources and voice, received through Janus (use :meth:`open`)."""

    def __init__(self, feed: Feed, subscription: Subscription, pc: RTCPeerConnection,
                 sources: dict[str, WatchedSource]) -> None:
        self.feed = feed
        self.subscription = subscription
        self.pc = pc
        self.sources = sources
        self.voice: MediaStreamTrack | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.lost = ""
        """Why Janus ended this subscription on its own ("" while it receives)."""
        self.closing = False

    @classmethod
    async def open(cls, participant: ClassParticipant, feed: Feed, *,
                   on_video: OnVideo, on_video_ended: OnVideo, on_audio: OnAudio,
                   start_layer: int | None = None, audio: bool = True, tuned: bool = True,
                   ice_servers: Sequence[IceServer] = (),
                   on_lost: Callable[[FeedSubscription, str], None] = lambda feed, why: None,
                   ) -> FeedSubscription:
        """Subscribe to ``feed``'s sources (each at ``start_layer``, default: the one
        below the top, as peer to peer) and voice; answer Janus's offer.
        ``on_lost(subscription, reason)`` is called once if Janus later hangs up or
        detaches this subscription alone (the participant's session going on)."""
        choices: dict[str, tuple[PublishedSource, LayerChoice]] = {}
        streams = []
        for source in feed.sources:
            bottom = len(source.ladder) - 1
            choice = LayerChoice(source.ladder, settings=CLASS_CHOICE,
                                 start=None if start_layer is None else min(start_layer,
                                                                            bottom))
            mid = source.mid(choice.choice.current_layer)
            choices[mid] = (source, choice)
            streams.append(StreamChoice(feed.feed_id, mid))
        if audio and feed.voice_mid is not None:
            streams.append(StreamChoice(feed.feed_id, feed.voice_mid))
        subscription = await participant.subscribe(streams)
        watched: dict[str, WatchedSource] = {}
        for described in subscription.streams:
            found = choices.get(str(described.get("feed_mid", "")))
            if found is not None and described.get("feed_id") == feed.feed_id:
                source, choice = found
                watched[str(described.get("mid"))] = WatchedSource(
                    source, str(described.get("mid")), choice.choice.current_layer, choice)
        pc = new_peer_connection(ice_servers)
        self = cls(feed, subscription, pc, watched)
        pc.on("track", lambda track: self._on_track(track, on_video, on_video_ended,
                                                     on_audio, tuned))
        try:
            await pc.setRemoteDescription(
                RTCSessionDescription(subscription.offer_sdp, "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            await subscription.start(pc.localDescription.sdp)
        except BaseException:
            await self.close()
            raise
        logger.info("watching publisher %s: %d source(s)%s", feed.feed_id, len(watched),
                    " and its voice" if audio and feed.voice_mid else "")
        self._spawn(self._follow(on_lost))
        return self

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _follow(self, on_lost: Callable[[FeedSubscription, str], None]) -> None:
        """Read this handle's own events: a hangup or detach ends the subscription."""
        while True:
            event = await self.subscription.handle.events.get()
            if event.get("janus") == "closed":
                return  # the whole session ended: the participant notices and starts again
            why = subscription_lost(event)
            if why and not self.closing:
                self.lost = why
                logger.warning("watching publisher %s stopped: %s", self.feed.feed_id, why)
                on_lost(self, why)
                return

    def _on_track(self, track: MediaStreamTrack, on_video: OnVideo, on_video_ended: OnVideo,
                  on_audio: OnAudio, tuned: bool) -> None:
        transceiver = next((t for t in self.pc.getTransceivers()
                            if t.receiver.track is track), None)
        if transceiver is None:
            return
        if track.kind == "audio":
            if tuned:
                aiortc_tuning.tune_audio_receiver(self.pc, track)
            self.voice = track
            on_audio(track, self.feed.display)
            return
        watched = self.sources.get(transceiver.mid or "")
        if watched is None:
            return  # an m-line this viewer did not ask for
        tap = None
        if tuned and aiortc_tuning.tune_receiver(transceiver.receiver, track):
            tap = aiortc_tuning.frame_tap(transceiver.receiver)
        watched.watch = watch_receiver(transceiver.receiver)
        receiver = VideoReceiver(track, label=watched.source.label,
                                 participant=self.feed.display,
                                 stamped=watched.source.stamped, encoded=tap, route=CLASS)
        watched.receiver = receiver
        self._spawn(self._receive(receiver, on_video, on_video_ended))

    @staticmethod
    async def _receive(receiver: VideoReceiver, on_video: OnVideo,
                       on_video_ended: OnVideo) -> None:
        on_video(receiver)
        try:
            await receiver.run()
        finally:
            on_video_ended(receiver)

    # -- choosing the layer -------------------------------------------------------------

    async def adapt(self, now: float | None = None) -> None:
        """Judge each source's link since the last call; switch layers where the choice
        says (call about once a second, as RTCP receiver reports come)."""
        for watched in self.sources.values():
            counters = watched.watch.counters(now) if watched.watch is not None else None
            if counters is None:
                continue
            choice = watched.choice.update(watched.reports.report(counters))
            if choice.pending_switch and choice.layer != watched.layer:
                await self.switch(watched, choice.layer)

    async def switch(self, watched: WatchedSource, layer: int) -> None:
        """Carry ``layer`` of ``watched``'s source on its m-line from now on."""
        before = watched.layer
        if watched.watch is not None:
            watched.watch.hold_until_keyframe()
        try:
            await self.subscription.switch([StreamChoice(
                self.feed.feed_id, watched.source.mid(layer), watched.sub_mid)])
        except MediaServerError as exc:
            logger.warning("switching %s to layer %d failed: %s", watched.source.label,
                           layer, exc)
            return
        watched.layer = layer
        watched.switches += 1
        choice = watched.choice.switched(layer, 1, now=time.monotonic())
        logger.info("now receiving %s of %s (was %s): %s",
                    watched.source.ladder[layer].name, watched.source.label,
                    watched.source.ladder[before].name, choice.reason)

    def layers(self) -> list[WatchedLayer]:
        return [WatchedLayer(publisher=self.feed.display, source=w.source.label,
                             layer=w.source.ladder[w.layer].name,
                             top=w.source.ladder[0].name, reason=str(w.choice.choice.reason),
                             switches=w.switches)
                for w in self.sources.values()]

    async def close(self) -> None:
        self.closing = True  # the detach this causes is not a loss
        try:
            await self.subscription.close()
        except MediaServerError:
            pass  # the session or the handle is gone already
        await self.pc.close()
        current = asyncio.current_task()
        for task in list(self.tasks):
            if task is not current:
                task.cancel()
