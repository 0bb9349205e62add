"""The lab's networks: an "internet" router, a data centre and the hospitals' sites.

Every site is two namespaces: the hospital's LAN (``<prefix>-<site>``, where its
programs run) behind a gateway (``<prefix>-<site>-gw``) whose WAN side hangs off the
router (``<prefix>-inet``). The signaling server and coturn run in ``<prefix>-dc``, a
data centre behind the router too, so that every packet between sites, relayed or
not, crosses the router's FORWARD chain where the lab drops, counts and shapes it.

Addresses (they exist only inside these namespaces):

======================  ===============================================
10.77.0.1 / 10.77.0.10  router / data centre (signaling server, coturn)
10.77.N.1 / 10.77.N.2   router / gateway WAN of site N: the "public" side
10.78.N.1 / 10.78.N.2   gateway LAN / the site's computer: private
======================  ===============================================

Behind a NAT (:class:`Nat`) the private 10.78 addresses are unroutable: the router
has a blackhole default route, so a packet to them (or anywhere outside the lab)
vanishes silently instead of coming back as an ICMP error, which made coturn close a
relay allocation (docs: MEDIA-FACTS, lab practicalities). Namespace names carry the
process id (``stl<pid>-<n>-...``) so that :func:`remove_stale_labs` can clear what a
killed run left behind without touching a lab that is still running.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from bench.netlab.commands import LabError, run
from bench.netlab.links import apply_nat

PUBLIC_NET = "10.77"
PRIVATE_NET = "10.78"
ROUTER_IP = f"{PUBLIC_NET}.0.1"
DC_IP = f"{PUBLIC_NET}.0.10"
"""Where the signaling server and coturn listen."""
PUBLIC_RANGE = (f"{PUBLIC_NET}.0.0", f"{PUBLIC_NET}.255.255")
PRIVATE_RANGE = (f"{PRIVATE_NET}.0.0", f"{PRIVATE_NET}.255.255")
NAME_PREFIX = "stl"
MAX_SITES = 200
_SITE_NAME = re.compile(r"[a-z][a-z0-9]{0,11}")
_STALE = re.compile(rf"{NAME_PREFIX}(\d+)-")
_counter = itertools.count(1)


class Nat(StrEnum):
    """How a site's gateway treats its LAN's traffic to the internet."""

    NONE = "none"
    """Routed: the site's computer has a public address (host candidates work)."""
    PORT_PRESERVING = "port-preserving"
    """MASQUERADE keeping the source port: STUN (srflx) candidates work."""
    SYMMETRIC = "symmetric"
    """MASQUERADE --random-fully: a new port per destination, only a TURN relay works."""


@dataclass(frozen=True)
class Site:
    """One hospital: its LAN namespace (where its programs run) behind a gateway."""

    name: str
    number: int
    nat: Nat
    lan_ns: str
    gateway_ns: str

    @property
    def lan_ip(self) -> str:
        return f"{PRIVATE_NET}.{self.number}.2"

    @property
    def wan_ip(self) -> str:
        """The gateway's public address (what others see behind a NAT)."""
        return f"{PUBLIC_NET}.{self.number}.2"

    @property
    def router_link(self) -> str:
        """The router's interface towards this site (its egress shapes the downlink)."""
        return f"to-{self.name}"

    wan_link = "wan"
    """The gateway's interface towards the router (its egress shapes the uplink)."""


class Lab:
    """Namespaces, links and the processes started in them; :meth:`close` removes all.

    Use as a context manager. The removal is also registered with :mod:`atexit`, so an
    exception or SIGTERM (see :func:`exit_on_sigterm`) leaves nothing behind.
    """

    def __init__(self, sites: Iterable[tuple[str, Nat]]) -> None:
        self.prefix = f"{NAME_PREFIX}{os.getpid()}-{next(_counter)}"
        self.router_ns = f"{self.prefix}-inet"
        self.dc_ns = f"{self.prefix}-dc"
        self.sites: dict[str, Site] = {}
        for number, (name, nat) in enumerate(sites, start=1):
            if not _SITE_NAME.fullmatch(name) or name in (*self.sites, "inet", "dc"):
                raise LabError(f"site name {name!r} must be unique, 1-12 lower-case letters "
                               "and digits, starting with a letter, and not inet or dc")
            if number > MAX_SITES:
                raise LabError(f"at most {MAX_SITES} sites")
            self.sites[name] = Site(name, number, Nat(nat), f"{self.prefix}-{name}",
                                    f"{self.prefix}-{name}-gw")
        self.namespaces: list[str] = []
        self.processes: list[subprocess.Popen[bytes]] = []
        self._closed = False

    def __enter__(self) -> Lab:
        atexit.register(self.close)
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- building ---------------------------------------------------------------------

    def _namespace(self, name: str, *, forwards: bool) -> None:
        run("ip", "netns", "add", name)
        self.namespaces.append(name)
        run("ip", "-n", name, "link", "set", "lo", "up")
        settings = ["net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1",
                    f"net.ipv4.ip_forward={int(forwards)}"]
        run("sysctl", "-qw", *settings, ns=name)

    def _link(self, ns_a: str, name_a: str, ip_a: str, ns_b: str, name_b: str,
              ip_b: str) -> None:
        """A veth pair made directly inside both namespaces (never in the host's)."""
        run("ip", "-n", ns_a, "link", "add", name_a, "type", "veth", "peer", "name", name_b,
            "netns", ns_b)
        for ns, name, ip in ((ns_a, name_a, ip_a), (ns_b, name_b, ip_b)):
            run("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", name)
            run("ip", "-n", ns, "link", "set", name, "up")

    def _build(self) -> None:
        self._namespace(self.router_ns, forwards=True)
        # Anything the lab has no route for disappears without an ICMP error.
        run("ip", "-n", self.router_ns, "route", "add", "blackhole", "default")
        self._namespace(self.dc_ns, forwards=False)
        self._link(self.router_ns, "to-dc", ROUTER_IP, self.dc_ns, "eth0", DC_IP)
        run("ip", "-n", self.dc_ns, "route", "add", "default", "via", ROUTER_IP)
        for site in self.sites.values():
            self._build_site(site)

    def _build_site(self, site: Site) -> None:
        n = site.number
        self._namespace(site.gateway_ns, forwards=True)
        self._namespace(site.lan_ns, forwards=False)
        self._link(self.router_ns, site.router_link, f"{PUBLIC_NET}.{n}.1",
                   site.gateway_ns, site.wan_link, site.wan_ip)
        self._link(site.gateway_ns, "lan", f"{PRIVATE_NET}.{n}.1",
                   site.lan_ns, "eth0", site.lan_ip)
        run("ip", "-n", site.gateway_ns, "route", "add", "default", "via", f"{PUBLIC_NET}.{n}.1")
        run("ip", "-n", site.lan_ns, "route", "add", "default", "via", f"{PRIVATE_NET}.{n}.1")
        if site.nat is Nat.NONE:
            run("ip", "-n", self.router_ns, "route", "add", f"{PRIVATE_NET}.{n}.0/24",
                "via", site.wan_ip)
        else:
            apply_nat(site.gateway_ns, site.wan_link,
                      symmetric=site.nat is Nat.SYMMETRIC)

    # -- processes --------------------------------------------------------------------

    def track(self, process: subprocess.Popen[bytes]) -> None:
        """Have :meth:`close` stop ``process`` (started in its own session)."""
        self.processes.append(process)

    # -- removal ----------------------------------------------------------------------

    def close(self) -> None:
        """Stop every process started in the lab and delete its namespaces (idempotent)."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        stop_processes(self.processes)
        for ns in reversed(self.namespaces):
            remove_namespace(ns)
        self.namespaces.clear()


def stop_processes(processes: list[subprocess.Popen[bytes]], grace: float = 5.0) -> None:
    """SIGTERM each still running process's group, then SIGKILL what is left after
    ``grace`` seconds."""
    running = [p for p in processes if p.poll() is None]
    for process in running:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in running:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def remove_namespace(ns: str) -> None:
    """Kill what still runs inside namespace ``ns`` (by process id) and delete it."""
    pids = run("ip", "netns", "pids", ns, check=False).split()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
    run("ip", "netns", "del", ns, check=False)


def remove_stale_labs() -> list[str]:
    """Delete the namespaces of lab runs whose process is gone; return their names."""
    removed = []
    for line in run("ip", "netns", "list", check=False).splitlines():
        name = line.split(" ", 1)[0]
        match = _STALE.match(name)
        if match is None or _alive(int(match.group(1))):
            continue
        remove_namespace(name)
        removed.append(name)
    return removed


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (killed, not yet reaped)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def exit_on_sigterm() -> None:
    """Turn SIGTERM and SIGHUP into SystemExit, so that ``finally`` and atexit run."""
    def leave(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, leave)
