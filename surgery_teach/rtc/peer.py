"""Peer connection set-up for one pair of participants: who offers, codecs, tracks."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlparse

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCRtpSender
from aiortc.rtcrtptransceiver import RTCRtpTransceiver

from surgery_teach.protocol.messages import ParticipantInfo


def should_offer(*, publishing: bool) -> bool:
    """The participant with media to send makes the offer; a pure viewer never does."""
    return publishing


def is_loopback_url(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def new_peer_connection(ice_servers: list[str] | None = None) -> RTCPeerConnection:
    """A peer connection with only the ICE servers we were given (never a public default)."""
    servers = [RTCIceServer(urls=url) for url in (ice_servers or [])]
    return RTCPeerConnection(RTCConfiguration(iceServers=servers))


def prefer_h264(transceiver: RTCRtpTransceiver) -> None:
    """Offer H.264 only: the shared encoder produces H.264 (aiortc would offer VP8 first)."""
    capabilities = RTCRtpSender.getCapabilities("video")
    codecs = [
        c for c in capabilities.codecs
        if c.mimeType == "video/H264" and c.parameters.get("packetization-mode") == "1"
    ]
    # keep RTX so lost packets can be resent
    codecs += [c for c in capabilities.codecs if c.mimeType == "video/rtx"]
    transceiver.setCodecPreferences(codecs)


def describe(participant: ParticipantInfo) -> str:
    """How logs name a participant: id and role, never the display name."""
    return f"{participant.id}({participant.role})"
