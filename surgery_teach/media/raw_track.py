"""A source as a plain aiortc video track of raw frames, encoded by aiortc per viewer.

This is stock aiortc's way (one encoder per peer connection). The product sends through
:class:`~surgery_teach.media.encoder.SharedEncoder`; this track exists so benchmarks can
compare against the stock path in the same run.
"""

from __future__ import annotations

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from surgery_teach.capture.base import VideoSource
from surgery_teach.media.encoder import TIME_BASE, VIDEO_CLOCK


class RawVideoTrack(MediaStreamTrack):
    """``recv()`` returns the source's newest frame; a slow encoder skips frames."""

    kind = "video"

    def __init__(self, source: VideoSource) -> None:
        super().__init__()
        self.source = source
        self._last_seq = 0
        self._origin: float | None = None

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        frame = await self.source.slot.next_after(self._last_seq)
        if frame is None:
            self.stop()
            raise MediaStreamError
        self._last_seq = frame.seq
        if self._origin is None:
            self._origin = frame.captured_at
        image = frame.image
        image.pts = round((frame.captured_at - self._origin) * VIDEO_CLOCK)
        image.time_base = TIME_BASE
        return image
