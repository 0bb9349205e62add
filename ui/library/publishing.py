"""“Publish to the hospital library…”: send a case recorded on this computer to the library;
and chapter edits made in the player on a library case, sent back to it.

The library window's button hands the selected local case to :class:`CasePublishing`.
An encrypted case whose key is not unlocked asks its hospital passphrase first (a wrong
one is said plainly and nothing is sent); then the mentor confirms, with the procedure
name students will search for. The publish itself runs on a worker thread
(:meth:`~surgery_teach.caselibrary.remote.RemoteLibrary.publish`: decrypted as it is
sent over TLS, resumed after a dropped link), its progress shown as one status line.

Chapters edited in the player of a case opened from the library are saved in its local
cache and sent to the library (:meth:`CasePublishing.share_chapters`): with a mentor's
token students see them at once; with a student's the edit stays on this computer, and
the player says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PyQt6.QtCore import QObject, pyqtSignal
from PyQt6.QtWidgets import QInputDialog, QLabel, QWidget

from surgery_teach.casebook.chapters import Chapter
from surgery_teach.casebook.library import LibraryEntry
from surgery_teach.casefile.keys import unlocked
from surgery_teach.casefile.manifest import read_manifest
from surgery_teach.casefile.sealed_folder import folder_seal
from surgery_teach.caselibrary.publish import Phase, PublishProgress, PublishResult
from surgery_teach.caselibrary.remote import RemoteLibrary
from surgery_teach.caselibrary.wire import MAX_SHARED_PICTURES, CaseSummary
from surgery_teach.errors import (
    CaseLockedError,
    LibraryError,
    RecordingError,
    SurgeryTeachError,
    WrongPassphraseError,
)
from ui.i18n import tr, tr_n

# asks the procedure name students search for: (title, library) -> name, None: cancelled
Confirm = Callable[[str, str], "str | None"]


class CasePublishing(QObject):
    """Publishes local cases to ``remote``, one at a time. ``status`` carries the line to
    show (progress, success or why not); ``published`` the result when the library
    holds the case."""

    status = pyqtSignal(str)
    published = pyqtSignal(object)

    def __init__(self, parent: QWidget, remote: RemoteLibrary | None, *,
                 ask_passphrase: Callable[[str], str | None]) -> None:
        super().__init__(parent)
        self.remote = remote
        self.ask_passphrase = ask_passphrase
        self.confirm: Confirm = self._confirm
        self.task: asyncio.Task[PublishResult | None] | None = None
        self._parent = parent

    @property
    def busy(self) -> bool:
        return self.task is not None and not self.task.done()

    def publish(self, entry: LibraryEntry, *,
                remote_case: bool = False) -> asyncio.Task[PublishResult | None] | None:
        """Ask what is needed, then publish ``entry`` in the background; the task (tests
        await it), or ``None`` when nothing was started (the status line says why)."""
        if self.busy:
            self.status.emit(tr("A case is being published; wait until it is done."))
            return None
        if remote_case:
            self.status.emit(tr("{title} is already in the hospital library.",
                                title=entry.title))
            return None
        if self.remote is None:
            self.status.emit(tr("No hospital library is set up on this computer: set "
                                "SURGERY_TEACH_LIBRARY_URL and SURGERY_TEACH_LIBRARY_TOKEN "
                                "(a mentor's library token), then open the library again."))
            return None
        if not self._unlock(entry):
            return None
        # a locked case is listed by its folder's name until unlocked, a damaged one may
        # be too: the case's own title from its manifest
        entry = replace(entry, title=_title(entry))
        procedure = self.confirm(entry.title, self.remote.url)
        if procedure is None:
            return None
        self.task = asyncio.ensure_future(self._publish(entry, procedure.strip()))
        return self.task

    def _unlock(self, entry: LibraryEntry) -> bool:
        """Whether this computer can decrypt ``entry`` (asking its passphrase if needed)."""
        try:
            seal = folder_seal(entry.folder)
        except RecordingError as exc:
            self.status.emit(tr("Could not publish {title}: {reason}", title=entry.title,
                                reason=str(exc)))
            return False
        if seal is None or unlocked().find(*seal) is not None:
            return True
        key_id, kdf = seal
        if kdf is None:
            self.status.emit(tr("{title} is encrypted with a key kept on another computer: "
                                "publish it from there.", title=entry.title))
            return False
        passphrase = self.ask_passphrase(entry.title)
        if not passphrase:
            return False
        try:
            unlocked().unlock(passphrase, key_id, kdf, str(entry.folder))
        except WrongPassphraseError:
            self.status.emit(tr("That passphrase does not open {title}. Check it, capitals "
                                "and keyboard layout too; nothing was changed.",
                                title=entry.title))
            return False
        return True

    async def _publish(self, entry: LibraryEntry, procedure: str) -> PublishResult | None:
        assert self.remote is not None
        loop = asyncio.get_running_loop()
        title = entry.title

        def progress(p: PublishProgress) -> None:  # on the worker thread
            loop.call_soon_threadsafe(self._progress, title, p)

        self.status.emit(tr("Publishing {title}…", title=title))
        try:
            result = await asyncio.to_thread(self.remote.publish, Path(entry.folder),
                                             procedure=procedure, progress=progress)
        except CaseLockedError:
            self.status.emit(tr("{title} is encrypted and this computer does not have its "
                                "key: enter its hospital passphrase to publish it.",
                                title=title))
            return None
        except SurgeryTeachError as exc:
            self.status.emit(self._refusal(title, exc))
            return None
        if result.pictures_added:
            self.status.emit(tr_n(
                "{title} was already in the hospital library; the picture shared during it "
                "that it lacked was added.",
                "{title} was already in the hospital library; the {n} pictures shared during "
                "it that it lacked were added.", result.pictures_added, title=title))
        elif result.chapters_updated:
            self.status.emit(tr("{title} was already in the hospital library; its chapters "
                                "there are now the ones edited here.", title=title))
        elif result.already_stored:
            self.status.emit(tr("{title} was already in the hospital library; nothing was "
                                "sent.", title=title))
        else:
            self.status.emit(tr("{title} is now in the hospital library.", title=title))
        self.published.emit(result)
        return result

    def _refusal(self, title: str, exc: SurgeryTeachError) -> str:
        """Why ``title`` was not published, in the user's language for what a mentor
        meets most (the library's own words otherwise)."""
        code = exc.code if isinstance(exc, LibraryError) else ""
        if code == "not-allowed":
            return tr("Your library token may not publish {title}: ask the library's "
                      "administrator for a mentor token.", title=title)
        if code == "disk-full":
            return tr("The hospital library's disk is full; every stored case is kept. Ask "
                      "its administrator to add space, then publish {title} again (it "
                      "resumes).", title=title)
        if code == "damaged-file":
            return tr("{title} was not published: part of its recording is damaged on this "
                      "computer's disk, and the library must not keep a damaged copy. "
                      "Restore the case folder from a backup, then publish it again.",
                      title=title)
        if code == "too-many-pictures":
            return tr("{title} was not published: more pictures were shared during it than "
                      "the hospital library takes ({limit} per case).", title=title,
                      limit=MAX_SHARED_PICTURES)
        if code in ("unreachable", "untrusted"):
            return tr("Cannot reach the hospital library to publish {title} ({reason}); "
                      "publish again later, it resumes.", title=title, reason=str(exc))
        return tr("Could not publish {title}: {reason}", title=title, reason=str(exc))

    def _progress(self, title: str, p: PublishProgress) -> None:
        if not self.busy:
            return  # a late call after the end
        share = round(100 * p.done / p.total) if p.total else 100
        if p.phase is Phase.CHECKING:
            text = tr("Checking {title}… {percent}%", title=title, percent=min(share, 100))
        elif p.phase is Phase.SENDING:
            text = tr("Sending {title} to the hospital library… {percent}%", title=title,
                      percent=min(share, 100))
        elif p.phase is Phase.WAITING:
            text = tr("The link to the hospital library dropped; trying again ({reason})",
                      reason=p.note)
        elif p.phase is Phase.FINISHING:
            text = tr("The hospital library is checking {title}…", title=title)
        else:
            return
        self.status.emit(text)

    def share_chapters(self, case: CaseSummary, chapters: list[Chapter],
                       problem: QLabel) -> asyncio.Task[bool] | None:
        """Send the chapters edited in the player of library case ``case``; ``problem``
        (the player's chapter panel line) says why when they stay on this computer."""
        if self.remote is None:
            return None
        remote = self.remote

        async def send() -> bool:
            try:
                await asyncio.to_thread(remote.save_chapters, case.id, list(chapters))
            except SurgeryTeachError as exc:
                if isinstance(exc, LibraryError) and exc.status == 403:
                    text = tr("Your chapter edit stays on this computer: only a mentor may "
                              "change the hospital library's chapters.")
                else:
                    text = tr("The chapter edit could not reach the hospital library "
                              "({reason}); it stays on this computer.", reason=str(exc))
                problem.setText(text)
                problem.show()
                return False
            self.status.emit(tr("The hospital library has the new chapters of {title}; "
                                "students see them now.", title=case.title))
            return True

        return asyncio.ensure_future(send())

    def share_clip(self, case: CaseSummary, clip: Path,
                   said: QLabel) -> asyncio.Task[bool] | None:
        """Add a clip a mentor exported from library case ``case`` to it, so students see
        it with the case; ``said`` (the export dialog's message) tells how it went.
        Nothing is sent with a student's token."""
        if self.remote is None or not self.remote.may_edit:
            return None
        remote = self.remote

        async def send() -> bool:
            try:
                await asyncio.to_thread(remote.add_clip, case.id, clip)
            except SurgeryTeachError as exc:
                said.setText(tr("The clip is saved on this computer but could not be added "
                                "to the hospital library: {reason}", reason=str(exc)))
                return False
            said.setText(tr("Saved: {path}", path=str(clip)) + "\n" + tr(
                "Added to {title} in the hospital library: students see it there.",
                title=case.title))
            return True

        return asyncio.ensure_future(send())

    def _confirm(self, title: str, library: str) -> str | None:
        text, ok = QInputDialog.getText(
            self._parent, tr("Publish to the hospital library"),
            tr("Publish {title} to the hospital library at {library}? Students of the "
               "collections your token allows will be able to watch it.\n\nProcedure, "
               "for search:", title=title, library=library),
            text=title)
        return text if ok else None


def _title(entry: LibraryEntry) -> str:
    """The case's own title, now that its manifest can be read."""
    try:
        return read_manifest(Path(entry.folder)).title or entry.title
    except (OSError, RecordingError):
        return entry.title
