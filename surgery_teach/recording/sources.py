"""Where a recorder's video comes from: already-encoded H.264 pictures with capture times.

A :class:`PacketSource` hands each encoded picture, as an
:class:`~surgery_teach.media.encoder.EncodedFrame`, to the recorder's sink on the loop
thread, without blocking and without re-encoding. Two kinds:

- :class:`EncoderPackets`: a :class:`SharedEncoder` of this computer's own source (the
  surgeon's laparoscope); the packets the viewers get, with their capture times.
- :class:`ReceivedPackets`: a video this computer *receives* (a mentor or trainee
  recording the surgeon's picture), taken from the receive path's frame tap
  (:class:`~surgery_teach.media.frame_tap.ReceivedFrameTap`) before decoding, so the file
  holds exactly the pictures that arrived. RTP timestamps become times on this
  computer's clock by their RTP timestamps (so network jitter does not shake the
  timeline), placed by the earliest arrival of the track's first half second (the
  first pictures of a connection often come late, in a burst). A received source can
  move to a new track of the same video (after a reconnect, or when the room moves onto
  the media server or back) and its file goes on: the old track is recorded until the
  new one brings its first keyframe, so a handover loses no picture the old path still
  delivers.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Protocol

import av

from surgery_teach.media.encoder import TIME_BASE, VIDEO_CLOCK, EncodedFrame, SharedEncoder
from surgery_teach.recording.tap import tap_encoder

logger = logging.getLogger("surgery_teach.recording")

RECENT_PICTURES = 30
"""Pictures remembered (by reference) so that a new track of the same encoder, which
lags the old one by a few pictures, does not write them twice."""
RESYNC_SECONDS = 1.0
"""A received picture whose RTP time strays this far from its arrival starts a new
mapping (the sender restarted its clock, or the link stalled)."""
SETTLE_SECONDS = 0.5
"""A track's first pictures are held this long (by arrival) before any is placed:
the earliest of them against the RTP clock places them all. The first pictures of a new
connection come late and in a burst (a queue at its start drains): placed by the first,
a mentor's file ran 0.13 s behind the surgeon's capture on a quiet machine, 0.5 s under
load, for the whole recording, with the marks and chat on time."""


class Subscription(Protocol):
    def stop(self) -> None: ...


class PacketSource(Protocol):
    """Encoded pictures the recorder can subscribe to.

    ``size()`` is the picture size if known now, else None (the recorder then reads it
    from the first keyframe). ``subscribe(sink)`` calls ``sink`` on the loop thread for
    each picture, starting soon with a keyframe; ``sink`` never blocks.
    """

    @property
    def fps(self) -> float: ...

    def size(self) -> tuple[int, int] | None: ...

    def subscribe(self, sink: Callable[[EncodedFrame], None]) -> Subscription: ...

    def request_keyframe(self) -> None: ...


class EncoderPackets:
    """A :class:`SharedEncoder` as a :class:`PacketSource`: no extra encode."""

    def __init__(self, encoder: SharedEncoder) -> None:
        self.encoder = encoder

    @property
    def fps(self) -> float:
        return float(self.encoder.source.fps)

    def size(self) -> tuple[int, int] | None:
        width, height = self.encoder.source.size
        settings = self.encoder.settings
        return settings.width or width, settings.height or height

    def subscribe(self, sink: Callable[[EncodedFrame], None]) -> Subscription:
        return tap_encoder(self.encoder, sink)

    def request_keyframe(self) -> None:
        self.encoder.request_keyframe()


def as_packet_source(source: SharedEncoder | PacketSource) -> PacketSource:
    return EncoderPackets(source) if isinstance(source, SharedEncoder) else source


class FrameTap(Protocol):
    """What :class:`ReceivedPackets` needs of a receive path's frame tap."""

    def subscribe(self, sink: Callable[[ReceivedFrameLike], None]) -> Callable[[], None]: ...

    def request_keyframe(self) -> None: ...


class ReceivedFrameLike(Protocol):
    data: bytes
    timestamp: int
    keyframe: bool
    arrived: float
    after_loss: bool


class ReceivedPackets:
    """A received video as a :class:`PacketSource`; :meth:`attach` it to a track's tap.

    ``size`` gives the decoded picture size when the viewer already knows it (None
    otherwise); ``fps`` is only a hint for the writer's queue.
    """

    def __init__(self, *, size: Callable[[], tuple[int, int] | None] = lambda: None,
                 fps: float = 30.0, settle_s: float = SETTLE_SECONDS) -> None:
        self._size = size
        self._fps = fps
        self._settle_s = settle_s
        self._held: list[tuple[ReceivedFrameLike, int]] = []  # (picture, unwrapped RTP ts)
        self._tap: FrameTap | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._next: FrameTap | None = None  # a new track, until its first keyframe
        self._unsubscribe_next: Callable[[], None] | None = None
        self._sink: Callable[[EncodedFrame], None] | None = None
        self._origin: tuple[float, int] | None = None  # (local time, unwrapped RTP ts)
        self._last_ts: int | None = None
        self._unwrapped = 0
        self._last_pts = -1
        self._recent: deque[bytes] = deque(maxlen=RECENT_PICTURES)
        self._catching_up = False  # a new track may repeat pictures the old one gave
        self._skipping = True
        self.frames = 0

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def tap(self) -> FrameTap | None:
        """The tap pictures come from now (None between tracks)."""
        return self._tap

    def size(self) -> tuple[int, int] | None:
        size = self._size()
        return size if size and size[0] > 0 and size[1] > 0 else None

    def attach(self, tap: FrameTap) -> None:
        """Take pictures from ``tap`` (a new track of this video) from now on; while the
        current track still delivers, from its first keyframe on."""
        if self._tap is not None and self._sink is not None and not self._skipping:
            self._drop_next()
            self._next = tap
            self._unsubscribe_next = tap.subscribe(self._on_next_frame)
            tap.request_keyframe()
            return
        self.detach()
        self._drop_next()
        self._use(tap)

    def _use(self, tap: FrameTap) -> None:
        self._tap = tap
        self._origin = None  # a new track has its own random RTP clock
        self._last_ts = None
        self._skipping = True
        if self._sink is not None:
            self._listen()

    def _on_next_frame(self, frame: ReceivedFrameLike) -> None:
        if not frame.keyframe or self._next is None:
            return
        tap = self._next
        self._drop_next()
        self.detach()
        self._tap = tap
        self._origin = None
        self._last_ts = None
        self._skipping = True
        self._unsubscribe = tap.subscribe(self._on_frame)
        self._catching_up = True
        self._on_frame(frame)

    def _drop_next(self) -> None:
        if self._unsubscribe_next is not None:
            self._unsubscribe_next()
            self._unsubscribe_next = None
        self._next = None

    def detach(self) -> None:
        """The track ended: wait for the next :meth:`attach` (the file stays open)."""
        self._settle()  # pictures held to place the first ones go in now
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._tap = None

    def release(self, tap: FrameTap) -> None:
        """``tap``'s track ended: stop taking pictures from it. A new track waiting for
        its first keyframe is the one recorded from then on."""
        if tap is self._next:
            self._drop_next()
        elif tap is self._tap:
            self.detach()
            if self._next is not None:
                waiting = self._next
                self._drop_next()
                self._use(waiting)

    def holds(self, tap: FrameTap) -> bool:
        """Whether pictures come, or are about to come, from ``tap``."""
        return tap is self._tap or tap is self._next

    def subscribe(self, sink: Callable[[EncodedFrame], None]) -> Subscription:
        self._sink = sink
        if self._tap is not None:
            self._listen()
        return self

    def stop(self) -> None:
        """End the recorder's subscription (pictures held to place a track's first ones
        go to the sink first, on detaching)."""
        self._drop_next()
        self.detach()
        self._sink = None

    def request_keyframe(self) -> None:
        if self._tap is not None:
            self._tap.request_keyframe()

    def _listen(self) -> None:
        assert self._tap is not None
        self._unsubscribe = self._tap.subscribe(self._on_frame)
        self._tap.request_keyframe()  # start the file within moments

    def _on_frame(self, frame: ReceivedFrameLike) -> None:
        sink = self._sink
        if sink is None:
            return
        if frame.after_loss and not frame.keyframe:
            # It may refer to a picture that never arrived: wait for the next keyframe.
            if not self._skipping:
                self._skipping = True
                self.request_keyframe()
        if self._skipping and not frame.keyframe:
            return
        self._skipping = False
        unwrapped = self._unwrap(frame.timestamp)
        if self._origin is None:  # a new track: place its start by its best arrival
            self._held.append((frame, unwrapped))
            if frame.arrived - self._held[0][0].arrived >= self._settle_s:
                self._settle()
            return
        self._write(frame, self._place(unwrapped, frame.arrived))

    def _settle(self) -> None:
        """Place the held first pictures by the earliest arrival against their RTP clock
        and write them."""
        held, self._held = self._held, []
        if not held:
            return
        base = held[0][1]
        self._origin = (min(f.arrived - (u - base) / VIDEO_CLOCK for f, u in held), base)
        for frame, unwrapped in held:  # none later than it arrived: no resync here
            self._write(frame, self._origin[0] + (unwrapped - base) / VIDEO_CLOCK)

    def _write(self, frame: ReceivedFrameLike, captured_at: float) -> None:
        sink = self._sink
        if sink is None:
            return
        if self._catching_up:
            if frame.data in self._recent:
                return  # the old track gave this picture already (the new one lags)
            self._catching_up = False
        pts = max(round(captured_at * VIDEO_CLOCK), self._last_pts + 1)
        self._last_pts = pts
        self._recent.append(frame.data)
        packet = av.Packet(frame.data)
        packet.pts = packet.dts = pts
        packet.time_base = TIME_BASE
        packet.is_keyframe = frame.keyframe
        self.frames += 1
        sink(EncodedFrame(packet, frame.keyframe, self.frames, captured_at))

    def _unwrap(self, timestamp: int) -> int:
        """This picture's RTP timestamp counted on from the track's first (no wrap)."""
        if self._last_ts is not None:
            step = (timestamp - self._last_ts) & 0xFFFFFFFF
            if step >= 1 << 31:  # went back (reordered) rather than forward
                step -= 1 << 32
            self._unwrapped += step
        else:
            self._unwrapped = 0
        self._last_ts = timestamp
        return self._unwrapped

    def _place(self, unwrapped: int, arrived: float) -> float:
        """A picture's time on the local clock, from its unwrapped RTP timestamp."""
        if self._origin is not None:
            placed = self._origin[0] + (unwrapped - self._origin[1]) / VIDEO_CLOCK
            if abs(placed - arrived) <= RESYNC_SECONDS:
                return placed
            logger.info("received video: RTP time strayed %.1f s; resynchronised",
                        placed - arrived)
        self._origin = (arrived, unwrapped)
        return arrived


def picture_size(keyframe: bytes) -> tuple[int, int] | None:
    """The size of an H.264 keyframe (Annex-B with SPS/PPS), by decoding it; None if not."""
    try:
        codec = av.CodecContext.create("h264", "r")
        codec.thread_count = 1  # no frame threading: the picture comes out at once
        packet = av.Packet(keyframe)
        frames = [*codec.decode(packet), *codec.decode(None)]
    except (av.FFmpegError, ValueError) as exc:
        logger.warning("cannot read the picture size from a keyframe: %s", exc)
        return None
    if not frames:
        return None
    frame = frames[0]
    return frame.width, frame.height  # type: ignore[union-attr]
