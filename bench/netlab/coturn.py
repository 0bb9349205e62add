"""coturn (Debian's ``turnserver``) in the lab's data centre: STUN, and TURN relays for
sites behind symmetric NATs.

Credentials follow the TURN REST scheme coturn's ``use-auth-secret`` takes: username
``expiry:id``, password base64(HMAC-SHA1(secret, username)); the signaling server
hands such pairs to clients made from the same secret file. coturn relays only to the
lab's public range: the sites' private LAN addresses (host candidates behind a NAT)
are denied, so coturn never tries to send to an address that is unreachable anyway.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import subprocess
import time
from pathlib import Path

from bench.netlab.commands import LabError, in_namespace, run
from bench.netlab.processes import LabProcess
from bench.netlab.topology import DC_IP, PUBLIC_RANGE, Lab

TURN_PORT = 3478
REALM = "netlab.surgery-teach"
RELAY_PORTS = (49152, 49999)
DENIED_PEERS = ("0.0.0.0-0.255.255.255", "10.0.0.0-10.255.255.255", "100.64.0.0-100.127.255.255",
                "127.0.0.0-127.255.255.255", "169.254.0.0-169.254.255.255",
                "172.16.0.0-172.31.255.255", "192.168.0.0-192.168.255.255")
"""Private and special ranges coturn must not relay to (coturn's recommended list)..."""
ALLOWED_PEERS = (f"{PUBLIC_RANGE[0]}-{PUBLIC_RANGE[1]}",)
"""...except the lab's "public" range, which is private address space too."""


def stun_url() -> str:
    return f"stun:{DC_IP}:{TURN_PORT}"


def turn_url() -> str:
    return f"turn:{DC_IP}:{TURN_PORT}?transport=udp"


def make_secret(path: Path) -> str:
    """Write a new random TURN secret to ``path`` (owner-only) and return it."""
    secret = secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.write_text(secret + "\n", encoding="utf-8")
    return secret


def turn_credentials(secret: str, *, ttl: float = 3600.0, user: str = "netlab",
                     now: float | None = None) -> tuple[str, str]:
    """A TURN REST username and password valid for ``ttl`` seconds."""
    expiry = int((time.time() if now is None else now) + ttl)
    username = f"{expiry}:{user}"
    digest = hmac.new(secret.encode("utf-8"), username.encode("utf-8"), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def write_config(run_dir: Path, secret: str) -> Path:
    """The turnserver configuration for one lab run, in ``run_dir``."""
    lines = [
        f"listening-ip={DC_IP}", f"relay-ip={DC_IP}", f"listening-port={TURN_PORT}",
        f"min-port={RELAY_PORTS[0]}", f"max-port={RELAY_PORTS[1]}",
        "use-auth-secret", f"static-auth-secret={secret}", f"realm={REALM}",
        "fingerprint", "no-cli", "no-tls", "no-dtls", "no-rfc5780", "no-multicast-peers",
        "no-software-attribute",
        *(f"denied-peer-ip={peers}" for peers in DENIED_PEERS),
        *(f"allowed-peer-ip={peers}" for peers in ALLOWED_PEERS),
        f"log-file={run_dir / 'turnserver.log'}", "simple-log", "no-stdout-log",
        f"pidfile={run_dir / 'turnserver.pid'}", f"userdb={run_dir / 'turndb'}",
    ]
    path = run_dir / "turnserver.conf"
    path.touch(mode=0o600)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def start_coturn(lab: Lab, run_dir: Path, secret: str, *, timeout: float = 15.0) -> LabProcess:
    """Start turnserver in the lab's data centre and wait until it listens."""
    config = write_config(run_dir, secret)
    process = LabProcess.start(
        lab, "coturn", in_namespace(lab.dc_ns, ["turnserver", "-c", str(config)]), run_dir,
        stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if _listening(lab.dc_ns):
            return process
        time.sleep(0.1)
    raise LabError(f"coturn did not start listening on {DC_IP}:{TURN_PORT} within "
                   f"{timeout:g} s; see {run_dir / 'turnserver.log'} and {process.log_path}")


def _listening(ns: str) -> bool:
    """Whether coturn's UDP listener is bound in namespace ``ns``."""
    bound = run("ss", "-H", "-l", "-n", "-u", ns=ns, check=False)
    return f"{DC_IP}:{TURN_PORT} " in bound
