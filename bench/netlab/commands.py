"""Running ``ip``, ``tc`` and ``iptables`` for the lab, with errors that say what failed.

Every command the lab runs goes through :func:`run`, so that a failure names the command
and what the kernel said instead of ending in a traceback from :mod:`subprocess`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence

from surgery_teach.errors import SurgeryTeachError

REQUIRED_TOOLS = {"ip": "iproute2", "tc": "iproute2", "iptables": "iptables",
                  "turnserver": "coturn"}
"""Programs the lab runs, with the Debian package that has each."""


class LabError(SurgeryTeachError):
    """The network lab cannot be built or a scenario cannot be run (the message says why)."""


def run(*args: str, ns: str | None = None, check: bool = True, timeout: float = 30.0) -> str:
    """Run one command (inside namespace ``ns`` if given) and return its standard output.

    Raises LabError naming the command and its error output when it fails and ``check``.
    """
    command = list(args) if ns is None else ["ip", "netns", "exec", ns, *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LabError(f"cannot run {' '.join(command)}: {exc}") from exc
    if check and done.returncode != 0:
        detail = (done.stderr or done.stdout).strip() or f"exit status {done.returncode}"
        raise LabError(f"{' '.join(command)} failed: {detail}")
    return done.stdout


def in_namespace(ns: str, args: Sequence[str]) -> list[str]:
    """``args`` as a command line that runs inside namespace ``ns``."""
    return ["ip", "netns", "exec", ns, *args]


def missing_tools() -> list[str]:
    """The Debian packages whose programs the lab needs but cannot find."""
    return sorted({package for tool, package in REQUIRED_TOOLS.items()
                   if shutil.which(tool) is None})


def lab_unavailable() -> str | None:
    """Why the lab cannot run on this machine (not root, tools missing, namespaces not
    permitted), as a sentence that names the fix; None when it can."""
    if os.geteuid() != 0:
        return "the network lab needs root (it creates network namespaces): run it as root"
    missing = missing_tools()
    if missing:
        return (f"the network lab needs the Debian packages {' '.join(missing)}: "
                f"apt-get install {' '.join(missing)} (make setup installs them)")
    probe = f"stlprobe{os.getpid()}"
    try:
        run("ip", "netns", "add", probe)
    except LabError as exc:
        return f"this machine does not permit network namespaces ({exc})"
    run("ip", "netns", "del", probe, check=False)
    return None
