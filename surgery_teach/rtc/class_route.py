"""Class mode for a live session: media through the Janus media server instead of peer to
peer, when the signaling server routes the room there (``media-route``).

On ``"mode":"class"`` the session starts :class:`~.class_media.ClassMedia` with the
grant (publishing its sources' layers once, watching everyone else's) and keeps its
peer-to-peer connections until pictures arrive through Janus (at most
:data:`HANDOVER_SECONDS`), so the picture does not stop while the paths change. Meanwhile
and afterwards no new peer-to-peer connection is made. On ``"mode":"peer"`` (or when
Janus goes away) it leaves Janus and connects peer to peer again.
:class:`~surgery_teach.rtc.session.LiveSession` mixes this in; the attributes it reads are
the session's, declared below.
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
from surgery_teach.rtc.peer import offerer
from surgery_teach.rtc.session_config import Peer, SessionConfig

if TYPE_CHECKING:
    from collections.abc import Awaitable

logger = logging.getLogger(__name__)

PEER = "peer"
CLASS = "class"
HANDOVER_SECONDS = 3.0
"""Longest the peer-to-peer connections stay up after class mode began, waiting for the
first pictures through Janus (a surgeon who watches nobody waits this long)."""


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
    _grant: ClassGrant | None = None
    _class_receivers: list[VideoReceiver]

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
        if self.class_media is not None and self._grant == grant:
            return
        await self._stop_class()
        self._class_receivers = []
        try:
            media = await ClassMedia.start(
                grant, display=self._me.id, encoders=self.encoders,
                microphone=self.microphone, relay=self._relay,
                options=ClassOptions(
                    ladders=tuple(self.config.ladders), tuned=not self.config.stock,
                    start_layer=0 if self._me.role is Role.MENTOR else None,
                    ice_servers=self.ice_servers),
                on_video=self._class_video, on_video_ended=self._class_video_ended,
                on_audio=self._class_audio, on_lost=self._class_lost)
        except Exception as exc:  # any failure: the media must go on somehow
            logger.warning("class mode failed, peer to peer instead: %s", exc)
            await self._back_to_peers(f"the media server could not be used ({exc})"
                                      if isinstance(exc, MediaServerError) else
                                      "the media server could not be used")
            return
        self.class_media, self._grant, self.route = media, grant, CLASS
        logger.info("media through the media server now")
        self._emit("route", CLASS, "")
        self._spawn(self._retire_peers(media))

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
        await self._stop_class()
        self.route = PEER
        if not was_class:
            if reason:
                self._emit("route", PEER, reason)
            return
        logger.info("media peer to peer again: %s", reason or "the server said so")
        self._emit("route", PEER, reason)
        if self.link != "live":
            return
        for other in list(self.participants.values()):
            if other.id not in self.peers and offerer(self._me, other) == self._me.id:
                with contextlib.suppress(SignalingError):
                    await self._offer_to(other)

    async def _stop_class(self) -> None:
        media, self.class_media, self._grant = self.class_media, None, None
        if media is not None:
            await media.stop()

    # -- what Janus brings ----------------------------------------------------------------

    def _class_video(self, receiver: VideoReceiver) -> None:
        self.freeze.watch_received(receiver)  # freeze stills, made from what arrives
        self._class_receivers.append(receiver)
        self.receivers.append(receiver)
        self._emit("video", receiver)

    def _class_video_ended(self, receiver: VideoReceiver) -> None:
        self.freeze.forget_received(receiver)
        if receiver in self._class_receivers:
            self._class_receivers.remove(receiver)
        if receiver in self.receivers:
            self.receivers.remove(receiver)
        self._emit("video-ended", receiver)

    def _class_audio(self, track: MediaStreamTrack, participant_id: str) -> None:
        info = self.participants.get(participant_id)
        if info is None:
            return
        self.voices[participant_id] = track
        self._emit("audio", self._voice_relay.subscribe(track), info)

    def _class_lost(self, reason: str) -> None:
        logger.warning("the media server went away (%s): back to peer to peer", reason)
        self._spawn(self._back_to_peers(f"the media server went away: {reason}"))
