"""TLS for wss:// signaling: trusting a hospital's own certificate authority, clear failures.

Hospitals often sign their servers' certificates with a private certificate authority (CA)
that the operating system does not know. The client then needs that CA's certificate (a
PEM file, ``--ca-file``) to trust the server. Failures are explained in sentences an IT
person can act on, instead of OpenSSL's codes.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from urllib.parse import urlparse

from surgery_teach.errors import SignalingError

# OpenSSL's X509_V_ERR_* codes; anything else means "signed by nobody trusted here".
_EXPIRED = {9, 10}  # not yet valid, expired
_WRONG_NAME = {62, 64}  # host name, IP address mismatch

CA_FILE_HINT = "pass the hospital's CA certificate with --ca-file (the lobby: Advanced)"


def client_context(ca_file: str | Path | None = None) -> ssl.SSLContext:
    """The TLS settings for a wss:// connection: the system's trusted authorities, plus the
    CA certificate(s) in ``ca_file`` (PEM) when given. Raises :class:`SignalingError` if
    that file cannot be read or holds no certificate."""
    context = ssl.create_default_context()
    if ca_file:
        path = Path(ca_file).expanduser()
        try:
            context.load_verify_locations(cafile=str(path))
        except FileNotFoundError:
            raise SignalingError(
                f"the CA certificate file {str(path)!r} does not exist; give the path of the "
                "PEM file that your IT department provides") from None
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise SignalingError(
                f"the CA certificate file {str(path)!r} is not a PEM certificate ({exc}); "
                "give the CA's certificate (BEGIN CERTIFICATE), not a key or another file"
            ) from None
    return context


def explain_verification_failure(exc: ssl.SSLCertVerificationError, url: str,
                                 ca_file: str | Path | None = None) -> str:
    """Why this computer does not trust the server at ``url``, and what fixes it."""
    host = urlparse(url).hostname or url
    code = exc.verify_code
    detail = exc.verify_message or exc.reason or str(exc)
    if code in _WRONG_NAME:
        return (f"the signaling server's certificate is not made out to {host!r} ({detail}): "
                "connect with the name written on the certificate (ask IT which one), or "
                f"have the certificate reissued to include {host!r}")
    if code in _EXPIRED:
        return (f"the signaling server's certificate at {host} is expired or not yet valid "
                f"({detail}): check this computer's date and time, or ask IT to renew it")
    if ca_file:
        return (f"the signaling server at {host} presented a certificate that the CA file "
                f"{str(ca_file)!r} does not vouch for ({detail}): check that it is the CA "
                "certificate of the authority that signed this server's certificate")
    return (f"this computer does not trust the signaling server's certificate at {host} "
            f"({detail}). If the hospital signs its servers with its own certificate "
            f"authority, {CA_FILE_HINT}")
