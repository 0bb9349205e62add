"""The lab's scenarios, and running one: build its networks, start the server, the
surgeon's publisher and the viewers, let them run, collect what they measured.

Each scenario gets a lab of its own (fresh namespaces, queues, conntrack tables), torn
down at the end whatever happens.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from pathlib import Path

from bench.netlab import coturn, links
from bench.netlab.commands import LabError
from bench.netlab.processes import (
    LabProcess,
    SignalingServer,
    server_options,
    start_client,
    start_signaling,
    start_silent_peer,
)
from bench.netlab.report import ScenarioResult, viewer_row
from bench.netlab.topology import Lab, Nat
from surgery_teach.protocol import Role

PUBLISHER_SITE = "county"
JOIN_TIMEOUT = 45.0
"""Seconds for the publisher to start (import, encoder check) and join."""
EXIT_TIMEOUT = 60.0
"""Seconds a viewer may take beyond its duration to connect, leave and write its stats."""
TURN_SERVER_OPTIONS = ("--ice-server", "--turn-secret-file")


class Ice(StrEnum):
    """Which ICE servers the clients get."""

    NONE = "none"
    STUN = "stun"
    """coturn's STUN, given to the clients with ``--ice-server``."""
    TURN = "turn"
    """coturn's STUN and TURN, given by the signaling server (``--ice-server``,
    ``--turn-secret-file``) in its ``welcome``, with TURN REST credentials."""


@dataclass(frozen=True)
class SiteSpec:
    """A hospital of a scenario: who sits there and what its link to the internet is."""

    name: str
    role: Role
    person: str
    up_mbit: float | None = None
    """Site → internet rate (None: as fast as the machine goes)."""
    down_mbit: float | None = None
    """Internet → site rate."""
    loss: float = 0.0
    """Probability that a UDP packet to or from the site is dropped at the router."""
    nat: Nat = Nat.NONE


@dataclass(frozen=True)
class Scenario:
    name: str
    what: str
    sites: tuple[SiteSpec, ...]
    silent_peer: bool = False
    ice: Ice = Ice.NONE
    connects: bool = True
    """Whether the viewers are expected to get video at all."""

    @property
    def viewers(self) -> tuple[SiteSpec, ...]:
        return tuple(s for s in self.sites if s.name != PUBLISHER_SITE)


def _sites(*, trainee2: bool = False, **changes: dict[str, object]) -> tuple[SiteSpec, ...]:
    """County, mentor and trainee (and a second trainee), with ``changes[site]`` changing
    that site's link (rates, loss, NAT)."""
    sites = [SiteSpec("county", Role.SURGEON, "Dr Wang"),
             SiteSpec("mentor", Role.MENTOR, "Dr Li"),
             SiteSpec("trainee", Role.TRAINEE, "Trainee Zhang")]
    if trainee2:
        sites.append(SiteSpec("trainee2", Role.TRAINEE, "Trainee Chen"))
    return tuple(replace(s, **changes.get(s.name, {})) for s in sites)  # type: ignore[arg-type]


def _everywhere(**link: object) -> dict[str, dict[str, object]]:
    return {name: dict(link) for name in ("county", "mentor", "trainee")}


def _lossy(p: float) -> dict[str, dict[str, object]]:
    return {"mentor": {"loss": p}, "trainee": {"loss": p}}


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("baseline", "no shaping, no loss, no NAT", _sites()),
    Scenario("weak-trainee-1.5", "trainee's link 1.5 Mbit/s each way, mentor unshaped",
             _sites(trainee={"up_mbit": 1.5, "down_mbit": 1.5})),
    Scenario("weak-trainee-0.8", "trainee's link 0.8 Mbit/s each way, mentor unshaped",
             _sites(trainee={"up_mbit": 0.8, "down_mbit": 0.8})),
    Scenario("uplink-4", "county's uplink 4 Mbit/s, three viewers",
             _sites(trainee2=True, county={"up_mbit": 4.0})),
    Scenario("loss-3", "3% of UDP dropped to and from each viewer's site", _sites(**_lossy(0.03))),
    Scenario("loss-10", "10% of UDP dropped to and from each viewer's site",
             _sites(**_lossy(0.10))),
    Scenario("silent-peer", "a trainee at the trainee's site joins and never answers",
             _sites(), silent_peer=True),
    Scenario("nat-symmetric-no-turn", "every site behind a symmetric NAT, no STUN/TURN: "
             "no connection expected", _sites(**_everywhere(nat=Nat.SYMMETRIC)),
             connects=False),
    Scenario("nat-symmetric-turn", "every site behind a symmetric NAT, TURN from the "
             "signaling server: relayed", _sites(**_everywhere(nat=Nat.SYMMETRIC)),
             ice=Ice.TURN),
    Scenario("nat-port-preserving-stun", "every site behind a port-preserving NAT, STUN: "
             "direct via server-reflexive addresses", _sites(**_everywhere(
                 nat=Nat.PORT_PRESERVING)), ice=Ice.STUN),
)}
DEFAULT_SCENARIOS = tuple(name for name in SCENARIOS if name != "nat-port-preserving-stun")
"""What ``python -m bench.netlab`` runs without ``--scenario``."""


def run_scenario(scenario: Scenario, *, seconds: float, run_dir: Path,
                 queue_ms: float = links.DEFAULT_QUEUE_MS) -> ScenarioResult:
    """Run ``scenario`` for ``seconds`` of video; its logs and statistics go to
    ``run_dir/<scenario>``. A scenario that cannot run comes back with ``error`` set."""
    out = run_dir / scenario.name
    out.mkdir(parents=True, exist_ok=True)
    result = ScenarioResult(scenario.name, scenario.what, scenario.connects, str(out),
                            sites=[{**asdict(s), "role": s.role.value, "nat": s.nat.value}
                                   for s in scenario.sites])
    try:
        with Lab((s.name, s.nat) for s in scenario.sites) as lab:
            _prepare_links(lab, scenario, queue_ms)
            server = _start_servers(lab, scenario, out)
            _run_participants(lab, scenario, server, out, seconds, result)
    except LabError as exc:
        result.error = str(exc)
    return result


def _prepare_links(lab: Lab, scenario: Scenario, queue_ms: float) -> None:
    for spec in scenario.sites:
        site = lab.sites[spec.name]
        if spec.up_mbit:
            links.shape(site.gateway_ns, site.wan_link, spec.up_mbit, queue_ms)
        if spec.down_mbit:
            links.shape(lab.router_ns, site.router_link, spec.down_mbit, queue_ms)
        if spec.loss:
            links.drop_randomly(lab.router_ns, site.router_link, spec.loss)
    county = lab.sites[PUBLISHER_SITE]
    for spec in scenario.viewers:
        to = lab.sites[spec.name].router_link
        links.count_path(lab.router_ns, f"direct:{spec.name}", county.router_link, to)
        links.count_path(lab.router_ns, f"relay:{spec.name}", "to-dc", to)


def _start_servers(lab: Lab, scenario: Scenario, out: Path) -> SignalingServer:
    if scenario.ice is Ice.NONE:
        return start_signaling(lab, out)
    turn_secret_file = out / "turn-secret"
    coturn.start_coturn(lab, out, coturn.make_secret(turn_secret_file))
    if scenario.ice is Ice.STUN:
        return start_signaling(lab, out)
    missing = [o for o in TURN_SERVER_OPTIONS if o not in server_options()]
    if missing:
        raise LabError(f"python -m signaling_server has no {' / '.join(missing)} option yet, "
                       "so it cannot hand TURN credentials to the clients")
    return start_signaling(lab, out, ice_servers=[coturn.stun_url(), coturn.turn_url()],
                           turn_secret_file=turn_secret_file)


def _run_participants(lab: Lab, scenario: Scenario, server: SignalingServer, out: Path,
                      seconds: float, result: ScenarioResult) -> None:
    """The surgeon joins first; then the viewers (and the silent peer) watch for
    ``seconds``, while the county's uplink and the router's path counters are read."""
    ice = [coturn.stun_url()] if scenario.ice is Ice.STUN else []
    county = lab.sites[PUBLISHER_SITE]
    surgeon = scenario.sites[0]
    publisher = start_client(
        lab, server, out, ns=county.lan_ns, name=surgeon.person, role=surgeon.role,
        seconds=seconds + EXIT_TIMEOUT + JOIN_TIMEOUT, stats_json=out / "publisher.json",
        ice_servers=ice, log_name="publisher")
    if not publisher.wait_for("joined room", JOIN_TIMEOUT):
        raise LabError(f"the publisher did not join: {publisher.tail(3) or 'no output'} "
                       f"(log: {publisher.log_path})")
    sent0, start = links.tx_bytes(county.gateway_ns, county.wan_link), time.monotonic()
    viewers = {spec.name: start_client(
        lab, server, out, ns=lab.sites[spec.name].lan_ns, name=spec.person, role=spec.role,
        seconds=seconds, stats_json=out / f"{spec.name}.json", ice_servers=ice,
        log_name=spec.name) for spec in scenario.viewers}
    silent = None
    if scenario.silent_peer:
        silent = start_silent_peer(lab, server, out, ns=lab.sites["trainee"].lan_ns,
                                   name="Silent trainee", seconds=seconds,
                                   report=out / "silent-peer.json")
    exits = {name: p.wait(max(1.0, seconds + EXIT_TIMEOUT - (time.monotonic() - start)))
             for name, p in viewers.items()}
    elapsed = time.monotonic() - start
    sent = links.tx_bytes(county.gateway_ns, county.wan_link) - sent0
    result.uplink_mbit_s = round(sent * 8 / 1e6 / elapsed, 2)
    result.path_bytes = links.path_bytes(lab.router_ns)
    if silent is not None:
        silent.wait(EXIT_TIMEOUT)
        result.silent_peer = _read_json(out / "silent-peer.json")
    publisher.stop()  # SIGTERM: it leaves and writes its statistics
    result.publisher = _read_json(out / "publisher.json")
    for spec in scenario.viewers:
        result.viewers.append(viewer_row(
            spec.name, spec.role.value, spec.person, _read_json(out / f"{spec.name}.json"),
            publisher=result.publisher, path_bytes=result.path_bytes,
            problem=_exit_problem(viewers[spec.name], exits[spec.name])))


def _exit_problem(process: LabProcess, status: int | None) -> str | None:
    """What went wrong with a viewer's exit (None: it ended by itself, status 0)."""
    if status is None:
        process.stop()
        return f"did not end within {EXIT_TIMEOUT:g} s of its duration"
    if status != 0:
        return f"exit status {status}: {process.tail(1)}"
    return None


def _read_json(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
