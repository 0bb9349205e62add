"""The handshake rules without a network: a request's path and headers in, a verdict out."""

from __future__ import annotations

from http import HTTPStatus

import pytest

from surgery_teach.protocol import Role
from surgery_teach.protocol.admission import Admission, Refusal, RefusalReason
from surgery_teach.protocol.passes import Bars, RoomPass
from surgery_teach.protocol.tokens import issue_token

SECRET = b"test-only secret for the admission rules, 48 by"
NOW = 1764099000.0
ROOM = "chole-2026-11-25"


def _admission(
    *, secret: bytes | None = SECRET, origins: tuple[str, ...] = (), bars: Bars | None = None
) -> Admission:
    return Admission(
        secret=secret,
        bars=Bars() if bars is None else bars,
        origins=origins,
        connections_per_address=3,
    )


def _token(room: str = ROOM, ttl: float = 3600, now: float = NOW) -> str:
    return issue_token(SECRET, room=room, role=Role.TRAINEE, name="Дмитрий", ttl=ttl, now=now)


def _check(
    admission: Admission,
    path: str = "/",
    *,
    origin: str | None = None,
    authorization: str | None = None,
    connections: int = 1,
) -> RoomPass | Refusal | None:
    return admission.check(
        path=path,
        origin=origin,
        authorization=authorization,
        connections=connections,
        now=NOW + 1,
    )


def _refusal(verdict: object, status: HTTPStatus, reason: RefusalReason) -> Refusal:
    assert isinstance(verdict, Refusal), verdict
    assert (verdict.status, verdict.reason) == (status, reason), verdict
    return verdict


def test_a_token_in_the_url_admits_to_its_room() -> None:
    verdict = _check(_admission(), f"/?room={ROOM}&token={_token()}")
    assert isinstance(verdict, RoomPass)
    assert (verdict.room, verdict.role, verdict.name) == (ROOM, Role.TRAINEE, "Дмитрий")


def test_the_room_may_be_left_out_of_the_url() -> None:
    assert isinstance(_check(_admission(), f"/?token={_token()}"), RoomPass)


@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
def test_a_token_in_an_authorization_header_admits(scheme: str) -> None:
    verdict = _check(_admission(), f"/?room={ROOM}", authorization=f"{scheme} {_token()}")
    assert isinstance(verdict, RoomPass)


def test_the_header_is_used_when_the_url_has_a_token_too() -> None:
    header = _token()
    verdict = _check(_admission(), "/?token=rubbish", authorization=f"Bearer {header}")
    assert isinstance(verdict, RoomPass)


def test_no_token_is_401_and_says_how_to_send_one() -> None:
    for authorization in (None, "Basic dXNlcjpwdw=="):
        verdict = _check(_admission(), f"/?room={ROOM}", authorization=authorization)
        refusal = _refusal(verdict, HTTPStatus.UNAUTHORIZED, RefusalReason.MISSING_TOKEN)
        assert "Authorization: Bearer" in refusal.message and "?token=" in refusal.message
        assert refusal.is_auth_failure


def test_an_expired_token_is_401() -> None:
    verdict = _check(_admission(), f"/?token={_token(ttl=60, now=NOW - 3600)}")
    _refusal(verdict, HTTPStatus.UNAUTHORIZED, RefusalReason.EXPIRED_TOKEN)


def test_a_forged_token_is_401() -> None:
    forged = issue_token(b"x" * 32, room=ROOM, role=Role.MENTOR, name="Dr Li", ttl=3600, now=NOW)
    verdict = _check(_admission(), f"/?token={forged}")
    refusal = _refusal(verdict, HTTPStatus.UNAUTHORIZED, RefusalReason.INVALID_TOKEN)
    assert forged not in refusal.message


def test_a_token_for_another_room_is_403() -> None:
    verdict = _check(_admission(), f"/?room=theatre-2&token={_token()}")
    refusal = _refusal(verdict, HTTPStatus.FORBIDDEN, RefusalReason.OTHER_ROOM)
    assert ROOM in refusal.message and "theatre-2" in refusal.message
    assert refusal.room_pass is not None and not refusal.is_auth_failure


def test_a_removed_token_is_403() -> None:
    bars = Bars()
    admission = _admission(bars=bars)
    token = _token()
    room_pass = _check(admission, f"/?token={token}")
    assert isinstance(room_pass, RoomPass)
    bars.bar(room_pass, now=NOW)
    verdict = _check(admission, f"/?token={token}")
    refusal = _refusal(verdict, HTTPStatus.FORBIDDEN, RefusalReason.REMOVED)
    assert "removed" in refusal.message


@pytest.mark.parametrize(
    "path", ["/?room=a%20b&token=x", "/?room=a&room=b", "/?token=a&token=b"]
)
def test_a_malformed_url_is_400(path: str) -> None:
    _refusal(_check(_admission(), path), HTTPStatus.BAD_REQUEST, RefusalReason.BAD_REQUEST)


def test_an_open_server_asks_for_no_token() -> None:
    admission = _admission(secret=None)
    assert admission.open
    assert _check(admission, "/") is None
    assert _check(admission, "/?room=x&token=anything") is None


@pytest.mark.parametrize("secret", [None, SECRET])
def test_only_allowed_origins_and_clients_without_one_are_let_in(secret: bytes | None) -> None:
    admission = _admission(secret=secret, origins=("https://teach.example.org",))
    path = f"/?token={_token()}"
    assert not isinstance(_check(admission, path, origin="https://teach.example.org"), Refusal)
    assert not isinstance(_check(admission, path), Refusal)
    verdict = _check(admission, path, origin="https://evil.example.com")
    refusal = _refusal(verdict, HTTPStatus.FORBIDDEN, RefusalReason.BAD_ORIGIN)
    assert "--allow-origin" in refusal.message


def test_any_origin_is_let_in_when_none_are_listed() -> None:
    verdict = _check(_admission(), f"/?token={_token()}", origin="https://anywhere.example")
    assert isinstance(verdict, RoomPass)


@pytest.mark.parametrize("secret", [None, SECRET])
def test_too_many_connections_from_one_address_is_429(secret: bytes | None) -> None:
    admission = _admission(secret=secret)
    assert not isinstance(_check(admission, f"/?token={_token()}", connections=3), Refusal)
    verdict = _check(admission, f"/?token={_token()}", connections=4)
    refusal = _refusal(verdict, HTTPStatus.TOO_MANY_REQUESTS, RefusalReason.TOO_MANY_CONNECTIONS)
    assert "limit is 3" in refusal.message
