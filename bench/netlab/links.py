"""What the lab does to packets: bandwidth (tc tbf), random loss and NAT (iptables),
and the counters it reads back (interface bytes, per-path bytes at the router).

This kernel has no netem, so there is no added delay: a shaped link's queue is the only
delay the lab makes, and loss comes from ``iptables -m statistic --mode random``.
Loss is applied to UDP only, so that media, STUN and TURN suffer it while the
signaling websocket (TCP) still arrives: a real lossy link would slow the websocket
down too, but TCP repairs that itself and it is not what the lab measures.
"""

from __future__ import annotations

import json

from bench.netlab.commands import LabError, run

DEFAULT_QUEUE_MS = 100.0
"""How long a packet may wait in a shaped link's queue before tbf drops it: roughly
the buffer of a DSL or LTE access link (bigger buffers add delay, smaller ones drop)."""
MIN_BURST_BYTES = 6000
"""Tokens a shaped link can save up: four full packets at least..."""
BURST_SECONDS = 0.01
"""...or 10 ms at the link's rate, whichever is more."""
ACCOUNT_TAG = "netlab-path"


def shape(ns: str, dev: str, mbit: float, queue_ms: float = DEFAULT_QUEUE_MS) -> None:
    """Limit what leaves ``dev`` in namespace ``ns`` to ``mbit`` Mbit/s (token bucket)."""
    if not mbit > 0:
        raise LabError(f"a link rate must be above 0 Mbit/s, got {mbit:g}")
    burst = max(MIN_BURST_BYTES, int(mbit * 1e6 / 8 * BURST_SECONDS))
    run("tc", "qdisc", "replace", "dev", dev, "root", "tbf", "rate", f"{int(mbit * 1000)}kbit",
        "burst", str(burst), "latency", f"{int(queue_ms)}ms", ns=ns)


def drop_randomly(router_ns: str, dev: str, probability: float) -> None:
    """Drop UDP packets crossing the router through ``dev`` (both directions) with
    ``probability`` each."""
    if not 0 < probability < 1:
        raise LabError(f"a loss probability must be between 0 and 1, got {probability:g}")
    for direction in ("-i", "-o"):
        run("iptables", "-A", "FORWARD", direction, dev, "-p", "udp", "-m", "statistic",
            "--mode", "random", "--probability", f"{probability:.4f}", "-j", "DROP",
            ns=router_ns)


def apply_nat(gateway_ns: str, wan: str, *, symmetric: bool) -> None:
    """Make the gateway a NAT: its LAN leaves through ``wan`` under the gateway's address.

    ``symmetric`` picks a random port per mapping (``--random-fully``, like carrier NATs
    and many hospital firewalls); otherwise the LAN's source port is kept when free, so a
    STUN-discovered address works for other peers too. Unsolicited packets from the WAN
    are dropped before conntrack confirms them: otherwise a peer's early packet can take
    the very port the NAT was about to map the LAN's own packet to.
    """
    masquerade = ["iptables", "-t", "nat", "-A", "POSTROUTING", "-o", wan, "-j", "MASQUERADE"]
    run(*masquerade, *(["--random-fully"] if symmetric else []), ns=gateway_ns)
    for chain in ("INPUT", "FORWARD"):
        run("iptables", "-A", chain, "-i", wan, "-m", "conntrack", "--ctstate", "NEW,INVALID",
            "-j", "DROP", ns=gateway_ns)


def count_path(router_ns: str, name: str, from_dev: str, to_dev: str) -> None:
    """Count UDP bytes the router forwards from ``from_dev`` to ``to_dev`` as ``name``
    (read back with :func:`path_bytes`). Inserted first, so dropped packets count too."""
    run("iptables", "-I", "FORWARD", "1", "-i", from_dev, "-o", to_dev, "-p", "udp",
        "-m", "comment", "--comment", f"{ACCOUNT_TAG}:{name}", ns=router_ns)


def path_bytes(router_ns: str) -> dict[str, int]:
    """Bytes counted so far by each :func:`count_path` rule, by name."""
    counted: dict[str, int] = {}
    for line in run("iptables-save", "-c", "-t", "filter", ns=router_ns).splitlines():
        # [packets:bytes] -A FORWARD ... -m comment --comment "netlab-path:NAME"
        if f'"{ACCOUNT_TAG}:' not in line or not line.startswith("["):
            continue
        counters, _, rest = line.partition("]")
        name = rest.split(f"{ACCOUNT_TAG}:", 1)[1].split('"', 1)[0]
        counted[name] = int(counters.lstrip("[").split(":")[1])
    return counted


def tx_bytes(ns: str, dev: str) -> int:
    """Bytes sent so far through interface ``dev`` of namespace ``ns``."""
    shown = json.loads(run("ip", "-n", ns, "-s", "-j", "link", "show", "dev", dev))
    return int(shown[0]["stats64"]["tx"]["bytes"])
