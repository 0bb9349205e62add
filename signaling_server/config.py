"""How the signaling server is run: :class:`ServerConfig`, checked on construction."""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from surgery_teach.errors import ConfigError
from surgery_teach.protocol import MAX_MESSAGE_BYTES
from surgery_teach.protocol.board_limits import BoardLimits
from surgery_teach.protocol.durable import MAX_GHOSTS
from surgery_teach.protocol.ice import DEFAULT_TURN_CREDENTIAL_TTL, IceServer, check_server_ice
from surgery_teach.protocol.limits import Limits
from surgery_teach.protocol.presence import REJOIN_GRACE
from surgery_teach.protocol.room import MAX_ROOMS
from surgery_teach.protocol.tokens import check_secret

TRANSPORT_MAX_BYTES = 1024 * 1024
"""Messages above this are refused by websockets itself: it closes the connection (1009).

Four times the largest client message, so that a message a little too large still gets
a ``too-large`` error. Small on purpose: websockets holds whole messages, decompressed,
in memory (a few KB of compressed "xxx..." inflate to the limit), up to TRANSPORT_QUEUE
of them per connection besides the one being handled. At 16 MiB, 20 connections from one
address that sent such messages and read no replies held over 1 GB of server memory.
"""
TRANSPORT_QUEUE = 2
"""Frames websockets reads ahead from a client whose previous message the server is
still handling (waiting for it to take its reply in); then it stops reading from it."""


@dataclass(kw_only=True)
class ServerConfig:
    """How to run the server; checked on construction (ConfigError)."""

    host: str = "127.0.0.1"
    """Address to listen on; use a literal IP with ``port=0`` (a name may bind several)."""
    port: int = 8765
    """TCP port; 0 picks a free one (read it back from ``RunningServer.port``)."""
    max_room_size: int = 50
    """Most participants in one room; the next ``join`` gets ``room-full``."""
    max_message_bytes: int = MAX_MESSAGE_BYTES
    """Largest client message; bigger ones get ``too-large`` (at most TRANSPORT_MAX_BYTES)."""
    secret: bytes | None = field(default=None, repr=False)
    """Key that signs room tokens (at least 32 bytes); every handshake must then carry a
    valid token. None runs the server open (anyone may join any room): allowed only on a
    loopback ``host``."""
    cert_file: Path | None = None
    """PEM certificate (chain) to serve ``wss://``; None serves plain ``ws://``."""
    key_file: Path | None = None
    """PEM private key of ``cert_file``; None if the certificate file holds it too."""
    allowed_origins: tuple[str, ...] = ()
    """``Origin`` values accepted from browsers (empty: any); no ``Origin`` is accepted."""
    audit_log: Path | None = None
    """File that gets one JSON line per join, leave, removal and refusal (None: none)."""
    limits: Limits = field(default_factory=Limits)
    """Per-client limits: message rate, connections per address, timeouts, send buffer."""
    max_rooms: int = MAX_ROOMS
    """Rooms the server holds at once (ghost rooms included); beyond: ``server-full``."""
    max_waiting: int = MAX_GHOSTS
    """Participants waiting to rejoin on the whole server (per address: as many as
    ``limits.connections_per_address``); beyond, the one that waited longest leaves."""
    board: BoardLimits = field(default_factory=BoardLimits)
    """What one room's board may hold (marks, points, pinned marks, bytes)."""
    state_dir: Path | None = None
    """Folder for the rooms' state journals, so a restarted server gives back who was in
    each room, its chat and its marks (``signaling_server.state``); None: memory only."""
    rejoin_grace: float = REJOIN_GRACE
    """Seconds a participant whose connection dropped keeps its seat (same id, drawing
    right) for its client to rejoin; 0 lets it leave at once."""
    ice_servers: tuple[IceServer, ...] = ()
    """STUN and TURN servers every participant gets in its ``welcome`` (``--ice-server``)."""
    turn_secret: bytes | None = field(default=None, repr=False)
    """coturn's ``static-auth-secret`` (``--turn-secret-file``): each participant gets
    its own TURN REST credentials for the TURN servers above that have none of their own;
    None passes the servers on as they are."""
    turn_credential_ttl: float = DEFAULT_TURN_CREDENTIAL_TTL
    """How long a participant's TURN credentials work, in seconds."""
    media_server_dir: Path | None = None
    """The folder ``python -m signaling_server media-server`` wrote (its
    ``media-server.json`` says where Janus is and holds its secrets): rooms in class mode,
    or with more than ``class_threshold`` viewers, go through that Janus. None: every room
    peer to peer."""
    class_threshold: int = 4
    """Viewers (everyone but the surgeons) above which a room moves to the media server."""

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be 0..65535, got {self.port}")
        if self.max_room_size < 1:
            raise ConfigError(f"max room size must be at least 1, got {self.max_room_size}")
        if not 1 <= self.max_message_bytes <= TRANSPORT_MAX_BYTES:
            raise ConfigError(
                f"max message bytes must be 1..{TRANSPORT_MAX_BYTES}, got {self.max_message_bytes}"
            )
        if self.secret is not None:
            check_secret(self.secret)
        elif not is_loopback(self.host):
            raise ConfigError(
                f"refusing to listen on {self.host or 'every address'} without room tokens: "
                "anyone who can reach it could join any room. Give the token secret with "
                "--secret-file FILE or the SURGERY_TEACH_SECRET environment variable, or "
                "listen on 127.0.0.1 only"
            )
        if self.class_threshold < 1:
            raise ConfigError(f"the class threshold must be at least 1 viewer, got "
                              f"{self.class_threshold}")
        if self.max_rooms < 1 or self.max_waiting < 0:
            raise ConfigError(f"max rooms must be at least 1 and max waiting at least 0, got "
                              f"{self.max_rooms} and {self.max_waiting}")
        if not 0 <= self.rejoin_grace <= 3600:
            raise ConfigError(f"rejoin grace must be 0..3600 seconds, got {self.rejoin_grace:g}")
        if self.key_file is not None and self.cert_file is None:
            raise ConfigError("a TLS key needs its certificate: give --cert as well as --key")
        self.allowed_origins = tuple(self.allowed_origins)
        self.ice_servers = tuple(self.ice_servers)
        check_server_ice(self.ice_servers, self.turn_secret)  # its warnings: start_server
        if not 60 <= self.turn_credential_ttl <= 7 * 24 * 3600:
            raise ConfigError("TURN credentials must last from 60 s to 7 days, got "
                              f"{self.turn_credential_ttl:g} s")

    @property
    def secure(self) -> bool:
        """True when the server speaks TLS (``wss://``)."""
        return self.cert_file is not None


def is_loopback(host: str) -> bool:
    """True if ``host`` is a loopback address (or ``localhost``): only this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def tls_context(cert_file: Path, key_file: Path | None) -> ssl.SSLContext:
    """A TLS server context from PEM files; ConfigError if they cannot be used."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert_file, key_file)
    except OSError as exc:  # ssl.SSLError included
        raise ConfigError(
            f"cannot load the TLS certificate {str(cert_file)!r} and key "
            f"{str(key_file or cert_file)!r} ({exc.strerror or exc}); give PEM files with "
            "--cert and --key"
        ) from exc
    return context
