"""Our ICE servers as aiortc's configuration, a probe of a TURN relay, and a plain
sentence saying why a connection to someone failed.

What aiortc 1.16 / aioice 0.13 do with ICE servers (read in their sources):

* aiortc uses **one** STUN URL and **one** TURN URL: the first of each in the list it is
  given (``rtcicetransport.connection_kwargs``), skipping TURN URLs it cannot use
  (``turns:`` other than over TCP, credential types other than a password). An empty
  list means none; ``None`` would mean Google's public STUN server, which we never use.
* A TURN allocation that fails is dropped **silently**: aioice gathers candidates as tasks
  and keeps only those without an exception (``ice.Connection.get_component_candidates``);
  nothing is logged. A 401 from the relay (wrong or expired credentials) raises
  ``stun.TransactionFailed`` with ``response.error_code == 401`` after one retry with the
  realm and nonce; an unreachable relay raises ``stun.TransactionTimeout`` (UDP) or an
  ``OSError`` (TCP, DNS), and gathering gives up on it after 5 s.
* So a session learns that the relay failed from the candidates it gathered (no ``relay``
  candidate in its local description although a TURN server was configured:
  :func:`candidate_types`), and why by asking the relay itself (:func:`probe_turn`, one
  allocation made and deleted again).
* When nothing works, aioice reports failure only after its connectivity checks time out
  (a check is a STUN transaction: 7 sends, 0.5 s doubling, about 63 s), and with no
  candidate at all (relay only, relay refused) the connection stays ``"new"`` for good
  (measured: 45 s). A session that must say so within 15 s keeps its own timer.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from aioice import stun, turn
from aiortc import RTCConfiguration, RTCIceServer
from aiortc.rtcconfiguration import RTCIceTransportPolicy

from surgery_teach.protocol.ice import IceServer, IceUrl, parse_ice_url

PROBE_TIMEOUT: Final = 5.0
"""Seconds :func:`probe_turn` waits for a relay: what aioice gives a TURN allocation."""

_CANDIDATE_TYPE = re.compile(r"^a=candidate:\S+ \d+ \S+ \d+ \S+ \d+ typ (\w+)", re.MULTILINE)


@dataclass(frozen=True)
class IcePlan:
    """The STUN and TURN server a peer connection will really use, and what it will not."""

    stun: str | None
    """The STUN URL used (``None``: no server-reflexive candidates)."""
    turn: IceServer | None
    """The one TURN relay used: a server with one URL and its credentials."""
    unused: tuple[str, ...]
    """URLs given but not used (aiortc takes one STUN and one TURN URL), for a log line."""

    def configuration(self, *, relay_only: bool = False) -> RTCConfiguration:
        """aiortc's configuration; ``relay_only`` keeps every path through the relay."""
        servers = []
        if self.stun is not None:
            servers.append(RTCIceServer(urls=self.stun))
        if self.turn is not None:
            servers.append(RTCIceServer(urls=self.turn.urls[0],
                                        username=self.turn.username or None,
                                        credential=self.turn.credential or None))
        policy = RTCIceTransportPolicy.RELAY if relay_only else RTCIceTransportPolicy.ALL
        return RTCConfiguration(iceServers=servers, iceTransportPolicy=policy)


def turn_choices(servers: Sequence[IceServer]) -> list[IceServer]:
    """Every TURN URL aiortc can use, as a one-URL server with its credentials, in the
    order given: the server's operator lists the relay most people reach first. Every
    URL :class:`IceServer` accepts is one aiortc can use."""
    return [
        IceServer((url,), server.username, server.credential)
        for server in servers
        for url, parsed in zip(server.urls, server.parsed_urls, strict=True)
        if parsed.is_turn
    ]


def plan_ice(servers: Sequence[IceServer], *, turn: IceServer | None = None) -> IcePlan:
    """Which STUN and TURN URL to hand aiortc, which can use one of each.

    The TURN relay is ``turn`` if given (one of :func:`turn_choices`, e.g. the first a
    :func:`probe_turn` found working), else the first choice. The STUN server is the
    first ``stun:`` URL; without one, a ``turn:`` relay over UDP doubles as STUN server
    (coturn answers STUN on its TURN port), so that participants behind a friendly NAT
    connect directly instead of through the relay.
    """
    choices = turn_choices(servers)
    chosen = turn if turn is not None else (choices[0] if choices else None)
    stuns = [url for server in servers
             for url, parsed in zip(server.urls, server.parsed_urls, strict=True)
             if not parsed.is_turn]
    stun_url = stuns[0] if stuns else None
    if stun_url is None and chosen is not None:
        relay = parse_ice_url(chosen.urls[0])
        if relay.scheme == "turn" and relay.transport == "udp":
            stun_url = f"stun:{relay.address}"
    used = {stun_url, chosen.urls[0] if chosen else None}
    unused = tuple(url for server in servers for url in server.urls if url not in used)
    return IcePlan(stun=stun_url, turn=chosen, unused=unused)


def rtc_configuration(servers: Sequence[IceServer], *,
                      relay_only: bool = False) -> RTCConfiguration:
    """aiortc's configuration for ``servers`` (:func:`plan_ice`'s first choice)."""
    return plan_ice(servers).configuration(relay_only=relay_only)


def candidate_types(sdp: str) -> frozenset[str]:
    """The ICE candidate types (``host``, ``srflx``, ``prflx``, ``relay``) in an SDP.

    aiortc puts every gathered candidate into its local description, so this on
    ``pc.localDescription.sdp`` tells whether the TURN relay gave this side a candidate.
    """
    return frozenset(_CANDIDATE_TYPE.findall(sdp))


class TurnOutcome(StrEnum):
    """What a TURN relay answered to an allocation (:func:`probe_turn`)."""

    RELAYED = "relayed"
    """It gave an allocation: the relay works with these credentials."""
    REFUSED = "refused"
    """401: it refused the credentials (wrong, or expired)."""
    REJECTED = "rejected"
    """Another error (e.g. 486 allocation quota reached, 508 insufficient capacity)."""
    UNREACHABLE = "unreachable"
    """No answer, or the connection was refused."""
    UNKNOWN_HOST = "unknown-host"
    """Its host name could not be resolved."""
    UNTRUSTED = "untrusted"
    """``turns:``: its TLS certificate is not trusted by this computer."""


@dataclass(frozen=True)
class TurnProbe:
    """The answer of one TURN relay to :func:`probe_turn`."""

    url: str
    outcome: TurnOutcome
    error_code: int | None = None
    """The STUN error code for REFUSED and REJECTED."""
    detail: str = ""
    """The relay's reason phrase or the system's error text (no credentials in it)."""

    @property
    def where(self) -> str:
        return parse_ice_url(self.url).address


class _Probe(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


async def probe_turn(server: IceServer, *, timeout: float = PROBE_TIMEOUT) -> TurnProbe:
    """Ask ``server``'s first TURN URL for an allocation, the way aioice does, and delete
    it again: whether the relay works with these credentials, and if not, why."""
    url = next(u for u, p in zip(server.urls, server.parsed_urls, strict=True) if p.is_turn)
    relay: IceUrl = parse_ice_url(url)
    try:
        transport, probe = await asyncio.wait_for(
            turn.create_turn_endpoint(
                _Probe,
                server_addr=(relay.host, relay.port),
                username=server.username or None,
                password=server.credential or None,
                ssl=relay.scheme == "turns",
                transport=relay.transport,
            ),
            timeout,
        )
    except stun.TransactionFailed as exc:
        code = exc.response.error_code
        reason = exc.response.attributes.get("ERROR-CODE", (code, ""))[1]
        outcome = TurnOutcome.REFUSED if code == 401 else TurnOutcome.REJECTED
        return TurnProbe(url, outcome, code, str(reason))
    except (stun.TransactionTimeout, TimeoutError):
        return TurnProbe(url, TurnOutcome.UNREACHABLE, detail=f"no answer within {timeout:g} s")
    except socket.gaierror as exc:
        return TurnProbe(url, TurnOutcome.UNKNOWN_HOST, detail=str(exc.strerror or exc))
    except ssl.SSLCertVerificationError as exc:
        return TurnProbe(url, TurnOutcome.UNTRUSTED, detail=str(exc.verify_message or exc))
    except OSError as exc:  # refused or reset (ConnectionError), no route, ...
        return TurnProbe(url, TurnOutcome.UNREACHABLE, detail=str(exc.strerror or exc))
    transport.close()
    try:
        await asyncio.wait_for(asyncio.shield(probe.closed), timeout)
    except TimeoutError:
        pass  # the relay frees the allocation when it expires
    return TurnProbe(url, TurnOutcome.RELAYED)


def explain_ice_failure(
    peer_name: str,
    *,
    servers: Sequence[IceServer],
    local_types: Collection[str],
    remote_types: Collection[str] | None = None,
    probe: TurnProbe | None = None,
) -> str:
    """Why there is no connection to ``peer_name``, in words a surgeon can pass on.

    ``servers`` are the ICE servers this side was given, ``local_types`` and
    ``remote_types`` the candidate types of the two descriptions (:func:`candidate_types`;
    ``None`` if the other side's are unknown), ``probe`` what :func:`probe_turn` found
    (``None`` if the relay was not asked). Pure: the session gathers the facts.
    """
    lost = f"no connection to {peer_name}'s computer"
    if probe is not None and probe.outcome is not TurnOutcome.RELAYED:
        return f"{lost}: {_relay_trouble(probe)}."
    plan = plan_ice(servers)
    if plan.turn is None:
        if plan.stun is None:
            return (f"{lost}: no STUN or TURN server is set up, so only computers on the "
                    "same network can connect. Ask the administrator to set up a TURN relay.")
        stun_note = ("" if "srflx" in local_types else
                     f" (and the STUN server at {parse_ice_url(plan.stun).address} did not answer)")
        return (f"{lost}: no network path between the two computers, and the server offers no "
                f"TURN relay{stun_note}, which a firewall or strict NAT in between makes "
                "necessary. Ask the administrator to set up a TURN relay.")
    relay = parse_ice_url(plan.turn.urls[0]).address
    if "relay" not in local_types and probe is not None:
        return (f"{lost}: the TURN relay at {relay} gave this computer no connection, "
                "although it answers now. Try connecting again.")
    if "relay" not in local_types:
        return (f"{lost}: this computer got no connection through the TURN relay at {relay} "
                "(it could not be reached or refused the credentials).")
    if remote_types is not None and "relay" not in remote_types:
        return (f"{lost}: {peer_name}'s computer could not use the TURN relay at {relay}; "
                "their network may block it.")
    return (f"{lost}, even through the TURN relay at {relay}: the relay may not be allowed "
            "to pass traffic between the two. Ask the administrator to check its log.")


def _relay_trouble(probe: TurnProbe) -> str:
    relay = f"the TURN relay at {probe.where}"
    match probe.outcome:
        case TurnOutcome.REFUSED:
            return (f"{relay} refused the credentials (wrong, or expired). Ask the "
                    "administrator to check that the signaling server's TURN secret is "
                    "coturn's static-auth-secret and that the computers' clocks are right")
        case TurnOutcome.UNREACHABLE:
            return (f"{relay} could not be reached ({probe.detail}); a firewall may block "
                    "it. A turns: relay on port 443 gets through most firewalls")
        case TurnOutcome.UNKNOWN_HOST:
            return f"the name of {relay} could not be found ({probe.detail})"
        case TurnOutcome.UNTRUSTED:
            return (f"{relay} showed a TLS certificate this computer does not trust "
                    f"({probe.detail})")
        case _:
            return f"{relay} turned the request down ({probe.error_code} {probe.detail})"
