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

6. **Voice without prefetch.** Stock aiortc holds four voice packets (80 ms) and never
   asks for a lost one again: :class:`AudioJitterBuffer` releases each on arrival and
   waits behind a hole only for its resend (:func:`tune_audio_receiver`).

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
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcrtpreceiver import NackGenerator, RemoteStreamTrack, RTCRtpReceiver
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
from aiortc.utils import uint16_add, uint16_gt

from surgery_teach.audio.opus import VoicePackets
from surgery_teach.audio.priority import DecoderQueue
from surgery_teach.media.frame_tap import ReceivedFrameTap
from surgery_teach.media.link_meter import LinkReport
from surgery_teach.rtc.video_buffer import MarkerJitterBuffer

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
    buffer.on_skipped = lambda seq: _forget_missing(receiver, seq)
    buffer.ask_again = lambda ssrc, seqs: _send_nack(receiver, ssrc, seqs)
    setattr(receiver, _JITTER_ATTR, buffer)
    track._queue = LatestQueue()
    return True


def _forget_missing(receiver: RTCRtpReceiver, last: int) -> None:
    """Stop asking for packets up to ``last`` that the jitter buffer gave up on: their
    resends would only crowd a link that is already struggling."""
    generator = getattr(receiver, "_RTCRtpReceiver__nack_generator", None)
    if isinstance(generator, NackGenerator):
        generator.missing = {seq for seq in generator.missing if uint16_gt(seq, last)}


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


def _send_nack(receiver: RTCRtpReceiver, ssrc: int, seqs: list[int]) -> None:
    """Ask the sender of ``receiver``'s stream again for ``seqs`` (RTCP NACK)."""
    task = asyncio.get_running_loop().create_task(receiver._send_rtcp_nack(ssrc, seqs))
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
RESEND_GAP = 0.035  # seconds, or 1.5 round trips when that is longer (under the re-ask's 40)
RESEND_LIMIT = 5


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
        self._nacked: dict[int, None] = {}  # recently NACKed sequence numbers, oldest first
        self.on_nacks: Callable[[], None] = lambda: None  # after each NACK is counted
        #: Sends a packet of the history again, bypassing the budget (padding probes).
        self.pad: Callable[[int], Any] | None = None

    @property
    def can_pad(self) -> bool:
        """Whether padding goes out as RTX (a plain duplicate would hide real loss)."""
        return self.pad is not None and getattr(
            self.sender, "_RTCRtpSender__rtx_payload_type", None) is not None

    def count_nacks(self, lost: list[int]) -> None:
        """Count the packets a NACK asks for that no NACK asked for before: aiortc's
        receiver lists every packet still missing at each new loss, and a hole that blocks
        pictures is asked for again every 40 ms, so entries would count one loss many
        times, more the longer the round trip."""
        for seq in lost:
            if seq not in self._nacked:
                self._nacked[seq] = None
                self.nacks += 1
        if len(self._nacked) > 4 * RTP_HISTORY_SIZE:
            for old in list(self._nacked)[: 2 * RTP_HISTORY_SIZE]:
                del self._nacked[old]

    @property
    def packets_sent(self) -> int:
        return int(getattr(self.sender, "_RTCRtpSender__packet_count", 0))

    @property
    def bytes_sent(self) -> int:
        return int(getattr(self.sender, "_RTCRtpSender__octet_count", 0))

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
            watch.count_nacks(packet.lost)
            watch.on_nacks()
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
    watch.pad = retransmit
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


# -- Voice: a jitter buffer that waits only for what is missing ---------------------------
#
# Stock aiortc holds four audio packets before releasing one (prefetch=4), 80 ms on every
# voice, and asks for no lost audio packet again. Each Opus packet is a whole frame, so
# :class:`AudioJitterBuffer` releases a packet the moment it arrives in order; only when
# one is missing does it wait, for about one resend (a NACK, which this turns on for
# audio: aiortc's senders already answer them for any kind), and then moves on. The
# adaptive part of the delay (network jitter) is the player's
# (:class:`~surgery_teach.audio.jitter.VoiceBuffer`), which is clocked by the sound card.

#: How long to wait for a missing voice packet: 1.5 resend times, within these bounds.
VOICE_HOLE_WAIT_MIN = 0.005
VOICE_HOLE_WAIT_MAX = 0.100
#: A packet still missing after that is asked for again this many times.
VOICE_ASK_AGAIN = 2
_AUDIO_RECEIVER_NAMES = ("_RTCRtpReceiver__codecs", "_RTCRtpReceiver__timestamp_mapper",
                         "_RTCRtpReceiver__decoder_queue", "_RTCRtpReceiver__nack_generator")


def audio_tuning_supported() -> bool:
    """True when this aiortc has the receiver internals the voice buffer needs."""
    names = RTCRtpReceiver.__init__.__code__.co_names
    return tuning_supported() and all(name in names for name in _AUDIO_RECEIVER_NAMES)


class AudioJitterBuffer(JitterBuffer):
    """Releases each voice packet as it arrives in order; waits behind a missing one only
    as long as its resend takes (measured), asks again up to :data:`VOICE_ASK_AGAIN`
    times, then gives up on it.

    A resend that fills a hole frees the packets behind it at once: all but the last go
    to ``hand_over`` (the decoder queue, in order) and the last is returned, as aiortc
    expects one frame per call.
    """

    def __init__(self, hand_over: Callable[[RtpPacket], None],
                 forget: Callable[[int], None] = lambda seq: None,
                 ask_again: Callable[[int, int], None] = lambda ssrc, seq: None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(capacity=64, prefetch=0, is_video=False)
        self._hand_over = hand_over
        self._forget = forget  # stop asking for a packet given up on
        self._ask_again = ask_again  # NACK (ssrc, seq) once more: its resend was lost too
        self._clock = clock
        self.ssrc: int | None = None
        self._asks = 0  # NACKs sent again for the hole first in line
        self._next: int | None = None
        self._waiting: dict[int, RtpPacket] = {}
        self._hole_since: float | None = None
        self._asked: dict[int, float] = {}  # missing seq -> when it was first missed
        #: Measured time from noticing a hole to its resend arriving (smoothed).
        self.resend_time = 0.020
        self.released = 0
        self.recovered = 0  # holes filled by a resend in time
        self.lost = 0  # holes given up on
        self.late = 0  # packets that came after they were given up (or twice)

    @property
    def hole_wait(self) -> float:
        return min(VOICE_HOLE_WAIT_MAX, max(VOICE_HOLE_WAIT_MIN, 1.5 * self.resend_time))

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        now = self._clock()
        seq = packet.sequence_number
        self.ssrc = packet.ssrc
        if self._next is None:
            self._next = seq
        ahead = uint16_add(seq, -self._next)
        recent = ahead <= 1000 or 0x10000 - ahead <= 1000  # within 1000 either way
        if recent and (ahead >= 0x8000 or seq in self._waiting):
            self.late += 1  # given up on already, or a duplicate
            return False, None
        if not recent:  # the sender started over
            self._waiting.clear()
            self._asked.clear()
            self._hole_since = None
            self._next, ahead = seq, 0
        if seq in self._asked:
            self.resend_time += 0.2 * (now - self._asked.pop(seq) - self.resend_time)
            self.recovered += 1
        self._waiting[seq] = packet
        for back in range(1, ahead + 1):  # what this packet shows to be missing (NACKed)
            missing = uint16_add(seq, -back)
            if missing not in self._waiting:
                self._asked.setdefault(missing, now)
        return False, self._release(now)

    def _release(self, now: float) -> JitterFrame | None:
        ready: list[RtpPacket] = []
        while self._waiting:
            assert self._next is not None
            packet = self._waiting.pop(self._next, None)
            if packet is None:
                if self._hole_since is None:
                    self._hole_since = now
                if now - self._hole_since < self.hole_wait:
                    break
                if self._asks < VOICE_ASK_AGAIN:  # the resend may have been lost too
                    self._asks += 1
                    self._hole_since = now
                    if self.ssrc is not None:
                        self._ask_again(self.ssrc, self._next)
                    break
                self.lost += 1  # waited long enough: the decoder goes on without it
                self._asked.pop(self._next, None)
                self._forget(self._next)
            else:
                ready.append(packet)
            self._hole_since = None
            self._asks = 0
            self._next = uint16_add(self._next, 1)
        if not ready:
            return None
        for packet in ready[:-1]:
            self._hand_over(packet)
        self.released += len(ready)
        last = ready[-1]
        return JitterFrame(data=last._data, timestamp=last.timestamp)  # type: ignore[attr-defined]


def tune_audio_receiver(pc: Any, track: MediaStreamTrack) -> AudioJitterBuffer | None:
    """Give the receiver of the voice ``track`` of ``pc`` (an ``RTCPeerConnection``) the
    resend-aware buffer and NACKs; call from the ``track`` event, before media flows.
    ``None`` on an untested aiortc."""
    receiver = next((t.receiver for t in pc.getTransceivers() if t.receiver.track is track),
                    None)
    if receiver is None or track.kind != "audio" or not audio_tuning_supported():
        return None
    codecs = receiver._RTCRtpReceiver__codecs  # type: ignore[attr-defined]
    mapper = receiver._RTCRtpReceiver__timestamp_mapper  # type: ignore[attr-defined]
    decoder_queue = receiver._RTCRtpReceiver__decoder_queue  # type: ignore[attr-defined]
    if receiver._RTCRtpReceiver__decoder_thread is None:  # type: ignore[attr-defined]
        # (its decoder thread starts later, in receive(), and takes this queue)
        decoder_queue = DecoderQueue()
        receiver._RTCRtpReceiver__decoder_queue = decoder_queue  # type: ignore[attr-defined]
    nacks = NackGenerator()

    def hand_over(packet: RtpPacket) -> None:
        codec = codecs.get(packet.payload_type)
        if codec is None:
            return
        frame = JitterFrame(data=packet._data, timestamp=mapper.map(packet.timestamp))  # type: ignore[attr-defined]
        decoder_queue.put((codec, frame))

    def ask_again(ssrc: int, seq: int) -> None:
        task = asyncio.get_running_loop().create_task(receiver._send_rtcp_nack(ssrc, [seq]))
        _pli_tasks.add(task)  # (kept alive like the keyframe requests)
        task.add_done_callback(_pli_tasks.discard)

    buffer = AudioJitterBuffer(hand_over, nacks.missing.discard, ask_again)
    setattr(receiver, _JITTER_ATTR, buffer)
    receiver._RTCRtpReceiver__nack_generator = nacks  # type: ignore[attr-defined]
    return buffer


#: Voice frames a listener's copy of the microphone may hold (200 ms): enough to ride out
#: a stalled loop without losing a word, bounded for a listener that is not reading yet.
VOICE_COPY_FRAMES = 20


def voice_copy(relay: Any, microphone: MediaStreamTrack) -> MediaStreamTrack:
    """A listener's copy of the microphone from ``relay`` (a ``MediaRelay``), as 10 ms
    low-delay Opus packets (:class:`~surgery_teach.audio.opus.VoicePackets`). It loses
    no frame to a momentary stall (an unbuffered copy keeps only the newest frame, and a
    bursty sound card then costs holes), yet holds at most :data:`VOICE_COPY_FRAMES`."""
    copy = relay.subscribe(microphone, buffered=True)
    if isinstance(getattr(copy, "_queue", None), asyncio.Queue):
        copy._queue = LatestQueue(VOICE_COPY_FRAMES)
    return VoicePackets(copy)
