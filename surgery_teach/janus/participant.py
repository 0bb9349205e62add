"""A participant of a class room on the media server: join, publish, subscribe, switch.

The client side of Janus's VideoRoom, with SDP as text so that any WebRTC stack fits
(aiortc in the desktop client): :meth:`ClassParticipant.publish` takes the offer of one
peer connection with one video m-line per layer and returns Janus's answer;
:meth:`ClassParticipant.subscribe` returns Janus's offer for the chosen streams, which the
caller answers with :meth:`Subscription.start`; :meth:`Subscription.switch` then moves an
m-line to another layer without a new offer.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from typing import Any

from surgery_teach.errors import MediaServerError, MediaServerUnavailableError
from surgery_teach.janus import videoroom
from surgery_teach.janus.messages import VIDEOROOM, Credentials, answer_sdp, jsep, plugin_data
from surgery_teach.janus.session import REQUEST_TIMEOUT, JanusSession, PluginHandle
from surgery_teach.janus.videoroom import Joined, Publisher, StreamChoice, StreamDescription


class Subscription:
    """A subscriber handle: one peer connection receiving the chosen streams."""

    def __init__(self, handle: PluginHandle, offer_sdp: str, streams: list[dict[str, Any]]
                 ) -> None:
        self.handle = handle
        self.offer_sdp = offer_sdp
        """Janus's offer; answer it with :meth:`start`."""
        self.streams = streams
        """Janus's description of each subscriber m-line (``mid``, ``feed_id``, ``feed_mid``)."""

    async def start(self, answer: str) -> None:
        await self.handle.request(videoroom.start(), jsep=jsep("answer", answer))

    async def switch(self, changes: Sequence[StreamChoice]) -> None:
        """Carry other publisher streams on existing m-lines (same codec; no new offer).
        Janus asks the new source for a keyframe."""
        await self.handle.request(videoroom.switch(changes))

    async def pause(self, mids: dict[str, bool]) -> None:
        """Stop (False) or resume (True) receiving the given m-lines."""
        await self.handle.request(videoroom.pause_streams(mids))

    async def close(self) -> None:
        await self.handle.detach()


class ClassParticipant:
    """One participant's Janus session in one class room (create with :meth:`join`)."""

    def __init__(self, session: JanusSession, handle: PluginHandle, token: str,
                 joined: Joined) -> None:
        self.session = session
        self.handle = handle
        self.joined = joined
        self._token = token
        self._publishers = {p.feed_id: p for p in joined.publishers}

    @classmethod
    async def join(cls, url: str, token: str, room_id: int, display: str, *,
                   timeout: float = REQUEST_TIMEOUT) -> ClassParticipant:
        """Connect with ``token`` and join ``room_id`` as a participant.

        MediaServerUnavailableError when Janus cannot be reached; MediaServerRefusedError
        (403, 433...) when the token is not accepted for this room.
        """
        session = await JanusSession.connect(url, Credentials(token=token), timeout=timeout)
        try:
            handle = await session.attach(VIDEOROOM, timeout=timeout)
            reply = await handle.request(videoroom.join_as_publisher(room_id, display, token),
                                         timeout=timeout)
            joined = videoroom.read_joined(plugin_data(reply))
        except BaseException:
            await session.close()
            raise
        return cls(session, handle, token, joined)

    @property
    def feed_id(self) -> int:
        return self.joined.feed_id

    async def publish(self, offer: str, descriptions: Sequence[StreamDescription] = (), *,
                      bitrate: int | None = None, timeout: float = REQUEST_TIMEOUT) -> str:
        """Publish the peer connection whose SDP offer is ``offer``; return Janus's answer."""
        reply = await self.handle.request(videoroom.publish(descriptions, bitrate=bitrate),
                                          jsep=jsep("offer", offer), timeout=timeout)
        return answer_sdp("publish", reply, "answer")

    async def wait_for_publisher(self, timeout: float,
                                 accept: Callable[[Publisher], bool] = lambda p: True,
                                 ) -> Publisher:
        """A publisher with media flowing (one already there, or the next to start);
        subscribing before that is refused with 428."""
        deadline = time.monotonic() + timeout
        while True:
            for publisher in self._publishers.values():
                if publisher.feed_id != self.feed_id and accept(publisher):
                    return publisher
            left = deadline - time.monotonic()
            if left <= 0:
                raise MediaServerUnavailableError(
                    f"no publisher started in the media-server room within {timeout:g} s",
                    self.session.url)
            event = await self.handle.next_event(left)
            if event.get("janus") == "closed":
                raise MediaServerUnavailableError(
                    f"the media server connection ended ({event.get('reason')})",
                    self.session.url)
            data = plugin_data(event)
            for publisher in videoroom.read_publishers(data.get("publishers")):
                self._publishers[publisher.feed_id] = publisher
            for key in ("unpublished", "leaving"):
                if isinstance(data.get(key), int):
                    self._publishers.pop(data[key], None)

    async def subscribe(self, streams: Sequence[StreamChoice], *,
                        timeout: float = REQUEST_TIMEOUT) -> Subscription:
        """A new subscriber handle for ``streams``, with Janus's SDP offer to answer."""
        handle = await self.session.attach(VIDEOROOM, timeout=timeout)
        try:
            reply = await handle.request(
                videoroom.join_as_subscriber(self.joined.room_id, self.joined.private_id,
                                             self._token, streams), timeout=timeout)
        except BaseException:
            with contextlib.suppress(MediaServerError):
                await handle.detach()
            raise
        data = plugin_data(reply)
        described = data.get("streams")
        return Subscription(handle, answer_sdp("join", reply, "offer"),
                            described if isinstance(described, list) else [])

    async def leave(self) -> None:
        """Leave the room and end the session (its peer connections hang up)."""
        await self.session.close()
