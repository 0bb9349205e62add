"""The hospital library's cases as the desktop library lists and plays them.

:class:`RemoteLibrary` lists the cases a token may watch as the same
:class:`~surgery_teach.casebook.library.LibraryEntry` the local library uses, each with a
small local folder in a cache (its manifest, event log, chapters and thumbnail, fetched
when it is opened). :meth:`RemoteLibrary.prepare` fetches those and makes the casebook read
the media through range requests (:func:`~surgery_teach.casebook.media.stream_folder`), so
the player opens a remote case like a local one, with marks, chapters, chat and speed,
streaming as it plays. Blocking: call from a worker thread.
"""

from __future__ import annotations

import os
import ssl
import threading
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from surgery_teach.casebook.library import LibraryEntry
from surgery_teach.casebook.media import stream_folder
from surgery_teach.casefile.events import EVENTS_FILE
from surgery_teach.casefile.manifest import MANIFEST_FILE
from surgery_teach.caselibrary.connection import LibraryConnection, client_tls
from surgery_teach.caselibrary.media import RemoteMediaFile
from surgery_teach.caselibrary.wire import (
    CHAPTERS_FILE,
    THUMBNAIL_FILE,
    CaseSummary,
    parse_case_list,
)

_SMALL_FILES = (MANIFEST_FILE, EVENTS_FILE, CHAPTERS_FILE)


@dataclass(frozen=True)
class RemoteEntry:
    """A case in the hospital library: what the list shows, and the library's summary."""

    entry: LibraryEntry
    summary: CaseSummary


class RemoteLibrary:
    """One hospital library, seen with one token; its cases cached under ``cache``."""

    def __init__(self, url: str, token: str, *, cache: Path,
                 ca_file: Path | str | None = None) -> None:
        self.url = url
        self._token = token
        self._tls: ssl.SSLContext = client_tls(ca_file)
        self.cache = cache
        self._local = threading.local()

    def _connection(self) -> LibraryConnection:
        """One connection per thread (http.client is not shared between threads)."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = LibraryConnection(
                self.url, self._token, tls=self._tls)
        return connection

    def entries(self, text: str = "", *, limit: int = 200) -> list[RemoteEntry]:
        """The cases this token may watch whose fields hold every word of ``text``, newest
        first, with thumbnails fetched into the cache."""
        query = urllib.parse.urlencode({"q": text, "limit": str(limit)})
        cases, _ = parse_case_list(self._connection().request("GET", f"/cases?{query}")[2])
        return [RemoteEntry(self._entry(case), case) for case in cases]

    def folder(self, case: str) -> Path:
        return self.cache / case

    def _entry(self, case: CaseSummary) -> LibraryEntry:
        folder = self.folder(case.id)
        thumbnail = folder / THUMBNAIL_FILE
        if case.thumbnail and not thumbnail.exists():
            try:
                self._fetch(case.id, THUMBNAIL_FILE)
            except OSError:
                pass
        return LibraryEntry(
            folder=folder, title=case.title, date=case.date, started_at=case.started_at,
            duration=case.duration, hospital=case.hospital, participants=case.participants,
            sources=case.sources, thumbnail=thumbnail if thumbnail.exists() else None,
            problems=case.problems)

    def prepare(self, case: CaseSummary) -> Path:
        """The case's local folder, ready for the player: small files fetched (again, so
        chapter edits on the server show), media streamed from the library."""
        stored = {f.name for f in case.files}
        for name in _SMALL_FILES:
            if name == MANIFEST_FILE or name in stored:
                self._fetch(case.id, name)
        media = stored - {*_SMALL_FILES, THUMBNAIL_FILE}
        tls, url, token = self._tls, self.url, self._token

        def opener(name: str) -> IO[bytes]:
            connection = LibraryConnection(url, token, tls=tls)
            return RemoteMediaFile(connection, case.id, name)  # type: ignore[return-value]

        folder = self.folder(case.id)
        stream_folder(folder, opener, media)
        return folder

    def _fetch(self, case: str, name: str) -> Path:
        folder = self.folder(case)
        folder.mkdir(parents=True, exist_ok=True)
        _, _, body = self._connection().request("GET", f"/cases/{case}/files/{name}")
        path = folder / name
        temporary = folder / f".{name}.tmp"
        temporary.write_bytes(body)
        os.replace(temporary, path)
        return path


URL_VARIABLE = "SURGERY_TEACH_LIBRARY_URL"
TOKEN_VARIABLE = "SURGERY_TEACH_LIBRARY_TOKEN"
CA_VARIABLE = "SURGERY_TEACH_LIBRARY_CA"


def remote_from_environment(cache: Path) -> RemoteLibrary | None:
    """The hospital library named by ``SURGERY_TEACH_LIBRARY_URL`` and
    ``SURGERY_TEACH_LIBRARY_TOKEN`` (a student token is enough; ``SURGERY_TEACH_LIBRARY_CA``
    for a hospital's own CA), or None when they are not set."""
    url = os.environ.get(URL_VARIABLE, "").strip()
    token = os.environ.get(TOKEN_VARIABLE, "").strip()
    if not url or not token:
        return None
    return RemoteLibrary(url, token, cache=cache,
                         ca_file=os.environ.get(CA_VARIABLE, "").strip() or None)
