"""Beside the case list: the clips mentors added to the selected hospital-library case.

A student selects a library case and sees its clips; a double-click (or “Play clip”)
fetches the clip from the library with the student's own token, with a progress bar,
checks it against the library's SHA-256 and keeps it in the library cache
(:meth:`~surgery_teach.caselibrary.remote.RemoteLibrary.fetch_clip`), then plays it in a
:class:`~ui.library.clip_player.ClipPlayerWindow`. A clip played before plays again from
the cache, also without the library. What went wrong (the clip is gone, the library cannot
be reached, the download arrived damaged) is said in the user's language with what to do.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from surgery_teach.caselibrary.clips import clip_path
from surgery_teach.caselibrary.remote import RemoteLibrary
from surgery_teach.caselibrary.wire import CaseSummary, FileEntry
from surgery_teach.errors import LibraryError, RecordingError, SurgeryTeachError
from ui.common.plain import PlainLabel, tip
from ui.i18n import tr
from ui.library.clip_player import ClipPlayerWindow, open_clip_player

NAME_ROLE = Qt.ItemDataRole.UserRole
PANEL_WIDTH = 300


class CaseClips(QWidget):
    """The clips of one library case (:meth:`show_case`), played on request;
    ``opened(ClipPlayerWindow)`` when a clip's player window opens."""

    opened = pyqtSignal(object)

    def __init__(self, remote: RemoteLibrary | None, *, audio: bool = True,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.remote = remote
        self.audio = audio
        self.case: CaseSummary | None = None
        self.players: list[ClipPlayerWindow] = []
        self.task: asyncio.Task[ClipPlayerWindow | None] | None = None
        self.setFixedWidth(PANEL_WIDTH)
        title = PlainLabel(tr("Clips from mentors"))
        title.setObjectName("muted")
        self.list = QListWidget()
        self.list.itemActivated.connect(lambda item: self.play(str(item.data(NAME_ROLE))))
        self.list.currentItemChanged.connect(lambda *_: self._update_button())
        self.play_button = QPushButton(tr("Play clip"))
        self.play_button.setToolTip(tip(tr(
            "Fetch the selected clip from the hospital library (once: it is kept on this "
            "computer) and play it.")))
        self.play_button.clicked.connect(self.play_selected)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.message = PlainLabel("")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(title)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.play_button)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        self.hide()

    @property
    def busy(self) -> bool:
        return self.task is not None and not self.task.done()

    def show_case(self, case: CaseSummary | None) -> None:
        """List ``case``'s clips (hidden when it has none, or is not a library case)."""
        if case == self.case:
            return
        self.case = case
        self.list.clear()
        if not self.busy:
            self._say("")
        for clip in case.clips if case is not None else ():
            item = QListWidgetItem(clip.name)
            item.setData(NAME_ROLE, clip.name)
            self.list.addItem(item)
        self._show_tips()
        if self.list.count():
            self.list.setCurrentRow(0)
        self.setVisible(self.list.count() > 0)
        self._update_button()

    def _show_tips(self) -> None:
        """Each clip's tooltip: its size, and whether it is kept on this computer."""
        if self.case is None:
            return
        for row, clip in enumerate(self.case.clips):
            item = self.list.item(row)
            if item is None:
                continue
            text = f"{clip.name} · " + tr("size {size} MB", size=f"{clip.size / 1e6:.1f}")
            if self.remote is not None and _looks_kept(
                    clip_path(self.remote.cache, self.case.id, clip.name), clip):
                text += "\n" + tr("Kept on this computer: it plays without the hospital "
                                  "library.")
            item.setToolTip(tip(text))

    def _update_button(self) -> None:
        self.play_button.setEnabled(self.list.currentItem() is not None and not self.busy)

    def play_selected(self) -> asyncio.Task[ClipPlayerWindow | None] | None:
        item = self.list.currentItem()
        return self.play(str(item.data(NAME_ROLE))) if item is not None else None

    def play(self, name: str) -> asyncio.Task[ClipPlayerWindow | None] | None:
        """Fetch clip ``name`` of the shown case if it is not kept yet, then play it; the
        task (tests await it), or ``None`` when nothing was started (the panel says why)."""
        if self.busy:
            self._say(tr("A clip is being fetched; wait until it is done."))
            return None
        if self.case is None or self.remote is None:
            return None
        self.task = asyncio.ensure_future(self._play(self.remote, self.case, name))
        self.task.add_done_callback(lambda _task: self._update_button())
        self._update_button()
        return self.task

    async def _play(self, remote: RemoteLibrary, case: CaseSummary,
                    name: str) -> ClipPlayerWindow | None:
        loop = asyncio.get_running_loop()

        def progress(done: int, total: int) -> None:  # on the worker thread
            loop.call_soon_threadsafe(self._progress, done, total)

        self._say(tr("Fetching {name} from the hospital library…", name=name))
        self.progress.show()
        self.progress.setValue(0)
        try:
            path = await asyncio.to_thread(remote.fetch_clip, case, name, progress=progress)
            player = await open_clip_player(path, case.title, audio=self.audio)
        except SurgeryTeachError as exc:
            self._say(clip_problem(name, exc), error=True)
            return None
        finally:
            self.progress.hide()
        self._say("")
        self.players.append(player)
        player.closed.connect(lambda p=player: self._closed(p))
        player.show()
        self.opened.emit(player)
        self._show_tips()  # it is kept on this computer now
        return player

    def _progress(self, done: int, total: int) -> None:
        if self.busy:
            self.progress.setValue(min(100, round(100 * done / total)) if total else 100)

    def _say(self, text: str, *, error: bool = False) -> None:
        self.message.setObjectName("error" if error else "muted")
        style = self.message.style()
        if style is not None:  # the object name changed: restyle
            style.unpolish(self.message)
            style.polish(self.message)
        self.message.setText(text)

    def _closed(self, player: ClipPlayerWindow) -> None:
        if player in self.players:
            self.players.remove(player)


def clip_problem(name: str, exc: SurgeryTeachError) -> str:
    """Why clip ``name`` does not play, in the user's language, with what to do."""
    if isinstance(exc, RecordingError):
        return tr("{name} was fetched but does not play ({reason}). Ask the mentor who "
                  "added it to export and add it again.", name=name, reason=str(exc))
    if not isinstance(exc, LibraryError):
        return tr("Could not play {name}: {reason}", name=name, reason=str(exc))
    if exc.status == 404:
        return tr("{name} is no longer in the hospital library: a mentor may have removed "
                  "it. Press “Refresh” to see the clips the case has now.", name=name)
    if exc.code == "corrupt-file":
        return tr("{name} arrived damaged (it is not the clip the library holds) and was "
                  "not kept. Press “Play clip” to fetch it again; if it arrives damaged "
                  "again, tell the library's administrator.", name=name)
    if exc.code == "unreachable":
        return tr("Cannot reach the hospital library to fetch {name}. Check this computer's "
                  "network connection, then press “Play clip” again (clips played before "
                  "play without the library).", name=name)
    if exc.code == "cache-unwritable":
        return tr("{name} could not be kept on this computer ({reason}). Free some disk "
                  "space, then press “Play clip” again.", name=name, reason=str(exc))
    if exc.status == 401:
        return tr("Your library token is no longer valid, so {name} was not fetched. Ask "
                  "for a new token and enter it in “Hospital library…”.", name=name)
    return tr("Could not play {name}: {reason}", name=name, reason=str(exc))


def _looks_kept(path: Path, clip: FileEntry) -> bool:
    """A quick look (no hashing on the GUI thread): a file of the clip's size is there."""
    try:
        return path.stat().st_size == clip.size
    except OSError:
        return False
