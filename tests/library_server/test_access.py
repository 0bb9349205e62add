"""Who sees what: collections, roles, refused tokens, the audit log; and search and sort."""

from __future__ import annotations

import datetime as dt
import time
import urllib.parse
from pathlib import Path

import pytest

from surgery_teach.caselibrary.connection import LibraryConnection
from surgery_teach.caselibrary.passes import LibraryRole, issue_library_token
from surgery_teach.caselibrary.publish import publish_case
from surgery_teach.caselibrary.wire import CaseSummary, parse_case_list
from surgery_teach.errors import LibraryError
from surgery_teach.protocol import Role
from surgery_teach.protocol.tokens import issue_token
from tests.library_server.helpers import (
    SECRET,
    Certificate,
    LibraryThread,
    audit_lines,
    case_variant,
    token,
)

LIBRARIAN = token(LibraryRole.MENTOR, ["*"], name="Librarian", user="u-librarian")


@pytest.fixture
def shelf(library: LibraryThread, certificate: Certificate, case: Path,
          tmp_path: Path) -> dict[str, CaseSummary]:
    """Four cases in different collections, hospitals, dates and chapters."""
    cases = {
        "chole": (case_variant(case, tmp_path, title="Lap chole at Zepu", hospital="Zepu County",
                               date=dt.date(2026, 3, 1), chapters=["Calot's triangle"]),
                  ["hospital:zepu"]),
        "appendix": (case_variant(case, tmp_path, title="Appendectomy", hospital="Ruijin",
                                  date=dt.date(2026, 4, 2), chapters=["Mesoappendix"]),
                     ["hospital:ruijin"]),
        "hernia": (case_variant(case, tmp_path, title="Hernia repair", hospital="Ruijin",
                                date=dt.date(2026, 5, 3)), ["course:lap-2026"]),
        "open": (case_variant(case, tmp_path, title="Basic suturing", hospital="Osh",
                              date=dt.date(2026, 6, 4)), ["everyone"]),
    }
    shelf = {}
    with library.connect(LIBRARIAN, ca=certificate) as connection:
        for key, (folder, collections) in cases.items():
            shelf[key] = publish_case(folder, connection, collections=collections).case
    return shelf


def _titles(connection: LibraryConnection, **params: str) -> list[str]:
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    return [c.title for c in parse_case_list(connection.request("GET", f"/cases{query}")[2])[0]]


def test_a_student_sees_the_cases_of_their_collections_and_the_open_ones(
    library: LibraryThread, certificate: Certificate, shelf: dict[str, CaseSummary]
) -> None:
    zepu = token(LibraryRole.STUDENT, ["hospital:zepu"], name="Aynur")
    course = token(LibraryRole.STUDENT, ["course:lap-2026", "hospital:ruijin"], name="Li")
    with library.connect(zepu, ca=certificate) as connection:
        assert sorted(_titles(connection)) == ["Basic suturing", "Lap chole at Zepu"]
        with pytest.raises(LibraryError, match="no such case") as hidden:
            connection.request("GET", f"/cases/{shelf['appendix'].id}/files/endoscope.mkv")
        assert hidden.value.status == 404
    with library.connect(course, ca=certificate) as connection:
        assert sorted(_titles(connection)) == ["Appendectomy", "Basic suturing", "Hernia repair"]
    with library.connect(LIBRARIAN, ca=certificate) as connection:
        assert len(_titles(connection)) == 4


def test_a_student_may_not_publish_and_a_mentor_only_into_their_collections(
    library: LibraryThread, certificate: Certificate, case: Path
) -> None:
    student = token(LibraryRole.STUDENT, ["hospital:zepu"])
    with library.connect(student, ca=certificate) as connection, \
            pytest.raises(LibraryError, match="may not publish") as refused:
        publish_case(case, connection)
    assert refused.value.status == 403
    mentor = token(LibraryRole.MENTOR, ["hospital:zepu"])
    with library.connect(mentor, ca=certificate) as connection, \
            pytest.raises(LibraryError, match="may not publish to hospital:ruijin"):
        publish_case(case, connection, collections=["hospital:ruijin"])
    denials = [line for line in audit_lines(library.config.audit_path)
               if line["event"] == "denial"]
    assert [line["status"] for line in denials] == [403, 403]


def test_refused_tokens_say_why(library: LibraryThread, certificate: Certificate) -> None:
    room = issue_token(SECRET, room="chole-1", role=Role.STUDENT, name="Li", ttl=60,
                       now=time.time())
    expired = issue_library_token(SECRET, role=LibraryRole.STUDENT, collections=["everyone"],
                                  name="Li", ttl=60, now=time.time() - 3600)
    forged = token(LibraryRole.STUDENT, ["*"])[:-4] + "AAAA"
    for bearer, reason in [("", "no library token"), (room, "not a library token"),
                           (forged, "signature does not match"), (expired, "has expired")]:
        with library.connect(bearer, ca=certificate) as connection, \
                pytest.raises(LibraryError, match=reason) as refused:
            connection.request("GET", "/cases")
        assert refused.value.status == 401
    assert {line["event"] for line in audit_lines(library.config.audit_path)} == {
        "auth-failure"}


def test_each_viewing_writes_one_audit_line(
    library: LibraryThread, certificate: Certificate, shelf: dict[str, CaseSummary]
) -> None:
    student = token(LibraryRole.STUDENT, ["hospital:zepu"], name="Aynur", user="u-aynur")
    chole = shelf["chole"].id
    with library.connect(student, ca=certificate) as connection:
        for start in range(0, 40_000, 10_000):  # one viewing: many range requests
            connection.request("GET", f"/cases/{chole}/files/endoscope.mkv",
                               headers={"Range": f"bytes={start}-{start + 9999}"}, ok=(206,))
        connection.request("GET", f"/cases/{chole}/files/events.jsonl")
        _titles(connection)  # listing is not viewing
    views = [line for line in audit_lines(library.config.audit_path) if line["event"] == "view"]
    assert len(views) == 1
    assert views[0]["user"] == "u-aynur" and views[0]["case"] == chole
    assert views[0]["name"] == "Aynur" and views[0]["role"] == "student"
    assert all("token" not in key for key in views[0])


def test_search_by_chapter_hospital_role_and_date(
    library: LibraryThread, certificate: Certificate, shelf: dict[str, CaseSummary]
) -> None:
    with library.connect(LIBRARIAN, ca=certificate) as connection:
        assert _titles(connection, q="calot") == ["Lap chole at Zepu"]
        assert _titles(connection, chapter="mesoappendix") == ["Appendectomy"]
        assert _titles(connection, chapter="calot", hospital="ruijin") == []
        assert sorted(_titles(connection, hospital="RUIJIN")) == ["Appendectomy",
                                                                  "Hernia repair"]
        assert len(_titles(connection, role="trainee")) == 4  # Sam Okafor took part in all
        assert _titles(connection, role="mentor") == []
        assert _titles(connection, **{"from": "2026-04-01", "to": "2026-05-31"}) == [
            "Hernia repair", "Appendectomy"]
        assert _titles(connection, procedure="hernia") == ["Hernia repair"]
        assert _titles(connection, q="lima") != []  # a participant's name
        assert _titles(connection, collection="course:lap-2026") == ["Hernia repair"]


def test_sorting_and_paging(
    library: LibraryThread, certificate: Certificate, shelf: dict[str, CaseSummary]
) -> None:
    with library.connect(LIBRARIAN, ca=certificate) as connection:
        assert _titles(connection) == ["Basic suturing", "Hernia repair", "Appendectomy",
                                       "Lap chole at Zepu"]  # newest first
        assert _titles(connection, sort="title") == ["Appendectomy", "Basic suturing",
                                                     "Hernia repair", "Lap chole at Zepu"]
        assert _titles(connection, sort="date", order="asc")[0] == "Lap chole at Zepu"
        page = parse_case_list(connection.request(
            "GET", "/cases?sort=title&limit=2&offset=2")[2])
        assert [c.title for c in page[0]] == ["Hernia repair", "Lap chole at Zepu"]
        assert page[1] == 4
        with pytest.raises(LibraryError, match="sort must be one of") as refused:
            connection.request("GET", "/cases?sort=colour")
        assert refused.value.status == 400
        with pytest.raises(LibraryError, match="unknown parameter"):
            connection.request("GET", "/cases?token=abc")
