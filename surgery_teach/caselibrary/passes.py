"""Library tokens: who may watch which collections of cases, and who may publish.

A library token is an HS256 JSON Web Token signed like the room tokens
(:mod:`surgery_teach.protocol.tokens`: same algorithm, same secret rules), with its own
audience, ``surgery-teach-library``, so that a room token is never taken for a library
token nor the other way round. Its claims: ``role`` (``student`` watches; ``mentor``
watches and publishes), ``collections`` (``hospital:NAME``, ``course:NAME``, ``*`` for
all; every token may also watch the ``everyone`` collection), ``name``, ``sub``, ``iat``,
``exp``, ``jti``. No I/O here: the current time is always passed in.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import jwt

from surgery_teach.caselibrary.wire import ALL_COLLECTIONS, EVERYONE, check_collection
from surgery_teach.errors import ConfigError, LibraryError
from surgery_teach.protocol.passes import CLOCK_TOLERANCE
from surgery_teach.protocol.tokens import MAX_TOKEN_CHARS, TOKEN_ALGORITHM, check_secret
from surgery_teach.wire.fields import MAX_ID_CHARS, MAX_NAME_CHARS

AUDIENCE: Final = "surgery-teach-library"
CLAIMS: Final = ("aud", "role", "collections", "name", "sub", "iat", "exp", "jti")


class LibraryRole(StrEnum):
    STUDENT = "student"  # lists, searches and plays the cases of its collections
    MENTOR = "mentor"  # and publishes cases into its collections


@dataclass(frozen=True, kw_only=True)
class LibraryPass:
    """What a valid library token grants."""

    role: LibraryRole
    collections: tuple[str, ...]
    name: str
    user: str
    token_id: str
    issued_at: float
    expires_at: float

    @property
    def sees_all(self) -> bool:
        return ALL_COLLECTIONS in self.collections

    def may_watch(self, case_collections: Iterable[str]) -> bool:
        """Whether a case in ``case_collections`` may be listed and played."""
        held = set(case_collections)
        return self.sees_all or EVERYONE in held or bool(held & set(self.collections))

    def publish_collections(self, asked: Sequence[str]) -> tuple[str, ...]:
        """The collections a publish goes to (``asked``, or this token's own); raises
        :class:`LibraryError` 403 if this token may not publish there."""
        if self.role is not LibraryRole.MENTOR:
            raise LibraryError(
                f"a {self.role.value} token may not publish; ask the library's administrator "
                "for a mentor token", status=403, code="not-allowed")
        if not asked:
            asked = tuple(c for c in self.collections if c != ALL_COLLECTIONS)
            if not asked:
                raise LibraryError(
                    "say which collections the case goes to (hospital:NAME, course:NAME or "
                    "everyone); this token may publish to all", status=400,
                    code="no-collection")
        outside = [c for c in asked if not self.sees_all and c not in self.collections]
        if outside:
            raise LibraryError(
                f"this token may not publish to {', '.join(outside)}; it may publish to "
                f"{', '.join(self.collections)}", status=403, code="not-allowed")
        return tuple(asked)


def issue_library_token(
    secret: bytes, *, role: LibraryRole, collections: Sequence[str], name: str, ttl: float,
    now: float, user: str | None = None,
) -> str:
    """A library token for ``name`` in ``role`` over ``collections``, working ``ttl`` s."""
    check_secret(secret)
    if not (math.isfinite(ttl) and ttl > 0):
        raise ConfigError(f"the token lifetime must be above 0 seconds, got {ttl:g}")
    if not collections:
        raise ConfigError("give at least one collection: hospital:NAME, course:NAME, "
                          "everyone, or * for all")
    try:
        checked = [check_collection(c, in_token=True) for c in collections]
    except LibraryError as exc:
        raise ConfigError(str(exc)) from None
    name = name.strip()
    if not 1 <= len(name) <= MAX_NAME_CHARS or any(ord(c) < 32 for c in name):
        raise ConfigError(f"the name must be 1-{MAX_NAME_CHARS} printable characters")
    user = f"u-{secrets.token_hex(8)}" if user is None else user
    if not 1 <= len(user) <= MAX_ID_CHARS:
        raise ConfigError(f"the user id must be 1-{MAX_ID_CHARS} characters")
    claims = {
        "aud": AUDIENCE,
        "role": LibraryRole(role).value,
        "collections": list(dict.fromkeys(checked)),
        "name": name,
        "sub": user,
        "iat": int(now),
        "exp": math.ceil(now + ttl),
        "jti": secrets.token_hex(16),
    }
    return jwt.encode(claims, secret, algorithm=TOKEN_ALGORITHM)


def read_library_token(token: str, secret: bytes, *, now: float) -> LibraryPass:
    """Check ``token`` against ``secret`` and the clock; :class:`LibraryError` 401 with the
    reason (``missing-token``, ``invalid-token``, ``expired-token``) if it is refused."""
    if not token:
        raise LibraryError("no library token was presented; send Authorization: Bearer TOKEN",
                           status=401, code="missing-token")
    if len(token) > MAX_TOKEN_CHARS:
        raise _invalid(f"it is {len(token)} characters long; the limit is {MAX_TOKEN_CHARS}")
    try:
        claims = jwt.decode(
            token, secret, algorithms=[TOKEN_ALGORITHM], audience=AUDIENCE,
            options={"require": list(CLAIMS), "verify_exp": False, "verify_iat": False},
        )
    except jwt.InvalidAudienceError:
        raise _invalid("it is not a library token (a room token?)") from None
    except jwt.MissingRequiredClaimError as exc:
        why = ("it is not a library token (a room token?)" if exc.claim == "aud"
               else f"claim {exc.claim!r} is missing")
        raise _invalid(why) from None
    except jwt.InvalidAlgorithmError:
        raise _invalid(f"it is not signed with {TOKEN_ALGORITHM}") from None
    except jwt.InvalidSignatureError:
        raise _invalid("its signature does not match; it was not made with this library's "
                       "secret") from None
    except jwt.InvalidTokenError as exc:
        raise _invalid(f"it is not a well-formed token ({exc})") from None
    granted = _library_pass(claims)
    if now > granted.expires_at + CLOCK_TOLERANCE:
        raise LibraryError("the library token has expired; ask for a new one", status=401,
                           code="expired-token")
    if granted.issued_at > now + CLOCK_TOLERANCE:
        raise _invalid("it was issued in the future; check the clocks of issuer and server")
    return granted


def read_library_claims_unverified(token: str) -> LibraryPass:
    """What ``token`` says, without checking its signature or expiry: for a client to show
    who it is signed in as. Never grant anything from this."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False,
                                            "require": list(CLAIMS)})
    except jwt.InvalidTokenError as exc:
        raise _invalid(f"it is not a well-formed library token ({exc})") from None
    return _library_pass(claims)


def _library_pass(claims: dict[str, Any]) -> LibraryPass:
    role = claims["role"]
    if role not in {r.value for r in LibraryRole}:
        raise _invalid(f"claim 'role' must be student or mentor, got {role!r}")
    collections = claims["collections"]
    if not isinstance(collections, list) or not collections:
        raise _invalid("claim 'collections' must be a non-empty list")
    try:
        checked = tuple(check_collection(c, in_token=True) for c in collections)
    except LibraryError as exc:
        raise _invalid(f"claim 'collections': {exc}") from None
    name = claims["name"]
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME_CHARS:
        raise _invalid("claim 'name' is not a display name")
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
    return LibraryPass(
        role=LibraryRole(role), collections=checked, name=name, user=claims["sub"],
        token_id=claims["jti"], issued_at=float(claims["iat"]),
        expires_at=float(claims["exp"]),
    )


def _invalid(why: str) -> LibraryError:
    return LibraryError(f"the library token is not valid: {why}", status=401,
                        code="invalid-token")
