"""How the library server is run: :class:`LibraryConfig`, checked on construction."""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from surgery_teach.errors import ConfigError
from surgery_teach.protocol.tokens import check_secret

DEFAULT_PORT: Final = 8443
DEFAULT_MIN_FREE: Final = 1 << 30
DEFAULT_MAX_CHUNK: Final = 256 << 20
DEFAULT_UPLOAD_KEEP: Final = 7 * 86400.0


@dataclass(kw_only=True)
class LibraryConfig:
    """Where the cases live, where to listen, how to check tokens; ConfigError if unusable."""

    data_dir: Path
    """Folder of the stored cases (``cases/``), publishes in progress (``uploads/``), the
    embedded index (``index.sqlite3``) and the audit log (``audit.log``)."""
    secret: bytes = field(repr=False)
    """Key that signs library tokens (at least 32 bytes); every request but ``health``
    needs a valid token."""
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    """TCP port; 0 picks a free one (``RunningLibrary.port`` tells which)."""
    cert_file: Path | None = None
    """PEM certificate (chain) to serve ``https://``; plain ``http://`` is allowed on a
    loopback address only (tests, benchmarks, a TLS proxy on the same machine)."""
    key_file: Path | None = None
    index: str = "sqlite"
    """``sqlite`` (embedded, in ``data_dir``) or a PostgreSQL URL
    (``postgresql://user@host/db``) shared by several servers over one shared ``data_dir``."""
    audit_log: Path | None = None
    """Default: ``data_dir/audit.log``."""
    min_free_bytes: int = DEFAULT_MIN_FREE
    """Disk space a publish must leave free; below it new publishes are refused (507)."""
    max_chunk_bytes: int = DEFAULT_MAX_CHUNK
    upload_keep: float = DEFAULT_UPLOAD_KEEP
    """Seconds an unfinished publish is kept for its publisher to resume it."""

    def __post_init__(self) -> None:
        check_secret(self.secret)
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port {self.port} is not a TCP port (0-65535)")
        if self.key_file is not None and self.cert_file is None:
            raise ConfigError("a TLS key needs its certificate: give --cert as well as --key")
        if self.cert_file is None and not _is_loopback(self.host):
            raise ConfigError(
                f"the library serves {self.host} without TLS: give --cert and --key (a "
                "certificate for this server's name), or listen on 127.0.0.1 behind a TLS "
                "proxy")
        if self.index != "sqlite" and not self.index.startswith(("postgresql://",
                                                                 "postgres://")):
            raise ConfigError(f"--index must be sqlite or a postgresql:// URL, got "
                              f"{self.index[:40]!r}")
        if self.min_free_bytes < 0:
            raise ConfigError("--min-free must be 0 or more")
        if not 1 << 16 <= self.max_chunk_bytes <= 1 << 32:
            raise ConfigError("the largest chunk must be between 64 KiB and 4 GiB")

    @property
    def tls(self) -> bool:
        return self.cert_file is not None

    @property
    def audit_path(self) -> Path:
        return self.audit_log or self.data_dir / "audit.log"


def tls_context(cert_file: Path, key_file: Path | None) -> ssl.SSLContext:
    """The server side of TLS 1.2+ with ``cert_file``; ConfigError naming the files."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert_file, key_file)
    except OSError as exc:  # ssl.SSLError included
        raise ConfigError(
            f"cannot load the TLS certificate {str(cert_file)!r} and key "
            f"{str(key_file or cert_file)!r} ({exc.strerror or exc}); give PEM files with "
            "--cert and --key") from exc
    return context


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
