"""What a viewer's own video receiver counts, for choosing its layer through Janus.

The receive-side twin of :class:`~.aiortc_tuning.SenderWatch`: aiortc's
``RTCRtpReceiver`` keeps the RTCP receive statistics of each stream (highest sequence
number, packets received, jitter) but counts neither bytes nor the NACKs and keyframe
requests it sends. :func:`watch_receiver` wraps the three methods concerned on one
receiver instance and :meth:`ReceiverWatch.counters` reads everything as
:class:`~surgery_teach.media.receive_link.ReceiveCounters`. On an aiortc these internals
were not checked against (:func:`~.aiortc_tuning.tuning_supported`) nothing is wrapped
and the viewer keeps the layer it started on.
"""

from __future__ import annotations

import time
from typing import Any

from aiortc.codecs import is_rtx
from aiortc.rtcrtpreceiver import RTCRtpReceiver
from aiortc.rtp import RtpPacket

from surgery_teach.media.receive_link import ReceiveCounters
from surgery_teach.rtc import aiortc_tuning

_CODECS = "_RTCRtpReceiver__codecs"
_STREAMS = "_RTCRtpReceiver__remote_streams"
_JITTER_BUFFER = "_RTCRtpReceiver__jitter_buffer"


class ReceiverWatch:
    """Counts one video receiver's bytes, resent bytes, NACKs and PLIs since it started."""

    def __init__(self, receiver: RTCRtpReceiver) -> None:
        self.receiver = receiver
        self.bytes_received = 0
        self.retransmitted_bytes = 0
        self.nacks = 0
        self.plis = 0
        self.media_ssrc: int | None = None

    def _count(self, packet: RtpPacket) -> None:
        codec = getattr(self.receiver, _CODECS, {}).get(packet.payload_type)
        size = len(packet.payload) + 12
        if codec is not None and is_rtx(codec):
            self.retransmitted_bytes += size
        elif codec is not None:
            self.media_ssrc = packet.ssrc
        self.bytes_received += size

    def counters(self, now: float | None = None) -> ReceiveCounters | None:
        """The counters now; None before the first media packet."""
        streams: dict[int, Any] = getattr(self.receiver, _STREAMS, {})
        stream = streams.get(self.media_ssrc) if self.media_ssrc is not None else None
        if stream is None or stream.max_seq is None:
            return None
        return ReceiveCounters(
            now=time.monotonic() if now is None else now,
            packets_expected=int(stream.packets_expected),
            packets_received=int(stream.packets_received),
            bytes_received=self.bytes_received,
            retransmitted_bytes=self.retransmitted_bytes,
            jitter_s=stream.jitter / 90_000, nacks=self.nacks, plis=self.plis)

    def hold_until_keyframe(self) -> None:
        """Pass no picture to the decoder until the next keyframe: after a ``switch`` the
        m-line carries another layer, whose pictures before its first keyframe refer to
        pictures this decoder never had (they would decode as a smear)."""
        buffer = getattr(self.receiver, _JITTER_BUFFER, None)
        if isinstance(buffer, aiortc_tuning.MarkerJitterBuffer):
            buffer._await_keyframe = True  # the flag it sets itself after a lost picture


def watch_receiver(receiver: RTCRtpReceiver) -> ReceiverWatch | None:
    """Count what ``receiver`` gets and asks for (call before media flows); None on an
    aiortc this was not written for."""
    if not aiortc_tuning.tuning_supported() or not all(
            hasattr(receiver, name) for name in (_CODECS, _STREAMS)):
        return None
    watch = ReceiverWatch(receiver)
    handle = receiver._handle_rtp_packet
    send_nack = receiver._send_rtcp_nack
    send_pli = receiver._send_rtcp_pli

    async def _handle(packet: RtpPacket, arrival_time_ms: int) -> None:
        watch._count(packet)
        await handle(packet, arrival_time_ms)

    async def _nack(media_ssrc: int, lost: list[int]) -> None:
        watch.nacks += len(lost)
        await send_nack(media_ssrc, lost)

    async def _pli(media_ssrc: int) -> None:
        watch.plis += 1
        await send_pli(media_ssrc)

    receiver._handle_rtp_packet = _handle  # type: ignore[method-assign]
    receiver._send_rtcp_nack = _nack  # type: ignore[method-assign]
    receiver._send_rtcp_pli = _pli  # type: ignore[method-assign]
    return watch
