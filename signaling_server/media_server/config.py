"""The media server's configuration: what Janus is told, as text, from plain settings.

:func:`render_configs` is pure: settings, secrets and the plugin/transport files that
exist go in, the four ``.jcfg`` files come out. Only what a class needs is loaded (the
VideoRoom plugin, the WebSocket transport for participants, the HTTP transport for the
admin API on a loopback address); every other plugin, transport, logger and event handler
is named in a ``disable`` line, so that a Debian upgrade that adds one does not open it.

Janus runs with ``token_auth``: a participant's requests need a token that the signaling
server adds through the admin API when it joins and removes when it leaves; the signaling
server itself uses the API secret. Neither secret, nor the VideoRoom ``admin_key`` (needed
to create rooms), ever reaches a client or a log.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from surgery_teach.errors import ConfigError

JANUS_CONFIG = "janus.jcfg"
VIDEOROOM_CONFIG = "janus.plugin.videoroom.jcfg"
WEBSOCKETS_CONFIG = "janus.transport.websockets.jcfg"
HTTP_CONFIG = "janus.transport.http.jcfg"
CONFIG_FILES = (JANUS_CONFIG, VIDEOROOM_CONFIG, WEBSOCKETS_CONFIG, HTTP_CONFIG)

VIDEOROOM_PLUGIN = "libjanus_videoroom.so"
NEEDED_PLUGINS = frozenset({VIDEOROOM_PLUGIN})
NEEDED_TRANSPORTS = frozenset({"libjanus_websockets.so", "libjanus_http.so"})

DEBIAN_LIBRARY = "/usr/lib/x86_64-linux-gnu/janus"
"""Where Debian's ``janus`` package puts its plugins, transports, loggers and events."""

DEFAULT_ICE_IGNORE = ("vmnet", "docker", "virbr", "br-")
"""Interfaces Janus never offers as candidates: virtual bridges of VMs and containers.
Not ``veth``: the network lab (and containers' own side) reach Janus over veth pairs.
Janus skips loopback by itself."""

_SECRET_BYTES = 32
_JCFG_SAFE = re.compile(r"[\x20-\x7e]*")


@dataclass(frozen=True)
class TurnRelay:
    """The TURN server Janus itself uses (coturn), with fixed credentials.

    With coturn's ``use-auth-secret`` these are TURN REST credentials made once, when the
    configuration is written, valid for the media server's whole run (see
    :mod:`signaling_server.media_server.command`)."""

    host: str
    port: int = 3478
    transport: str = "udp"
    username: str = ""
    password: str = field(default="", repr=False)


@dataclass(frozen=True, kw_only=True)
class JanusSettings:
    """How the media server listens and reaches the network; every field has a default
    that works on one in-country box next to the signaling server."""

    api_host: str = "127.0.0.1"
    """Address the Janus API (WebSocket) listens on: clients connect here. ``0.0.0.0`` for
    every interface; put a TLS proxy in front for the internet."""
    api_port: int = 8188
    admin_host: str = "127.0.0.1"
    """Address of the admin API (HTTP): loopback only, for the signaling server on the
    same box. Janus's admin API can add tokens and inspect every session."""
    admin_port: int = 7088
    public_ip: str | None = None
    """The address clients see when the box sits behind a 1:1 NAT (cloud VMs); Janus then
    puts it in its candidates (``nat_1_1_mapping``) and keeps the private one too."""
    ice_enforce: tuple[str, ...] = ()
    """Only these interfaces or addresses for ICE (empty: all but ``ice_ignore``)."""
    ice_ignore: tuple[str, ...] = DEFAULT_ICE_IGNORE
    stun: tuple[str, int] | None = None
    turn: TurnRelay | None = None
    rtp_ports: tuple[int, int] = (20000, 40000)
    session_timeout: int = 60
    """Seconds without a request (keepalive) after which Janus drops a session."""
    debug_level: int = 4
    """Janus's log detail, 0-7. Above 4 it logs SDP bodies: keep it at 4 or below."""
    library_folder: str = DEBIAN_LIBRARY

    def __post_init__(self) -> None:
        for what, host in (("API address", self.api_host), ("admin address", self.admin_host)):
            _check_ip(host, what)
        if not ipaddress.ip_address(self.admin_host).is_loopback:
            raise ConfigError(
                f"the media server's admin API must listen on a loopback address (got "
                f"{self.admin_host}): it can add tokens and read every session. Run the "
                "signaling server on the same box and keep 127.0.0.1")
        if self.public_ip is not None:
            _check_ip(self.public_ip, "public address")
        for what, port in (("API port", self.api_port), ("admin port", self.admin_port)):
            _check_port(port, what)
        if self.api_port == self.admin_port:
            raise ConfigError(f"the API and admin ports must differ (both {self.api_port})")
        low, high = self.rtp_ports
        _check_port(low, "lowest RTP port")
        _check_port(high, "highest RTP port")
        if high - low < 100:
            raise ConfigError(f"the RTP port range {low}-{high} is too small: give at least "
                              "100 ports (each viewer uses one), e.g. 20000-40000")
        if not 0 <= self.debug_level <= 7:
            raise ConfigError(f"the Janus debug level must be 0-7 (got {self.debug_level})")
        if self.session_timeout < 10:
            raise ConfigError(f"the session timeout must be at least 10 s "
                              f"(got {self.session_timeout})")
        for item in (*self.ice_enforce, *self.ice_ignore):
            if not item or "," in item or not _JCFG_SAFE.fullmatch(item):
                raise ConfigError(f"ICE interface {item!r} must be a non-empty name or "
                                  "address without commas")

    @property
    def api_url(self) -> str:
        """Where clients connect to the Janus API (not the admin API): the public address
        when Janus listens on every interface and one is given."""
        host = self.api_host
        if ipaddress.ip_address(host).is_unspecified and self.public_ip is not None:
            host = self.public_ip
        return f"ws://{_url_host(host)}:{self.api_port}"

    @property
    def admin_url(self) -> str:
        return f"http://{_url_host(self.admin_host)}:{self.admin_port}/admin"


@dataclass(frozen=True)
class MediaServerSecrets:
    """What lets the signaling server, and only it, command the media server."""

    api_secret: str = field(repr=False)
    """Janus API requests of the signaling server (participants use tokens instead)."""
    admin_secret: str = field(repr=False)
    """The admin API: add and remove participants' tokens."""
    room_admin_key: str = field(repr=False)
    """VideoRoom ``admin_key``: needed to create rooms."""

    @classmethod
    def generate(cls) -> MediaServerSecrets:
        """Three fresh random secrets (made each time the media server is configured)."""
        return cls(*(secrets.token_hex(_SECRET_BYTES) for _ in range(3)))


def render_configs(settings: JanusSettings, secrets_: MediaServerSecrets, *,
                   config_folder: str, available: Mapping[str, Iterable[str]],
                   ) -> dict[str, str]:
    """The text of each Janus configuration file, by file name.

    ``available`` names the ``.so`` files Janus would load from each of its folders
    (``plugins``, ``transports``, ``loggers``, ``events``); all but the ones needed are
    disabled. ``config_folder`` is where the files will be written.
    """
    if not _JCFG_SAFE.fullmatch(config_folder) or '"' in config_folder:
        raise ConfigError(f"the configuration folder {config_folder!r} must be a plain path "
                          "(printable ASCII, no quotes)")
    folder = settings.library_folder
    general = {
        "configs_folder": config_folder,
        "plugins_folder": f"{folder}/plugins",
        "transports_folder": f"{folder}/transports",
        "events_folder": f"{folder}/events",
        "loggers_folder": f"{folder}/loggers",
        "debug_level": settings.debug_level,
        "server_name": "surgery_teach media server",
        "session_timeout": settings.session_timeout,
        "api_secret": secrets_.api_secret,
        "token_auth": True,
        "admin_secret": secrets_.admin_secret,
        "hide_dependencies": True,
    }
    nat: dict[str, object] = {"nice_debug": False, "ignore_mdns": True}
    if settings.ice_enforce:
        nat["ice_enforce_list"] = ",".join(settings.ice_enforce)
    if settings.ice_ignore:
        nat["ice_ignore_list"] = ",".join(settings.ice_ignore)
    if settings.public_ip is not None:
        nat["nat_1_1_mapping"] = settings.public_ip
        nat["keep_private_host"] = True
    if settings.stun is not None:
        nat["stun_server"], nat["stun_port"] = settings.stun
    if settings.turn is not None:
        turn = settings.turn
        nat.update(turn_server=turn.host, turn_port=turn.port, turn_type=turn.transport,
                   turn_user=turn.username, turn_pwd=turn.password)
    janus = {
        "general": general,
        "certificates": {},
        "media": {"ipv6": False, "rtp_port_range": "{}-{}".format(*settings.rtp_ports),
                  "no_media_timer": 1, "slowlink_threshold": 4},
        "nat": nat,
        "plugins": _disable(available.get("plugins", ()), NEEDED_PLUGINS),
        "transports": _disable(available.get("transports", ()), NEEDED_TRANSPORTS),
        "loggers": _disable(available.get("loggers", ()), frozenset()),
        "events": {"broadcast": False, **_disable(available.get("events", ()), frozenset())},
    }
    videoroom = {"general": {"admin_key": secrets_.room_admin_key, "lock_rtp_forward": True,
                             "events": False}}
    websockets = {
        "general": {"json": "plain", "ws": True, "ws_ip": settings.api_host,
                    "ws_port": settings.api_port, "wss": False, "ws_logging": "err,warn"},
        "admin": {"admin_ws": False, "admin_wss": False},
    }
    http = {
        "general": {"json": "plain", "http": False, "https": False},
        "admin": {"admin_base_path": "/admin", "admin_http": True,
                  "admin_ip": settings.admin_host, "admin_port": settings.admin_port,
                  "admin_https": False,
                  "admin_acl": "127." if settings.admin_host.startswith("127.") else "::1"},
    }
    return {JANUS_CONFIG: to_jcfg(janus), VIDEOROOM_CONFIG: to_jcfg(videoroom),
            WEBSOCKETS_CONFIG: to_jcfg(websockets), HTTP_CONFIG: to_jcfg(http)}


def _disable(available: Iterable[str], needed: frozenset[str]) -> dict[str, object]:
    unwanted = sorted({name for name in available if name.endswith(".so")} - needed)
    return {"disable": ",".join(unwanted)} if unwanted else {}


def to_jcfg(sections: Mapping[str, Mapping[str, object]]) -> str:
    """Janus's libconfig text for ``{section: {key: value}}`` (str, int, bool values)."""
    lines = ["# Written by python -m signaling_server media-server; rewritten at each start."]
    for section, values in sections.items():
        lines.append(f"{section}: {{")
        lines.extend(f"\t{key} = {_jcfg_value(key, value)}" for key, value in values.items())
        lines.append("}")
    return "\n".join(lines) + "\n"


def _jcfg_value(key: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and _JCFG_SAFE.fullmatch(value):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise ConfigError(f"media-server setting {key} must be printable ASCII text, a number "
                      f"or true/false")


def _check_ip(text: str, what: str) -> None:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise ConfigError(f"the media server's {what} {text!r} is not an IP address "
                          "(e.g. 127.0.0.1, 0.0.0.0 or 203.0.113.7)") from None


def _check_port(port: int, what: str) -> None:
    if not 1 <= port <= 65535:
        raise ConfigError(f"the media server's {what} must be 1-65535 (got {port})")


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
