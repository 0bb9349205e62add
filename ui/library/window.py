"""The student library: every recorded case in the recordings folder, to find and replay.

Each case shows its thumbnail, title, date, length, hospital and people, and plainly
what is wrong with it if anything ("interrupted — plays up to 12:31"). Search narrows by
title, hospital or participant; sort by date (newest first), title or length.
Double-click or Enter opens the case in the player. Cases in the hospital library
(:mod:`surgery_teach.caselibrary.remote`) are listed beside the local ones and stream
from it when opened, in the same player; “Publish to the hospital library…” sends the
selected local case there (:mod:`ui.library.publishing`), “Keep for offline viewing”
keeps a library case on this computer, listed even when the library cannot be reached
(:mod:`ui.library.keeping`); the clips mentors added to the selected library case are
listed beside the cases and play in the app (:mod:`ui.library.clips`). The folder is read
on a worker thread (:func:`scan_library`), thumbnails are made afterwards one by one, so a
large library lists at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PyQt6.QtCore import QModelIndex, QRect, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QPainter, QPixmap
from PyQt6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from surgery_teach.casebook.library import (
    LibraryEntry,
    SortKey,
    ensure_thumbnail,
    read_thumbnail,
    scan_library,
    search_library,
    sort_library,
)
from surgery_teach.casefile.keys import unlocked
from surgery_teach.casefile.manifest import MANIFEST_FILE
from surgery_teach.casefile.sealed_folder import folder_seal, read_case_file
from surgery_teach.caselibrary.offline import is_kept
from surgery_teach.caselibrary.remote import RemoteLibrary, remote_from_environment
from surgery_teach.caselibrary.wire import CaseSummary, case_id
from surgery_teach.errors import CaseLockedError, SurgeryTeachError, WrongPassphraseError
from surgery_teach.settings import Settings, data_dir
from ui.common.plain import PlainLabel, tip
from ui.i18n import problem_text, role_name, tr, tr_n
from ui.library.clips import CaseClips
from ui.library.controls import format_time
from ui.library.keeping import CaseKeeping
from ui.library.library_dialog import LibraryDialog, remote_from_settings
from ui.library.player import PlayerWindow, open_player
from ui.library.publishing import CasePublishing
from ui.theme import ACCENT, MUTED, PANEL, TEXT, WARNING

logger = logging.getLogger("ui.library.window")

ENTRY_ROLE = Qt.ItemDataRole.UserRole
CLIPS_ROLE = Qt.ItemDataRole.UserRole + 1  # "2 clips from mentors" of a library case
THUMB = QSize(192, 108)
ROW_HEIGHT = 124


def recordings_folder(settings: Settings) -> Path:
    """Where recordings are kept: the setting, else Documents/Surgery Teach recordings."""
    return settings.recordings_path()


def entry_details(entry: LibraryEntry) -> str:
    """The line under the title: date · length · hospital."""
    when = (entry.started_at.strftime("%Y-%m-%d %H:%M") if entry.started_at is not None
            else entry.date.isoformat() if entry.date is not None else "")
    length = format_time(entry.duration) if entry.duration is not None else ""
    return " · ".join(part for part in (when, length, entry.hospital) if part)


def entry_people(entry: LibraryEntry) -> str:
    return ", ".join(f"{p.name} ({_role(p.role)})" for p in entry.participants)


class EntryDelegate(QStyledItemDelegate):
    """Paints a case: thumbnail, bold title, details, people and any problem in amber."""

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return QSize(option.rect.width(), ROW_HEIGHT)

    def paint(self, painter: QPainter | None, option: QStyleOptionViewItem,
              index: QModelIndex) -> None:
        entry = index.data(ENTRY_ROLE)
        if painter is None or not isinstance(entry, LibraryEntry):
            super().paint(painter, option, index)
            return
        painter.save()
        rect = option.rect.adjusted(4, 4, -4, -4)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.fillRect(rect, QColor("#1f2a3a" if selected else PANEL))
        if selected:
            painter.setPen(QColor(ACCENT))
            painter.drawRect(rect.adjusted(0, 0, -1, -1))
        thumb = QRect(rect.left() + 6, rect.top() + 6, THUMB.width(), THUMB.height())
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(pixmap, QPixmap) and not pixmap.isNull():
            scaled = pixmap.scaled(THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                                   Qt.TransformationMode.SmoothTransformation)
            painter.fillRect(thumb, QColor("#000000"))
            painter.drawPixmap(thumb.left() + (thumb.width() - scaled.width()) // 2,
                               thumb.top() + (thumb.height() - scaled.height()) // 2, scaled)
        else:
            painter.fillRect(thumb, QColor("#000000"))
            painter.setPen(QColor(MUTED))
            painter.drawText(thumb, Qt.AlignmentFlag.AlignCenter,
                             tr("No picture") if not entry.playable else "…")
        left = thumb.right() + 14
        width = rect.right() - left - 8
        y = rect.top() + 6
        base = QFont(option.font)
        lines = [(entry.title, TEXT, 17, True), (entry_details(entry), TEXT, 14, False),
                 (entry_people(entry), MUTED, 13, False),
                 (str(index.data(CLIPS_ROLE) or ""), ACCENT, 13, True)]
        lines += [(problem_text(p), WARNING, 13, True) for p in entry.problems[:2]]
        for text, colour, size, bold in lines:
            if not text:
                continue
            font = QFont(base)
            font.setPixelSize(size)
            font.setBold(bold)
            painter.setFont(font)
            painter.setPen(QColor(colour))
            height = painter.fontMetrics().height()
            if y + height > rect.bottom():
                break
            shown = painter.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, width)
            painter.drawText(QRect(left, y, width, height),
                             int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                             shown)
            y += height + 3
        painter.restore()


class LibraryWindow(QWidget):
    """The recorded cases in ``folder``. ``player_opened(PlayerWindow)`` when a case opens."""

    player_opened = pyqtSignal(object)
    folder_changed = pyqtSignal(str)

    def __init__(self, folder: Path, parent: QWidget | None = None, *,
                 audio: bool = True, remote: RemoteLibrary | None = None) -> None:
        super().__init__(parent)
        self.folder = Path(folder)
        self.audio = audio
        # The hospital library's cases are listed beside the local ones (given, or from
        # SURGERY_TEACH_LIBRARY_URL and _TOKEN, or the settings) and stream when opened.
        self.remote = remote or _configured_remote()
        self.remote_cases: dict[Path, CaseSummary] = {}
        self.published: set[Path] = set()  # local cases the hospital library holds too
        self.entries: list[LibraryEntry] = []
        self.players: list[PlayerWindow] = []
        self._scan: asyncio.Task[None] | None = None
        self._pixmaps: dict[Path, QPixmap] = {}
        # asks an encrypted case's passphrase (title -> passphrase, None: cancelled)
        self.ask_passphrase: Callable[[str], str | None] = self._ask_passphrase
        self.setWindowTitle(tr("Surgery teaching — case library"))
        self.resize(1000, 760)

        title = PlainLabel(tr("Case library"))
        title.setObjectName("title")
        self.folder_label = PlainLabel("")
        self.folder_label.setObjectName("muted")
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.choose_button = QPushButton(tr("Choose folder…"))
        self.choose_button.clicked.connect(self.choose_folder)
        self.refresh_button = QPushButton(tr("Refresh"))
        self.refresh_button.clicked.connect(self.refresh)
        self.library_button = QPushButton(tr("Hospital library…"))
        self.library_button.clicked.connect(self.choose_library)
        self.search = QLineEdit()
        self.search.setPlaceholderText(tr("Search title, hospital or people"))
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(lambda _: self.show_entries())
        self.search.returnPressed.connect(self.open_selected)  # type, Enter: the first match
        self.sort = QComboBox()
        self.sort.addItem(tr("Newest first"), SortKey.DATE.value)
        self.sort.addItem(tr("Title"), SortKey.TITLE.value)
        self.sort.addItem(tr("Longest first"), SortKey.DURATION.value)
        self.sort.currentIndexChanged.connect(lambda _: self.show_entries())
        self.list = QListWidget()
        self.list.setItemDelegate(EntryDelegate(self.list))
        self.list.setUniformItemSizes(True)
        self.list.setVerticalScrollMode(QListWidget.ScrollMode.ScrollPerPixel)
        # rows follow the list's width (the clips panel beside it comes and goes)
        self.list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.itemActivated.connect(lambda item: self.open_entry(item.data(ENTRY_ROLE)))
        self.empty = PlainLabel("")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setObjectName("muted")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.list)
        self.stack.addWidget(self.empty)
        self.status = PlainLabel("")
        self.status.setObjectName("error")
        self.status.setWordWrap(True)
        self.open_button = QPushButton(tr("Open"))
        self.open_button.setObjectName("primary")
        self.open_button.clicked.connect(self.open_selected)
        self.publishing = CasePublishing(self, self.remote,
                                         ask_passphrase=lambda title: self.ask_passphrase(title))
        self.publishing.status.connect(self.status.setText)
        self.publishing.published.connect(self._after_publish)
        self.publish_button = QPushButton(tr("Publish to the hospital library…"))
        self.publish_button.setToolTip(tip(tr(
            "Send the selected case recorded on this computer to the hospital library, "
            "where students with access can find and play it. An encrypted case is "
            "decrypted for the library as it is sent.")))
        self.publish_button.clicked.connect(self.publish_selected)
        self.keeping = CaseKeeping(self, self.remote)
        self.keeping.status.connect(self.status.setText)
        self.keeping.kept.connect(lambda _folder: self.show_entries())
        self.keep_button = QPushButton(tr("Keep for offline viewing"))
        self.keep_button.setToolTip(tip(tr(
            "Keep the selected case from the hospital library on this computer, encrypted, "
            "to watch it without the link.")))
        self.keep_button.clicked.connect(self.keep_selected)
        self.clips = CaseClips(self.remote, audio=audio)
        self.list.currentItemChanged.connect(lambda *_: self._update_actions())

        heading = QHBoxLayout()
        heading.addWidget(title)
        heading.addStretch(1)
        heading.addWidget(self.refresh_button)
        heading.addWidget(self.library_button)
        heading.addWidget(self.choose_button)
        finder = QHBoxLayout()
        finder.addWidget(self.search, 1)
        sort_label = PlainLabel(tr("Sort"))
        sort_label.setObjectName("muted")
        finder.addWidget(sort_label)
        finder.addWidget(self.sort)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.publish_button)
        bottom.addWidget(self.keep_button)
        bottom.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.addLayout(heading)
        layout.addWidget(self.folder_label)
        layout.addLayout(finder)
        body = QHBoxLayout()
        body.addWidget(self.stack, 1)
        body.addWidget(self.clips)
        layout.addLayout(body, 1)
        layout.addLayout(bottom)
        self._show_folder()

    # -- reading the folder ----------------------------------------------------------------

    def _show_folder(self) -> None:
        self.folder_label.setText(tr("Recordings folder: {folder}", folder=str(self.folder)))

    def refresh(self) -> asyncio.Task[None]:
        """Read the folder again on a worker thread; returns the task (tests await it)."""
        if self._scan is not None and not self._scan.done():
            self._scan.cancel()
        self.status.setText(tr("Reading {folder}…", folder=str(self.folder)))
        self._pixmaps.clear()  # thumbnails may have been remade
        self._scan = asyncio.ensure_future(self._read(self.folder))
        return self._scan

    async def _read(self, folder: Path) -> None:
        try:
            entries = await asyncio.to_thread(_scan, folder)
        except SurgeryTeachError as exc:
            self.entries = []
            self.show_entries()
            self.status.setText(str(exc))
            return
        if folder != self.folder:
            return
        problem = ""
        if self.remote is not None:
            try:
                remote = await asyncio.to_thread(self.remote.entries)
            except SurgeryTeachError as exc:  # the cases kept here are still listed
                remote = await asyncio.to_thread(self.remote.kept)
                problem = tr("Hospital library: {problem}", problem=str(exc))
            self.remote_cases = {r.entry.folder: r.summary for r in remote}
            in_library = {r.summary.id for r in remote}
            self.published = await asyncio.to_thread(_published, entries, in_library)
            entries = entries + [r.entry for r in remote]
        self.entries = entries
        self.status.setText(problem)
        self.show_entries()
        for entry in entries:  # thumbnails after the list is up, one at a time
            if entry.thumbnail is None and entry.playable and (
                    entry.folder not in self.remote_cases):
                picture = await asyncio.to_thread(_thumbnail, entry.folder)
                if picture is not None and folder == self.folder:
                    self._set_thumbnail(entry.folder, picture)

    def _set_thumbnail(self, folder: Path, picture: Path) -> None:
        self.entries = [replace(e, thumbnail=picture) if e.folder == folder else e
                        for e in self.entries]
        for row in range(self.list.count()):
            item = self.list.item(row)
            entry = item.data(ENTRY_ROLE) if item is not None else None
            if item is not None and isinstance(entry, LibraryEntry) and entry.folder == folder:
                item.setData(Qt.ItemDataRole.DecorationRole, self._pixmap(picture))

    def _pixmap(self, path: Path) -> QPixmap:
        """Thumbnails are read once, not on every keystroke of a search."""
        pixmap = self._pixmaps.get(path)
        if pixmap is None:
            pixmap = QPixmap()
            data = read_thumbnail(path)  # decrypted in memory for an encrypted case
            if data is not None:
                pixmap.loadFromData(data)
            self._pixmaps[path] = pixmap
        return pixmap

    def set_folder(self, folder: Path) -> asyncio.Task[None]:
        self.folder = Path(folder)
        self._show_folder()
        self.folder_changed.emit(str(self.folder))
        return self.refresh()

    def choose_library(self) -> None:
        """Where the hospital library is and the user's token; lists it if saved."""
        dialog = LibraryDialog(self)
        if dialog.exec():
            self.set_remote(_configured_remote())

    def set_remote(self, remote: RemoteLibrary | None) -> asyncio.Task[None]:
        self.remote = self.publishing.remote = self.keeping.remote = self.clips.remote = remote
        self.remote_cases = {}
        return self.refresh()

    def choose_folder(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, tr("Choose the recordings folder"),
                                                  str(self.folder))
        if chosen:
            self.set_folder(Path(chosen))

    # -- showing ---------------------------------------------------------------------------

    def visible_entries(self) -> list[LibraryEntry]:
        found = search_library(self.entries, self.search.text())
        return sort_library(found, SortKey(self.sort.currentData()))

    def show_entries(self) -> None:
        shown = self.visible_entries()
        self.list.clear()
        for entry in shown:
            item = QListWidgetItem(entry.title)
            item.setData(ENTRY_ROLE, entry)
            item.setToolTip(tip("\n".join([entry.title, entry_details(entry),
                                           entry_people(entry),
                                           *map(problem_text, entry.problems),
                                           *self._where(entry)])))
            if entry.thumbnail is not None:
                item.setData(Qt.ItemDataRole.DecorationRole, self._pixmap(entry.thumbnail))
            summary = self.remote_cases.get(entry.folder)
            if summary is not None and summary.clips:
                item.setData(CLIPS_ROLE, tr_n("▶ {n} clip from a mentor",
                                              "▶ {n} clips from mentors", len(summary.clips)))
            item.setSizeHint(QSize(400, ROW_HEIGHT))
            self.list.addItem(item)
        if shown:
            self.list.setCurrentRow(0)
            self.stack.setCurrentWidget(self.list)
        else:
            self.empty.setText(self._empty_text())
            self.stack.setCurrentWidget(self.empty)
        self.open_button.setVisible(bool(shown))
        self._update_actions()

    def _where(self, entry: LibraryEntry) -> list[str]:
        summary = self.remote_cases.get(entry.folder)
        if summary is None:
            return [str(entry.folder), *([tr("Published to the hospital library")]
                                         if entry.folder in self.published else [])]
        kept = is_kept(entry.folder, summary)
        clips = ", ".join(c.name for c in summary.clips)
        return [tr("In the hospital library"),
                *([tr("Kept on this computer for offline viewing")] if kept else []),
                *([tr("Clips added by mentors: {names}", names=clips)] if clips else [])]

    def _update_actions(self) -> None:
        """Publish for a case recorded here, Keep for one from the library."""
        item = self.list.currentItem()
        entry = item.data(ENTRY_ROLE) if item is not None else None
        remote = isinstance(entry, LibraryEntry) and entry.folder in self.remote_cases
        self.publish_button.setVisible(isinstance(entry, LibraryEntry) and not remote)
        self.keep_button.setVisible(remote)
        self.clips.show_case(self.remote_cases.get(entry.folder)
                             if isinstance(entry, LibraryEntry) else None)
        if remote:
            assert isinstance(entry, LibraryEntry)
            self.keep_button.setEnabled(not is_kept(entry.folder,
                                                    self.remote_cases[entry.folder]))

    def keep_selected(self) -> asyncio.Task[object] | None:
        """Keep the selected library case on this computer for offline viewing."""
        item = self.list.currentItem()
        entry = item.data(ENTRY_ROLE) if item is not None else None
        if not isinstance(entry, LibraryEntry):
            return None
        return self.keeping.keep(  # type: ignore[return-value]
            entry, self.remote_cases.get(entry.folder))

    def _empty_text(self) -> str:
        if self.entries:
            return tr("No case matches “{words}”.", words=self.search.text().strip())
        return tr("No recorded cases in {folder} yet.\n\nA case is recorded when the surgeon "
                  "presses Record during a session (or publishes with --record FOLDER). "
                  "Each recording is a folder here with the video of every source, the "
                  "chat and the marks.\n\nIf your cases are somewhere else, use "
                  "“Choose folder…”.", folder=str(self.folder))

    # -- opening ---------------------------------------------------------------------------

    def open_selected(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.open_entry(item.data(ENTRY_ROLE))

    def publish_selected(self) -> asyncio.Task[object] | None:
        """Publish the selected local case to the hospital library (asks first)."""
        item = self.list.currentItem()
        entry = item.data(ENTRY_ROLE) if item is not None else None
        if not isinstance(entry, LibraryEntry):
            return None
        return self.publishing.publish(  # type: ignore[return-value]
            entry, remote_case=entry.folder in self.remote_cases)

    def _after_publish(self, _result: object) -> None:
        """List the library's copy; the line saying it was published stays."""
        said = self.status.text()
        self.refresh().add_done_callback(
            lambda _task: self.status.text() or self.status.setText(said))

    def open_entry(self, entry: LibraryEntry | None) -> asyncio.Task[PlayerWindow | None] | None:
        """Open ``entry`` in a player window (loading off the GUI thread)."""
        if not isinstance(entry, LibraryEntry):
            return None
        if entry.locked is not None:  # encrypted with a key this computer has not unlocked
            return self._unlock_then_open(entry, entry.locked)
        self.status.setText(tr("Opening {title}…", title=entry.title))
        return asyncio.ensure_future(self._open(entry))

    def _unlock_then_open(self, entry: LibraryEntry,
                          locked: CaseLockedError) -> asyncio.Task[PlayerWindow | None] | None:
        """Ask the hospital passphrase of an encrypted case, unlock it, read it again and
        open it; a wrong passphrase is said plainly and nothing is changed."""
        seal = folder_seal(entry.folder) if locked.passphrase else None
        if seal is None or seal[1] is None:  # kept in another computer's keyring
            self.status.setText(tr("{title} is encrypted with a key kept on another "
                                   "computer: open it there.", title=entry.title))
            return None
        passphrase = self.ask_passphrase(entry.title)
        if not passphrase:
            return None
        try:
            unlocked().unlock(passphrase, locked.key_id, seal[1], str(entry.folder))
        except WrongPassphraseError:
            self.status.setText(tr("That passphrase does not open {title}. Check it, "
                                   "capitals and keyboard layout too; nothing was changed.",
                                   title=entry.title))
            return None

        async def reread_and_open() -> PlayerWindow | None:
            await self.refresh()
            again = next((e for e in self.entries if e.folder == entry.folder), None)
            if again is None or again.locked is not None:
                return None
            return await self._open(again)

        self.status.setText(tr("Opening {title}…", title=entry.title))
        return asyncio.ensure_future(reread_and_open())

    def _ask_passphrase(self, title: str) -> str | None:
        text, ok = QInputDialog.getText(
            self, tr("Encrypted case"),
            tr("{title} is encrypted. Hospital passphrase:", title=title),
            QLineEdit.EchoMode.Password)
        return text if ok else None

    async def _open(self, entry: LibraryEntry) -> PlayerWindow | None:
        try:
            summary = self.remote_cases.get(entry.folder)
            if summary is not None and self.remote is not None:  # fetch its small files
                await asyncio.to_thread(self.remote.prepare, summary)
            player = await open_player(entry.folder, audio=self.audio)
        except SurgeryTeachError as exc:
            self.status.setText(str(exc))
            return None
        self.status.setText("")
        if summary is not None:  # chapter edits and a mentor's clips go back to the library
            player.chapters.edited.connect(
                lambda chapters, s=summary, p=player: self.publishing.share_chapters(
                    s, chapters, p.chapters.problem))
            player.export_button.clicked.connect(
                lambda _checked=False, s=summary, p=player: self._share_clips(s, p))
        self.players.append(player)
        player.closed.connect(lambda p=player: self._player_closed(p))
        player.show()
        self.player_opened.emit(player)
        return player

    def _share_clips(self, summary: CaseSummary, player: PlayerWindow) -> None:
        """The export dialog the player just opened: its clips go to the library too."""
        dialog = player.export_dialog
        if dialog is None or dialog.property("library_case"):
            return
        dialog.setProperty("library_case", summary.id)
        dialog.finished_export.connect(
            lambda path, error: self.publishing.share_clip(summary, path, dialog.message)
            if path is not None and not error else None)

    def _player_closed(self, player: PlayerWindow) -> None:
        if player in self.players:
            self.players.remove(player)

    def closeEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        if self._scan is not None:
            self._scan.cancel()
        super().closeEvent(event)


def _scan(folder: Path) -> list[LibraryEntry]:
    if not folder.exists():
        return []  # nothing recorded yet: the empty state says where cases come from
    return scan_library(folder, thumbnails=False)


def _configured_remote() -> RemoteLibrary | None:
    cache = data_dir() / "library-cache"
    return remote_from_environment(cache) or remote_from_settings(cache)


def _published(entries: list[LibraryEntry], in_library: set[str]) -> set[Path]:
    """The local cases whose manifest is one the library holds (its id is the manifest's
    hash, encrypted cases read decrypted; a locked case is not looked into)."""
    found = set()
    for entry in entries:
        if entry.locked is not None:
            continue
        try:
            if case_id(read_case_file(entry.folder / MANIFEST_FILE)) in in_library:
                found.add(entry.folder)
        except (OSError, SurgeryTeachError):
            continue
    return found


def _thumbnail(folder: Path) -> Path | None:
    try:
        return ensure_thumbnail(folder)
    except (SurgeryTeachError, OSError) as exc:
        logger.info("no thumbnail for %s: %s", folder, exc)
        return None


def _role(role: object) -> str:
    try:
        return role_name(role)  # type: ignore[arg-type]
    except ValueError:
        return str(role)
