"""The hospital library's cases as the desktop library lists and plays them.

:class:`RemoteLibrary` lists the cases a token may watch as the same
:class:`~surgery_teach.casebook.library.LibraryEntry` the local library uses, each with a
small local folder in a cache (its manifest, event log, chapters, thumbnail and the
pictures shared during it, fetched when it is opened). :meth:`RemoteLibrary.prepare`
fetches those and makes the casebook read the media through range requests
(:func:`~surgery_teach.casebook.media.stream_folder`), so the player opens a remote case
like a local one, with marks, chapters, shared pictures, chat and speed, streaming as it
plays. :meth:`RemoteLibrary.keep` keeps a whole case on this computer
(:mod:`.offline`): it then plays from its own files, and :meth:`RemoteLibrary.kept` lists
it when the library cannot be reached. :meth:`RemoteLibrary.fetch_clip` fetches a clip a
mentor added to a case into the cache, checked, to play (:mod:`.clips`). Blocking: call
from a worker thread.
"""

from __future__ import annotations

import hashlib
import os
import ssl
import threading
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from surgery_teach.casebook.chapters import Chapter, chapters_to_json
from surgery_teach.casebook.library import LibraryEntry
from surgery_teach.casebook.media import stop_streaming, stream_folder
from surgery_teach.casefile.events import EVENTS_FILE
from surgery_teach.casefile.keys import CaseKey
from surgery_teach.casefile.layout import is_shared_picture_file
from surgery_teach.casefile.manifest import MANIFEST_FILE
from surgery_teach.casefile.sealed_folder import write_case_file
from surgery_teach.caselibrary.clips import ClipProgress, clip_path, fetch_clip
from surgery_teach.caselibrary.connection import LibraryConnection, client_tls
from surgery_teach.caselibrary.media import RemoteMediaFile
from surgery_teach.caselibrary.offline import KeepProgress, is_kept, keep_case, kept_cases
from surgery_teach.caselibrary.passes import LibraryRole, read_library_claims_unverified
from surgery_teach.caselibrary.pictures import fetch_shared_pictures
from surgery_teach.caselibrary.publish import Progress, PublishResult, publish_case
from surgery_teach.caselibrary.wire import (
    CHAPTERS_FILE,
    THUMBNAIL_FILE,
    CaseSummary,
    check_clip_name,
    parse_case_list,
    parse_case_summary,
)
from surgery_teach.errors import CaseKeyError, LibraryError

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

    @property
    def may_edit(self) -> bool:
        """Whether the token says it is a mentor's (unverified: only to decide what to
        offer; the library checks)."""
        try:
            return read_library_claims_unverified(self._token).role is LibraryRole.MENTOR
        except LibraryError:
            return False

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
            except (OSError, CaseKeyError, LibraryError):
                pass
        return LibraryEntry(
            folder=folder, title=case.title, date=case.date, started_at=case.started_at,
            duration=case.duration, hospital=case.hospital, participants=case.participants,
            sources=case.sources, thumbnail=thumbnail if thumbnail.exists() else None,
            problems=case.problems)

    def prepare(self, case: CaseSummary) -> Path:
        """The case's local folder, ready for the player: small files fetched (again, so
        chapter edits on the server show), the pictures shared during it fetched whole
        and checked (once: :mod:`.pictures`), media streamed from the library, or played
        from the kept copy (then the library need not be reachable)."""
        stored = {f.name for f in case.files}
        folder = self.folder(case.id)
        kept = is_kept(folder, case)
        for name in _SMALL_FILES:
            if name == MANIFEST_FILE or name in stored:
                try:
                    self._fetch(case.id, name)
                except LibraryError:
                    if not kept:
                        raise
        if kept:
            stop_streaming(folder)
            return folder
        fetch_shared_pictures(self._connection(), case, folder)
        media = {name for name in stored - {*_SMALL_FILES, THUMBNAIL_FILE}
                 if not is_shared_picture_file(name)}
        tls, url, token = self._tls, self.url, self._token

        def opener(name: str) -> IO[bytes]:
            connection = LibraryConnection(url, token, tls=tls)
            return RemoteMediaFile(connection, case.id, name)  # type: ignore[return-value]

        stream_folder(folder, opener, media)
        return folder

    def keep(self, case: CaseSummary, *, key: CaseKey | None,
             progress: KeepProgress | None = None) -> Path:
        """Keep ``case`` whole on this computer for offline viewing, encrypted with
        ``key`` (see :func:`~surgery_teach.caselibrary.offline.keep_case`); its folder."""
        folder = keep_case(self._connection(), case, self.folder(case.id), key=key,
                           progress=progress)
        stop_streaming(folder)
        return folder

    def kept(self) -> list[RemoteEntry]:
        """The cases kept on this computer, as the library listed them when kept."""
        return [RemoteEntry(entry, summary) for entry, summary in kept_cases(self.cache)]

    def save_chapters(self, case: str, chapters: list[Chapter]) -> CaseSummary:
        """Replace the library's chapter list of ``case`` (a mentor's token; 403 for a
        student's): students see it at once, the recording itself is not changed. The
        case's cached ``chapters.json`` is the edited list."""
        _, _, answer = self._connection().request(
            "PUT", f"/cases/{case}/chapters", body=chapters_to_json(chapters).encode("utf-8"),
            headers={"Content-Type": "application/json"})
        return parse_case_summary(answer)

    def add_clip(self, case: str, clip: Path, *, name: str | None = None) -> CaseSummary:
        """Add the exported MP4 ``clip`` to library case ``case`` (a mentor's token) as
        ``name`` (default: its file name); students see it in the case's ``clips``."""
        name = check_clip_name(name or clip.name)
        data = clip.read_bytes()  # a clip is short: at most the library's largest chunk
        _, _, answer = self._connection().request(
            "PUT", f"/cases/{case}/clips/{name}", body=data,
            headers={"Content-Type": "video/mp4",
                     "X-Chunk-SHA256": hashlib.sha256(data).hexdigest()})
        return parse_case_summary(answer)

    def fetch_clip(self, case: CaseSummary, name: str, *,
                   progress: ClipProgress | None = None) -> Path:
        """Clip ``name`` of ``case``, kept on this computer to play (see
        :func:`~surgery_teach.caselibrary.clips.fetch_clip`): fetched and checked the first
        time, then from the cache, also without the library. If what arrives is not what
        ``case`` lists, the library is asked once what it lists now (a mentor may have
        replaced or removed the clip since): a replaced clip is fetched as it is now, a
        removed one is :class:`LibraryError` 404 ``no-such-file``."""
        listed = {c.name: c for c in case.clips}
        clip = listed.get(check_clip_name(name))
        if clip is None:
            raise LibraryError(f"{case.title} has no clip {name!r}", status=404,
                               code="no-such-file")
        path = clip_path(self.cache, case.id, clip.name)
        try:
            return fetch_clip(self._connection(), case.id, clip, path, progress=progress)
        except LibraryError as exc:
            if exc.code not in ("corrupt-file", "short-read") and exc.status != 416:
                raise
            now = parse_case_summary(self._connection().request("GET", f"/cases/{case.id}")[2])
            current = next((c for c in now.clips if c.name == clip.name), None)
            if current is None:
                raise LibraryError(f"{case.title} no longer has the clip {name!r}",
                                   status=404, code="no-such-file") from exc
            if current == clip:
                raise
            return fetch_clip(self._connection(), case.id, current, path, progress=progress)

    def open_clip(self, case: str, name: str) -> RemoteMediaFile:
        """Clip ``name`` of ``case`` as a seekable file (PyAV opens it), streamed."""
        return RemoteMediaFile(LibraryConnection(self.url, self._token, tls=self._tls),
                               case, check_clip_name(name), clip=True)

    def publish(self, folder: Path, *, procedure: str = "", passphrase: str | None = None,
                progress: Progress | None = None) -> PublishResult:
        """Publish the local case in ``folder`` with this token (a mentor's), into the
        token's collections; see :func:`~surgery_teach.caselibrary.publish.publish_case`
        (an encrypted case is decrypted as it is sent)."""
        with LibraryConnection(self.url, self._token, tls=self._tls) as connection:
            return publish_case(folder, connection, procedure=procedure, progress=progress,
                                passphrase=passphrase)

    def _fetch(self, case: str, name: str) -> Path:
        folder = self.folder(case)
        folder.mkdir(parents=True, exist_ok=True)
        _, _, body = self._connection().request("GET", f"/cases/{case}/files/{name}")
        path = folder / name
        write_case_file(path, body)  # encrypted in a kept, encrypted copy
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
