"""The index of published cases: what lists, searches and sorts without opening a folder.

One table row per case (its :class:`CaseSummary` as JSON, plus lower-cased search columns
and sort keys) and one row per (case, collection). The same SQL runs on SQLite (the
embedded default, ``DATA/index.sqlite3``) and PostgreSQL (:mod:`.index_postgres`, for
several servers sharing one store); :class:`Dialect` holds their few differences. The
index is only ever written after a case's folder is complete, in one transaction per
case, so a listed case always plays. Blocking: call from a worker thread.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

from surgery_teach.caselibrary.passes import LibraryPass
from surgery_teach.caselibrary.wire import (
    EVERYONE,
    CaseSummary,
    SortKey,
    case_summary_from_dict,
    case_summary_to_dict,
    check_collection,
)
from surgery_teach.errors import LibraryError
from surgery_teach.wire.role import Role

MAX_PAGE: Final = 200
DEFAULT_PAGE: Final = 50

_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS cases (
        id TEXT PRIMARY KEY,
        title_cf TEXT NOT NULL,
        hospital_cf TEXT NOT NULL,
        procedure_cf TEXT NOT NULL,
        chapters_cf TEXT NOT NULL,
        roles TEXT NOT NULL,
        words_cf TEXT NOT NULL,
        day TEXT,
        started DOUBLE PRECISION,
        duration DOUBLE PRECISION,
        published DOUBLE PRECISION NOT NULL,
        title_sort TEXT NOT NULL,
        summary TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS case_collections (
        case_id TEXT NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
        collection TEXT NOT NULL,
        PRIMARY KEY (case_id, collection))""",
    "CREATE INDEX IF NOT EXISTS cases_started ON cases (started)",
    "CREATE INDEX IF NOT EXISTS cases_published ON cases (published)",
    "CREATE INDEX IF NOT EXISTS cases_title ON cases (title_sort)",
    "CREATE INDEX IF NOT EXISTS case_collections_by_name ON case_collections (collection)",
)
_SORT_COLUMNS: Final = {
    SortKey.DATE: "started",
    SortKey.TITLE: "title_sort",
    SortKey.DURATION: "duration",
    SortKey.PUBLISHED: "published",
}


@dataclass(frozen=True, kw_only=True)
class SearchQuery:
    """What a student asks the list for. Every text filter matches when each of its
    words appears (any case) in that field; ``text`` looks in all of them."""

    text: str = ""
    title: str = ""
    hospital: str = ""
    procedure: str = ""
    chapter: str = ""
    role: Role | None = None  # a participant in this role took part
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    collection: str | None = None
    sort: SortKey = SortKey.DATE
    descending: bool | None = None  # default: newest / longest / latest first, titles A-Z
    limit: int = DEFAULT_PAGE
    offset: int = 0


_QUERY_FIELDS: Final = ("q", "title", "hospital", "procedure", "chapter", "role", "from",
                        "to", "collection", "sort", "order", "limit", "offset")


def parse_search_query(params: Mapping[str, str]) -> SearchQuery:
    """A :class:`SearchQuery` from URL parameters; 400 ``bad-query`` naming the parameter."""
    unknown = sorted(set(params) - set(_QUERY_FIELDS))
    if unknown:
        raise _bad_query(f"unknown parameter(s) {', '.join(unknown)}; known: "
                         f"{', '.join(_QUERY_FIELDS)}")
    texts = {}
    for name in ("q", "title", "hospital", "procedure", "chapter"):
        value = params.get(name, "")
        if len(value) > 200:
            raise _bad_query(f"{name} is longer than 200 characters")
        texts[name] = value
    role = None
    if params.get("role"):
        try:
            role = Role(params["role"])
        except ValueError:
            raise _bad_query(f"role must be one of {', '.join(r.value for r in Role)}") from None
    try:
        sort = SortKey(params.get("sort", SortKey.DATE.value))
    except ValueError:
        raise _bad_query(f"sort must be one of {', '.join(k.value for k in SortKey)}") from None
    order = params.get("order", "")
    if order not in ("", "asc", "desc"):
        raise _bad_query("order must be asc or desc")
    collection = params.get("collection") or None
    if collection is not None:
        try:
            check_collection(collection)
        except LibraryError as exc:
            raise _bad_query(str(exc)) from None
    return SearchQuery(
        text=texts["q"], title=texts["title"], hospital=texts["hospital"],
        procedure=texts["procedure"], chapter=texts["chapter"], role=role,
        date_from=_date_param(params, "from"), date_to=_date_param(params, "to"),
        collection=collection, sort=sort,
        descending=None if not order else order == "desc",
        limit=_int_param(params, "limit", DEFAULT_PAGE, 1, MAX_PAGE),
        offset=_int_param(params, "offset", 0, 0, 10**9),
    )


class Dialect(Protocol):
    placeholder: str
    contains: str  # SQL of "column contains ?" with {column}


@dataclass(frozen=True)
class SQLiteDialect:
    placeholder: str = "?"
    contains: str = "instr({column}, ?) > 0"


@dataclass
class CaseIndex:
    """The index over one DB-API connection (used from one thread at a time)."""

    connection: Any
    dialect: Dialect = field(default_factory=SQLiteDialect)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        with self._transaction() as cursor:
            self._before_schema(cursor)
            for statement in _SCHEMA:
                cursor.execute(statement)

    def _before_schema(self, cursor: Any) -> None:
        """Hook: PostgreSQL takes a lock so that servers starting together do not race."""

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self._lock:
            cursor = self.connection.cursor()
            try:
                yield cursor
                self.connection.commit()
            except BaseException:
                self.connection.rollback()
                raise
            finally:
                cursor.close()

    def _sql(self, text: str) -> str:
        return text if self.dialect.placeholder == "?" else text.replace("?", "%s")

    def add(self, case: CaseSummary) -> None:
        """Index ``case`` (replacing an earlier row for it), with its collections."""
        cf = str.casefold
        roles = " " + " ".join(sorted({p.role.value for p in case.participants})) + " "
        chapters = "\n".join(cf(title) for title, _ in case.chapters)
        words = "\n".join([cf(case.title), cf(case.hospital), cf(case.procedure), chapters,
                           roles, *(cf(p.name) for p in case.participants),
                           case.date.isoformat() if case.date else ""])
        started = (case.started_at.timestamp() if case.started_at else
                   dt.datetime.combine(case.date, dt.time(), dt.UTC).timestamp()
                   if case.date else None)
        row = (case.id, cf(case.title), cf(case.hospital), cf(case.procedure), chapters, roles,
               words, case.date.isoformat() if case.date else None, started, case.duration,
               case.published_at.timestamp(), cf(case.title),
               json.dumps(case_summary_to_dict(case), ensure_ascii=False))
        with self._transaction() as cursor:
            cursor.execute(self._sql("DELETE FROM case_collections WHERE case_id = ?"),
                           (case.id,))
            cursor.execute(self._sql("DELETE FROM cases WHERE id = ?"), (case.id,))
            cursor.execute(self._sql(
                "INSERT INTO cases (id, title_cf, hospital_cf, procedure_cf, chapters_cf, "
                "roles, words_cf, day, started, duration, published, title_sort, summary) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"), row)
            for collection in dict.fromkeys(case.collections):
                cursor.execute(self._sql(
                    "INSERT INTO case_collections (case_id, collection) VALUES (?, ?)"),
                    (case.id, collection))

    def remove(self, case: str) -> None:
        with self._transaction() as cursor:
            cursor.execute(self._sql("DELETE FROM case_collections WHERE case_id = ?"), (case,))
            cursor.execute(self._sql("DELETE FROM cases WHERE id = ?"), (case,))

    def ids(self) -> set[str]:
        with self._transaction() as cursor:
            cursor.execute("SELECT id FROM cases")
            return {row[0] for row in cursor.fetchall()}

    def get(self, case: str) -> CaseSummary | None:
        with self._transaction() as cursor:
            cursor.execute(self._sql("SELECT summary FROM cases WHERE id = ?"), (case,))
            row = cursor.fetchone()
        return None if row is None else case_summary_from_dict(json.loads(row[0]))

    def search(self, query: SearchQuery, viewer: LibraryPass) -> tuple[list[CaseSummary], int]:
        """One page of the cases ``viewer`` may watch that match ``query``, and how many
        match in all."""
        where, args = self._conditions(query, viewer)
        column = _SORT_COLUMNS[query.sort]
        descending = (query.sort is not SortKey.TITLE if query.descending is None
                      else query.descending)
        order = "DESC" if descending else "ASC"
        with self._transaction() as cursor:
            cursor.execute(self._sql(f"SELECT COUNT(*) FROM cases WHERE {where}"), args)
            total = int(cursor.fetchone()[0])
            cursor.execute(self._sql(
                f"SELECT summary FROM cases WHERE {where} ORDER BY {column} {order} NULLS LAST, "
                "id LIMIT ? OFFSET ?"), [*args, query.limit, query.offset])
            rows = cursor.fetchall()
        return [case_summary_from_dict(json.loads(row[0])) for row in rows], total

    def _conditions(self, query: SearchQuery, viewer: LibraryPass) -> tuple[str, list[Any]]:
        parts = ["1 = 1"]
        args: list[Any] = []
        if not viewer.sees_all:
            allowed = [*dict.fromkeys([*viewer.collections, EVERYONE])]
            marks = ", ".join("?" for _ in allowed)
            parts.append(f"id IN (SELECT case_id FROM case_collections WHERE collection IN "
                         f"({marks}))")
            args += allowed
        if query.collection is not None:
            parts.append("id IN (SELECT case_id FROM case_collections WHERE collection = ?)")
            args.append(query.collection)
        for column, text in (("words_cf", query.text), ("title_cf", query.title),
                             ("hospital_cf", query.hospital),
                             ("procedure_cf", query.procedure),
                             ("chapters_cf", query.chapter)):
            for word in text.casefold().split():
                parts.append(self.dialect.contains.format(column=column))
                args.append(word)
        if query.role is not None:
            parts.append(self.dialect.contains.format(column="roles"))
            args.append(f" {query.role.value} ")
        if query.date_from is not None:
            parts.append("day >= ?")
            args.append(query.date_from.isoformat())
        if query.date_to is not None:
            parts.append("day <= ?")
            args.append(query.date_to.isoformat())
        return " AND ".join(parts), args

    def close(self) -> None:
        with self._lock:
            self.connection.close()


def open_sqlite_index(path: Path) -> CaseIndex:
    """The embedded index in the file ``path`` (made if missing)."""
    try:
        connection = sqlite3.connect(path, check_same_thread=False, isolation_level="DEFERRED")
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("PRAGMA foreign_keys=ON")
        return CaseIndex(connection, SQLiteDialect())
    except sqlite3.Error as exc:
        raise LibraryError(f"cannot open the case index {path}: {exc}") from exc


def _date_param(params: Mapping[str, str], name: str) -> dt.date | None:
    value = params.get(name)
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _bad_query(f"{name} must be a date like 2025-05-01, got {value[:40]!r}") from None


def _int_param(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise _bad_query(f"{name} must be a whole number from {low} to {high}")
    return number


def _bad_query(why: str) -> LibraryError:
    return LibraryError(f"bad search: {why}", status=400, code="bad-query")

