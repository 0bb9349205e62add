"""Trying a viewer's link before moving it up a layer: padding, not pictures.

Moving a viewer up a layer to find out whether its link carries it costs a freeze when it
does not: the better layer's keyframe and pictures are lost in the full link, and the
viewer shows nothing until it is back on the old layer and a keyframe of that has come
through a queue still full of the failed attempt (1.3–1.4 s measured on a 1.5 Mbit/s
link). So the publisher first sends that viewer the *extra* bitrate the better layer
needs as padding — resends of the packets it has just sent, which the viewer's jitter
buffer discards as duplicates — for :data:`PROBE_SECONDS`, ramping up over the first
:data:`RAMP_SECONDS`, and moves it up only if its
pictures kept arriving meanwhile (no burst of NACKs, no jump in round trip or loss). A
failed probe costs at most a few resent packets of the layer the viewer keeps; it is
stopped at the first sign of trouble.

The padding goes out as RTX (when negotiated, as :func:`~.peer.prefer_h264` keeps it),
so it never counts in the media stream's loss statistics; only duplicates of the newest
:data:`RECENT_PACKETS` packets are sent, well within the receiver's misorder window.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiortc.rtp import RTP_HISTORY_SIZE, RtpPacket
from aiortc.utils import uint16_add

logger = logging.getLogger(__name__)

__all__ = ["PROBE_HEADROOM", "PROBE_SECONDS", "LinkProbe", "newest_packets"]

PROBE_SECONDS = 1.5
"""How long a link is tried (a 100 ms queue in front of a link that cannot carry the rate
overflows within a few hundred ms of reaching it)."""
RAMP_SECONDS = 0.75
"""The padding grows from nothing to its full rate over this long, so a link (or a shared
upload) that cannot carry it overflows gently and the first NACKs stop it before the
viewers lose more than a few packets."""
PROBE_HEADROOM = 1.15
"""Padding brings what the viewer gets to this share of the better layer's bitrate
(keyframes and repairs need room above the average)."""
PROBE_TICK = 0.01
RECENT_PACKETS = 4
# Bytes a padding packet takes on the wire beyond its payload: RTP header and the original
# sequence number (14), header extensions, SRTP tag, UDP and IP (~50).
RTX_OVERHEAD = 64
CATCH_UP_TICKS = 2  # after a stalled loop, send at most this many ticks' worth at once
KEPT_SHARE = 0.8


def newest_packets(history: dict[int, RtpPacket], count: int) -> list[RtpPacket]:
    """The ``count`` most recently sent packets of an aiortc sender's history (keyed by
    sequence number modulo :data:`RTP_HISTORY_SIZE`), oldest first."""
    newest: RtpPacket | None = None
    for packet in history.values():
        after = history.get(uint16_add(packet.sequence_number, 1) % RTP_HISTORY_SIZE)
        if after is None or after.sequence_number != uint16_add(packet.sequence_number, 1):
            if newest is None or _newer(packet.sequence_number, newest.sequence_number):
                newest = packet
    if newest is None:
        return []
    packets = []
    for back in range(count - 1, -1, -1):
        seq = uint16_add(newest.sequence_number, -back)
        packet = history.get(seq % RTP_HISTORY_SIZE)
        if packet is not None and packet.sequence_number == seq:
            packets.append(packet)
    return packets


def _newer(a: int, b: int) -> bool:
    return a != b and uint16_add(a, -b) < 0x8000


class LinkProbe:
    """Sends ``rate_bps`` of padding on ``sender`` (an ``RTCRtpSender``) for ``seconds``
    through ``resend`` (the sender's own retransmission, given a sequence number), then
    calls ``on_done``. :meth:`stop` ends it early (a verdict came first). Runs on the
    sender's event loop."""

    def __init__(self, sender: Any, resend: Callable[[int], Awaitable[None]], *,
                 level: tuple[int, int], rate_bps: float, seconds: float = PROBE_SECONDS,
                 on_done: Callable[[LinkProbe], None] = lambda probe: None) -> None:
        self.level = level
        self.rate_bps = rate_bps
        self.seconds = seconds
        self.sent_bytes = 0.0  # what the rate asked for so far (sent, or skipped)
        self.skipped_bytes = 0.0  # not sent: the loop was too busy to keep the rate
        self.sent_packets = 0
        self.finished = False
        self._sender = sender
        self._resend = resend
        self._on_done = on_done
        self._task = asyncio.get_running_loop().create_task(self._run())

    def due_bytes(self, elapsed: float) -> float:
        """Padding bytes due ``elapsed`` seconds in: the rate ramps up over
        :data:`RAMP_SECONDS`, then holds."""
        ramp = min(RAMP_SECONDS, self.seconds)
        if elapsed < ramp:
            return self.rate_bps / 8 * elapsed * elapsed / (2 * ramp)
        return self.rate_bps / 8 * (ramp / 2 + elapsed - ramp)

    @property
    def kept_rate(self) -> bool:
        """Whether at least :data:`KEPT_SHARE` of the padding really went out (a busy
        computer's loop falls behind: a link not really tried was not shown to carry it)."""
        return self.skipped_bytes <= (1 - KEPT_SHARE) * max(self.sent_bytes, 1.0)

    @property
    def running(self) -> bool:
        return not self._task.done()

    def stop(self) -> None:
        self._task.cancel()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        history: dict[int, RtpPacket] = getattr(self._sender, "_RTCRtpSender__rtp_history", {})
        try:
            while (elapsed := loop.time() - start) < self.seconds:
                owed = self.due_bytes(elapsed) - self.sent_bytes
                if owed > self.rate_bps * CATCH_UP_TICKS * PROBE_TICK / 8:
                    # a stalled loop: a burst would overflow a queue the rate fits
                    skipped = owed - self.rate_bps * CATCH_UP_TICKS * PROBE_TICK / 8
                    self.skipped_bytes += skipped
                    self.sent_bytes += skipped
                    owed -= skipped
                recent = newest_packets(history, RECENT_PACKETS)
                for packet in itertools.cycle(recent) if recent else ():
                    if owed <= 0:
                        break
                    await self._resend(packet.sequence_number)
                    size = len(packet.payload) + RTX_OVERHEAD
                    owed -= size
                    self.sent_bytes += size
                    self.sent_packets += 1
                await asyncio.sleep(PROBE_TICK)
        except ConnectionError as exc:  # the connection closed under it: nothing to judge
            logger.debug("link probe ended: %s", exc)
            return
        self.finished = True
        try:
            self._on_done(self)
        except Exception:  # the verdict's own fault must not end silently
            logger.exception("judging a link probe failed")
