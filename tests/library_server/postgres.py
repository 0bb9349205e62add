"""A throwaway PostgreSQL cluster for the tests, in a temporary folder.

Debian's ``postgresql`` (``make setup`` installs it) started with ``initdb`` and
``pg_ctl`` on 127.0.0.1 and a free port, trusting local connections. PostgreSQL refuses
to run as root, so as root (CI) it runs as ``nobody`` through ``runuser``. Each test gets
a database of its own.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg

from tests.timing import seconds


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PostgresCluster:
    """``start()`` a cluster; ``database()`` a fresh database's URL; ``stop()``."""

    def __init__(self) -> None:
        self.bin = _bin_dir()
        self.folder = Path(tempfile.mkdtemp(prefix="surgery_teach-pg-"))
        self.data = self.folder / "data"
        self.port = 0
        self._names = itertools.count(1)
        self._as: list[str] = []

    @property
    def why_not(self) -> str | None:
        """Why no cluster can be run here, or None."""
        if self.bin is None:
            return "PostgreSQL is not installed (make setup installs Debian's postgresql)"
        if os.geteuid() == 0 and shutil.which("runuser") is None:
            return "running as root without runuser: PostgreSQL refuses to run as root"
        return None

    def _run(self, *command: str) -> None:
        done = subprocess.run([*self._as, *command], capture_output=True, text=True,
                              timeout=seconds(60))
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {done.stdout}{done.stderr}")

    def start(self) -> None:
        assert self.bin is not None
        if os.geteuid() == 0:
            shutil.chown(self.folder, "nobody", "nogroup")
            self._as = ["runuser", "-u", "nobody", "--"]
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                  "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l",
                  str(self.folder / "server.log"), "-w", "-t", str(int(seconds(60))), "-o",
                  f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                  "-c fsync=off -c full_page_writes=off", "start")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def database(self) -> str:
        name = f"library_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        if self.bin is not None and (self.data / "postmaster.pid").exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                      "stop")
        shutil.rmtree(self.folder, ignore_errors=True)
