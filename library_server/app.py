"""The HTTP API (aiohttp): thin handlers between the wire and the store, index and passes.

Every request but ``/api/v1/health`` carries ``Authorization: Bearer <library token>``.
Errors are JSON ``{"version": 1, "error": {"code", "message"}}`` with the HTTP status of
the :class:`~surgery_teach.errors.LibraryError` that said why. Blocking work (files,
hashes, the index) runs on worker threads so that a publish never stalls a stream.
docs/library.md is the written form.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO, Final

from aiohttp import ClientPayloadError, web

from library_server.audit import AuditEvent, AuditLog, AuditRecord
from library_server.config import LibraryConfig
from library_server.index import CaseIndex, parse_search_query
from library_server.records import summarize
from library_server.store import CaseStore, names_served
from surgery_teach.caselibrary.passes import LibraryPass, LibraryRole, read_library_token
from surgery_teach.caselibrary.pictures import MAX_PICTURE_BYTES
from surgery_teach.caselibrary.wire import (
    API_PREFIX,
    WIRE_VERSION,
    CaseSummary,
    FileEntry,
    UploadState,
    case_list_to_json,
    case_summary_to_json,
    check_case_id,
    check_clip_name,
    check_file_name,
    error_to_json,
    parse_publish_request,
    upload_status_to_json,
)
from surgery_teach.errors import LibraryError

logger = logging.getLogger("library_server")

CHUNK_HEADER: Final = "X-Chunk-SHA256"
_WRITE_BLOCK: Final = 4 << 20
_MAX_JSON_BYTES: Final = 4 << 20
_CONTENT_TYPES: Final = {
    ".mkv": "video/x-matroska", ".mp4": "video/mp4", ".mka": "audio/x-matroska",
    ".m4a": "audio/mp4", ".json": "application/json", ".jsonl": "application/jsonl",
    ".jpg": "image/jpeg", ".png": "image/png",
}
_PASS: Final = web.RequestKey("library_pass", LibraryPass)


@dataclasses.dataclass
class Library:
    """The running library's parts."""

    config: LibraryConfig
    store: CaseStore
    index: CaseIndex
    audit: AuditLog
    locks: dict[tuple[str, str], asyncio.Lock] = dataclasses.field(default_factory=dict)

    def lock(self, case: str, name: str) -> asyncio.Lock:
        return self.locks.setdefault((case, name), asyncio.Lock())


LIBRARY: Final = web.AppKey("library", Library)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def make_app(library: Library) -> web.Application:
    app = web.Application(middlewares=[_errors], client_max_size=_MAX_JSON_BYTES)
    app[LIBRARY] = library
    p = API_PREFIX
    app.router.add_get(f"{p}/health", health)
    app.router.add_post(f"{p}/publish", publish)
    app.router.add_get(f"{p}/uploads/{{case}}", upload_status)
    app.router.add_put(f"{p}/uploads/{{case}}/files/{{name}}", upload_chunk)
    app.router.add_post(f"{p}/uploads/{{case}}/finish", finish)
    app.router.add_get(f"{p}/cases", list_cases)
    app.router.add_get(f"{p}/cases/{{case}}", case_detail)
    app.router.add_get(f"{p}/cases/{{case}}/chapters", case_chapters)
    app.router.add_put(f"{p}/cases/{{case}}/chapters", edit_chapters)
    app.router.add_put(f"{p}/cases/{{case}}/clips/{{name}}", add_clip)
    app.router.add_get(f"{p}/cases/{{case}}/clips/{{name}}", case_clip)
    app.router.add_put(f"{p}/cases/{{case}}/pictures/{{name}}", add_picture)
    app.router.add_get(f"{p}/cases/{{case}}/files/{{name}}", case_file)
    return app


# -- middleware and helpers --------------------------------------------------------------------


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except LibraryError as exc:
        status = exc.status or 500
        library = request.app[LIBRARY]
        viewer = request.get(_PASS)
        if status == 401:
            library.audit.write(AuditRecord(event=AuditEvent.AUTH_FAILURE, outcome=exc.code,
                                            address=request.remote, status=status))
        elif status in (403, 404) and viewer is not None:
            library.audit.write(_record(request, AuditEvent.DENIAL, exc.code, status=status))
        return _error(status, exc.code or "error", str(exc))


def _error(status: int, code: str, message: str) -> web.Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return web.Response(status=status, body=error_to_json(code, message),
                        content_type="application/json", headers=headers)


def _json(body: bytes, status: int = 200) -> web.Response:
    return web.Response(status=status, body=body, content_type="application/json")


def _authorize(request: web.Request, *, publish: bool = False) -> LibraryPass:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if header and scheme.lower() != "bearer":
        raise LibraryError("send the library token as Authorization: Bearer TOKEN",
                           status=401, code="missing-token")
    viewer = read_library_token(token.strip(), request.app[LIBRARY].config.secret,
                                now=time.time())
    request[_PASS] = viewer
    if publish and viewer.role is not LibraryRole.MENTOR:
        raise LibraryError(f"a {viewer.role.value} token may not publish; ask the library's "
                           "administrator for a mentor token", status=403, code="not-allowed")
    return viewer


def _record(request: web.Request, event: AuditEvent, outcome: str, *,
            case: str | None = None, status: int | None = None) -> AuditRecord:
    viewer = request.get(_PASS)
    return AuditRecord(
        event=event, outcome=outcome, case=case or request.match_info.get("case"),
        user=viewer.user if viewer else None, name=viewer.name if viewer else None,
        role=viewer.role.value if viewer else None, address=request.remote, status=status)


async def _watchable(request: web.Request) -> CaseSummary:
    """The case named in the URL, if the bearer may watch it; 404 otherwise (a case the
    bearer may not watch is not said to exist)."""
    viewer = _authorize(request)
    case = check_case_id(request.match_info["case"])
    summary = await asyncio.to_thread(request.app[LIBRARY].index.get, case)
    if summary is None or not viewer.may_watch(summary.collections):
        raise LibraryError("no such case in the collections this token may watch",
                           status=404, code="no-such-case")
    return summary


# -- handlers ----------------------------------------------------------------------------------


async def health(request: web.Request) -> web.Response:
    return _json(json.dumps({"version": WIRE_VERSION, "ok": True}).encode())


async def publish(request: web.Request) -> web.Response:
    library = request.app[LIBRARY]
    viewer = _authorize(request, publish=True)
    wanted = parse_publish_request(await request.read())
    collections = viewer.publish_collections(wanted.collections)
    status = await asyncio.to_thread(library.store.begin, wanted, collections=collections,
                                     publisher=viewer.name, publisher_user=viewer.user)
    if status.state is UploadState.STORED:
        summary = await asyncio.to_thread(library.index.get, status.case)
        if summary is not None and set(collections) - set(summary.collections):
            known = library.store.publication(status.case)
            await asyncio.to_thread(library.index.add, dataclasses.replace(
                summary, collections=known.collections))
        library.audit.write(_record(request, AuditEvent.PUBLISH, "already-stored",
                                    case=status.case))
    return _json(upload_status_to_json(status))


async def upload_status(request: web.Request) -> web.Response:
    _authorize(request, publish=True)
    case = check_case_id(request.match_info["case"])
    status = await asyncio.to_thread(request.app[LIBRARY].store.status, case)
    return _json(upload_status_to_json(status))


async def upload_chunk(request: web.Request) -> web.Response:
    """``PUT .../files/NAME?offset=N``: append the body at ``N`` (what the server holds)."""
    library = request.app[LIBRARY]
    _authorize(request, publish=True)
    case = check_case_id(request.match_info["case"])
    name = request.match_info["name"]
    try:
        offset = int(request.query.get("offset", ""))
    except ValueError:
        raise LibraryError("give ?offset=N, the byte the chunk starts at", status=400,
                           code="bad-request") from None
    length = request.content_length
    if length is None:
        raise LibraryError("a chunk needs its Content-Length", status=411, code="no-length")
    if length > library.config.max_chunk_bytes:
        raise LibraryError(f"a chunk may hold at most {library.config.max_chunk_bytes} bytes",
                           status=413, code="too-large")
    expected = request.headers.get(CHUNK_HEADER, "").lower() or None
    store = library.store
    async with library.lock(case, name):
        file = await asyncio.to_thread(store.open_chunk, case, name, offset, length)
        try:
            received = await _receive(request, case, name, file, expected, offset)
        finally:
            await asyncio.to_thread(file.close)
    return _json(json.dumps({"version": WIRE_VERSION, "name": name,
                             "received": offset + received}).encode())


async def _receive(request: web.Request, case: str, name: str, file: BinaryIO,
                   expected: str | None, offset: int) -> int:
    """Read the chunk's body and write it, hashing as it goes. Blocks are written on a
    thread of their own while the next one arrives (at most three in flight), so that
    receiving never waits for the disk."""
    store = request.app[LIBRARY].store
    digest = hashlib.sha256() if expected else None

    def write(data: bytearray) -> None:
        if digest is not None:
            digest.update(data)
        store.write(case, name, file, data)

    loop = asyncio.get_running_loop()
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="library-write")
    pending: deque[asyncio.Future[None]] = deque()
    received = 0
    block = bytearray()
    try:
        try:
            async for piece in request.content.iter_chunked(_WRITE_BLOCK):
                block += piece
                if len(block) >= _WRITE_BLOCK:
                    pending.append(loop.run_in_executor(writer, write, block))
                    received += len(block)
                    block = bytearray()
                    while len(pending) > 2:
                        await pending.popleft()
            if block:
                pending.append(loop.run_in_executor(writer, write, block))
                received += len(block)
                block = bytearray()
        except (ConnectionError, ClientPayloadError) as exc:
            # The link dropped mid-chunk: keep what arrived (the file's SHA-256 is checked
            # at the end), so that the publisher resumes from there.
            if block:
                pending.append(loop.run_in_executor(writer, write, block))
                received += len(block)
            while pending:
                await pending.popleft()
            raise LibraryError(f"{name}: the link dropped after {received} bytes of the "
                               "chunk; resume from the upload's status", status=400,
                               code="incomplete-chunk") from exc
        while pending:
            await pending.popleft()
    except LibraryError as exc:
        for future in pending:
            await asyncio.gather(future, return_exceptions=True)
        if exc.code != "incomplete-chunk":
            await asyncio.to_thread(store.cut_back, case, name, file, offset)
        raise
    finally:
        writer.shutdown(wait=True)
    if digest is not None and received == request.content_length and (
            digest.hexdigest() != expected):
        await asyncio.to_thread(store.cut_back, case, name, file, offset)
        raise LibraryError(
            f"{name}: the chunk at byte {offset} arrived corrupt (its SHA-256 does not match "
            f"{CHUNK_HEADER}); it was not kept, send it again", status=422,
            code="corrupt-chunk")
    return received


async def finish(request: web.Request) -> web.Response:
    library = request.app[LIBRARY]
    _authorize(request, publish=True)
    case = check_case_id(request.match_info["case"])
    store = library.store
    summary = await asyncio.to_thread(library.index.get, case)
    if summary is not None:
        return _json(case_summary_to_json(summary))
    try:
        folder = await asyncio.to_thread(store.finish, case)
        if folder.parent == store.cases_dir:  # stored, but the index missed it (a kill)
            publication = store.publication(case)
        else:
            publication = dataclasses.replace(store.publication(case, upload=True),
                                              published_at=dt.datetime.now(dt.UTC))
        summary = await asyncio.to_thread(summarize, folder, publication)
        await asyncio.to_thread(store.store, case, publication)
        await asyncio.to_thread(library.index.add, summary)
    except LibraryError as exc:
        library.audit.write(_record(request, AuditEvent.PUBLISH, exc.code or "refused",
                                    case=case, status=exc.status))
        raise
    library.audit.write(_record(request, AuditEvent.PUBLISH, "stored", case=case))
    logger.info("case %s published (%d files)", case, len(summary.files))
    return _json(case_summary_to_json(summary))


async def list_cases(request: web.Request) -> web.Response:
    viewer = _authorize(request)
    query = parse_search_query(request.query)
    cases, total = await asyncio.to_thread(request.app[LIBRARY].index.search, query, viewer)
    return _json(case_list_to_json(cases, total))


async def case_detail(request: web.Request) -> web.Response:
    return _json(case_summary_to_json(await _watchable(request)))


async def case_chapters(request: web.Request) -> web.Response:
    summary = await _watchable(request)
    body: dict[str, Any] = {"version": WIRE_VERSION, "chapters": [
        {"title": title, "time": time_} for title, time_ in summary.chapters]}
    return _json(json.dumps(body, ensure_ascii=False).encode())


async def edit_chapters(request: web.Request) -> web.Response:
    """``PUT .../chapters`` with a ``chapters.json`` body: a mentor who may watch the case
    replaces its chapter list; students see it at once (search too). The recording's own
    files are never changed."""
    library = request.app[LIBRARY]
    summary = await _watchable(request)
    _mentor(request, "change a case's chapters")
    try:
        text = (await request.read()).decode("utf-8")
    except UnicodeDecodeError:
        raise LibraryError("the chapters must be UTF-8 JSON", status=400,
                           code="bad-chapters") from None
    store = library.store
    async with library.lock(summary.id, "chapters"):
        publication = await asyncio.to_thread(store.save_chapters, summary.id, text)
        updated = await asyncio.to_thread(summarize, store.case_folder(summary.id),
                                          publication)
        await asyncio.to_thread(library.index.add, updated)
    library.audit.write(_record(request, AuditEvent.EDIT, "chapters", case=summary.id))
    return _json(case_summary_to_json(updated))


def _mentor(request: web.Request, what: str) -> None:
    viewer = request[_PASS]
    if viewer.role is not LibraryRole.MENTOR:
        raise LibraryError(f"a {viewer.role.value} token may not {what}; ask a mentor",
                           status=403, code="not-allowed")


def _declared_length(request: web.Request, what: str, most: int) -> int:
    """The body's Content-Length for ``what`` sent whole: 411 without one, 413 over
    ``most`` bytes."""
    length = request.content_length
    if length is None:
        raise LibraryError(f"{what} needs its Content-Length", status=411, code="no-length")
    if length > most:
        raise LibraryError(f"{what} may hold at most {most} bytes", status=413,
                           code="too-large")
    return length


async def add_clip(request: web.Request) -> web.Response:
    """``PUT .../clips/NAME`` with an exported MP4 and its ``X-Chunk-SHA256``: a mentor who
    may watch the case adds the clip beside the recording; students see it in the case's
    summary. A clip of the same name is replaced; the recording is never touched."""
    library = request.app[LIBRARY]
    summary = await _watchable(request)
    _mentor(request, "add clips to a case")
    name = check_clip_name(request.match_info["name"])
    length = _declared_length(request, "a clip", library.config.max_chunk_bytes)
    expected = request.headers.get(CHUNK_HEADER, "").lower()
    if len(expected) != 64:
        raise LibraryError(f"send the clip's SHA-256 in {CHUNK_HEADER}", status=400,
                           code="bad-request")
    store = library.store
    async with library.lock(summary.id, f"clip:{name}"):
        partial, file = await asyncio.to_thread(store.begin_clip, summary.id, name, length)
        digest, received = hashlib.sha256(), 0
        try:
            try:
                async for piece in request.content.iter_chunked(_WRITE_BLOCK):
                    digest.update(piece)
                    received += len(piece)
                    await asyncio.to_thread(store.write, summary.id, name, file, piece)
            finally:
                await asyncio.to_thread(file.close)
        except (ConnectionError, ClientPayloadError) as exc:
            partial.unlink(missing_ok=True)
            raise LibraryError(f"the clip {name} was cut short after {received} bytes; it was "
                               "not kept, send it again", status=400,
                               code="incomplete-chunk") from exc
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        publication = await asyncio.to_thread(
            store.end_clip, summary.id, name, partial, FileEntry(name, length, expected),
            received, digest.hexdigest())
        updated = await asyncio.to_thread(summarize, store.case_folder(summary.id),
                                          publication)
        await asyncio.to_thread(library.index.add, updated)
    library.audit.write(_record(request, AuditEvent.EDIT, "clip", case=summary.id))
    return _json(case_summary_to_json(updated))


async def add_picture(request: web.Request) -> web.Response:
    """``PUT .../pictures/NAME`` with a shared picture, whole: a case published before it
    carried the pictures shared during it gets them (only those its event log names, with
    the SHA-256 it names; a stored one is never replaced). Its summary, updated."""
    library = request.app[LIBRARY]
    summary = await _watchable(request)
    _mentor(request, "add pictures to a case")
    name = check_file_name(request.match_info["name"])
    length = _declared_length(request, "a shared picture", MAX_PICTURE_BYTES)
    try:
        data = await request.content.readexactly(length)
    except (asyncio.IncompleteReadError, ConnectionError, ClientPayloadError) as exc:
        raise LibraryError(f"the picture {name} was cut short; it was not kept, send it "
                           "again", status=400, code="incomplete-chunk") from exc
    store = library.store
    async with library.lock(summary.id, f"picture:{name}"):
        publication = await asyncio.to_thread(store.add_picture, summary.id, name, data)
        if publication is None:
            return _json(case_summary_to_json(summary))
        updated = await asyncio.to_thread(summarize, store.case_folder(summary.id),
                                          publication)
        await asyncio.to_thread(library.index.add, updated)
    library.audit.write(_record(request, AuditEvent.EDIT, "picture", case=summary.id))
    return _json(case_summary_to_json(updated))


async def case_clip(request: web.Request) -> web.StreamResponse:
    """A clip added to the case, whole or by ranges."""
    library = request.app[LIBRARY]
    summary = await _watchable(request)
    name = check_clip_name(request.match_info["name"])
    path = library.store.clip_path(summary.id, name)
    if name not in {c.name for c in summary.clips} or not path.is_file():
        raise LibraryError(f"this case has no clip {name!r}", status=404, code="no-such-file")
    library.audit.view(_record(request, AuditEvent.VIEW, "clip", case=summary.id))
    return web.FileResponse(path, chunk_size=256 * 1024,
                            headers={"Content-Type": "video/mp4",
                                     "Cache-Control": "private, max-age=86400"})


async def case_file(request: web.Request) -> web.StreamResponse:
    """A file of a case, whole or the byte ranges asked for (``Range: bytes=a-b``)."""
    library = request.app[LIBRARY]
    summary = await _watchable(request)
    name = request.match_info["name"]
    folder = library.store.case_folder(summary.id)
    publication = library.store.publication(summary.id)
    if name not in set(names_served(publication, folder)):
        raise LibraryError(f"this case has no file {name!r}", status=404, code="no-such-file")
    library.audit.view(_record(request, AuditEvent.VIEW, "opened", case=summary.id))
    path: Path = folder / name
    content_type = _CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
    return web.FileResponse(path, chunk_size=256 * 1024, headers={
        "Content-Type": content_type, "Cache-Control": "private, max-age=86400",
    })
