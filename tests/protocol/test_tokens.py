"""Room tokens without a network: made and checked against a given clock."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest

from surgery_teach.errors import ConfigError, ProtocolError
from surgery_teach.protocol import Role
from surgery_teach.protocol.passes import CLOCK_TOLERANCE
from surgery_teach.protocol.tokens import (
    CLAIMS,
    TokenProblem,
    check_secret,
    issue_token,
    parse_duration,
    read_claims_unverified,
    read_token,
)

SECRET = b"test-only secret, 64 bytes long so that HS512 takes it too......"
assert len(SECRET) == 64
NOW = 1764099000.0
HOUR = 3600.0


def _token(**overrides: Any) -> str:
    options: dict[str, Any] = {
        "room": "chole-2026-11-25",
        "role": Role.MENTOR,
        "name": "Dr Li",
        "ttl": 4 * HOUR,
        "now": NOW,
    }
    options.update(overrides)
    return issue_token(SECRET, **options)


def _claims(**overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "room": "r",
        "role": "mentor",
        "name": "Dr Li",
        "sub": "u-1",
        "iat": int(NOW),
        "exp": int(NOW + HOUR),
        "jti": "j-1",
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def _refused(token: str, now: float = NOW) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        read_token(token, SECRET, now=now)
    return caught.value


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_token_grants_its_room_role_and_name_until_it_expires() -> None:
    room_pass = read_token(_token(name="  Dr Li "), SECRET, now=NOW + 60)
    assert (room_pass.room, room_pass.role, room_pass.name) == (
        "chole-2026-11-25",
        Role.MENTOR,
        "Dr Li",
    )
    assert (room_pass.issued_at, room_pass.expires_at) == (NOW, NOW + 4 * HOUR)
    assert room_pass.user.startswith("u-")
    assert len(room_pass.token_id) == 32


def test_a_token_carries_every_claim_and_is_hs256() -> None:
    token = _token(user="hospital-staff-4711")
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert set(claims) == set(CLAIMS)
    assert claims["sub"] == "hospital-staff-4711"


def test_each_token_has_its_own_id_and_without_a_user_its_own_random_user() -> None:
    first, second = (read_token(_token(), SECRET, now=NOW) for _ in range(2))
    assert first.token_id != second.token_id
    assert first.user != second.user


def test_an_expired_token_is_refused_after_the_clock_tolerance() -> None:
    token = _token(ttl=60)
    assert read_token(token, SECRET, now=NOW + 60 + CLOCK_TOLERANCE).room == "chole-2026-11-25"
    error = _refused(token, now=NOW + 60 + CLOCK_TOLERANCE + 1)
    assert error.code == TokenProblem.EXPIRED
    assert "expired" in error.message and "new one" in error.message


def test_a_token_signed_with_another_secret_is_refused() -> None:
    forged = jwt.encode(_claims(), b"another secret, just as long as the real one", "HS256")
    error = _refused(forged)
    assert error.code == TokenProblem.INVALID
    assert "signature" in error.message


def test_an_unsigned_alg_none_token_is_refused() -> None:
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims())}."
    error = _refused(unsigned)
    assert error.code == TokenProblem.INVALID
    assert "not signed with HS256" in error.message


def test_a_token_in_another_algorithm_is_refused_even_with_the_right_secret() -> None:
    error = _refused(jwt.encode(_claims(), SECRET, "HS512"))
    assert error.code == TokenProblem.INVALID


@pytest.mark.parametrize("claim", CLAIMS)
def test_a_token_without_one_of_its_claims_is_refused(claim: str) -> None:
    error = _refused(jwt.encode(_claims(**{claim: None}), SECRET, "HS256"))
    assert error.code == TokenProblem.INVALID
    assert repr(claim) in error.message


@pytest.mark.parametrize(
    ("claims", "explanation"),
    [
        ({"room": "theatre 1"}, "claim 'room'"),
        ({"role": "chief"}, "claim 'role'"),
        ({"name": "\n"}, "claim 'name'"),
        ({"sub": "x" * 65}, "claim 'sub'"),
        ({"jti": 7}, "well-formed"),
        ({"exp": "tomorrow"}, "claim 'exp'"),
        ({"iat": True}, "claim 'iat'"),
        ({"exp": int(NOW)}, "not after 'iat'"),
        ({"iat": int(NOW + HOUR), "exp": int(NOW + 2 * HOUR)}, "in the future"),
    ],
)
def test_a_token_with_a_bad_claim_is_refused(claims: dict[str, Any], explanation: str) -> None:
    error = _refused(jwt.encode(_claims(**claims), SECRET, "HS256"))
    assert error.code == TokenProblem.INVALID
    assert explanation in error.message


@pytest.mark.parametrize("token", ["abc", "a.b.c", "x" * 5000])
def test_something_that_is_not_a_token_is_refused(token: str) -> None:
    assert _refused(token).code == TokenProblem.INVALID


def test_no_token_at_all_is_missing() -> None:
    assert _refused("").code == TokenProblem.MISSING


def test_messages_never_quote_the_token() -> None:
    token = jwt.encode(_claims(), b"another secret, just as long as the real one", "HS256")
    assert token not in _refused(token).message
    assert token.split(".")[1] not in _refused(token).message


def test_secrets_shorter_than_32_bytes_are_refused() -> None:
    with pytest.raises(ConfigError, match="at least 32"):
        check_secret(b"short")
    with pytest.raises(ConfigError, match="at least 32"):
        issue_token(b"short", room="r", role=Role.MENTOR, name="A", ttl=60, now=NOW)
    assert check_secret(SECRET) == SECRET


@pytest.mark.parametrize(
    ("options", "explanation"),
    [
        ({"room": "theatre 1"}, "'room' may contain only"),
        ({"name": " "}, "'name' must contain"),
        ({"ttl": 0}, "above 0"),
        ({"ttl": float("nan")}, "above 0"),
        ({"user": ""}, "user id"),
    ],
)
def test_issuing_a_token_the_server_would_refuse_is_a_config_error(
    options: dict[str, Any], explanation: str
) -> None:
    with pytest.raises(ConfigError, match=explanation):
        _token(**options)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("30m", 1800), ("4h", 4 * HOUR), ("2d", 48 * HOUR), ("1.5h", 5400)],
)
def test_lifetimes_are_read_in_seconds_minutes_hours_or_days(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "0h", "-1h", "4 hours", "h", "4w"])
def test_other_lifetimes_are_config_errors(text: str) -> None:
    with pytest.raises(ConfigError, match="like 90s, 30m, 4h or 2d"):
        parse_duration(text)


def test_a_client_reads_what_a_token_says_without_the_secret() -> None:
    """The lobby fills in room, role and name from a pasted token; the server verifies it."""
    other_secret = b"not the server's secret, but just as long as one"
    forged = jwt.encode(_claims(role="trainee", name="Trainee Osh"), other_secret, "HS256")
    claims = read_claims_unverified(forged)  # no secret here: only the server can check
    assert (claims.room, claims.role, claims.name) == ("r", Role.TRAINEE, "Trainee Osh")
    assert (claims.issued_at, claims.expires_at) == (NOW, NOW + HOUR)
    assert read_claims_unverified(_token(ttl=60)).expires_at == NOW + 60  # expiry not checked


@pytest.mark.parametrize(
    ("token", "explanation"),
    [
        ("abc", "not a well-formed token"),
        ("Bearer abc.def", "not a well-formed token"),
        ("x" * 5000, "the limit is 4096"),
        (jwt.encode(_claims(room=None), SECRET, "HS256"), "claim 'room' is missing"),
        (jwt.encode(_claims(role="chief"), SECRET, "HS256"), "claim 'role'"),
    ],
)
def test_reading_a_malformed_token_says_what_is_wrong(token: str, explanation: str) -> None:
    with pytest.raises(ProtocolError, match=explanation) as caught:
        read_claims_unverified(token)
    assert caught.value.code == TokenProblem.INVALID
    assert token not in caught.value.message
    with pytest.raises(ProtocolError) as missing:
        read_claims_unverified("")
    assert missing.value.code == TokenProblem.MISSING
