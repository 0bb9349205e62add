"""One HTTP(S) connection to the library, blocking, with the library token on every request.

The standard library's ``http.client`` is enough (one keep-alive connection, bodies in
memory a chunk at a time) and keeps the client free of another dependency. Errors come
back as :class:`~surgery_teach.errors.LibraryError`: the server's own reason when it
answered, "cannot reach" (``status=None``) when it did not. Use one connection from one
thread; open another per thread.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from surgery_teach.caselibrary.wire import API_PREFIX, parse_error
from surgery_teach.errors import ConfigError, LibraryError

DEFAULT_TIMEOUT: Final = 60.0


@dataclass(frozen=True)
class LibraryAddress:
    """Where the library is: ``https://host:port`` (``http://`` only on this computer)."""

    scheme: str
    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> LibraryAddress:
        parts = urllib.parse.urlsplit(url.strip())
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ConfigError(f"{url!r} is not a library address; write https://HOST:PORT, "
                              "e.g. https://library.hospital.cn:8443")
        if parts.path not in ("", "/") or parts.query:
            raise ConfigError(f"write the library address without a path: "
                              f"{parts.scheme}://{parts.netloc}")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise ConfigError(f"{url!r} has a bad port number") from None
        return cls(parts.scheme, parts.hostname, port)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def client_tls(ca_file: Path | str | None = None) -> ssl.SSLContext:
    """TLS that trusts the system's CAs, or only ``ca_file`` (a hospital's own CA)."""
    try:
        return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot read the CA certificate {ca_file}: {exc}") from exc


class LibraryConnection:
    """Requests to one library with one token; reconnects after a dropped link."""

    def __init__(self, address: LibraryAddress | str, token: str, *,
                 tls: ssl.SSLContext | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.address = (address if isinstance(address, LibraryAddress)
                        else LibraryAddress.parse(address))
        self._token = token
        self._tls = tls or client_tls()
        self._timeout = timeout
        self._http: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._http is None:
            a = self.address
            self._http = (
                http.client.HTTPSConnection(a.host, a.port, timeout=self._timeout,
                                            context=self._tls)
                if a.scheme == "https"
                else http.client.HTTPConnection(a.host, a.port, timeout=self._timeout))
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> LibraryConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, *, body: bytes | memoryview | None = None,
                headers: Mapping[str, str] | None = None,
                ok: tuple[int, ...] = (200,)) -> tuple[int, http.client.HTTPMessage, bytes]:
        """``(status, headers, body)`` of ``method API_PREFIX+path``; :class:`LibraryError`
        for a status outside ``ok`` or no answer. A request without a body whose
        connection the server had closed (keep-alive ended) is sent once more on a new one;
        one with a body is left to the caller, who knows whether sending it again is safe."""
        sent = {"Authorization": f"Bearer {self._token}", **(headers or {})}
        for attempt in (1, 2):
            connection = self._connection()
            try:
                connection.request(method, API_PREFIX + path, body=body, headers=sent)
                response = connection.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError,
                    ConnectionResetError) as exc:
                self.close()
                if attempt == 2 or body is not None:
                    raise self._unreachable(exc) from exc
            except ssl.SSLCertVerificationError as exc:
                self.close()
                raise LibraryError(
                    f"the library at {self.address.url} is not trusted: {exc.verify_message}. "
                    "Give the hospital's CA certificate with --ca-file", status=None,
                    code="untrusted") from exc
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                raise self._unreachable(exc) from exc
        if response.status not in ok:
            error = parse_error(data)
            code, message = error or ("http-error", f"HTTP {response.status} {response.reason}")
            raise LibraryError(f"the library refused: {message}", status=response.status,
                               code=code)
        return response.status, response.headers, data

    def json(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else (body if isinstance(body, bytes)
                                          else json.dumps(body).encode())
        headers = {"Content-Type": "application/json"} if data is not None else {}
        _, _, answer = self.request(method, path, body=data, headers=headers)
        try:
            return json.loads(answer)
        except ValueError as exc:
            raise LibraryError(f"the library sent something that is not JSON: {exc}",
                               status=200, code="bad-answer") from exc

    def _unreachable(self, exc: BaseException) -> LibraryError:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        if isinstance(exc, socket.timeout | TimeoutError):
            reason = f"no answer within {self._timeout:g} s"
        return LibraryError(f"cannot reach the library at {self.address.url}: "
                            f"{reason or type(exc).__name__}", status=None,
                            code="unreachable")
