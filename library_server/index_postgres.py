"""The case index in PostgreSQL, for several library servers behind one address.

The same tables and SQL as the embedded SQLite index (:mod:`.index`), through psycopg 3.
The servers share the index and a ``--data-dir`` on shared storage; each one brings the
index in line with the folders when it starts. A connection lost (the database restarted)
is opened again for the next request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

import psycopg

from library_server.index import CaseIndex
from surgery_teach.errors import LibraryError

_SCHEMA_LOCK: Final = 7_355_608  # advisory lock key: one server creates the tables at a time


@dataclass(frozen=True)
class PostgresDialect:
    placeholder: str = "%s"
    contains: str = "strpos({column}, ?) > 0"


class PostgresIndex(CaseIndex):
    """:class:`CaseIndex` over psycopg, reconnecting after a lost connection."""

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(_connect(url), PostgresDialect())

    def _before_schema(self, cursor: Any) -> None:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self._lock:
            if self.connection.closed or self.connection.broken:
                self.connection = _connect(self.url)
            cursor = self.connection.cursor()
            try:
                yield cursor
                self.connection.commit()
            except psycopg.Error as exc:
                if not self.connection.closed:
                    self.connection.rollback()
                raise LibraryError(f"the case index (PostgreSQL) failed: {exc}", status=503,
                                   code="index-unavailable") from exc
            except BaseException:
                if not self.connection.closed:
                    self.connection.rollback()
                raise
            finally:
                cursor.close()


def _connect(url: str) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(url, connect_timeout=10)
    except psycopg.Error as exc:
        raise LibraryError(f"cannot open the case index at {without_password(url)}: "
                           f"{str(exc).strip()}") from exc


def open_postgres_index(url: str) -> PostgresIndex:
    return PostgresIndex(url)


def without_password(url: str) -> str:
    """``url`` without the password, for messages and logs."""
    scheme, _, rest = url.partition("://")
    who, at, where = rest.rpartition("@")
    return f"{scheme}://{who.split(':', 1)[0]}{at}{where}" if at else url
