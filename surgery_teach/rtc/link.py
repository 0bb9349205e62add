"""Link health of every received source, from decoded frames and aiortc's statistics."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from aiortc import RTCPeerConnection

from surgery_teach.media.health import LinkReport
from surgery_teach.media.receive import VideoReceiver
from surgery_teach.protocol.messages.classes import CLASS, PEER
from surgery_teach.rtc.layer_note import LayerNote

Inbound = tuple[str, str]
"""A way media comes in: the sender's participant id and the route (``peer``/``class``)."""


class _HasPc(Protocol):
    pc: RTCPeerConnection


def receiving_connections(peers: Mapping[str, _HasPc],
                          class_feeds: Iterable[tuple[str, RTCPeerConnection]] = (),
                          ) -> dict[Inbound, RTCPeerConnection]:
    """Each connection media comes in on, by sender and route: the peer-to-peer ones and,
    in a class room, each publisher's Janus subscription (``(participant id, pc)``)."""
    found = {(participant, PEER): peer.pc for participant, peer in peers.items()}
    found.update({(participant, CLASS): pc for participant, pc in class_feeds})
    return found


@dataclass
class _Counters:
    at: float
    bytes_received: int
    packets_received: int
    packets_lost: int


class LinkMonitor:
    """Call :meth:`sample` about once a second; it returns one report per received video.

    Bitrate and loss are per connection (all of that sender's sources on the route the
    source comes by together: peer to peer, or its Janus subscription), frame rate and
    delay per source. ``rtt_ms`` is the signaling round trip, the best estimate a
    pure viewer has.
    """

    def __init__(self) -> None:
        self._last: dict[int, _Counters] = {}

    async def sample(self, pcs: Mapping[Inbound, RTCPeerConnection],
                     receivers: list[VideoReceiver],
                     rtt_ms: float | None,
                     notes: Mapping[tuple[str, str], LayerNote] | None = None,
                     ) -> list[LinkReport]:
        """``pcs``: :func:`receiving_connections`; ``notes``: what each sender said of the
        layer it sends (participant, label)."""
        now = time.monotonic()
        per_peer: dict[Inbound, tuple[float, float]] = {}
        for inbound, pc in pcs.items():
            per_peer[inbound] = await self._peer_rates(pc, now)
        wall = time.time()
        reports = []
        for receiver in receivers:
            fps, delay = receiver.stats.recent(wall)
            kbit, loss = per_peer.get((receiver.participant, receiver.route or PEER),
                                      (0.0, 0.0))
            note = (notes or {}).get((receiver.participant, receiver.label))
            reports.append(LinkReport(label=receiver.label, fps=fps, kbit_per_s=kbit, loss=loss,
                                      rtt_ms=rtt_ms, delay_ms=delay,
                                      layer=note.layer if note else "",
                                      top=note.top if note else "",
                                      reason=note.reason if note else ""))
        return reports

    async def _peer_rates(self, pc: RTCPeerConnection, now: float) -> tuple[float, float]:
        report = await pc.getStats()
        received = lost = octets = 0
        for stats in report.values():
            if stats.type == "inbound-rtp":
                received += stats.packetsReceived
                lost += max(stats.packetsLost, 0)
            elif stats.type == "transport":
                octets = max(octets, stats.bytesReceived)
        current = _Counters(now, octets, received, lost)
        previous = self._last.get(id(pc))
        self._last[id(pc)] = current
        if previous is None or now <= previous.at:
            return 0.0, 0.0
        kbit = (current.bytes_received - previous.bytes_received) * 8 / 1000 / (now - previous.at)
        got = current.packets_received - previous.packets_received
        missed = max(current.packets_lost - previous.packets_lost, 0)
        loss = missed / (got + missed) if got + missed else 0.0
        return max(kbit, 0.0), loss
