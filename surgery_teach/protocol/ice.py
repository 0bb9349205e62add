"""ICE servers (STUN and TURN) as the server hands them out and the clients take them.

A participant behind a firewall or a strict NAT reaches the others only through a TURN
relay (coturn). The signaling server gives every participant the ICE servers in its
``welcome``; with coturn's ``use-auth-secret`` it makes each participant its own
time-limited TURN credentials (the TURN REST scheme, :func:`turn_rest_credentials`).
The headless client's ``--ice-server`` option and the desktop setting write ICE servers
as one line of text each (:func:`parse_ice_server`).

Pure: no I/O, no aiortc (``surgery_teach.rtc.ice_config`` turns these into aiortc's
configuration), the current time is always passed in. Credentials never appear in a
``repr``, a log line or an error message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote, unquote

from surgery_teach.errors import ConfigError
from surgery_teach.wire.fields import JsonObject, bad, json_kind, show

SCHEMES: Final = ("stun", "turn", "turns")
"""URL schemes an ICE server may have: what aiortc can use (no ``stuns:``, no DTLS)."""
DEFAULT_PORTS: Final = {"stun": 3478, "turn": 3478, "turns": 5349}
MAX_ICE_SERVERS: Final = 8
"""Most ICE servers in one list (a ``welcome``, the options, the desktop setting)."""
MAX_ICE_URLS: Final = 8
"""Most URLs of one ICE server."""
MAX_ICE_URL_CHARS: Final = 256
MAX_ICE_USERNAME_CHARS: Final = 256
MAX_ICE_CREDENTIAL_CHARS: Final = 256
MAX_HOST_CHARS: Final = 253
DEFAULT_TURN_CREDENTIAL_TTL: Final = 24 * 3600.0
"""How long a participant's TURN credentials work (seconds). coturn checks the expiry when
a relay is allocated (4.6.1 here went on refreshing and binding channels for an
allocation after its credentials expired), but a client allocates one for every peer
connection it makes, also for someone who joins hours later, with the credentials of its
``welcome``: so they must outlive the longest operation, not just the join."""
MIN_TURN_SECRET_BYTES: Final = 16

ICE_SERVER_SYNTAX: Final = (
    "write stun:HOST[:PORT], turn:HOST[:PORT][?transport=udp|tcp] or turns:HOST[:PORT] "
    "(TURN over TLS); a TURN server with a fixed user name and password is "
    "turn:USER:PASSWORD@HOST[:PORT] (inside USER and PASSWORD write ':' as %3A, "
    "'@' as %40 and '%' as %25), e.g. turn:teach:s3cret@turn.example-hospital.cn:3478"
)
"""The accepted syntax, quoted by every error about an ICE server's text."""

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
_DIGITS = re.compile(r"[0-9]{1,5}")
_REST_USER_SEPARATOR: Final = ":"


@dataclass(frozen=True)
class IceUrl:
    """The parts of one STUN/TURN URL; ``transport`` is ``""`` for STUN."""

    scheme: str
    host: str
    port: int
    transport: str

    @property
    def is_turn(self) -> bool:
        return self.scheme in ("turn", "turns")

    @property
    def address(self) -> str:
        """``host:port``, as people write where a server is."""
        return f"{self.host}:{self.port}"


def parse_ice_url(url: str) -> IceUrl:
    """Split a STUN/TURN URL (RFC 7064/7065, without credentials); ConfigError if bad."""
    problem, parsed = _read_url(url)
    if parsed is None:
        raise ConfigError(
            f"ICE server URL {show(masked(url))}: {problem}. {ICE_SERVER_SYNTAX}"
        )
    return parsed


def _read_url(url: object) -> tuple[str, IceUrl | None]:
    """``("", IceUrl)`` for a good URL, else ``(what is wrong, None)``."""
    if not isinstance(url, str):
        return f"must be a string (got {json_kind(url)})", None
    if not url:
        return "is empty", None
    if len(url) > MAX_ICE_URL_CHARS:
        return f"is {len(url)} characters long; the limit is {MAX_ICE_URL_CHARS}", None
    if not url.isascii() or not url.isprintable() or " " in url:
        return "may contain only visible ASCII characters, no spaces", None
    scheme, colon, rest = url.partition(":")
    if not colon:
        return "has no scheme (stun:, turn: or turns:)", None
    if scheme not in SCHEMES:
        if scheme.lower() in SCHEMES:
            return f"write the scheme in lower case ({scheme.lower()}:)", None
        if scheme.lower() == "stuns":
            return "stuns: (STUN over TLS) is not supported; use stun:", None
        return f"has the scheme {scheme!r}; only stun:, turn: and turns: are ICE servers", None
    if rest.startswith("//"):
        return f"has '//' after {scheme}:; write {scheme}:HOST, not {scheme}://HOST", None
    if "@" in rest:
        return (
            "has a user name or password in it; give them as the server's username and "
            "credential (the turn:USER:PASSWORD@HOST form is for the command line and settings)"
        ), None
    where, question, query = rest.partition("?")
    transport = ""
    if question:
        if scheme == "stun":
            return "stun: takes no ?transport= (STUN runs over UDP)", None
        name, equals, transport = query.partition("=")
        if name != "transport" or not equals:
            return f"has the query {show('?' + query)}; only ?transport=udp or tcp is allowed", None
        if transport not in ("udp", "tcp"):
            return f"has transport {show(transport)}; use ?transport=udp or ?transport=tcp", None
        if scheme == "turns" and transport != "tcp":
            return "turns: runs over TCP only (TURN over DTLS is not supported)", None
    elif scheme != "stun":
        transport = "tcp" if scheme == "turns" else "udp"
    if where.startswith("["):
        return (
            "has an IPv6 address; aiortc cannot use one in an ICE server URL: give the "
            "server's host name or IPv4 address"
        ), None
    host, colon, port_text = where.partition(":")
    if not host:
        return "names no host", None
    if len(host) > MAX_HOST_CHARS or not _HOST_NAME.fullmatch(host):
        return f"has the host {show(host)}, which is not a host name or IPv4 address", None
    if host.replace(".", "").isdigit():
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return f"has the host {show(host)}, which is not a valid IPv4 address", None
    if colon:
        if not _DIGITS.fullmatch(port_text) or not 1 <= int(port_text) <= 65535:
            return f"has the port {show(port_text)}; a port is a number from 1 to 65535", None
        port = int(port_text)
    else:
        port = DEFAULT_PORTS[scheme]
    return "", IceUrl(scheme, host, port, transport)


@dataclass(frozen=True)
class IceServer:
    """One STUN or TURN server: its URLs and, for TURN, the user name and password.

    Checked on construction (ConfigError naming the fix). The credential is left out of
    ``repr`` so that logging a server never leaks it; :meth:`describe` is the log form.
    """

    urls: tuple[str, ...]
    """One or more ``stun:``/``turn:``/``turns:`` URLs of the same server."""
    username: str = ""
    """TURN user name ("" for none); with the TURN REST scheme ``"<expiry>:<participant>"``."""
    credential: str = field(default="", repr=False)
    """TURN password ("" for none)."""

    def __post_init__(self) -> None:
        if isinstance(self.urls, str):
            raise ConfigError(
                f"an ICE server's urls must be a sequence of URLs, not one string "
                f"({show(self.urls)}): write urls=({self.urls!r},)"
            )
        object.__setattr__(self, "urls", tuple(self.urls))
        problem = _urls_problem(self.urls)
        if problem is None:
            problem = _credentials_problem(self.urls, self.username, self.credential)
        if problem is not None:
            where, what = problem
            raise ConfigError(f"ICE server {where}: {what}. {ICE_SERVER_SYNTAX}")

    @property
    def parsed_urls(self) -> tuple[IceUrl, ...]:
        return tuple(parse_ice_url(url) for url in self.urls)

    @property
    def is_turn(self) -> bool:
        """True if any of its URLs is a TURN relay."""
        return any(url.is_turn for url in self.parsed_urls)

    @property
    def has_credentials(self) -> bool:
        return bool(self.username)

    def describe(self) -> str:
        """How logs and messages name this server: its URLs, never the password."""
        urls = ", ".join(self.urls)
        return f"{urls} (user {self.username!r})" if self.username else urls

    def to_wire(self) -> dict[str, Any]:
        """The JSON object of this server in a ``welcome`` (``ice_servers`` entries)."""
        return {"urls": list(self.urls), "username": self.username,
                "credential": self.credential}

    @classmethod
    def from_wire(cls, value: object, path: str = "ice_server", *,
                  strict: bool = True) -> IceServer:
        """Read one ``{"urls": [...], "username": ..., "credential": ...}`` object.

        ``username`` and ``credential`` may be left out (a STUN server). ``strict``
        refuses fields this format does not know (what a server demands); without it
        they are ignored (what a client does with a newer server). Types, lengths and
        the URLs are always checked: ProtocolError ``bad-message`` naming the field.
        """
        obj = JsonObject(value, path, ("urls", "username", "credential"), strict=strict,
                         what="an ICE server")
        items = obj.array("urls")
        if not items:
            raise bad(obj.path("urls"), "must list at least one URL")
        if len(items) > MAX_ICE_URLS:
            raise bad(obj.path("urls"), f"has {len(items)} URLs; the limit is {MAX_ICE_URLS}")
        urls: list[str] = []
        for index, item in enumerate(items):
            problem, parsed = _read_url(item)
            if parsed is None:
                raise bad(f"{obj.path('urls')}[{index}]", problem)
            urls.append(item)  # type: ignore[arg-type]  # _read_url accepted a str
        username = obj.text("username", default="")
        credential = obj.text("credential", default="")
        checked = _credentials_problem(tuple(urls), username, credential)
        if checked is not None:
            raise bad(obj.path(checked[0]), checked[1])
        return cls(tuple(urls), username, credential)


def _urls_problem(urls: tuple[object, ...]) -> tuple[str, str] | None:
    if not urls:
        return "urls", "lists no URL; give at least one"
    if len(urls) > MAX_ICE_URLS:
        return "urls", f"has {len(urls)} URLs; the limit is {MAX_ICE_URLS}"
    for url in urls:
        problem, parsed = _read_url(url)
        if parsed is None:
            return f"URL {show(masked(url) if isinstance(url, str) else url)}", problem
    return None


def _credentials_problem(urls: tuple[str, ...], username: object,
                         credential: object) -> tuple[str, str] | None:
    """``(field, what is wrong)`` about the user name and password, or None. Never quotes
    the credential."""
    for name, value, limit in (("username", username, MAX_ICE_USERNAME_CHARS),
                               ("credential", credential, MAX_ICE_CREDENTIAL_CHARS)):
        if not isinstance(value, str):
            return name, f"must be a string (got {json_kind(value)})"
        if len(value) > limit:
            return name, f"is {len(value)} characters long; the limit is {limit}"
        if value and (not value.isprintable() or value != value.strip()):
            return name, "must not contain control characters or surrounding spaces"
    if bool(username) != bool(credential):
        missing = "credential" if username else "username"
        return missing, ("is missing: a TURN server needs both a user name and a password "
                         "(credential), or neither")
    if username and not any(parse_ice_url(url).is_turn for url in urls):
        return "username", ("is set, but only TURN servers (turn:, turns:) take a user name "
                            "and password")
    return None


def parse_ice_server(text: str) -> IceServer:
    """Read one ICE server as the command line (``--ice-server``) and settings write it.

    ``stun:HOST[:PORT]``, ``turn:HOST[:PORT][?transport=udp|tcp]``, ``turns:HOST[:PORT]``,
    and for a TURN server with a fixed user name and password
    ``turn:USER:PASSWORD@HOST[:PORT][?transport=...]``. RFC 7065 has no place for
    credentials in a TURN URL, so this ``USER:PASSWORD@`` prefix is our extension, the
    userinfo of generic URLs as GStreamer's ``turn-server`` property
    (``turn://USER:PASSWORD@HOST:PORT``) and the JavaScript ``normalice`` package
    (``turn:USER:PASSWORD@HOST``) also write it. It is split off here and the URL handed
    to WebRTC is the plain one. The
    user name ends at the first ``:`` and the password at the last ``@``; inside them
    ``%3A`` is ``:``, ``%40`` is ``@`` and ``%25`` is ``%`` (a TURN REST user name
    ``1767225600:p-0a1b2c3d`` is written ``1767225600%3Ap-0a1b2c3d``). Surrounding white
    space is ignored. ConfigError with the accepted syntax when the text is not one of
    these; the password is never repeated in it.
    """
    if not isinstance(text, str):
        raise ConfigError(
            f"an ICE server must be text (got {json_kind(text)}). {ICE_SERVER_SYNTAX}"
        )
    text = text.strip()
    scheme, colon, rest = text.partition(":")
    if not (colon and "@" in rest and scheme in SCHEMES and not rest.startswith("//")):
        return IceServer((text,))
    userinfo, _, location = rest.rpartition("@")
    user, has_password, password = userinfo.partition(":")
    if not user or not has_password or not password:
        raise ConfigError(
            f"ICE server {show(masked(text))}: give both the user name and the password, "
            f"as USER:PASSWORD@HOST. {ICE_SERVER_SYNTAX}"
        )
    return IceServer((f"{scheme}:{location}",), _unescape(user, "user name"),
                     _unescape(password, "password"))


def masked(url: str) -> str:
    """``url`` with any ``USER:PASSWORD@`` part replaced by ``***@``, for messages."""
    scheme, colon, rest = url.partition(":")
    if not colon or "@" not in rest:
        return url
    slashes = "//" if rest.startswith("//") else ""
    return f"{scheme}:{slashes}***@{rest.rpartition('@')[2]}"


def _unescape(part: str, what: str) -> str:
    if re.search(r"%(?![0-9A-Fa-f]{2})", part):
        raise ConfigError(
            f"the {what} of an ICE server has a '%' that is not followed by two hex "
            f"digits; write '%' itself as %25. {ICE_SERVER_SYNTAX}"
        )
    try:
        return unquote(part, errors="strict")
    except UnicodeDecodeError:
        raise ConfigError(
            f"the {what} of an ICE server has %-escapes that are not UTF-8 text; escape "
            f"only ':', '@' and '%' (as %3A, %40, %25). {ICE_SERVER_SYNTAX}"
        ) from None


def format_ice_server(server: IceServer) -> list[str]:
    """The lines :func:`parse_ice_server` reads back as ``server``: one per URL.

    For saving the desktop setting. The password is in the text: store it like one.
    """
    if not server.username:
        return list(server.urls)
    userinfo = f"{quote(server.username, safe='')}:{quote(server.credential, safe='')}"
    return [f"{scheme}:{userinfo}@{rest}"
            for scheme, _, rest in (url.partition(":") for url in server.urls)]


def ice_servers_to_wire(servers: Sequence[IceServer]) -> list[dict[str, Any]]:
    """The ``ice_servers`` array of a ``welcome``."""
    return [server.to_wire() for server in servers]


def ice_servers_from_wire(value: object, path: str = "ice_servers", *,
                          strict: bool = True) -> tuple[IceServer, ...]:
    """Read a ``welcome``'s ``ice_servers`` array (at most MAX_ICE_SERVERS entries)."""
    if not isinstance(value, list):
        raise bad(path, f"must be an array (got {json_kind(value)})")
    if len(value) > MAX_ICE_SERVERS:
        raise bad(path, f"has {len(value)} servers; the limit is {MAX_ICE_SERVERS}")
    return tuple(IceServer.from_wire(item, f"{path}[{index}]", strict=strict)
                 for index, item in enumerate(value))


def turn_rest_credentials(secret: bytes, participant: str, *, now: float,
                          ttl: float = DEFAULT_TURN_CREDENTIAL_TTL) -> tuple[str, str]:
    """Time-limited TURN credentials for ``participant`` (coturn's ``use-auth-secret``).

    The TURN REST scheme: the user name is ``"<expiry, Unix seconds>:<participant>"`` and
    the password base64(HMAC-SHA1(secret, user name)), which coturn recomputes from its
    ``static-auth-secret``; it refuses them (401) after the expiry. ``now`` is the current
    Unix time; ``ttl`` how long they work, in seconds.
    """
    check_turn_secret(secret)
    if not isinstance(participant, str) or not participant or not participant.isprintable():
        raise ConfigError(f"TURN credentials need a participant id (got {show(participant)})")
    if not (math.isfinite(now) and math.isfinite(ttl) and ttl > 0):
        raise ConfigError(f"TURN credentials need a finite time and a positive ttl "
                          f"(got now={now!r}, ttl={ttl!r})")
    username = f"{int(now + ttl)}{_REST_USER_SEPARATOR}{participant}"
    digest = hmac.new(secret, username.encode("utf-8"), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def check_turn_secret(secret: bytes) -> bytes:
    """Return ``secret`` if it can sign TURN credentials, else ConfigError naming the fix."""
    if not isinstance(secret, bytes) or len(secret) < MIN_TURN_SECRET_BYTES:
        size = len(secret) if isinstance(secret, bytes) else 0
        raise ConfigError(
            f"the TURN secret is {size} bytes; use at least {MIN_TURN_SECRET_BYTES} random "
            "bytes, the same as coturn's static-auth-secret, e.g. "
            "python -c \"import secrets; print(secrets.token_urlsafe(48))\""
        )
    return secret


def check_server_ice(servers: Sequence[IceServer], turn_secret: bytes | None) -> list[str]:
    """Check the signaling server's ICE options; return warnings worth logging.

    ConfigError when a TURN secret is given without a TURN server to use it with, or the
    secret is too short. A TURN server without credentials is only a warning (coturn
    can run without authentication, as an open relay).
    """
    if len(servers) > MAX_ICE_SERVERS:
        raise ConfigError(f"{len(servers)} ICE servers given; the limit is {MAX_ICE_SERVERS}")
    unsigned = [s for s in servers if s.is_turn and not s.has_credentials]
    if turn_secret is not None:
        check_turn_secret(turn_secret)
        if not unsigned:
            raise ConfigError(
                "a TURN secret was given, but no TURN server to make credentials for: add "
                "--ice-server turn:HOST:3478 (the coturn whose static-auth-secret it is)"
            )
        return []
    return [
        f"the TURN server {server.describe()} has no credentials: coturn normally refuses "
        "it. Give --turn-secret-file FILE (coturn's static-auth-secret) or write "
        "turn:USER:PASSWORD@HOST"
        for server in unsigned
    ]


def ice_servers_for(participant: str, servers: Sequence[IceServer], *,
                    turn_secret: bytes | None, now: float,
                    ttl: float = DEFAULT_TURN_CREDENTIAL_TTL) -> tuple[IceServer, ...]:
    """The ICE servers the signaling server gives ``participant`` in its ``welcome``.

    With a ``turn_secret``, every TURN URL of a server that has no credentials of its own
    gets fresh TURN REST credentials for this participant (:func:`turn_rest_credentials`);
    its STUN URLs stay a separate entry without any. Servers with their own user name and
    password, and everything when there is no secret, are passed on as they are.
    """
    out: list[IceServer] = []
    credentials: tuple[str, str] | None = None
    for server in servers:
        if turn_secret is None or server.has_credentials or not server.is_turn:
            out.append(server)
            continue
        if credentials is None:
            credentials = turn_rest_credentials(turn_secret, participant, now=now, ttl=ttl)
        stun = tuple(url for url, parsed in zip(server.urls, server.parsed_urls, strict=True)
                     if not parsed.is_turn)
        turn = tuple(url for url in server.urls if url not in stun)
        if stun:
            out.append(IceServer(stun))
        out.append(IceServer(turn, *credentials))
    return tuple(out)

