"""Received pictures, still encoded, for whoever records them: one tap per remote track.

The receive path (:mod:`surgery_teach.rtc.aiortc_tuning`) publishes each complete H.264
access unit here; a recorder subscribes and writes it without re-encoding.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

_IDR_NAL = 5


@dataclass(frozen=True)
class ReceivedFrame:
    """One complete encoded picture as received: what a recorder writes, undecoded.

    ``data`` is the H.264 access unit in Annex-B form (4-byte start codes), ``timestamp``
    its RTP timestamp (90 kHz, wraps at 2**32, random origin), ``arrived`` the local
    ``time.time()`` when it was complete. ``after_loss``: packets were lost since the
    previous frame, so this one may refer to a picture that never arrived.
    """

    data: bytes
    timestamp: int
    keyframe: bool
    arrived: float
    after_loss: bool = False


def is_keyframe(data: bytes) -> bool:
    """Whether an Annex-B H.264 access unit holds an IDR picture (a decoder can start)."""
    at = data.find(b"\x00\x00\x01")
    while 0 <= at < len(data) - 3:
        if data[at + 3] & 0x1F == _IDR_NAL:
            return True
        at = data.find(b"\x00\x00\x01", at + 3)
    return False


class ReceivedFrameTap:
    """Hands each received picture of one remote video track to its subscribers.

    Called on the asyncio loop, in the receiver's packet handler, so a sink must not
    block: queue the frame (a recorder's writer thread) and return. :meth:`request_keyframe`
    asks the sender for a keyframe (RTCP PLI), so a recording that starts mid-stream
    begins within moments rather than at the next periodic keyframe.
    """

    def __init__(self, request_keyframe: Callable[[], None] = lambda: None) -> None:
        self._sinks: list[Callable[[ReceivedFrame], None]] = []
        self._request_keyframe = request_keyframe
        self._lost = False
        self.frames = 0

    def subscribe(self, sink: Callable[[ReceivedFrame], None]) -> Callable[[], None]:
        """Call ``sink`` with every frame from now on; returns the unsubscribe function."""
        self._sinks.append(sink)

        def unsubscribe() -> None:
            if sink in self._sinks:
                self._sinks.remove(sink)

        return unsubscribe

    def request_keyframe(self) -> None:
        self._request_keyframe()

    def lost(self) -> None:
        """Packets were lost: the next frame is marked ``after_loss``."""
        self._lost = True

    def publish(self, data: bytes, timestamp: int) -> None:
        self.frames += 1
        if not self._sinks:
            self._lost = False
            return
        frame = ReceivedFrame(data, timestamp, is_keyframe(data), time.time(), self._lost)
        self._lost = False
        for sink in list(self._sinks):
            try:
                sink(frame)
            except Exception:  # a recorder's fault must not stop the picture
                logger.exception("a received-frame sink failed")
