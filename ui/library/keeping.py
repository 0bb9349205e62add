"""“Keep for offline viewing”: a case from the hospital library kept whole on this computer.

A student on a ward or a train keeps a case while the link is good and watches it later
without it (:meth:`~surgery_teach.caselibrary.remote.RemoteLibrary.keep`). The copy is
encrypted at rest like a case recorded here (this computer's recording key: the
keyring's or the hospital passphrase's; plain only where the user turned encryption of
recordings off), and the window lists it when the library cannot be reached.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from PyQt6.QtCore import QObject, pyqtSignal
from PyQt6.QtWidgets import QWidget

from surgery_teach.casebook.library import LibraryEntry
from surgery_teach.casefile.keys import CaseKey, recording_key
from surgery_teach.caselibrary.offline import is_kept
from surgery_teach.caselibrary.remote import RemoteLibrary
from surgery_teach.caselibrary.wire import CaseSummary
from surgery_teach.errors import KeyringUnavailableError, SurgeryTeachError
from surgery_teach.settings import Settings
from ui.i18n import tr


class CaseKeeping(QObject):
    """Keeps library cases on this computer, one at a time; ``status`` carries the line
    to show, ``kept`` the folder once a case is kept."""

    status = pyqtSignal(str)
    kept = pyqtSignal(object)

    def __init__(self, parent: QWidget, remote: RemoteLibrary | None) -> None:
        super().__init__(parent)
        self.remote = remote
        self.task: asyncio.Task[Path | None] | None = None

    @property
    def busy(self) -> bool:
        return self.task is not None and not self.task.done()

    def keep(self, entry: LibraryEntry,
             case: CaseSummary | None) -> asyncio.Task[Path | None] | None:
        """Keep library case ``case`` (listed as ``entry``) in the background; the task,
        or ``None`` when nothing was started (the status line says why)."""
        if self.busy:
            self.status.emit(tr("A case is being kept; wait until it is done."))
            return None
        if case is None or self.remote is None:
            self.status.emit(tr("{title} is on this computer already.", title=entry.title))
            return None
        if is_kept(Path(entry.folder), case):
            self.status.emit(tr("{title} is already kept on this computer.", title=entry.title))
            return None
        try:
            key = recording_key(encrypt=Settings.load().encrypt_recordings)
        except KeyringUnavailableError:
            self.status.emit(tr("This computer has no keyring to encrypt a kept case with: "
                                "set the hospital passphrase (SURGERY_TEACH_CASE_PASSPHRASE) "
                                "and try again."))
            return None
        except SurgeryTeachError as exc:
            self.status.emit(tr("Could not keep {title}: {reason}", title=entry.title,
                                reason=str(exc)))
            return None
        self.task = asyncio.ensure_future(self._keep(self.remote, entry.title, case, key))
        return self.task

    async def _keep(self, remote: RemoteLibrary, title: str, case: CaseSummary,
                    key: CaseKey | None) -> Path | None:
        loop = asyncio.get_running_loop()

        def progress(done: int, total: int) -> None:  # on the worker thread
            loop.call_soon_threadsafe(self._progress, title, done, total)

        self.status.emit(tr("Keeping {title} for offline viewing… {percent}%", title=title,
                            percent=0))
        try:
            folder = await asyncio.to_thread(remote.keep, case, key=key, progress=progress)
        except SurgeryTeachError as exc:
            self.status.emit(tr("Could not keep {title}: {reason}", title=title,
                                reason=str(exc)))
            return None
        self.status.emit(tr("{title} is kept on this computer: it plays without the "
                            "hospital library.", title=title))
        self.kept.emit(folder)
        return folder

    def _progress(self, title: str, done: int, total: int) -> None:
        if self.busy:
            self.status.emit(tr("Keeping {title} for offline viewing… {percent}%",
                                title=title, percent=min(100, round(100 * done / total))))
