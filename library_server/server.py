"""Start and stop the library: open the store and index, catch the index up, serve.

:func:`start_library` is what ``python -m library_server`` and the tests run. On start
the index is brought in line with the folders (:func:`reconcile`): a case whose folder
was complete when the server was killed but not yet indexed is indexed now, and a row
whose folder is gone is dropped, so the list never shows a case that does not play.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiohttp import web

from library_server.app import Library, make_app
from library_server.audit import AuditLog
from library_server.config import LibraryConfig, tls_context
from library_server.index import CaseIndex, open_sqlite_index
from library_server.records import summarize
from library_server.store import CaseStore
from surgery_teach.errors import ConfigError, LibraryError

logger = logging.getLogger("library_server")

_READ_BUFFER = 4 << 20


@dataclass
class RunningLibrary:
    """A library serving on ``url`` until :meth:`close`."""

    library: Library
    runner: web.AppRunner
    host: str
    port: int
    tls: bool

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    async def close(self) -> None:
        await self.runner.cleanup()
        await asyncio.to_thread(self.library.index.close)
        self.library.audit.close()


def open_index(config: LibraryConfig) -> CaseIndex:
    if config.index == "sqlite":
        return open_sqlite_index(config.data_dir / "index.sqlite3")
    from library_server.index_postgres import open_postgres_index

    return open_postgres_index(config.index)


def reconcile(store: CaseStore, index: CaseIndex) -> tuple[list[str], list[str]]:
    """Index stored cases the index lacks, drop rows without a folder; (added, dropped)."""
    on_disk = store.stored_ids()
    indexed = index.ids()
    added, dropped = [], []
    for case in sorted(on_disk - indexed):
        try:
            index.add(summarize(store.case_folder(case), store.publication(case)))
            added.append(case)
        except LibraryError as exc:
            logger.error("stored case %s cannot be indexed: %s", case, exc)
    for case in sorted(indexed - on_disk):
        index.remove(case)
        dropped.append(case)
    return added, dropped


async def start_library(config: LibraryConfig) -> RunningLibrary:
    """Open the store and index, reconcile them, and listen; ConfigError if it cannot."""
    tls = tls_context(config.cert_file, config.key_file) if config.cert_file else None
    try:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        store = CaseStore(config.data_dir, min_free_bytes=config.min_free_bytes)
        index = await asyncio.to_thread(open_index, config)
    except LibraryError as exc:
        raise ConfigError(str(exc)) from exc
    except OSError as exc:
        raise ConfigError(f"cannot use the data folder {config.data_dir}: "
                          f"{exc.strerror or exc}") from exc
    added, dropped = await asyncio.to_thread(reconcile, store, index)
    if added or dropped:
        logger.warning("index caught up with the stored cases: %d added, %d dropped",
                       len(added), len(dropped))
    stale = await asyncio.to_thread(store.drop_stale_uploads, config.upload_keep)
    if stale:
        logger.info("dropped %d unfinished publishes older than %.0f days", len(stale),
                    config.upload_keep / 86400)
    library = Library(config=config, store=store, index=index,
                      audit=AuditLog(config.audit_path))
    # A large read buffer lets a chunk's bytes keep arriving while a block is written.
    runner = web.AppRunner(make_app(library), access_log=None, handle_signals=False,
                           read_bufsize=_READ_BUFFER)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port, ssl_context=tls,
                       reuse_address=True)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        index.close()
        raise ConfigError(f"cannot listen on {config.host}:{config.port}: "
                          f"{exc.strerror or exc}") from exc
    server = site._server  # the bound socket tells the port chosen for port 0
    assert server is not None and hasattr(server, "sockets")
    port = server.sockets[0].getsockname()[1]
    return RunningLibrary(library, runner, config.host, port, tls is not None)
