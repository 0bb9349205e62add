"""The case index, the same on SQLite (embedded) and PostgreSQL (a real, throwaway one)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from library_server.config import LibraryConfig
from library_server.index import CaseIndex, SearchQuery, open_sqlite_index, parse_search_query
from library_server.index_postgres import open_postgres_index, without_password
from surgery_teach.casefile.manifest import Participant
from surgery_teach.caselibrary.passes import LibraryPass, LibraryRole
from surgery_teach.caselibrary.publish import publish_case
from surgery_teach.caselibrary.wire import CaseSummary, FileEntry, SortKey, parse_case_list
from surgery_teach.errors import LibraryError
from surgery_teach.wire.role import Role
from tests.library_server.helpers import SECRET, Certificate, LibraryThread, token
from tests.library_server.postgres import PostgresCluster


def _summary(n: int, *, title: str, hospital: str = "Zepu", chapters: tuple[str, ...] = (),
             roles: tuple[Role, ...] = (Role.SURGEON,), collections: tuple[str, ...] = (
                 "hospital:zepu",), day: int = 1, duration: float = 60.0) -> CaseSummary:
    started = dt.datetime(2026, 3, day, 9, 0, tzinfo=dt.UTC)
    return CaseSummary(
        id=f"{n:032x}", title=title, hospital=hospital, procedure=title,
        date=started.date(), started_at=started, duration=duration,
        participants=tuple(Participant(r, f"Person {i}") for i, r in enumerate(roles)),
        chapters=tuple((c, 10.0 * i) for i, c in enumerate(chapters)), sources=("Endoscope",),
        audio=True, problems=(), collections=collections,
        files=(FileEntry("endoscope.mkv", 1, "0" * 64),), thumbnail=True,
        published_at=started + dt.timedelta(days=1), publisher="Dr Wang")


def _viewer(*collections: str) -> LibraryPass:
    return LibraryPass(role=LibraryRole.STUDENT, collections=collections, name="x", user="u",
                       token_id="t", issued_at=0, expires_at=1e12)


@pytest.fixture(params=["sqlite", "postgresql"])
def index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CaseIndex]:
    if request.param == "sqlite":
        made = open_sqlite_index(tmp_path / "index.sqlite3")
    else:
        cluster: PostgresCluster = request.getfixturevalue("postgres")
        made = open_postgres_index(cluster.database())
    yield made
    made.close()


@pytest.fixture
def filled(index: CaseIndex) -> CaseIndex:
    index.add(_summary(1, title="Lap chole", chapters=("Calot's triangle", "Clipping"),
                       roles=(Role.SURGEON, Role.TRAINEE), day=3, duration=3600))
    index.add(_summary(2, title="Appendectomy", hospital="Ruijin", chapters=("Mesoappendix",),
                       collections=("hospital:ruijin",), day=5, duration=1800))
    index.add(_summary(3, title="Hernia repair", hospital="Ruijin",
                       collections=("course:lap-2026",), day=4, duration=5400))
    index.add(_summary(4, title="Basic suturing", hospital="Osh", collections=("everyone",),
                       roles=(Role.MENTOR,), day=1, duration=600))
    return index


def _titles(index: CaseIndex, viewer: LibraryPass | None = None, **query: object) -> list[str]:
    found, _ = index.search(SearchQuery(**query), viewer or _viewer("*"))  # type: ignore[arg-type]
    return [c.title for c in found]


def test_a_viewer_finds_only_the_cases_of_their_collections(filled: CaseIndex) -> None:
    assert _titles(filled, _viewer("hospital:zepu")) == ["Lap chole", "Basic suturing"]
    assert _titles(filled, _viewer("course:lap-2026", "hospital:ruijin")) == [
        "Appendectomy", "Hernia repair", "Basic suturing"]
    assert len(_titles(filled)) == 4


def test_search_fields(filled: CaseIndex) -> None:
    assert _titles(filled, text="CALOT") == ["Lap chole"]
    assert _titles(filled, chapter="meso") == ["Appendectomy"]
    assert _titles(filled, chapter="calot clipping") == ["Lap chole"]
    assert _titles(filled, chapter="calot mesoappendix") == []
    assert _titles(filled, hospital="ruijin") == ["Appendectomy", "Hernia repair"]
    assert _titles(filled, role=Role.TRAINEE) == ["Lap chole"]
    assert _titles(filled, role=Role.MENTOR) == ["Basic suturing"]
    assert _titles(filled, date_from=dt.date(2026, 3, 4), date_to=dt.date(2026, 3, 4)) == [
        "Hernia repair"]
    assert _titles(filled, collection="everyone") == ["Basic suturing"]
    assert _titles(filled, text="100%_") == []  # LIKE wildcards are plain text here


def test_sorting_paging_and_counting(filled: CaseIndex) -> None:
    assert _titles(filled, sort=SortKey.TITLE) == ["Appendectomy", "Basic suturing",
                                                  "Hernia repair", "Lap chole"]
    assert _titles(filled, sort=SortKey.DURATION) == ["Hernia repair", "Lap chole",
                                                     "Appendectomy", "Basic suturing"]
    assert _titles(filled, sort=SortKey.DATE, descending=False)[0] == "Basic suturing"
    page, total = filled.search(SearchQuery(sort=SortKey.TITLE, limit=2, offset=1),
                                _viewer("*"))
    assert [c.title for c in page] == ["Basic suturing", "Hernia repair"] and total == 4


def test_replacing_and_removing_a_case(filled: CaseIndex) -> None:
    again = _summary(1, title="Lap chole", collections=("hospital:zepu", "everyone"))
    filled.add(again)
    assert filled.get(again.id) == again
    assert "Lap chole" in _titles(filled, _viewer("hospital:ruijin"))
    filled.remove(again.id)
    assert filled.get(again.id) is None and len(filled.ids()) == 3


def test_search_parameters_are_checked() -> None:
    query = parse_search_query({"q": "calot", "sort": "title", "order": "desc",
                                "from": "2026-03-01", "limit": "10", "role": "trainee"})
    assert query.sort is SortKey.TITLE and query.descending and query.limit == 10
    for params, problem in [({"limit": "0"}, "limit"), ({"from": "March"}, "from must be"),
                            ({"role": "nurse"}, "role must be"), ({"x": "1"}, "unknown")]:
        with pytest.raises(LibraryError, match=problem):
            parse_search_query(params)


def test_two_servers_share_one_postgres_index_and_one_store(
    postgres: PostgresCluster, tmp_path: Path, certificate: Certificate, case: Path
) -> None:
    url = postgres.database()
    configs = [LibraryConfig(data_dir=tmp_path / "shared", secret=SECRET, port=0,
                             index=url, min_free_bytes=0, cert_file=certificate.cert,
                             key_file=certificate.key) for _ in range(2)]
    first, second = LibraryThread(configs[0]), LibraryThread(configs[1])
    try:
        with first.connect(token(LibraryRole.MENTOR, ["hospital:zepu"]),
                           ca=certificate) as connection:
            published = publish_case(case, connection).case
        with second.connect(token(LibraryRole.STUDENT, ["hospital:zepu"]),
                            ca=certificate) as connection:
            found, total = parse_case_list(connection.request("GET", "/cases?q=dissection")[2])
            _, _, media = connection.request("GET", f"/cases/{published.id}/files/audio.mka")
        assert total == 1 and found[0].id == published.id
        assert media == (case / "audio.mka").read_bytes()
    finally:
        first.stop()
        second.stop()


def test_an_unreachable_postgres_is_one_clear_line() -> None:
    with pytest.raises(LibraryError, match="cannot open the case index at "
                       r"postgresql://me@127\.0\.0\.1:1/x") as refused:
        open_postgres_index("postgresql://me:secret@127.0.0.1:1/x")
    assert "secret" not in str(refused.value)
    assert without_password("postgresql://a:b@h/d") == "postgresql://a@h/d"
