"""A participant's media in class mode: through the Janus media server, not peer to peer.

:meth:`ClassMedia.start` takes the grant the signaling server sends (Janus's URL, the
room and this participant's token) and:

* joins the Janus room as ``display`` (the participant id: other participants map
  feeds to people with it; it is visible to the room, so never a name);
* publishes this participant's sources, every layer once, and its voice
  (:mod:`.class_publish`), if it has any;
* watches every other publisher, present or arriving later (:mod:`.class_watch`):
  each source at the layer this viewer's link carries, chosen every second from its own
  receive statistics, and the voice. Received video arrives as
  :class:`~surgery_teach.media.receive.VideoReceiver`\\ s, voice as audio tracks, through
  the callbacks, as peer to peer.

When Janus goes away (the connection or session ends, Janus hangs up, the room is
destroyed, or the signaling server throws this participant out), ``on_lost(reason)`` is
called once; the caller starts again after a pause (:mod:`.class_route`). When Janus
ends only one subscription (hangs up or detaches its handle) while the session goes on,
that publisher is watched again on a new handle after 1, 2, 4... s, as long as it
still publishes.
:meth:`ClassMedia.stop` leaves the room.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack

from surgery_teach.errors import MediaServerError, MediaServerRefusedError
from surgery_teach.janus import videoroom
from surgery_teach.janus.messages import NO_SUCH_FEED, plugin_data
from surgery_teach.janus.participant import ClassParticipant
from surgery_teach.media.encoder import SharedEncoder
from surgery_teach.media.ladder import Layer
from surgery_teach.protocol.ice import IceServer
from surgery_teach.rtc.class_publish import ClassPublisher
from surgery_teach.rtc.class_streams import read_feed
from surgery_teach.rtc.class_watch import FeedSubscription, OnAudio, OnVideo, WatchedLayer

logger = logging.getLogger(__name__)

REPORT_EVERY = 1.0
"""Seconds between layer decisions (aiortc's receivers report about this often)."""
SUBSCRIBE_TRIES = 5
"""A publisher announced but not yet connected is refused (428); try again this often."""
RESUBSCRIBE_FIRST = 1.0
RESUBSCRIBE_MOST = 16.0
"""Pauses before watching a publisher again after Janus ended that subscription alone
(hung up or detached it): doubling from the first, capped (as the publisher side)."""


@dataclass(frozen=True)
class ClassGrant:
    """Where this participant's media goes in class mode: the Janus API's WebSocket URL,
    the Janus room and this participant's own token (never logged)."""

    url: str
    room_id: int
    token: str = field(repr=False)


@dataclass(frozen=True, kw_only=True)
class ClassOptions:
    """How media goes through the media server (defaults as peer to peer)."""

    ladders: tuple[tuple[Layer, ...] | None, ...] = ()
    """Each source's layers (None or missing: the default ladder of its top encoder)."""
    publish_layers: int | None = None
    """Publish at most this many layers of each source (None: the whole ladder)."""
    start_layer: int | None = None
    """The layer a new subscription starts on (None: one below the top, as peer to peer;
    0 for a mentor)."""
    audio: bool = True
    """Receive the other publishers' voices."""
    tuned: bool = True
    """The low-latency receive path (:mod:`.aiortc_tuning`); False: stock aiortc."""
    ice_servers: tuple[IceServer, ...] = ()
    """STUN/TURN for the connections to Janus (behind a NAT that needs them)."""
    report_every: float = REPORT_EVERY


class ClassMedia:
    """This participant's media through Janus (use :meth:`start`, end with :meth:`stop`)."""

    def __init__(self, participant: ClassParticipant, options: ClassOptions, *,
                 on_video: OnVideo, on_video_ended: OnVideo, on_audio: OnAudio,
                 on_lost: Callable[[str], None]) -> None:
        self.participant = participant
        self.options = options
        self.publisher: ClassPublisher | None = None
        self.feeds: dict[int, FeedSubscription] = {}
        self._on_video, self._on_video_ended = on_video, on_video_ended
        self._on_audio, self._on_lost = on_audio, on_lost
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopped = False
        self._publishers: dict[int, videoroom.Publisher] = {}
        self.resubscribed = 0
        """Subscriptions made again after Janus ended them alone."""

    @classmethod
    async def start(cls, grant: ClassGrant, *, display: str,
                    encoders: Sequence[SharedEncoder] = (),
                    microphone: MediaStreamTrack | None = None,
                    relay: MediaRelay | None = None, options: ClassOptions | None = None,
                    on_video: OnVideo = lambda receiver: None,
                    on_video_ended: OnVideo = lambda receiver: None,
                    on_audio: OnAudio = lambda track, publisher: None,
                    on_lost: Callable[[str], None] = lambda reason: None) -> ClassMedia:
        """Join the class room of ``grant``, publish ``encoders``' layers and the
        ``microphone`` (if any), and watch everyone else who publishes.

        MediaServerUnavailableError when Janus cannot be reached, MediaServerRefusedError
        when it refuses the token; nothing is left running then.
        """
        options = options or ClassOptions()
        participant = await ClassParticipant.join(grant.url, grant.token, grant.room_id,
                                                  display)
        media = cls(participant, options, on_video=on_video, on_video_ended=on_video_ended,
                    on_audio=on_audio, on_lost=on_lost)
        try:
            if encoders or microphone is not None:
                media.publisher = await ClassPublisher.publish(
                    participant, encoders, microphone, relay=relay or MediaRelay(),
                    ladders=options.ladders, layers=options.publish_layers,
                    ice_servers=options.ice_servers)
            for publisher in participant.joined.publishers:
                await media._watch(publisher)
        except BaseException:
            await media.stop()
            raise
        media._spawn(media._follow())
        media._spawn(media._adapt())
        return media

    # -- what is received -------------------------------------------------------------

    def layers(self) -> list[WatchedLayer]:
        """Every source this participant watches: which layer, and why."""
        return [layer for feed in self.feeds.values() for layer in feed.layers()]

    # -- following the room --------------------------------------------------------------

    def _spawn(self, coroutine: object) -> None:
        task = asyncio.ensure_future(coroutine)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _watch(self, publisher: videoroom.Publisher) -> None:
        if publisher.feed_id == self.participant.feed_id or publisher.feed_id in self.feeds:
            return
        self._publishers[publisher.feed_id] = publisher
        feed = read_feed(publisher)
        if not feed.sources and (feed.voice_mid is None or not self.options.audio):
            return
        for attempt in range(SUBSCRIBE_TRIES):
            try:
                self.feeds[feed.feed_id] = await FeedSubscription.open(
                    self.participant, feed, on_video=self._on_video,
                    on_video_ended=self._on_video_ended, on_audio=self._on_audio,
                    start_layer=self.options.start_layer, audio=self.options.audio,
                    tuned=self.options.tuned, ice_servers=self.options.ice_servers,
                    on_lost=self._subscription_lost)
                return
            except MediaServerRefusedError as exc:
                if exc.code != NO_SUCH_FEED or attempt == SUBSCRIBE_TRIES - 1:
                    raise
                await asyncio.sleep(0.2 * (attempt + 1))

    async def _follow(self) -> None:
        """Watch publishers that start later; drop those that leave; notice Janus going."""
        handle = self.participant.handle
        while not self._stopped:
            event = await handle.events.get()
            gone = lost_reason(event)
            if gone:
                self._lost(gone)
                return
            data = plugin_data(event)
            for key in ("unpublished", "leaving"):
                if isinstance(data.get(key), int):
                    await self._forget(data[key])
            for publisher in videoroom.read_publishers(data.get("publishers")):
                try:
                    await self._watch(publisher)
                except MediaServerError as exc:
                    logger.warning("cannot watch publisher %s: %s", publisher.feed_id, exc)

    async def _forget(self, feed_id: int) -> None:
        self._publishers.pop(feed_id, None)
        feed = self.feeds.pop(feed_id, None)
        if feed is not None:
            await feed.close()

    def _subscription_lost(self, feed: FeedSubscription, reason: str) -> None:
        if not self._stopped and self.feeds.get(feed.feed.feed_id) is feed:
            self._spawn(self._watch_again(feed))

    async def _watch_again(self, lost: FeedSubscription) -> None:
        """Janus ended one subscription alone: drop it, and watch its publisher again on
        a new handle with a growing pause, while it still publishes."""
        feed_id = lost.feed.feed_id
        if self.feeds.get(feed_id) is lost:
            del self.feeds[feed_id]
        await lost.close()
        pause = RESUBSCRIBE_FIRST
        while not self._stopped:
            await asyncio.sleep(pause)
            publisher = self._publishers.get(feed_id)
            if self._stopped or publisher is None or feed_id in self.feeds:
                return  # it left meanwhile, or the room's news brought it back
            try:
                await self._watch(publisher)
            except MediaServerRefusedError as exc:
                if exc.code == NO_SUCH_FEED:
                    return  # it no longer publishes
                logger.warning("watching publisher %s again refused: %s", feed_id, exc)
            except Exception as exc:  # any failure: try again later
                logger.warning("watching publisher %s again failed: %r", feed_id, exc)
            else:
                if feed_id in self.feeds:
                    self.resubscribed += 1
                    logger.info("watching publisher %s again", feed_id)
                return
            pause = min(2 * pause, RESUBSCRIBE_MOST)

    async def _adapt(self) -> None:
        while not self._stopped:
            await asyncio.sleep(self.options.report_every)
            for feed in list(self.feeds.values()):
                await feed.adapt()

    def _lost(self, reason: str) -> None:
        if not self._stopped:
            logger.warning("media server connection lost: %s", reason)
            self._on_lost(reason)

    # -- the end ------------------------------------------------------------------------

    async def stop(self) -> None:
        """Leave the room: stop publishing and watching (the callers' encoders go on)."""
        if self._stopped:
            return
        self._stopped = True
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()
        for feed in list(self.feeds.values()):
            await feed.close()
        self.feeds.clear()
        if self.publisher is not None:
            await self.publisher.close()
        with contextlib.suppress(MediaServerError):
            await self.participant.leave()


def lost_reason(event: dict[str, Any]) -> str:
    """Why this participant is no longer in its Janus room, from an event on its own
    handle ("" if it still is): the connection or session ended, Janus hung up its peer
    connection, the room was destroyed (Janus restarted, or the room was closed), or the
    signaling server threw it out."""
    kind = event.get("janus")
    data = plugin_data(event)
    if kind == "closed":
        return str(event.get("reason") or "the media server connection ended")
    if kind == "hangup":
        return f"the media server hung up ({event.get('reason') or 'no reason given'})"
    if data.get("videoroom") == "destroyed":
        return "the media-server room was closed"
    if data.get("leaving") == "ok" and data.get("reason") == "kicked":
        return "thrown out of the media-server room"
    return ""
