"""Room tokens: signed, expiring passes into one room, in one role, under one name.

A token is an HS256 JSON Web Token (RFC 7519) made with the server's secret. Its claims
say where and as whom its bearer may join (``room``, ``role``, ``name``), who they are
(``sub``, a stable user id), when it was made and until when it works (``iat``, ``exp``)
and which token it is (``jti``). :func:`issue_token` makes one, :func:`read_token` checks
one and returns the :class:`~.passes.RoomPass` it grants. This is the only module that
uses the JWT library (PyJWT). No I/O here: the current time is always passed in.
docs/protocol.md (section 1.1) is the written form.
"""

from __future__ import annotations

import math
import re
import secrets
from enum import StrEnum
from typing import Any, Final

import jwt

from surgery_teach.errors import ConfigError, ProtocolError
from surgery_teach.protocol.messages import Role
from surgery_teach.protocol.passes import CLOCK_TOLERANCE, RoomPass
from surgery_teach.wire.fields import (
    MAX_ID_CHARS,
    MAX_NAME_CHARS,
    check_room,
    clean_label,
    show,
)

TOKEN_ALGORITHM: Final = "HS256"
MIN_SECRET_BYTES: Final = 32
"""HS256 needs a key of at least 256 bits (RFC 7518, section 3.2)."""
MAX_TOKEN_CHARS: Final = 4096
CLAIMS: Final = ("room", "role", "name", "sub", "iat", "exp", "jti")


class TokenProblem(StrEnum):
    """Why a token was not accepted: the ``code`` of the :class:`ProtocolError`."""

    MISSING = "missing-token"
    INVALID = "invalid-token"
    """Malformed, forged (signature or algorithm), or with a missing or bad claim."""
    EXPIRED = "expired-token"


def check_secret(secret: bytes) -> bytes:
    """Return ``secret`` if it is long enough to sign tokens, else raise ConfigError."""
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"the token secret is {len(secret)} bytes; use at least {MIN_SECRET_BYTES} "
            "random bytes, e.g. python -c \"import secrets; print(secrets.token_urlsafe(48))\""
        )
    return secret


def issue_token(
    secret: bytes,
    *,
    room: str,
    role: Role,
    name: str,
    ttl: float,
    now: float,
    user: str | None = None,
) -> str:
    """A token that lets its bearer join ``room`` as ``role`` and ``name`` for ``ttl`` s.

    ``user`` (``sub``) identifies the person across tokens; a random one is made when it
    is not given. Raises ConfigError for values a server would refuse.
    """
    check_secret(secret)
    if not (math.isfinite(ttl) and ttl > 0):
        raise ConfigError(f"the token lifetime must be above 0 seconds, got {ttl:g}")
    try:
        check_room(room)
        name = clean_label(name, "name", MAX_NAME_CHARS)
    except ProtocolError as exc:
        raise ConfigError(exc.message.replace("field ", "", 1)) from None
    user = f"u-{secrets.token_hex(8)}" if user is None else user
    if not 1 <= len(user) <= MAX_ID_CHARS:
        raise ConfigError(f"the user id must be 1-{MAX_ID_CHARS} characters, got {show(user)}")
    claims = {
        "room": room,
        "role": Role(role).value,
        "name": name,
        "sub": user,
        "iat": int(now),
        "exp": math.ceil(now + ttl),
        "jti": secrets.token_hex(16),
    }
    return jwt.encode(claims, secret, algorithm=TOKEN_ALGORITHM)


def read_token(token: str, secret: bytes, *, now: float) -> RoomPass:
    """Check ``token`` against ``secret`` and the clock; return the pass it grants.

    Raises :class:`ProtocolError` with a :class:`TokenProblem` code: ``expired-token``
    past ``exp`` (give or take :data:`CLOCK_TOLERANCE`), ``invalid-token`` for anything
    else (not a JWT, another algorithm than HS256 including ``none``, a signature made
    with another secret, a claim missing or malformed).
    """
    if not token:
        raise ProtocolError(TokenProblem.MISSING, "no room token was presented")
    if len(token) > MAX_TOKEN_CHARS:
        raise _invalid(f"it is {len(token)} characters long; the limit is {MAX_TOKEN_CHARS}")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[TOKEN_ALGORITHM],
            # Times are checked below against the given clock, with our own messages.
            options={"require": list(CLAIMS), "verify_exp": False, "verify_iat": False},
        )
    except jwt.InvalidAlgorithmError:
        raise _invalid(f"it is not signed with {TOKEN_ALGORITHM}") from None
    except jwt.InvalidSignatureError:
        raise _invalid("its signature does not match; it was not made with this server's "
                       "secret") from None
    except jwt.MissingRequiredClaimError as exc:
        raise _invalid(f"claim {exc.claim!r} is missing") from None
    except jwt.InvalidTokenError as exc:
        raise _invalid(f"it is not a well-formed token ({exc})") from None
    room_pass = _room_pass(claims)
    if now > room_pass.expires_at + CLOCK_TOLERANCE:
        raise ProtocolError(
            TokenProblem.EXPIRED,
            f"the room token expired {_ago(now - room_pass.expires_at)} ago; ask for a new one",
        )
    if room_pass.issued_at > now + CLOCK_TOLERANCE:
        raise _invalid("it was issued in the future; check the clocks of the issuer and server")
    return room_pass


def read_claims_unverified(token: str) -> RoomPass:
    """What ``token`` says (room, role, name, expiry), **without** checking its signature.

    For a client to fill in its join form from a pasted token: only the server, which has
    the secret, can tell whether the token is genuine, so never grant anything from this.
    The expiry is not checked either (compare ``expires_at`` with the clock to show it).
    Raises :class:`ProtocolError` ``missing-token`` or ``invalid-token`` (not a JWT, a
    claim missing or malformed), with the same messages as :func:`read_token`.
    """
    if not token:
        raise ProtocolError(TokenProblem.MISSING, "no room token was presented")
    if len(token) > MAX_TOKEN_CHARS:
        raise _invalid(f"it is {len(token)} characters long; the limit is {MAX_TOKEN_CHARS}")
    try:
        claims = jwt.decode(token, options={"verify_signature": False, "require": list(CLAIMS)})
    except jwt.MissingRequiredClaimError as exc:
        raise _invalid(f"claim {exc.claim!r} is missing") from None
    except jwt.InvalidTokenError as exc:
        raise _invalid(f"it is not a well-formed token ({exc})") from None
    return _room_pass(claims)


def _room_pass(claims: dict[str, Any]) -> RoomPass:
    room, role, name = claims["room"], claims["role"], claims["name"]
    try:
        check_room(room)
    except ProtocolError:
        raise _invalid(f"claim 'room' is not a room name (got {show(room)})") from None
    if role not in {r.value for r in Role}:
        raise _invalid(f"claim 'role' is not a role (got {show(role)})")
    try:
        name = clean_label(name, "name", MAX_NAME_CHARS)
    except ProtocolError:
        raise _invalid(f"claim 'name' is not a display name (got {show(name)})") from None
    for claim in ("sub", "jti"):
        value = claims[claim]
        if not isinstance(value, str) or not 1 <= len(value) <= MAX_ID_CHARS:
            raise _invalid(f"claim {claim!r} must be 1-{MAX_ID_CHARS} characters")
    for claim in ("iat", "exp"):
        value = claims[claim]
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            value
        ):
            raise _invalid(f"claim {claim!r} must be a time in Unix seconds")
    if claims["exp"] <= claims["iat"]:
        raise _invalid("claim 'exp' is not after 'iat'")
    return RoomPass(
        room=room,
        role=Role(role),
        name=name,
        user=claims["sub"],
        token_id=claims["jti"],
        issued_at=float(claims["iat"]),
        expires_at=float(claims["exp"]),
    )


def _invalid(why: str) -> ProtocolError:
    return ProtocolError(TokenProblem.INVALID, f"the room token is not valid: {why}")


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


_DURATION = re.compile(r"(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[smhd]?)")
_UNIT_SECONDS: Final = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """Seconds in ``"90"``, ``"90s"``, ``"30m"``, ``"4h"`` or ``"2d"``; ConfigError otherwise."""
    found = _DURATION.fullmatch(text.strip().lower())
    seconds = float(found["number"]) * _UNIT_SECONDS[found["unit"]] if found else 0.0
    if seconds <= 0:
        raise ConfigError(
            f"{text!r} is not a lifetime; write a positive number of seconds, minutes, "
            "hours or days, like 90s, 30m, 4h or 2d"
        )
    return seconds
