"""Every source at several layers, and one viewer's track that moves between them.

A source is published at up to three layers (:mod:`.ladder`): the top one is the encoder
the caller made (the recording keeps it), the lower ones are made from the same captured
frames the first time a viewer needs them, each a :class:`SharedEncoder` of its own that
encodes only while someone receives it, with x264 settings chosen for its size
(:mod:`.layer_settings`). All layers of a source share one media clock, so
a viewer can move from one to another on one RTP stream.

:class:`LayeredTrack` is what one viewer's peer connection sends: packets of one layer at
a time. :meth:`LayeredTrack.switch` subscribes to the target layer (asking it for a
keyframe); the track moves over at that keyframe, never mid-picture, and drops the old
subscription, so an unused layer stops encoding.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from surgery_teach.media.encoder import (
    EncodedFrame,
    EncodedTrack,
    SharedEncoder,
    default_bitrate,
)
from surgery_teach.media.ladder import Layer, ladder_for
from surgery_teach.media.layer_settings import lower_layer_settings

logger = logging.getLogger(__name__)

Level = tuple[int, int]
"""A layer index (0 is the top) and a frame-rate divisor (1 is the full rate)."""


def top_layer_of(encoder: SharedEncoder) -> tuple[int, int, int]:
    """The width, height and bitrate the caller's encoder sends (its settings, else the
    source's own size)."""
    settings = encoder.settings
    width, height = (settings.width, settings.height) if settings.width and settings.height \
        else encoder.source.size
    return width, height, settings.bitrate or default_bitrate(width, height)


class LayeredSource:
    """The layers of one source: the caller's top encoder and lower ones made on demand."""

    def __init__(self, top: SharedEncoder, ladder: tuple[Layer, ...] | None = None) -> None:
        self.top = top
        if ladder is None:
            width, height, bitrate = top_layer_of(top)
            ladder = ladder_for(width, height, top.source.fps, top_bitrate=bitrate)
        self.ladder = ladder
        self._encoders: dict[Level, SharedEncoder] = {(0, 1): top}

    @property
    def label(self) -> str:
        return self.top.label

    def encoder(self, level: Level) -> SharedEncoder:
        """The encoder for ``level``, made and started the first time it is asked for
        (on the loop thread)."""
        found = self._encoders.get(level)
        if found is None:
            layer_index, divisor = level
            layer = self.ladder[layer_index]
            found = SharedEncoder(
                self.top.source, lower_layer_settings(layer, divisor, self.top.settings),
                clock=self.top.clock)
            found.start()
            self._encoders[level] = found
            logger.info("layer %s of %s started (every %d. frame)", layer.name, self.label,
                        divisor)
        return found

    def name(self, level: Level) -> str:
        layer_index, divisor = level
        layer = self.ladder[layer_index]
        return layer.slowed(divisor).name if divisor > 1 else layer.name

    @property
    def running(self) -> dict[Level, SharedEncoder]:
        """The encoders made so far, by level (the top one always)."""
        return dict(self._encoders)

    def stop(self) -> None:
        """Stop the lower layers' encoders (the caller owns the top one)."""
        for level, encoder in list(self._encoders.items()):
            if level != (0, 1):
                encoder.stop()
        self._encoders = {(0, 1): self.top}


class LayeredTrack(MediaStreamTrack):
    """One viewer's copy of a source, at one layer at a time; ``recv()`` returns packets.

    ``on_switched(level)`` is called (on the loop) when the track has moved to a new
    layer, i.e. when that layer's keyframe was handed to the sender.
    """

    kind = "video"

    def __init__(self, source: LayeredSource, level: Level = (0, 1), *,
                 on_switched: Callable[[Level], None] = lambda level: None) -> None:
        super().__init__()
        self.source = source
        self._ready = asyncio.Event()
        self.level = level
        self._current = self._subscribe(level)
        self._pending: EncodedTrack | None = None
        self.pending_level: Level | None = None
        self._on_switched = on_switched
        self._last_seq = -1
        self._last_pts = -1
        self.switches = 0

    @property
    def label(self) -> str:
        return self.source.label

    @property
    def switching(self) -> bool:
        return self._pending is not None

    def _subscribe(self, level: Level) -> EncodedTrack:
        encoder = self.source.encoder(level)
        return encoder.subscribe(EncodedTrack(encoder, self._ready))

    def switch(self, level: Level) -> None:
        """Move to ``level`` at its next keyframe (asked for now); a later call replaces
        a switch still waiting."""
        if level == self.level:
            self._drop_pending()
            return
        if level == self.pending_level:
            return
        self._drop_pending()
        self.pending_level = level
        self._pending = self._subscribe(level)
        # the viewer waits for this keyframe (after a failed move up, showing nothing)
        self._pending.encoder.request_keyframe(urgent=True)

    def request_keyframe(self) -> None:
        """The viewer lost a picture (PLI/FIR): ask the layer it is on (or moving to)."""
        (self._pending or self._current).request_keyframe()

    def _drop_pending(self) -> None:
        pending, self._pending, self.pending_level = self._pending, None, None
        if pending is not None:
            pending.stop()

    def _next(self) -> EncodedFrame | None:
        pending = self._pending
        if pending is not None and pending.peek() is None and pending.encoder.keyframe_due():
            # the target layer's keyframe of the next picture is on its way: wait for it
            # (one frame's encoding) rather than send that picture from the old layer,
            # which would put the switch's keyframe behind it, out of order
            return None
        if pending is not None and pending.peek() is not None:
            old, self._current = self._current, pending
            self.level, self._pending, self.pending_level = self.pending_level or self.level, \
                None, None
            old.stop()
            self.switches += 1
            self._on_switched(self.level)
        while (frame := self._current.take()) is not None:
            if frame.seq > self._last_seq or frame.keyframe:
                return frame
            # the old layer already sent this picture: a repeat would confuse the stream
        return None

    def _packet(self, frame: EncodedFrame) -> av.Packet:
        packet = frame.packet
        if packet.pts is not None and packet.pts <= self._last_pts:
            # a new layer's keyframe of a picture the old layer already sent: same
            # moment, so the same timestamp would merge two pictures at the receiver
            copy = av.Packet(bytes(packet))
            copy.pts = copy.dts = self._last_pts + 1
            copy.time_base = packet.time_base
            packet = copy
        self._last_seq = max(self._last_seq, frame.seq)
        self._last_pts = packet.pts if packet.pts is not None else self._last_pts
        return packet

    async def recv(self) -> av.Packet:
        while True:
            frame = self._next()
            if frame is not None:
                return self._packet(frame)
            if self.readyState != "live":
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()

    def stop(self) -> None:
        super().stop()
        self._drop_pending()
        self._current.stop()
        self._ready.set()
