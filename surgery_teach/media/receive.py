"""Consume a received video track: keep the newest decoded frame and count delivery."""

from __future__ import annotations

import logging
import time

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from surgery_teach.capture.base import CapturedFrame, FrameSlot
from surgery_teach.capture.frame_sei import read_frame_sei
from surgery_teach.capture.stamp import luma_of, read_stamp
from surgery_teach.media.frame_tap import ReceivedFrameTap
from surgery_teach.media.stats import ReceiveStats

logger = logging.getLogger(__name__)


class VideoReceiver:
    """Pulls decoded frames from a remote track as fast as they come.

    The newest frame waits in ``slot`` for whoever draws or records it; nothing queues.
    ``captured_at`` of a slot frame is the source's capture time as the picture's SEI
    names it (:mod:`.frame_sei`), else its pixel stamp's when readable, else the time it
    was decoded. ``encoded``, when the receive path is tuned, hands out
    the same pictures still encoded, as they arrived (for recording without re-encoding).
    ``route`` is the way it came (a session's ``peer`` or ``class``): while a room moves
    onto the media server or back, one source comes both ways for a moment.
    """

    def __init__(self, track: MediaStreamTrack, *, label: str, participant: str = "",
                 stamped: bool = False, encoded: ReceivedFrameTap | None = None,
                 route: str = "") -> None:
        self.track = track
        self.encoded = encoded
        self.label = label
        self.participant = participant
        self.route = route
        self.stamped = stamped
        self.slot = FrameSlot()
        self.stats = ReceiveStats(label=label, participant=participant)

    async def run(self) -> None:
        """Receive until the track ends."""
        try:
            while True:
                frame = await self.track.recv()
                if isinstance(frame, av.VideoFrame):
                    self._take(frame)
        except MediaStreamError:
            pass
        finally:
            self.slot.close()

    def _take(self, frame: av.VideoFrame) -> None:
        now = time.time()
        stamp = read_stamp(luma_of(frame)) if frame.format.name in ("yuv420p", "yuvj420p") else None
        pixels = (stamp.seq, stamp.captured_at) if stamp is not None else None
        named = read_frame_sei(frame)  # any camera: which captured frame this is
        # a stamped source's pictures are checked by their pixels (a broken picture has
        # no readable stamp); any other source's delay comes from its SEI
        self.stats.add(now=now, width=frame.width, height=frame.height,
                       stamp=pixels if self.stamped else pixels or named,
                       expect_stamp=self.stamped)
        captured_at = named[1] if named is not None else pixels[1] if pixels else now
        self.slot.put(CapturedFrame(image=frame, seq=self.stats.frames,
                                    captured_at=captured_at))
