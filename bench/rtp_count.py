"""Counting video from SRTP packets' clear-text headers, without decrypting (bench tool).

SRTP encrypts an RTP packet's payload only: the 12-byte header (marker bit, payload type,
sequence number, timestamp, SSRC) travels in clear text. A light receiver of a class
benchmark reads that header straight from the datagram, so it can count packets, frames
(marker bits) and losses (sequence gaps) for the cost of a few byte reads instead of an
SRTP unprotect, an RTP parse and a jitter buffer per packet.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RtpHeader:
    """The clear-text fields of an RTP (or SRTP) packet's fixed header (RFC 3550 §5.1)."""

    marker: bool
    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int


def is_media(datagram: bytes) -> bool:
    """True for an RTP/SRTP media packet; False for RTCP, STUN, DTLS and anything else.

    RFC 7983 demultiplexing: RTP and RTCP start with 128..191 (version 2); RFC 5761: a
    second byte of 192..223 is an RTCP packet type (the same rule aiortc uses).
    """
    return (len(datagram) >= 12 and 128 <= datagram[0] <= 191
            and not 192 <= datagram[1] <= 223)


def parse_header(datagram: bytes) -> RtpHeader:
    """The fixed header of an RTP/SRTP media packet; ValueError if it is not one."""
    if not is_media(datagram):
        raise ValueError("not an RTP media packet")
    return RtpHeader(
        marker=bool(datagram[1] & 0x80), payload_type=datagram[1] & 0x7F,
        sequence_number=int.from_bytes(datagram[2:4], "big"),
        timestamp=int.from_bytes(datagram[4:8], "big"),
        ssrc=int.from_bytes(datagram[8:12], "big"))


class RtpCounter:
    """Packets, wire bytes, frames (marker bits) and lost packets (sequence gaps) of one
    subscription, from the packets' clear-text headers.

    A gap in sequence numbers counts as lost packets; a late or repeated packet (behind
    the highest number seen) is counted as a packet but changes neither loss nor frames'
    order. Frame times are kept (the last few thousand) to measure a frame rate over a
    chosen stretch.
    """

    def __init__(self, clock: Any = time.monotonic, wall_clock: Any = time.time) -> None:
        self.packets = 0
        self.bytes = 0
        self.frames = 0
        self.lost = 0
        self.frame_times: deque[float] = deque(maxlen=4000)
        self.frame_stamps: deque[int] = deque(maxlen=4000)  # RTP timestamps, same frames
        self.frame_bytes: deque[int] = deque(maxlen=4000)  # bytes so far, at each frame
        self.frame_packets: deque[int] = deque(maxlen=4000)  # packets so far, likewise
        self.last_frame_at: float | None = None  # wall clock, to compare across processes
        self._highest: int | None = None
        self._clock = clock
        self._wall_clock = wall_clock

    def count(self, datagram: bytes) -> bool:
        """Count one datagram if it is an RTP media packet; False (not counted) if not."""
        if not is_media(datagram):
            return False
        self.packets += 1
        self.bytes += len(datagram)
        seq = (datagram[2] << 8) | datagram[3]
        if self._highest is None:
            self._highest = seq
        else:
            gap = (seq - self._highest) & 0xFFFF
            if 0 < gap < 0x8000:
                self.lost += gap - 1
                self._highest = seq
        if datagram[1] & 0x80:
            self.frames += 1
            self.frame_times.append(self._clock())
            self.frame_stamps.append(int.from_bytes(datagram[4:8], "big"))
            self.frame_bytes.append(self.bytes)
            self.frame_packets.append(self.packets)
            self.last_frame_at = self._wall_clock()
        return True

    def summary(self, since: float, until: float, clock_rate: int = 90000) -> dict[str, Any]:
        """Frame rates and longest gap between frames within [since, until] (monotonic).

        ``fps`` counts frames by arrival time here; ``media_fps`` by the frames' RTP
        timestamps (``clock_rate`` a second), i.e. the rate of the video the sender
        forwarded, whatever this machine's scheduling did to the arrival times;
        ``kbit_per_s`` is SRTP bytes on the wire (headers and tag included).
        """
        window = [(t, stamp, size, packets) for t, stamp, size, packets in zip(
            self.frame_times, self.frame_stamps, self.frame_bytes, self.frame_packets,
            strict=True) if since <= t <= until]
        times = [t for t, _, _, _ in window]
        fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 2 else 0.0
        media_fps = kbit_per_s = packets_per_s = 0.0
        if len(window) > 2:
            kbit_per_s = (window[-1][2] - window[0][2]) * 8 / 1000 / (times[-1] - times[0])
            packets_per_s = (window[-1][3] - window[0][3]) / (times[-1] - times[0])
            span = (window[-1][1] - window[0][1]) & 0xFFFFFFFF
            media_fps = (len(window) - 1) * clock_rate / span if span else 0.0
        gaps = [b - a for a, b in itertools.pairwise(times)]
        return {"frames": self.frames, "packets": self.packets, "lost": self.lost,
                "last_frame_at": self.last_frame_at,
                "fps": round(fps, 2), "media_fps": round(media_fps, 2),
                "longest_gap_s": round(max(gaps, default=0.0), 3),
                "kbit_per_s": round(kbit_per_s, 1), "packets_per_s": round(packets_per_s, 1)}
