"""Library tokens: what they grant, and the ones refused."""

from __future__ import annotations

import pytest

from surgery_teach.caselibrary.passes import (
    LibraryRole,
    issue_library_token,
    read_library_claims_unverified,
    read_library_token,
)
from surgery_teach.errors import ConfigError, LibraryError
from surgery_teach.protocol import Role
from surgery_teach.protocol.tokens import issue_token, read_token

SECRET = b"s" * 40
NOW = 1_800_000_000.0


def _token(role: LibraryRole = LibraryRole.STUDENT, collections: list[str] | None = None,
           **kw: object) -> str:
    return issue_library_token(SECRET, role=role, collections=collections or ["hospital:zepu"],
                               name="Aynur", ttl=3600, now=NOW, **kw)  # type: ignore[arg-type]


def test_a_token_grants_its_collections_and_the_open_ones() -> None:
    granted = read_library_token(_token(user="u-aynur"), SECRET, now=NOW + 10)
    assert granted.role is LibraryRole.STUDENT and granted.user == "u-aynur"
    assert granted.may_watch(["hospital:zepu", "course:x"])
    assert granted.may_watch(["everyone"])
    assert not granted.may_watch(["hospital:ruijin"])
    everything = read_library_token(_token(collections=["*"]), SECRET, now=NOW)
    assert everything.may_watch(["hospital:ruijin"])


def test_only_a_mentor_publishes_and_only_into_their_collections() -> None:
    student = read_library_token(_token(), SECRET, now=NOW)
    with pytest.raises(LibraryError, match="may not publish") as refused:
        student.publish_collections(["hospital:zepu"])
    assert refused.value.status == 403
    mentor = read_library_token(_token(LibraryRole.MENTOR, ["hospital:zepu", "course:a"]),
                                SECRET, now=NOW)
    assert mentor.publish_collections([]) == ("hospital:zepu", "course:a")
    with pytest.raises(LibraryError, match="may not publish to hospital:ruijin"):
        mentor.publish_collections(["hospital:ruijin"])
    librarian = read_library_token(_token(LibraryRole.MENTOR, ["*"]), SECRET, now=NOW)
    with pytest.raises(LibraryError, match="say which collections"):
        librarian.publish_collections([])
    assert librarian.publish_collections(["everyone"]) == ("everyone",)


def test_room_tokens_and_library_tokens_are_never_taken_for_each_other() -> None:
    room = issue_token(SECRET, room="chole-1", role=Role.STUDENT, name="Li", ttl=60, now=NOW)
    with pytest.raises(LibraryError, match="not a library token"):
        read_library_token(room, SECRET, now=NOW)
    with pytest.raises(Exception, match="not valid"):
        read_token(_token(), SECRET, now=NOW)


@pytest.mark.parametrize(("token", "now", "code"), [
    ("", NOW, "missing-token"),
    ("not.a.token", NOW, "invalid-token"),
    (None, NOW + 3600 + 31, "expired-token"),
    (None, NOW - 31, "invalid-token"),  # issued in the future
])
def test_refused_tokens(token: str | None, now: float, code: str) -> None:
    with pytest.raises(LibraryError) as refused:
        read_library_token(_token() if token is None else token, SECRET, now=now)
    assert refused.value.code == code and refused.value.status == 401
    with pytest.raises(LibraryError, match="signature does not match"):
        read_library_token(_token(), b"t" * 40, now=NOW)


def test_issuing_checks_what_it_signs() -> None:
    with pytest.raises(ConfigError, match="at least 32"):
        issue_library_token(b"short", role=LibraryRole.STUDENT, collections=["everyone"],
                            name="x", ttl=60, now=NOW)
    with pytest.raises(ConfigError, match="is not a collection"):
        _token(collections=["ward 3"])
    assert read_library_claims_unverified(_token()).name == "Aynur"
