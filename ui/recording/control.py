"""Recording in the session window: the model behind the Record and Chapter controls.

:class:`RecordingControl` is the window's model of recording: this computer's own
:class:`~surgery_teach.recording.live.SessionRecording` (Record, Ctrl+R: surgeons and
mentors, whether they send video or only watch) and the room's recorders as the server
announces them, which every participant shows (consent). The widgets that show it are in
:mod:`ui.recording.widgets`. The core does the work, on the session's media thread; this
only moves clicks over to it and frozen states (:class:`RecordingShown`) back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PyQt6.QtCore import QObject, pyqtSignal

from surgery_teach.casefile.keys import CaseKey, recording_key
from surgery_teach.errors import KeyringUnavailableError, LoopStoppedError, SurgeryTeachError
from surgery_teach.media.encoder import SharedEncoder
from surgery_teach.protocol.messages import ChapterMessage, RecorderInfo, Role
from surgery_teach.protocol.recording import RECORDING_ROLES
from surgery_teach.recording import RecorderState, RecorderStatus
from surgery_teach.recording.live import SessionRecording
from surgery_teach.rtc.loop_thread import LoopThread
from surgery_teach.rtc.session import LiveSession
from surgery_teach.settings import Settings
from ui.common.media_thread import GuiCalls
from ui.i18n import tr

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordingShown:
    """What the window shows of recording at one moment, handed over from the media thread.

    ``status``: our recorder's status (frames written per video), or as it last stopped;
    ``recorders``: who records the room, as the server says (us included);
    ``started_at``: when our recording began (``time.time()``).
    """

    active: bool = False
    folder: Path | None = None
    status: RecorderStatus | None = None
    recorders: tuple[RecorderInfo, ...] = ()
    started_at: float | None = None


class RecordingControl(QObject):
    """This participant's recording and the room's, for the session window.

    ``root`` is where case folders go (made on the first recording; None: the folder in
    the user's settings, :meth:`Settings.recordings_path`). The window calls
    :meth:`toggle` and :meth:`start_chapter` and reads the properties on the GUI thread;
    the recording runs on the session's loop (``media``), and its news comes back through
    ``gui``. The controller calls :meth:`bind` with every session it joins (a rejoin
    included) and :meth:`close` when leaving, both on the media thread: the recording then
    stops cleanly, its manifest finished.
    """

    changed = pyqtSignal()  # our recording or the room's recorders changed
    problem = pyqtSignal(str)  # the recording could not start, or stopped by itself
    saved = pyqtSignal(str)  # the folder a finished recording is in
    chapter_started = pyqtSignal(object)  # ChapterMessage, as the room numbered it

    STATUS_EVERY = 0.5  # seconds between status updates while recording

    def __init__(self, encoders: list[SharedEncoder], root: Path | None, role: Role, *,
                 title: str, media: LoopThread, gui: GuiCalls, hospital: str = "") -> None:
        super().__init__()
        self.encoders = encoders
        self.root = root
        self.role = role
        self.title = title
        self.hospital = hospital
        # the record dialog's choice for the next case; None: the setting
        self.encrypt: bool | None = None
        self.media = media
        self._gui = gui
        # GUI thread
        self.busy = False  # starting or stopping
        self.chapters = 0  # the room's chapter count, as last heard
        self._shown = RecordingShown()
        # asks the hospital passphrase (None: cancelled), where no keyring keeps the key
        self.ask_passphrase: Callable[[], str | None] | None = None
        self._passphrase: str | None = None  # memory only, never saved or logged
        # media thread
        self.session: LiveSession | None = None
        self.recording: SessionRecording | None = None
        self._status: RecorderStatus | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._reporting: asyncio.Task[None] | None = None
        self._closed = False  # leaving: nothing starts any more

    # -- what the window shows (GUI thread) ----------------------------------------------

    @property
    def can_record(self) -> bool:
        """Whether this role may record (the server's rule: surgeons and mentors)."""
        return self.role in RECORDING_ROLES

    @property
    def active(self) -> bool:
        """Whether this computer is recording now."""
        return self._shown.active

    @property
    def folder(self) -> Path | None:
        return self._shown.folder

    @property
    def status(self) -> RecorderStatus | None:
        """Our recorder's status (frames written per video), or as it last stopped."""
        return self._shown.status

    @property
    def recorders(self) -> tuple[RecorderInfo, ...]:
        """Who records the room now, as the server says (us included)."""
        return self._shown.recorders

    @property
    def started_at(self) -> float | None:
        """When our recording began, while it runs."""
        return self._shown.started_at

    def next_chapter_title(self) -> str:
        return tr("Step {n}", n=self.chapters + 1)

    # -- the user's side (GUI thread) ----------------------------------------------------

    def toggle(self) -> None:
        """Start recording, or stop it (Record button, Ctrl+R)."""
        if self.busy or not self.can_record:
            return
        key: CaseKey | None = None
        if not self.active:
            known, key = self._case_key()
            if not known:
                return
        self.busy = True
        self.changed.emit()
        try:
            self.media.call(self._toggle, key)
        except LoopStoppedError:  # the session has ended
            self.busy = False
            self.changed.emit()

    def start_chapter(self, title: str) -> None:
        """Start a chapter in every recording of the room."""
        if title.strip():
            with contextlib.suppress(LoopStoppedError):
                self.media.call(self._chapter, title.strip())

    # -- the controller's side (media thread) --------------------------------------------

    def bind(self, session: LiveSession) -> None:
        """Follow ``session`` (a new one after a rejoin: our recording goes on in it)."""
        self.session = session
        session.on("recording", lambda _state: self._room_changed(session))
        session.on("chapter", lambda chapter: self._on_chapter(session, chapter))
        if self._recording() and self.recording is not None and (
                self.recording.session is not session):
            self._spawn(self._attach(session))
        self._publish()

    async def close(self) -> None:
        """Stop our recording (leaving the room or closing the window); from now on a
        Record or Chapter still on its way here does nothing."""
        self._closed = True
        while self._tasks:  # a start under way finishes (and stops what it started)
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._stop()

    def _case_key(self) -> tuple[bool, CaseKey | None]:
        """The key a new case is encrypted with (None: plain, by the user's setting), and
        whether recording may go on. Without a keyring on this computer the hospital
        passphrase is asked once (``ask_passphrase``) and kept in memory for the session."""
        settings = Settings.load()
        try:
            encrypt = settings.encrypt_recordings if self.encrypt is None else self.encrypt
            return True, recording_key(encrypt=encrypt, passphrase=self._passphrase)
        except KeyringUnavailableError:
            passphrase = self.ask_passphrase() if self.ask_passphrase is not None else None
            if passphrase is None:
                self.problem.emit(tr("Recording needs a hospital passphrase on this computer "
                                     "(it has no keyring to keep the recording key in)."))
                return False, None
            try:
                key = recording_key(encrypt=True, passphrase=passphrase)
            except SurgeryTeachError as exc:
                self.problem.emit(tr("Could not start recording: {reason}", reason=str(exc)))
                return False, None
            self._passphrase = passphrase
            return True, key
        except SurgeryTeachError as exc:
            self.problem.emit(tr("Could not start recording: {reason}", reason=str(exc)))
            return False, None

    # -- work (media thread) -------------------------------------------------------------

    def _recording(self) -> bool:
        return self.recording is not None and self.recording.recording

    def _toggle(self, key: CaseKey | None) -> None:
        if self._closed:  # Ctrl+R after Leave: the session is about to close
            self._publish(idle=True)
            return
        self._spawn(self._stop() if self._recording() else self._start(key))

    def _chapter(self, title: str) -> None:
        session = self.session
        if session is not None and not self._closed:
            self._spawn(self._send_chapter(session, title))

    async def _start(self, key: CaseKey | None) -> None:
        session = self.session
        if self._closed:
            return
        try:
            if session is None:
                raise SurgeryTeachError(tr("not connected"))
            root = self.root or Settings.load().recordings_path()
            self.recording = SessionRecording(
                root, title=self.title, hospital=self.hospital, encoders=self.encoders,
                on_status=self._on_status, key=key,
            )
            await self.recording.start(session)
        except SurgeryTeachError as exc:
            self.recording = None
            self._problem(tr("Could not start recording: {reason}", reason=str(exc)))
        finally:
            self._publish(idle=True)
        if self._closed:  # Leave came while it started: finish it here, nothing orphaned
            await self._stop()
            return
        if self._recording() and self._reporting is None:
            self._reporting = asyncio.get_running_loop().create_task(self._report())

    async def _stop(self) -> None:
        recording, self.recording = self.recording, None
        if self._reporting is not None:
            self._reporting.cancel()
            self._reporting = None
        if recording is not None and recording.recorder is not None:
            await recording.stop()
            self._gui.post(self.saved.emit, str(recording.folder))
        self._publish(idle=True)

    async def _report(self) -> None:
        """While recording: the status (frames written) reaches the window now and then."""
        try:
            while self._recording():
                await asyncio.sleep(self.STATUS_EVERY)
                self._publish()
        finally:
            if self._reporting is asyncio.current_task():
                self._reporting = None

    async def _attach(self, session: LiveSession) -> None:
        recording = self.recording
        if recording is None:
            return
        try:
            await recording.attach(session)
        except SurgeryTeachError as exc:
            self.recording = None
            self._problem(tr("Recording stopped: {reason}", reason=str(exc)))
            self._gui.post(self.saved.emit, str(recording.folder))
        self._publish()

    async def _send_chapter(self, session: LiveSession, title: str) -> None:
        try:
            await session.start_chapter(title)
        except SurgeryTeachError as exc:
            self._problem(str(exc))

    def _on_status(self, status: RecorderStatus) -> None:
        self._status = status
        if status.state is RecorderState.FAILED and status.error is not None:
            # A full disk or a write error: what was written plays; the session goes on.
            self._problem(tr("Recording stopped: {reason}", reason=str(status.error)))
            recording = self.recording
            if recording is not None and recording.folder == status.folder:
                # It shuts down (mix, listeners, the room told); Record starts a new one.
                self.recording = None
                self._spawn(recording.stop())
                self._gui.post(self.saved.emit, str(recording.folder))
        self._publish()

    def _room_changed(self, session: LiveSession) -> None:
        if session is self.session:
            self._publish()

    def _on_chapter(self, session: LiveSession, chapter: ChapterMessage) -> None:
        if session is self.session:
            self._gui.post(self._chapter_started, chapter)

    def _problem(self, text: str) -> None:
        self._gui.post(self.problem.emit, text)

    def _publish(self, *, idle: bool = False) -> None:
        """Hand the window a frozen state of our recording and the room's; ``idle``: a
        start or stop the user asked for is over."""
        recording = self.recording
        recorder = recording.recorder if recording is not None else None
        started = recorder.manifest.started_at if recorder is not None else None
        shown = RecordingShown(
            active=self._recording(),
            folder=recording.folder if recording is not None else None,
            status=recorder.status if recorder is not None else self._status,
            recorders=self.session.recording.recorders if self.session is not None else (),
            started_at=started.timestamp() if started is not None else None,
        )
        self._gui.post(self._show, shown, idle)

    def _spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- news (GUI thread) ---------------------------------------------------------------

    def _show(self, shown: RecordingShown, idle: bool) -> None:
        self._shown = shown
        if idle:
            self.busy = False
        self.changed.emit()

    def _chapter_started(self, chapter: ChapterMessage) -> None:
        self.chapters = max(self.chapters, chapter.seq)
        self.chapter_started.emit(chapter)
