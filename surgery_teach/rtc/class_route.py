"""Class mode for a live session: media through the Janus media server instead of peer to
peer, when the signaling server routes the room there (``media-route``).

On ``"mode":"class"`` the session starts :class:`~.class_media.ClassMedia` with the
grant (publishing its sources' layers once, watching everyone else's) and keeps its
peer-to-peer connections until pictures arrive through Janus (at most
:data:`HANDOVER_SECONDS`), so the picture does not stop while the paths change. Meanwhile
and afterwards no new peer-to-peer connection is made. When Janus cannot be reached, or
goes away (its connection ends, it times the session out, hangs up, or the room is
destroyed because Janus restarted), the session tries again with the same grant after
1, 2, 4... s (at most :data:`RETRY_MOST`): the rest of the room is in class mode too and
ignores peer-to-peer offers, and the signaling server makes the room again on a Janus
that restarted. Only ``"mode":"peer"`` (the room leaves class mode) brings it back to
peer to peer, again keeping the media through Janus until the peer-to-peer connections
are up and pictures arrive on them (at most :data:`BACK_HANDOVER_SECONDS`, as long as the
server keeps the Janus room).
:class:`~surgery_teach.rtc.session.LiveSession` mixes this in; the
attributes it reads are the session's, declared below.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack

from surgery_teach.errors import MediaServerError, SignalingError
from surgery_teach.media.encoder import SharedEncoder
from surgery_teach.media.receive import VideoReceiver
from surgery_teach.protocol.ice import IceServer
from surgery_teach.protocol.messages import MediaRoute, ParticipantInfo, Role
from surgery_teach.rtc.class_media import ClassGrant, ClassMedia, ClassOptions
from surgery_teach.rtc.freeze import FreezeFrames
from surgery_teach.rtc.peer import ALIVE, offerer
from surgery_teach.rtc.session_config import Peer, SessionConfig

if TYPE_CHECKING:
    from collections.abc import Awaitable

logger = logging.getLogger(__name__)

PEER = "peer"
CLASS = "class"
HANDOVER_SECONDS = 3.0
"""Longest the peer-to-peer connections stay up after class mode began, waiting for the
first pictures through Janus (a surgeon who watches nobody waits this long)."""
BACK_HANDOVER_SECONDS = 5.0
"""Longest the media through Janus goes on after the room went back to peer to peer,
waiting for the peer-to-peer connections (the server closes the Janus room then)."""
PEER_FIRST_PICTURE = 1.0
"""After the peer-to-peer connections are up, the media through Janus goes on this long
more, for a viewer's first keyframe (a shared encoder makes at most one a second)."""
RETRY_FIRST = 1.0
RETRY_MOST = 16.0
"""Pauses before trying Janus again after it failed: doubling from the first, capped."""


class ClassRoute:
    """Peer to peer or through Janus, as the server routes the room."""

    config: SessionConfig
    encoders: list[SharedEncoder]
    microphone: MediaStreamTrack | None
    participants: dict[str, ParticipantInfo]
    peers: dict[str, Peer]
    receivers: list[VideoReceiver]
    freeze: FreezeFrames
    voices: dict[str, MediaStreamTrack]
    _relay: MediaRelay
    _voice_relay: MediaRelay
    _me: ParticipantInfo
    _emit: Callable[..., None]
    _spawn: Callable[[object], None]
    ice_servers: tuple[IceServer, ...]
    link: str
    _drop_peer: Callable[[str], Awaitable[None]]
    _offer_to: Callable[[ParticipantInfo], Awaitable[None]]

    route: str = PEER
    """``peer`` or ``class``: where this participant's media goes now."""
    class_media: ClassMedia | None = None
    class_tries: int = 0
    """Times Janus was tried for the current grant (1 when it worked at once)."""
    _grant: ClassGrant | None = None
    _class_receivers: list[VideoReceiver]
    _class_keeper: asyncio.Task[None] | None = None

    @property
    def in_class(self) -> bool:
        """Whether media goes through the media server (no peer-to-peer connections made)."""
        return self.route == CLASS

    async def _on_route(self, route: MediaRoute) -> None:
        if route.mode == CLASS:
            await self._into_class(ClassGrant(route.url, route.room, route.token))
        else:
            await self._back_to_peers(route.reason)

    async def _into_class(self, grant: ClassGrant) -> None:
        if self._grant == grant and self._class_keeper is not None:
            return  # the same route again (a rejoin): the media goes on, or is retried
        await self._stop_class()
        was_class, self.route, self._grant, self.class_tries = self.route, CLASS, grant, 0
        if was_class != CLASS:
            logger.info("media through the media server now")
            self._emit("route", CLASS, "")
        self._class_keeper = asyncio.ensure_future(self._keep_class(grant))

    async def _keep_class(self, grant: ClassGrant) -> None:
        """Reach Janus with ``grant`` and stay there: after each failure or loss, try
        again with a growing pause, until the route changes."""
        pause = RETRY_FIRST
        while self._grant == grant:
            lost: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            self.class_tries += 1
            try:
                media = await self._start_class(grant, lost)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: the room's media is through Janus
                why = str(exc) if isinstance(exc, MediaServerError) else repr(exc)
                logger.warning("the media server cannot be used now (%s): trying again "
                               "in %g s", why, pause)
            else:
                self.class_media = media
                self._spawn(self._retire_peers(media))
                pause = RETRY_FIRST
                reason = await lost
                if self.class_media is media:
                    self.class_media = None
                    await media.stop()
                self._class_gone()
                logger.warning("the media server went away (%s): trying again in %g s",
                               reason, pause)
            await asyncio.sleep(pause)
            pause = min(2 * pause, RETRY_MOST)

    async def _start_class(self, grant: ClassGrant, lost: asyncio.Future[str]) -> ClassMedia:
        # _class_receivers is not emptied here: a class media still retiring (the room
        # went peer to peer a moment ago) ends its own receivers as it stops.
        def on_lost(reason: str) -> None:
            if not lost.done():
                lost.set_result(reason)

        return await ClassMedia.start(
            grant, display=self._me.id, encoders=self.encoders,
            microphone=self.microphone, relay=self._relay,
            options=ClassOptions(
                ladders=tuple(self.config.ladders), tuned=not self.config.stock,
                start_layer=0 if self._me.role is Role.MENTOR else None,
                ice_servers=self.ice_servers),
            on_video=self._class_video, on_video_ended=self._class_video_ended,
            on_audio=self._class_audio, on_lost=on_lost)

    def _class_gone(self) -> None:
        """Forget what came through a Janus connection that ended."""
        for receiver in list(self._class_receivers):
            self._class_video_ended(receiver)

    async def _retire_peers(self, media: ClassMedia) -> None:
        """Close the peer-to-peer connections once pictures come through Janus."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + HANDOVER_SECONDS
        while loop.time() < deadline and not self._class_flowing():
            await asyncio.sleep(0.05)
        if self.class_media is media:
            for participant_id in list(self.peers):
                await self._drop_peer(participant_id)

    def _class_flowing(self) -> bool:
        watched = [r for r in self._class_receivers if r in self.receivers]
        return bool(watched) and all(r.stats.frames > 0 for r in watched)

    async def _back_to_peers(self, reason: str) -> None:
        was_class = self.class_media is not None or self.route == CLASS
        self.route = PEER  # peer-to-peer offers are answered from now on
        media = await self._release_class()
        if not was_class:
            if reason:
                self._emit("route", PEER, reason)
            return
        logger.info("media peer to peer again: %s", reason or "the server said so")
        self._emit("route", PEER, reason)
        if media is not None:  # its pictures go on until the peers' arrive
            self._spawn(self._retire_class(media))
        if self.link != "live":
            return
        for other in list(self.participants.values()):
            if not self._peer_alive(other.id) and offerer(self._me, other) == self._me.id:
                with contextlib.suppress(SignalingError):
                    await self._offer_to(other)

    def _peer_alive(self, participant_id: str) -> bool:
        """Whether our peer-to-peer connection with ``participant_id`` still carries media.
        One the other side closed already (the room came back before this side's
        :meth:`_retire_peers` did) is made again."""
        peer = self.peers.get(participant_id)
        return peer is not None and peer.pc.connectionState in ALIVE

    async def _retire_class(self, media: ClassMedia) -> None:
        """Leave Janus once the media flows peer to peer, at most
        :data:`BACK_HANDOVER_SECONDS` later (the server closes the Janus room soon
        after). Someone who publishes (a surgeon, a mentor who speaks) cannot see when
        the others' pictures and voice arrive peer to peer, so it stays that long."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + BACK_HANDOVER_SECONDS
        connected_at: float | None = None
        try:
            if media.publisher is not None:
                await asyncio.sleep(BACK_HANDOVER_SECONDS)
                return
            while loop.time() < deadline:
                if not self._peers_connected():
                    connected_at = None
                elif connected_at is None:
                    connected_at = loop.time()
                if (connected_at is not None and self._peer_pictures(media)
                        and loop.time() - connected_at >= PEER_FIRST_PICTURE):
                    break
                await asyncio.sleep(0.05)
        finally:  # also when the session closes meanwhile
            await media.stop()

    def _peers_connected(self) -> bool:
        """Every peer-to-peer connection made since the room left class mode is up."""
        peers = list(self.peers.values())
        return bool(peers) and all(p.pc.connectionState == "connected" for p in peers)

    def _peer_pictures(self, media: ClassMedia) -> bool:
        """What this participant watched through Janus now arrives peer to peer."""
        class_videos = {id(w.receiver) for feed in media.feeds.values()
                        for w in feed.sources.values() if w.receiver is not None}
        if not class_videos:
            return True  # watched no pictures (only voices): the connections being up do
        peer = [r for r in self.receivers if id(r) not in class_videos]
        return bool(peer) and all(r.stats.frames > 0 for r in peer)

    async def _release_class(self) -> ClassMedia | None:
        """Stop keeping Janus (no more tries); the media it carries now, still running."""
        keeper, self._class_keeper = self._class_keeper, None
        media, self.class_media, self._grant = self.class_media, None, None
        if keeper is not None:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await keeper
        return media

    async def _stop_class(self) -> None:
        media = await self._release_class()
        if media is not None:
            await media.stop()

    # -- what Janus brings ----------------------------------------------------------------

    def _class_video(self, receiver: VideoReceiver) -> None:
        self.freeze.watch_received(receiver)  # freeze stills, made from what arrives
        self._class_receivers.append(receiver)
        self.receivers.append(receiver)
        self._emit("video", receiver)

    def _class_video_ended(self, receiver: VideoReceiver) -> None:
        if receiver not in self._class_receivers:
            return  # told already (its Janus connection ended before its track did)
        self._class_receivers.remove(receiver)
        self.freeze.forget_received(receiver)
        if receiver in self.receivers:
            self.receivers.remove(receiver)
        self._emit("video-ended", receiver)

    def _class_audio(self, track: MediaStreamTrack, participant_id: str) -> None:
        info = self.participants.get(participant_id)
        if info is None:
            return
        self.voices[participant_id] = track
        self._emit("audio", self._voice_relay.subscribe(track), info)
