"""wss:// with a certificate made for the test, and the allowed web origins."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import os
import signal
import ssl
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.asyncio.client import connect

from signaling_server import RunningServer, ServerConfig, start_server
from signaling_server.__main__ import SECRET_VARIABLE
from surgery_teach.errors import ConfigError
from surgery_teach.protocol import Chat, ChatMessage, Joined, Role
from tests.signaling_server.conftest import SECRET, Client, make_token, refused
from tests.timing import seconds

REPO = Path(__file__).resolve().parents[2]
ROOM = "chole-2026-11-25"


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def client_context(self) -> ssl.SSLContext:
        """A client that trusts this certificate only."""
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture
def certificate(tmp_path: Path) -> Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "surgery_teach test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    paths = Certificate(tmp_path / "cert.pem", tmp_path / "key.pem")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@pytest.fixture
async def wss_server(certificate: Certificate) -> AsyncIterator[RunningServer]:
    config = ServerConfig(
        port=0,
        secret=SECRET,
        cert_file=certificate.cert,
        key_file=certificate.key,
        allowed_origins=("https://teach.example-hospital.cn",),
    )
    running = await start_server(config)
    try:
        yield running
    finally:
        await running.close()


async def test_wss_carries_a_session_end_to_end(
    wss_server: RunningServer, certificate: Certificate
) -> None:
    assert wss_server.url.startswith("wss://127.0.0.1:")
    tls = certificate.client_context()
    mentor_url = f"{wss_server.url}/?room={ROOM}&token={make_token(ROOM, 'Dr Li')}"
    student_token = make_token(ROOM, "S", Role.STUDENT)
    async with (
        connect(mentor_url, ssl=tls, open_timeout=seconds(5)) as mentor_link,
        connect(
            wss_server.url,
            ssl=tls,
            additional_headers={"Authorization": f"Bearer {student_token}"},
            open_timeout=seconds(5),
        ) as student_link,
    ):
        mentor, student = Client(mentor_link), Client(student_link)
        await mentor.join(ROOM, "Dr Li", Role.MENTOR)
        await student.join(ROOM, "S", Role.STUDENT)
        await mentor.expect(Joined)
        await mentor.send(Chat("Over TLS"))
        assert (await student.expect(ChatMessage)).text == "Over TLS"


async def test_a_client_that_does_not_trust_the_certificate_cannot_connect(
    wss_server: RunningServer,
) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        async with connect(wss_server.url, ssl=ssl.create_default_context()):
            pass  # pragma: no cover


async def test_only_allowed_origins_and_non_browsers_get_in(
    wss_server: RunningServer, certificate: Certificate
) -> None:
    url = f"{wss_server.url}/?token={make_token(ROOM, 'Dr Li')}"
    tls = certificate.client_context()
    status, body = await refused(url, ssl=tls, origin="https://evil.example.com")
    assert status == 403
    assert "--allow-origin" in body
    for origin in ("https://teach.example-hospital.cn", None):
        async with connect(url, ssl=tls, origin=origin, open_timeout=seconds(5)) as link:
            await Client(link).join(ROOM, "Dr Li", Role.MENTOR)


async def test_an_origin_is_checked_on_an_open_server_too(certificate: Certificate) -> None:
    config = ServerConfig(port=0, allowed_origins=("http://localhost:5173",))
    running = await start_server(config)
    try:
        assert (await refused(running.url, origin="http://evil.localhost"))[0] == 403
    finally:
        await running.close()


async def test_unusable_tls_files_are_a_clear_config_error(
    certificate: Certificate, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="cannot load the TLS certificate"):
        await start_server(ServerConfig(port=0, cert_file=tmp_path / "missing.pem"))
    with pytest.raises(ConfigError, match="cannot load the TLS certificate"):
        await start_server(ServerConfig(port=0, cert_file=certificate.key))  # a key, no cert
    with pytest.raises(ConfigError, match="give --cert as well"):
        ServerConfig(key_file=certificate.key)


async def test_the_command_line_serves_wss_with_cert_and_key(certificate: Certificate) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "signaling_server", "--port", "0",
        "--cert", str(certificate.cert), "--key", str(certificate.key),
        cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if k != SECRET_VARIABLE},  # open: loopback
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), seconds(10))).decode()
        assert "listening on wss://127.0.0.1:" in line and "https://" in line
        url = line.split("listening on ")[1].split()[0]
        async with connect(url, ssl=certificate.client_context(), open_timeout=seconds(5)) as link:
            await Client(link).join("r", "A", Role.SURGEON)
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), seconds(10))
    assert proc.returncode == 0
