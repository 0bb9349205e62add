"""What a live session is told at the start (:class:`SessionConfig`), and a peer's record."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from aiortc import RTCDataChannel, RTCPeerConnection
from aiortc.mediastreams import MediaStreamTrack

from surgery_teach.media.ladder import Layer
from surgery_teach.protocol.ice import IceServer, parse_ice_server
from surgery_teach.protocol.messages import ParticipantInfo, Role, TrackInfo


def new_client_key() -> str:
    """A session's client key: random, secret, the same for every join of the session."""
    return secrets.token_urlsafe(24)


@dataclass(kw_only=True)
class SessionConfig:
    """Who joins where, and how media finds its way to the others."""

    server: str
    room: str
    name: str
    role: Role
    # STUN/TURN servers for the peer connections; empty: those the server's welcome gives
    # (none from a server without --ice-server). Text is read as --ice-server writes it.
    ice_servers: tuple[IceServer, ...] = ()
    # Every path through the TURN relay (hides this computer's addresses from the others;
    # tests use it to make the relay the only way).
    relay_only: bool = False
    token: str = field(default="", repr=False)  # room token, for a secured server
    ca_file: str = ""  # PEM file of a private CA that signed a wss:// server's certificate
    # Stock aiortc media path, for comparisons: one aiortc encoder per viewer and the
    # stock receive path (jitter buffer one frame late, unbounded queue).
    stock: bool = False
    # Rejoin by itself when the signaling link drops (False: the session ends instead).
    reconnect: bool = True
    # Send each viewer the layer its link carries (False: everyone gets the top layer).
    layers: bool = True
    # The layers of each source, in the order of the encoders (None or missing: the
    # default ladder for the top encoder's size and bitrate, media/ladder.py).
    ladders: tuple[tuple[Layer, ...] | None, ...] = ()

    def __post_init__(self) -> None:
        self.ice_servers = tuple(parse_ice_server(s) if isinstance(s, str) else s
                                 for s in self.ice_servers)


@dataclass
class Peer:
    info: ParticipantInfo
    pc: RTCPeerConnection
    tracks: list[MediaStreamTrack] = field(default_factory=list)
    labels: dict[str, TrackInfo] = field(default_factory=dict)
    channel: RTCDataChannel | None = None  # carries stills (freeze frame)
