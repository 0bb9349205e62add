"""The fixture of the tests that run a real Janus in the network lab (root, ``janus``).

Janus skips loopback interfaces for ICE, so its media tests run in network namespaces;
they are skipped, with the reason, where the lab or Janus is missing. Import
``janus_machine`` into a test module and mark the module's tests with it (``autouse``).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator

import pytest

from bench.netlab.commands import lab_unavailable, run


@pytest.fixture(autouse=True)
def janus_machine() -> Iterator[None]:
    problem = lab_unavailable()
    if problem is not None:
        pytest.skip(problem)
    if shutil.which("janus") is None:
        pytest.skip("Janus is not installed: apt-get install janus (make setup installs it)")
    yield
    left = [line for line in run("ip", "netns", "list", check=False).splitlines()
            if re.match(rf"stl{os.getpid()}-", line)]
    assert left == [], f"network namespaces left behind: {left}"
