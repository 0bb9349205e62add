"""Peer connection set-up for one pair of participants: who offers, codecs, tracks."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from urllib.parse import urlparse

from aiortc import RTCPeerConnection, RTCRtpSender
from aiortc.rtcrtptransceiver import RTCRtpTransceiver
from aiortc.sdp import SessionDescription

from surgery_teach.protocol.ice import IceServer
from surgery_teach.protocol.messages import ParticipantInfo
from surgery_teach.rtc.ice_config import plan_ice

ALIVE = ("new", "connecting", "connected")
"""Peer connection states that carry media, or are about to."""


def offerer(a: ParticipantInfo, b: ParticipantInfo) -> str | None:
    """Which of the pair makes the offer (docs/protocol.md, section 7), or ``None``.

    The one that publishes offers; if both publish, the id that sorts first; if neither
    does, the pair needs no connection.
    """
    if a.publishes.any and b.publishes.any:
        return min(a.id, b.id)
    if a.publishes.any:
        return a.id
    if b.publishes.any:
        return b.id
    return None


def audio_direction(*, send: bool, receive: bool) -> str | None:
    """The offer's direction for the audio section, or ``None`` for no audio section."""
    if send and receive:
        return "sendrecv"
    if send:
        return "sendonly"
    if receive:
        return "recvonly"
    return None


def remote_directions(sdp: str) -> dict[str, str]:
    """``mid`` → the direction the remote side wrote for each media section of ``sdp``."""
    return {m.rtp.muxId: m.direction for m in SessionDescription.parse(sdp).media
            if m.kind in ("audio", "video")}


def is_loopback_url(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def new_peer_connection(ice_servers: Sequence[IceServer] = (), *,
                        relay_only: bool = False) -> RTCPeerConnection:
    """A peer connection with only the ICE servers we were given (never a public default):
    the one STUN and one TURN server aiortc can use (:func:`plan_ice`); ``relay_only``
    sends everything through the TURN relay."""
    return RTCPeerConnection(plan_ice(ice_servers).configuration(relay_only=relay_only))


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
