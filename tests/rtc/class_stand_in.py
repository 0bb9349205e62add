"""A stand-in for the media server, for tests of a room's move that run on 127.0.0.1.

Janus skips loopback interfaces for ICE, so media through a real Janus is tested in the
network lab only (tests/rtc/test_class_handover.py). Here a session's "class media" is
:class:`LocalClassMedia`: everything else of the move is the session's own code (its
``media-route`` handling, the make-before-break of both handovers, the ``video`` and
``video-ended`` events), given the server's ``media-route`` messages with :func:`route`.
"""

from __future__ import annotations

import asyncio

from surgery_teach.capture import SyntheticSource
from surgery_teach.media.raw_track import RawVideoTrack
from surgery_teach.media.receive import VideoReceiver
from surgery_teach.protocol.messages import MediaRoute
from surgery_teach.protocol.messages.classes import CLASS
from surgery_teach.rtc.class_media import ClassMedia, ClassOptions
from surgery_teach.rtc.class_watch import FeedSubscription
from surgery_teach.rtc.session import LiveSession

INTO_CLASS = MediaRoute("class", url="ws://127.0.0.1:9/janus", room=1, token="stand-in")
BACK_TO_PEERS = MediaRoute("peer", reason="class mode was turned off")


class LocalClassMedia(ClassMedia):
    """What a session receives "through the media server": each of ``sources`` on a
    receiver of its own, from ``publisher``, run by :class:`FeedSubscription`'s own receive
    loop as a subscription's are. The sources have the labels of the publisher's cameras;
    giving them another size (as a lower layer has) tells which path a picture came by."""

    def __init__(self, session: LiveSession, publisher: str,
                 sources: list[SyntheticSource]) -> None:
        super().__init__(None, ClassOptions(),  # type: ignore[arg-type]  (no Janus)
                         on_video=session._class_video,
                         on_video_ended=session._class_video_ended,
                         on_audio=session._class_audio, on_lost=lambda reason: None)
        self.tracks = [RawVideoTrack(source) for source in sources]
        for track, source in zip(self.tracks, sources, strict=True):
            receiver = VideoReceiver(track, label=source.label, participant=publisher,
                                     route=CLASS)
            self._spawn(FeedSubscription._receive(receiver, self._on_video,
                                                  self._on_video_ended))

    async def stop(self) -> None:
        self._stopped = True
        for track in self.tracks:
            track.stop()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def use_stand_in(session: LiveSession, publisher: str = "",
                 sources: list[SyntheticSource] | None = None) -> None:
    """From now on ``session`` reaches its media server as :class:`LocalClassMedia`,
    receiving ``sources`` from ``publisher`` there (call on the session's loop)."""
    async def start_class(grant: object, lost: object) -> ClassMedia:
        return LocalClassMedia(session, publisher, list(sources or []))

    session._start_class = start_class  # type: ignore[method-assign]


async def route(sessions: list[LiveSession], message: MediaRoute) -> None:
    """The server's ``media-route`` reaches each session, in the order given: the server
    sends them all at once, so each viewer has its own before an offer it causes."""
    for session in sessions:
        await session._on_route(message)
