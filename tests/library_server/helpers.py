"""What the library tests share: a real library on 127.0.0.1 (in a thread or a process),
a certificate made for the test, tokens, variants of a really recorded case, and a TCP
relay that cuts the link mid-publish."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from library_server.config import LibraryConfig
from library_server.server import RunningLibrary, start_library
from surgery_teach.casebook.chapters import Chapter, save_chapters
from surgery_teach.casefile.manifest import read_manifest, write_manifest
from surgery_teach.caselibrary.connection import LibraryConnection, client_tls
from surgery_teach.caselibrary.passes import LibraryRole, issue_library_token
from tests.timing import seconds

SECRET = b"library-test-secret-" + b"x" * 32
REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def client_context(self) -> ssl.SSLContext:
        return client_tls(self.cert)


def make_certificate(folder: Path) -> Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "surgery_teach library test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    paths = Certificate(folder / "cert.pem", folder / "key.pem")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return paths


def token(role: LibraryRole | str = LibraryRole.MENTOR, collections: Sequence[str] = ("*",),
          name: str = "Dr Wang", *, ttl: float = 3600, user: str | None = None) -> str:
    return issue_library_token(SECRET, role=LibraryRole(role), collections=collections,
                               name=name, ttl=ttl, now=time.time(), user=user)


class LibraryThread:
    """A real library server on its own event loop thread (the tests' clients block)."""

    def __init__(self, config: LibraryConfig) -> None:
        self.config = config
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.running: RunningLibrary = asyncio.run_coroutine_threadsafe(
            start_library(config), self._loop).result(seconds(30))

    @property
    def url(self) -> str:
        return self.running.url

    def connect(self, bearer: str, *, ca: Certificate | None = None,
                url: str | None = None) -> LibraryConnection:
        tls = ca.client_context() if ca else None
        return LibraryConnection(url or self.url, bearer, tls=tls, timeout=seconds(30))

    def stop(self) -> None:
        if self._loop.is_running():
            asyncio.run_coroutine_threadsafe(self.running.close(), self._loop).result(
                seconds(30))
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(seconds(10))
            self._loop.close()


class LibraryProcess:
    """``python -m library_server`` in its own process, for kills and the CLI."""

    def __init__(self, data_dir: Path, secret_file: Path, cert: Certificate,
                 *extra: str, port: int = 0) -> None:
        self.log = data_dir.parent / f"{data_dir.name}-server.log"
        command = [sys.executable, "-m", "library_server", "--data-dir", str(data_dir),
                   "--port", str(port), "--secret-file", str(secret_file),
                   "--cert", str(cert.cert), "--key", str(cert.key), *extra]
        self._log_file = open(self.log, "w")
        self.process = subprocess.Popen(
            command, cwd=REPO, stdout=subprocess.PIPE, stderr=self._log_file, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        line = self._first_line(seconds(30))
        self.url = line.split("listening on ", 1)[1].split()[0]

    def _first_line(self, timeout: float) -> str:
        assert self.process.stdout is not None
        found: list[str] = []
        reader = threading.Thread(target=lambda: found.append(self.process.stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(timeout)
        if not found or "listening on" not in found[0]:
            self.kill()
            raise AssertionError(f"library did not start: {self.log.read_text()}")
        return found[0]

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(seconds(10))
        self._log_file.close()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(seconds(20))
        self._log_file.close()
        return code


def case_variant(source: Path, into: Path, *, title: str, hospital: str | None = None,
                 date: dt.date | None = None, chapters: Sequence[str] = ()) -> Path:
    """A copy of a recorded case with another title (so another case id), hospital, date
    and, if given, edited chapters named ``chapters``."""
    import shutil

    folder = into / title.replace(" ", "-").lower()
    shutil.copytree(source, folder)
    for derived in ("library.json", "thumbnail.jpg"):
        (folder / derived).unlink(missing_ok=True)
    manifest = read_manifest(folder)
    changes: dict[str, object] = {"title": title}
    if hospital is not None:
        changes["hospital"] = hospital
    if date is not None:
        changes["date"] = date
        if manifest.started_at is not None:
            shift = dt.datetime.combine(date, manifest.started_at.timetz()) - manifest.started_at
            changes["started_at"] = manifest.started_at + shift
            changes["ended_at"] = manifest.ended_at + shift if manifest.ended_at else None
    write_manifest(folder, replace(manifest, **changes))  # type: ignore[arg-type]
    if chapters:
        save_chapters(folder, [Chapter(f"c-{i}", title, 0.5 * i)
                               for i, title in enumerate(chapters)])
    return folder


class CuttingRelay:
    """A TCP relay on 127.0.0.1 to ``target``: it cuts every connection once the client
    has sent ``cut_after`` bytes through it, ``cuts`` times, then relays normally (or, with
    ``then_down``, refuses every connection after the first cut: the link stays down)."""

    def __init__(self, target: tuple[str, int], *, cut_after: int, cuts: int = 1,
                 then_down: bool = False) -> None:
        self.then_down = then_down
        self.target = target
        self.cut_after = cut_after
        self.cuts_left = cuts
        self.cut = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            budget = [self.cut_after if self.cuts_left > 0 else None]
            if self.cuts_left > 0:
                self.cuts_left -= 1
            threading.Thread(target=self._pump, args=(client, server, budget),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, [None]),
                             daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, budget: list[int | None]
              ) -> None:
        try:
            while data := source.recv(1 << 16):
                if budget[0] is not None:
                    if len(data) >= budget[0]:
                        self.cut += 1
                        if self.then_down:
                            self.close()
                        break
                    budget[0] -= len(data)
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        self._stop = True
        try:  # wakes the accepting thread (close alone does not, on Linux)
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.1f} s waiting for {what}")
        time.sleep(0.01)


def audit_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
