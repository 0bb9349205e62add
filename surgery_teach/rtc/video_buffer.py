"""The video jitter buffer a viewer uses instead of aiortc's (see :mod:`.aiortc_tuning`).

It releases a picture as soon as its marker packet is in, gives up on a hole after
:data:`HOLE_WAIT`, and jumps over everything waiting behind a hole as soon as a complete
keyframe has arrived after it: pictures before a keyframe are of no use once it is in, so
a viewer recovering from a burst of loss (a failed move to a better layer, a full link)
shows the keyframe at once instead of waiting out every hole in front of it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtp import RtpPacket
from aiortc.utils import uint16_add

from surgery_teach.media.frame_tap import ReceivedFrameTap, is_keyframe

__all__ = ["HOLE_WAIT", "MarkerJitterBuffer"]

# A hole in the video (a packet lost and not yet resent) blocks every later picture.
# Stock aiortc waits until 512 packets pile up behind it: 2 s at 2.5 Mbit/s, over 10 s
# for a small layer on a weak link. Give up on a hole after this long instead (a resend
# takes about one round trip, and a lost resend is asked for again at the next loss),
# drop the broken pictures until a keyframe and ask for one.
HOLE_WAIT = 0.4
# aiortc's receiver NACKs missing packets only when it notices a new loss, so a lost
# resend waits for the next loss (~140 ms at 3 % of a 720p stream, seconds on a small
# layer): while a hole blocks pictures, ask for what is missing again this often.
ASK_AGAIN_GAP = 0.04
ASK_AGAIN_MAX = 64  # sequence numbers in one NACK
# A packet up to this far behind the first one waiting was released or given up on
# already: dropped (farther behind, aiortc's buffer takes it as the stream starting over).
LATE_WINDOW = 1000


class MarkerJitterBuffer(JitterBuffer):
    """A video jitter buffer that releases a frame as soon as its marker packet is in,
    gives up on a missing packet after :data:`HOLE_WAIT` rather than 512 packets, and
    after any picture it gave up on passes nothing on until the next keyframe (a picture
    built on a missing one is smeared: better a short freeze than a wrong picture).

    Every frame it releases also goes to :attr:`tap` (for recording). With
    :attr:`deliver` set it hands every complete frame to the decoder itself: stock
    aiortc takes at most one frame out per packet, so frames that completed behind a hole
    (once filled or skipped) would leave one per later packet, and the delay of every
    repaired loss would stay for good.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tap = ReceivedFrameTap()
        self.ssrc: int | None = None
        self.holes_skipped = 0
        self.frames_dropped = 0  # complete but unusable: waiting for a keyframe
        self._blocked_since: float | None = None
        self._await_keyframe = False
        self.keyframe_jumps = 0  # holes left behind because a keyframe after them was in
        self.late = 0  # packets that came after their picture was released or given up
        #: Hands a complete frame to the decoder directly (see the class doc); None: stock.
        self.deliver: Callable[[RtpPacket, JitterFrame], None] | None = None
        #: Sends a NACK for ``(ssrc, sequence numbers)`` once more (a resend was lost).
        self.ask_again: Callable[[int, list[int]], None] = lambda ssrc, seqs: None
        self.asked_again = 0
        self._asked_at = 0.0
        #: Told the last sequence number given up on, so it is no longer asked for.
        self.on_skipped: Callable[[int], None] = lambda seq: None

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        """Take ``packet``; ``(ask for a keyframe, the frame to decode or None)``."""
        self.ssrc = packet.ssrc
        if self._origin is not None and 0 < uint16_add(self._origin,
                                                       -packet.sequence_number) < LATE_WINDOW:
            self.late += 1  # released or given up on already (a late resend, a duplicate)
            return False, None
        lost, frame = super().add(packet)
        if frame is None and packet.marker and self._jump_to_keyframe(packet):
            # the pictures before it are gone, but the keyframe is here: the recording
            # hears of the gap, the sender is asked for nothing
            self.tap.lost()
            frame = self._remove_frame(packet.sequence_number)
        if frame is None and self._waiting_behind_hole(packet):
            now = time.monotonic()
            if self._blocked_since is None:
                self._blocked_since = self._asked_at = now
            elif now - self._blocked_since >= HOLE_WAIT:
                self._skip_hole()
                lost = True
                frame = self._remove_frame(packet.sequence_number)
            elif now - self._asked_at >= ASK_AGAIN_GAP:
                self._asked_at = now
                missing = self._missing(packet.sequence_number)
                if missing:
                    self.asked_again += 1
                    self.ask_again(packet.ssrc, missing)
        if frame is not None:
            self._blocked_since = None
        if lost:  # gave up on missing packets: everything until a keyframe is broken
            self._await_keyframe = True
            self.tap.lost()
        usable: list[JitterFrame] = []
        while frame is not None:
            if self._await_keyframe and not is_keyframe(frame.data):
                self.frames_dropped += 1
            else:
                self._await_keyframe = False
                self.tap.publish(frame.data, frame.timestamp)
                usable.append(frame)
                if self.deliver is None:
                    break  # stock: one frame per packet
            frame = self._remove_frame(packet.sequence_number)
        if self.deliver is None:
            return lost, usable[0] if usable else None
        for complete in usable:
            self.deliver(packet, complete)
        return lost, None

    def _missing(self, newest: int) -> list[int]:
        """Sequence numbers not yet in, from the first in line up to ``newest``."""
        assert self._origin is not None
        span = min(uint16_add(newest, -self._origin), self.capacity)
        return [uint16_add(self._origin, i) for i in range(span)
                if self._packets[(self._origin + i) % self.capacity] is None][:ASK_AGAIN_MAX]

    def _waiting_behind_hole(self, packet: RtpPacket) -> bool:
        """Whether ``packet`` belongs to a later picture than the incomplete one first in
        line (so it waits behind a hole)."""
        if self._origin is None:
            return False
        for count in range(self.capacity):
            first = self._packets[(self._origin + count) % self.capacity]
            if first is not None:
                return first.timestamp != packet.timestamp
        return False

    def _jump_to_keyframe(self, packet: RtpPacket) -> bool:
        """If ``packet`` completes a keyframe that waits behind a hole, drop everything
        before it (nothing before a keyframe is needed once it is in) and say so."""
        if self._origin is None:
            return False
        end = uint16_add(packet.sequence_number, -self._origin)
        if not 0 < end < self.capacity:
            return False
        start = end
        while start > 0:
            before = self._packets[(self._origin + start - 1) % self.capacity]
            if before is None or before.timestamp != packet.timestamp:
                break
            start -= 1
        if start == 0:
            return False  # first in line: it goes out the normal way
        first = self._packets[(self._origin + start) % self.capacity]
        before = self._packets[(self._origin + start - 1) % self.capacity]
        clean_start = (before is not None and before.marker) or _starts_access_unit(first)
        if not clean_start:
            return False
        data = b"".join(self._packets[(self._origin + i) % self.capacity]._data  # type: ignore[union-attr]
                        for i in range(start, end + 1))
        if not is_keyframe(data):
            return False
        self.remove(start)
        self.holes_skipped += 1
        self.keyframe_jumps += 1
        self._blocked_since = None
        self.on_skipped(uint16_add(self._origin, -1))
        return True

    def _skip_hole(self) -> None:
        """Drop what waits before the first picture that starts cleanly: one whose first
        packet follows the marker packet of the picture before it."""
        assert self._origin is not None
        previous: RtpPacket | None = None
        for count in range(self.capacity):
            packet = self._packets[(self._origin + count) % self.capacity]
            if (packet is not None and previous is not None and previous.marker
                    and previous.timestamp != packet.timestamp):
                self.remove(count)
                break
            previous = packet
        else:
            self.remove(self.capacity)
        self.holes_skipped += 1
        self._blocked_since = None
        if self._origin is not None:
            self.on_skipped(uint16_add(self._origin, -1))

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        assert self._origin is not None
        packets: list[RtpPacket] = []
        timestamp: int | None = None
        for count in range(self.capacity):
            packet = self._packets[(self._origin + count) % self.capacity]
            if packet is None:
                return None
            if timestamp is None:
                timestamp = packet.timestamp
            elif packet.timestamp != timestamp:
                # The previous frame ended without a marker: release it as stock would.
                self.remove(count)
                return _join(packets, timestamp)
            packets.append(packet)
            if packet.marker:
                self.remove(count + 1)
                return _join(packets, timestamp)
        return None


def _join(packets: list[RtpPacket], timestamp: int) -> JitterFrame:
    return JitterFrame(data=b"".join(p._data for p in packets), timestamp=timestamp)  # type: ignore[attr-defined]


_SPS, _AUD = 7, 9


def _starts_access_unit(packet: RtpPacket | None) -> bool:
    """Whether ``packet`` (depacketised Annex-B) opens a picture: a keyframe's first
    packet starts with its sequence parameter set (or an access unit delimiter)."""
    data: bytes = getattr(packet, "_data", b"")
    for prefix in (b"\x00\x00\x00\x01", b"\x00\x00\x01"):
        if data.startswith(prefix) and len(data) > len(prefix):
            return data[len(prefix)] & 0x1F in (_SPS, _AUD)
    return False
