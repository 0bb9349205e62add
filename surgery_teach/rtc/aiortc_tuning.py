"""The one place that adapts aiortc internals, for latency and for the shared encoder.

Three adaptations, each checked against the aiortc versions they were written for:

1. **Marker-bit jitter buffer.** Stock aiortc releases a video frame only when a packet of
   the *next* frame arrives, one frame interval (~33 ms at 30 fps) late. The RTP marker
   bit says a frame is complete; :class:`MarkerJitterBuffer` releases it then.
2. **Newest-frame hand-off.** The remote track's decoded-frame queue is unbounded: under
   CPU overload latency grows without limit. :class:`LatestQueue` keeps only the newest
   few frames.
3. **Keyframe requests reach the shared encoder.** When a track returns encoded packets,
   aiortc drops PLI/FIR on the floor; :func:`forward_keyframe_requests` routes them to the
   track's ``request_keyframe()``.
4. **Received frames for a recorder, without re-encoding.** Each complete H.264 access unit
   :class:`MarkerJitterBuffer` releases also goes to its :class:`ReceivedFrameTap`
   (:func:`frame_tap`), so a viewer records exactly what it received.
5. **What a viewer tells the sender.** aiortc applies REMB only to its own encoders and
   counts neither NACKs nor resent bytes; :func:`watch_sender` turns every receiver
   report into a :class:`~surgery_teach.media.link_meter.LinkReport` (loss, jitter, RTT,
   REMB, NACKs, PLIs, bytes sent and resent) and lets a budget refuse retransmissions.

If aiortc changes shape, :func:`tuning_supported` turns false and everything still works
with stock behaviour (logged once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import aioice.ice
import aiortc
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtcrtpreceiver import RemoteStreamTrack, RTCRtpReceiver
from aiortc.rtcrtpsender import RTCRtpSender
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RTP_HISTORY_SIZE,
    RtcpPsfbPacket,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSrPacket,
    RtpPacket,
    unpack_remb_fci,
)

from surgery_teach.media.frame_tap import ReceivedFrameTap
from surgery_teach.media.link_meter import LinkReport

logger = logging.getLogger(__name__)

TESTED_AIORTC = ("1.16.",)
_JITTER_ATTR = "_RTCRtpReceiver__jitter_buffer"
# Decoded frames a remote video track may hold; older ones are dropped.
REMOTE_QUEUE_FRAMES = 2


def tuning_supported() -> bool:
    """True when this aiortc has the internals these adaptations touch."""
    probe = RTCRtpReceiver.__init__.__code__.co_names
    return (
        aiortc.__version__.startswith(TESTED_AIORTC)
        and "_send_keyframe" in dir(RTCRtpSender)
        and "_send_rtcp_pli" in dir(RTCRtpReceiver)
        and "JitterBuffer" in probe
        and hasattr(JitterBuffer, "_remove_frame")
        and {"_handle_rtcp_packet", "_retransmit"} <= set(dir(RTCRtpSender))
    )


# A hole in the video (a packet lost and not yet resent) blocks every later picture.
# Stock aiortc waits until 512 packets pile up behind it: 2 s at 2.5 Mbit/s, over 10 s
# for a small layer on a weak link. Give up on a hole after this long instead (a resend
# takes about one round trip), skip the broken picture and ask for a keyframe.
HOLE_WAIT = 0.25


class MarkerJitterBuffer(JitterBuffer):
    """A video jitter buffer that releases a frame as soon as its marker packet is in,
    and gives up on a missing packet after :data:`HOLE_WAIT` rather than 512 packets.

    Every frame it releases also goes to :attr:`tap` (for recording).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tap = ReceivedFrameTap()
        self.ssrc: int | None = None
        self.holes_skipped = 0
        self._blocked_since: float | None = None
        #: Hands a complete frame to the decoder directly (see :meth:`add`); None: stock.
        self.deliver: Callable[[RtpPacket, JitterFrame], None] | None = None

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        """Take ``packet``; the complete frame it made, if any.

        Stock aiortc takes at most one frame out per packet, so frames that completed
        behind a hole (once it is filled or skipped) leave one per later packet: the
        delay of every repaired loss stays for good, and grows with each one. With
        :attr:`deliver` set, every frame that is complete goes to the decoder now.
        """
        lost, frame = self._add(packet)
        if frame is None or self.deliver is None:
            return lost, frame
        while frame is not None:
            self.deliver(packet, frame)
            frame = self._remove_frame(packet.sequence_number)
            if frame is not None:
                self.tap.publish(frame.data, frame.timestamp)
        return lost, None

    def _add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        self.ssrc = packet.ssrc
        lost, frame = super().add(packet)
        if frame is None and self._waiting_behind_hole(packet):
            now = time.monotonic()
            if self._blocked_since is None:
                self._blocked_since = now
            elif now - self._blocked_since >= HOLE_WAIT:
                self._skip_hole()
                lost = True
                frame = self._remove_frame(packet.sequence_number)
        else:
            self._blocked_since = None
        if lost:  # the buffer gave up on missing packets (it also asks for a keyframe)
            self.tap.lost()
        if frame is not None:
            self._blocked_since = None
            self.tap.publish(frame.data, frame.timestamp)
        return lost, frame

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

    def _skip_hole(self) -> None:
        """Drop the picture the hole is in: every packet up to the next picture's first."""
        assert self._origin is not None
        broken: int | None = None
        for count in range(self.capacity):
            packet = self._packets[(self._origin + count) % self.capacity]
            if packet is None:
                continue
            if broken is None:
                broken = packet.timestamp
            elif packet.timestamp != broken:
                self.remove(count)
                break
        else:
            self.remove(self.capacity)
        self.holes_skipped += 1
        self._blocked_since = None

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


class LatestQueue(asyncio.Queue):  # type: ignore[type-arg]
    """An asyncio queue that keeps only the newest ``keep`` items (``None`` always kept).

    Uses the ``_put`` hook asyncio documents for subclasses such as ``PriorityQueue``.
    """

    def __init__(self, keep: int = REMOTE_QUEUE_FRAMES) -> None:
        super().__init__()
        self.keep = keep
        self.dropped = 0

    def _put(self, item: Any) -> None:
        self._queue.append(item)  # type: ignore[attr-defined]
        while item is not None and len(self._queue) > self.keep:  # type: ignore[attr-defined]
            self._queue.popleft()  # type: ignore[attr-defined]
            self.dropped += 1


def tune_receiver(receiver: RTCRtpReceiver, track: RemoteStreamTrack) -> bool:
    """Apply the marker-bit buffer and the bounded queue to a new remote video track.

    Call from the peer connection's ``track`` event, before media flows.
    """
    if track.kind != "video" or not tuning_supported():
        return False
    current = getattr(receiver, _JITTER_ATTR, None)
    if not isinstance(current, JitterBuffer):
        return False
    buffer = MarkerJitterBuffer(capacity=current.capacity, is_video=True)
    buffer.tap = ReceivedFrameTap(lambda: _send_pli(receiver, buffer))
    buffer.deliver = _decoder_of(receiver)
    setattr(receiver, _JITTER_ATTR, buffer)
    track._queue = LatestQueue()
    return True


def _decoder_of(receiver: RTCRtpReceiver) -> Callable[[RtpPacket, JitterFrame], None] | None:
    """A function that queues a complete frame for ``receiver``'s decoder, as aiortc does
    with the one frame ``add`` returns (same clock mapping, same queue)."""
    needed = ("_RTCRtpReceiver__codecs", "_RTCRtpReceiver__timestamp_mapper",
              "_RTCRtpReceiver__decoder_queue")
    if not all(hasattr(receiver, name) for name in needed):
        return None

    def deliver(packet: RtpPacket, frame: JitterFrame) -> None:
        codec = receiver._RTCRtpReceiver__codecs.get(packet.payload_type)  # type: ignore[attr-defined]
        if codec is None or not receiver._RTCRtpReceiver__decoder_thread:  # type: ignore[attr-defined]
            return
        frame.timestamp = receiver._RTCRtpReceiver__timestamp_mapper.map(frame.timestamp)  # type: ignore[attr-defined]
        receiver._RTCRtpReceiver__decoder_queue.put((codec, frame))  # type: ignore[attr-defined]

    return deliver


def connection_path(pc: Any) -> str:
    """The kinds of the two candidates a connected peer connection uses, ours first
    (``"host/host"``, ``"srflx/host"``, ``"relay/relay"``), or ``""`` if none yet."""
    for transceiver in pc.getTransceivers():
        transport = getattr(transceiver.receiver, "transport", None)
        connection = getattr(getattr(transport, "transport", None), "_connection", None)
        pairs = getattr(connection, "_nominated", None) or {}
        for pair in pairs.values():
            return f"{pair.local_candidate.type}/{pair.remote_candidate.type}"
    return ""


def frame_tap(receiver: RTCRtpReceiver) -> ReceivedFrameTap | None:
    """The received-frame tap of a receiver :func:`tune_receiver` tuned, else None."""
    buffer = getattr(receiver, _JITTER_ATTR, None)
    return buffer.tap if isinstance(buffer, MarkerJitterBuffer) else None


def _send_pli(receiver: RTCRtpReceiver, buffer: MarkerJitterBuffer) -> None:
    """Ask the sender of ``receiver``'s stream for a keyframe (RTCP PLI); loop thread."""
    if buffer.ssrc is None:
        return  # nothing received yet: the first frame is a keyframe anyway
    task = asyncio.get_running_loop().create_task(receiver._send_rtcp_pli(buffer.ssrc))
    _pli_tasks.add(task)
    task.add_done_callback(_pli_tasks.discard)


_pli_tasks: set[asyncio.Task[None]] = set()


def forward_keyframe_requests(sender: RTCRtpSender, request: Callable[[], None]) -> bool:
    """Route PLI/FIR received by ``sender`` to ``request`` (the shared encoder)."""
    if not tuning_supported():
        return False
    sender._send_keyframe = request  # type: ignore[method-assign]
    return True


# aiortc's receiver NACKs every packet still missing each time it notices a new loss, so
# one lost packet is asked for again and again: resend it at most this often and this
# many times (the resend itself may be lost; a later NACK then asks again).
RESEND_GAP = 0.05  # seconds, or 1.5 round trips when that is longer
RESEND_LIMIT = 3


class SenderWatch:
    """What one RTP sender hears from its viewer, counted since the connection started."""

    def __init__(self, sender: RTCRtpSender, on_report: Callable[[LinkReport], None],
                 allow_retransmit: Callable[[int], bool]) -> None:
        self.sender = sender
        self.nacks = 0
        self.plis = 0
        self.retransmitted_bytes = 0
        self.refused_bytes = 0
        self.remb_bps: float | None = None
        self._on_report = on_report
        self._allow = allow_retransmit
        self._resent: dict[int, tuple[float, int]] = {}  # seq -> (last resend, how many)

    def should_resend(self, sequence_number: int, size: int) -> bool:
        """Whether to resend this packet now (once per gap, a few times at most, within
        the budget)."""
        now = time.monotonic()
        rtt = getattr(self.sender, "_RTCRtpSender__rtt", None) or 0.0
        last, count = self._resent.get(sequence_number, (-1e9, 0))
        if count >= RESEND_LIMIT or now - last < max(RESEND_GAP, 1.5 * rtt):
            return False
        if not self._allow(size):
            self.refused_bytes += size
            return False
        self._resent[sequence_number] = (now, count + 1)
        if len(self._resent) > 4 * RTP_HISTORY_SIZE:
            for old in list(self._resent)[:RTP_HISTORY_SIZE]:
                del self._resent[old]
        self.retransmitted_bytes += size
        return True

    def report(self, fraction_lost: int, jitter: int) -> LinkReport:
        sender = self.sender
        return LinkReport(
            now=time.monotonic(), fraction_lost=fraction_lost / 256, jitter_s=jitter / 90_000,
            rtt_s=getattr(sender, "_RTCRtpSender__rtt", None), remb_bps=self.remb_bps,
            nacks=self.nacks, packets_sent=getattr(sender, "_RTCRtpSender__packet_count", 0),
            bytes_sent=getattr(sender, "_RTCRtpSender__octet_count", 0),
            retransmitted_bytes=self.retransmitted_bytes, plis=self.plis,
        )


def watch_sender(sender: RTCRtpSender, on_report: Callable[[LinkReport], None], *,
                 allow_retransmit: Callable[[int], bool] = lambda size: True,
                 ) -> SenderWatch | None:
    """Call ``on_report`` with a :class:`LinkReport` for each receiver report ``sender``
    gets, and resend a lost packet only when ``allow_retransmit(size)`` says so.
    ``None`` (nothing watched) on an aiortc this was not written for."""
    if not tuning_supported():
        return None
    watch = SenderWatch(sender, on_report, allow_retransmit)
    handle = sender._handle_rtcp_packet
    retransmit = sender._retransmit

    async def _handle(packet: Any) -> None:
        if isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
            watch.nacks += len(packet.lost)
        elif isinstance(packet, RtcpPsfbPacket) and packet.fmt in (RTCP_PSFB_FIR,
                                                                   RTCP_PSFB_PLI):
            watch.plis += 1
        elif isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
            with contextlib.suppress(ValueError):
                bitrate, ssrcs = unpack_remb_fci(packet.fci)
                if sender._ssrc in ssrcs:
                    watch.remb_bps = float(bitrate)
        await handle(packet)
        if isinstance(packet, (RtcpRrPacket, RtcpSrPacket)):
            for report in packet.reports:
                if report.ssrc == sender._ssrc:
                    watch._on_report(watch.report(report.fraction_lost, report.jitter))

    async def _retransmit(sequence_number: int) -> None:
        history = getattr(sender, "_RTCRtpSender__rtp_history", {})
        packet = history.get(sequence_number % RTP_HISTORY_SIZE)
        if packet is None or packet.sequence_number != sequence_number:
            return
        if watch.should_resend(sequence_number, len(packet.payload) + 12):
            await retransmit(sequence_number)

    sender._handle_rtcp_packet = _handle  # type: ignore[method-assign]
    sender._retransmit = _retransmit  # type: ignore[method-assign]
    return watch


if not tuning_supported():  # pragma: no cover - only on an untested aiortc
    logger.warning(
        "aiortc %s is not a version surgery_teach was tuned for (%s): running with stock "
        "latency and no keyframe forwarding",
        aiortc.__version__,
        ", ".join(TESTED_AIORTC),
    )


# -- ICE on one machine ------------------------------------------------------------------

_stock_host_addresses = aioice.ice.get_host_addresses


def _loopback_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return ["127.0.0.1"] if use_ipv4 else ["::1"]


def use_loopback_ice(enabled: bool) -> None:
    """Gather ICE host candidates on the loopback interface only (or stop doing so).

    aioice skips 127.0.0.1 when it gathers host candidates. When the signaling server is
    on a loopback address every peer is on this machine, so media should stay on
    loopback too instead of leaving through a network interface. Process-wide.
    """
    aioice.ice.get_host_addresses = (  # type: ignore[assignment]
        _loopback_host_addresses if enabled else _stock_host_addresses
    )
