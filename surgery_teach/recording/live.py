"""Record a live session as one participant has it: a case folder from a :class:`LiveSession`.

:class:`SessionRecording` joins a :class:`~surgery_teach.recording.Recorder` to a session:

- **video**: this participant's own sources (their shared encoders: no extra encode) and
  every video it receives, as it arrived (:class:`~.sources.ReceivedPackets`: no decode,
  no re-encode). A received video that comes back on a new track (a reconnect) goes on
  in the same file; one that appears later gets its own file from then on;
- **sound**: every voice it hears and its own microphone, mixed (:class:`~.mixer.AudioMix`);
- **events**: chat, marks, freeze and unfreeze, privacy pauses, who joined and left,
  shared pictures (each kept as it was sent: :mod:`.shared_pictures`), and the room's
  chapters (which every recorder in the room gets from the server, so all
  recordings of a case have the same chapters); the manifest names every participant by
  role and name.

Recording is announced, never silent: :meth:`SessionRecording.start` first tells the room
(``record``) and starts writing only once the server confirms, so every participant's
client shows who records. If the server refuses (only surgeons and mentors record) or
does not answer, nothing is written: :class:`RecordingError` says why. After a reconnect
:meth:`attach` announces it again under the new identity. A recording the disk stopped
(:class:`~surgery_teach.errors.DiskFullError`) shuts itself down: the room hears it no
longer records, and its mix and listeners are gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from surgery_teach.casefile.events import EventKind
from surgery_teach.casefile.keys import CaseKey
from surgery_teach.casefile.layout import new_case_folder
from surgery_teach.casefile.manifest import Manifest, Participant
from surgery_teach.errors import RecordingError, SurgeryTeachError
from surgery_teach.media.encoder import SharedEncoder
from surgery_teach.media.receive import VideoReceiver
from surgery_teach.protocol.messages import (
    ChapterMessage,
    ChatMessage,
    ErrorReply,
    ParticipantInfo,
    PrivacyNotice,
    RoomRecording,
)
from surgery_teach.recording.mixer import AudioMix
from surgery_teach.recording.recorder import (
    Recorder,
    RecorderOptions,
    RecorderState,
    RecorderStatus,
)
from surgery_teach.recording.shared_pictures import SharedPictureLog
from surgery_teach.recording.sources import ReceivedPackets

if TYPE_CHECKING:
    from aiortc.mediastreams import MediaStreamTrack

    from surgery_teach.annotations import Board, Op
    from surgery_teach.rtc.session import LiveSession

logger = logging.getLogger("surgery_teach.recording")

CONFIRM_TIMEOUT = 5.0
"""Seconds to wait for the server to confirm a ``record`` before giving up."""

_refs = itertools.count(1)


async def announce(session: LiveSession, on: bool, *, timeout: float = CONFIRM_TIMEOUT) -> None:
    """Tell the room ``session`` records (``on``) or stopped, and wait for the server.

    Returns once the room's recording state (``recording``) lists this participant (or
    no longer does); raises :class:`RecordingError` with the server's reason if it
    refuses, or if it does not answer within ``timeout``.
    """
    ref = f"record-{next(_refs)}"
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_state(state: RoomRecording) -> None:
        if not done.done() and (state.ref == ref or state.records(session.me.id) == on):
            done.set_result(None)

    def on_refused(reply: ErrorReply) -> None:
        if not done.done() and reply.ref == ref:
            done.set_exception(RecordingError(
                f"the server did not let this recording start: {reply.message}"
            ))

    session.on("recording", on_state)
    session.on("refused", on_refused)
    try:
        await session.record(on, ref)
        await asyncio.wait_for(done, timeout)
    except TimeoutError:
        raise RecordingError(
            "the signaling server did not confirm the recording, so the others in the room "
            "would not see it; check the connection and try again"
        ) from None
    finally:
        session.off("recording", on_state)
        session.off("refused", on_refused)


class SessionRecording:
    """Records what one participant has of a live session into a new folder under ``root``.

    ``encoders`` are this participant's own video sources. ``on_status`` gets the
    recorder's status (e.g. :class:`~surgery_teach.errors.DiskFullError` while the live
    session goes on). ``key`` encrypts the case (see
    :func:`~surgery_teach.casefile.keys.recording_key`); without one it is written plain.
    Use on the session's asyncio loop.
    """

    def __init__(
        self,
        root: Path,
        *,
        title: str,
        hospital: str = "",
        encoders: Sequence[SharedEncoder] = (),
        options: RecorderOptions | None = None,
        on_status: Callable[[RecorderStatus], None] | None = None,
        key: CaseKey | None = None,
    ) -> None:
        self.root = Path(root)
        self.key = key  # None: a plain case (teaching material without patients)
        self.title = title
        self.hospital = hospital
        self.encoders = list(encoders)
        self.options = options
        self._on_status = on_status
        self.recorder: Recorder | None = None
        self.pictures: SharedPictureLog | None = None
        self.mix = AudioMix()
        self.session: LiveSession | None = None
        self._received: dict[tuple[str, str], tuple[str, ReceivedPackets]] = {}
        self._pending: list[tuple[Callable[..., None], tuple[object, ...]]] = []
        self._listening: list[tuple[LiveSession, str, Callable[..., None]]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping: asyncio.Future[Manifest | None] | None = None

    @property
    def folder(self) -> Path | None:
        return self.recorder.folder if self.recorder is not None else None

    @property
    def recording(self) -> bool:
        return self.recorder is not None and self.recorder.state is RecorderState.RECORDING

    async def start(self, session: LiveSession) -> Path:
        """Announce, create the case folder and start recording; returns the folder.

        Raises :class:`RecordingError` (nothing written) if the room may not be told or
        the folder cannot be made.
        """
        if self.recorder is not None or self.session is not None:
            raise RecordingError("this recording was already started; make a new one")
        self._listen(session)  # what happens from now on waits in _pending
        try:
            await announce(session, True)
        except SurgeryTeachError:
            self.session = None
            self._unlisten()
            raise
        folder: Path | None = None
        try:
            folder = new_case_folder(self.root, self.title, key=self.key)
            me = session.me
            manifest = Manifest(
                title=self.title, hospital=self.hospital,
                participants=(Participant(role=me.role, name=me.name),),
            )
            recorder = Recorder(
                folder, manifest, [(e.label, e) for e in self.encoders], audio=self.mix,
                options=self.options, on_status=self._status,
            )
            await recorder.start()
        except SurgeryTeachError:
            self.session = None
            self._unlisten()
            if folder is not None:
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only if it is still empty: never lose anything
            with contextlib.suppress(SurgeryTeachError):
                await session.record(False)
            raise
        self.recorder = recorder
        self.pictures = SharedPictureLog(recorder)
        self._take_over(session, first=True)
        pending, self._pending = self._pending, []
        for handler, args in pending:  # e.g. a chapter started as the room heard of us
            handler(*args)
        return folder

    async def attach(self, session: LiveSession) -> None:
        """Go on recording from ``session`` (the same room after a reconnect).

        Announces the recording again; if the room refuses it now, the recording stops.
        """
        if not self.recording:
            return
        self._listen(session)
        try:
            await announce(session, True)
        except RecordingError as exc:
            logger.warning("recording stops: %s", exc)
            await self.stop()
            raise
        except SurgeryTeachError as exc:  # the link dropped again: its next "live" announces
            logger.info("the room could not be told of the recording yet: %s", exc)
        self._take_over(session)

    async def stop(self) -> Manifest | None:
        """Finish the files and the manifest, tell the room, end the mix and stop
        listening. Never raises for the disk; a second call waits for the first."""
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._stop(asyncio.current_task()))
        return await asyncio.shield(self._stopping)

    async def _stop(self, caller: asyncio.Task[object] | None) -> Manifest | None:
        recorder, session = self.recorder, self.session
        self.session = None
        self._unlisten()
        try:
            manifest = await recorder.stop() if recorder is not None else None
        finally:
            self.mix.stop()
            for _, packets in self._received.values():
                packets.stop()
        if session is not None and not session.ended.is_set():
            with contextlib.suppress(SurgeryTeachError):
                await session.record(False)
        for task in list(self._tasks):
            if task is not caller:
                task.cancel()
        return manifest

    # -- the session's events ---------------------------------------------------------------

    def _listen(self, session: LiveSession) -> None:
        """Take ``session``'s events from now on: they wait in ``_pending`` until the
        recorder runs (listeners of an older session fall silent: they check
        :attr:`session`, and are taken off)."""
        self._unlisten()
        self.session = session

        def live(handler: Callable[..., None]) -> Callable[..., None]:
            def guarded(*args: object) -> None:
                if self.session is not session:
                    return
                if self.recorder is None:
                    self._pending.append((handler, args))
                elif self.recording:
                    handler(*args)
            return guarded

        handlers: dict[str, Callable[..., None]] = {
            "chat": self._on_chat,
            "op": self._on_op,
            "board": self._on_board,
            "chapter": self._on_chapter,
            "privacy": self._on_privacy,
            "joined": self._on_joined,
            "left": self._on_left,
            "video": self._on_video,
            "video-ended": self._on_video_ended,
            "audio": lambda _track, who: self._hear(session, who.id),
            "link": lambda state: self._on_link(session, state),
            "share": lambda who: self._on_share(session, who),
        }
        for event, handler in handlers.items():
            listener = live(handler)
            session.on(event, listener)
            self._listening.append((session, event, listener))

    def _unlisten(self) -> None:
        for session, event, listener in self._listening:
            session.off(event, listener)
        self._listening.clear()

    def _take_over(self, session: LiveSession, *, first: bool = False) -> None:
        """Record what ``session`` already has: its people, marks, videos and voices."""
        for person in (session.me, *session.participants.values()):
            self._name(person)
            if first:
                self._present(person)
        self._on_board(session.board)
        for receiver in list(session.receivers):
            self._on_video(receiver)
        for participant_id in (session.me.id, *session.voices):
            self._hear(session, participant_id)
        assert self.pictures is not None
        self.pictures.take_over(session)

    def _name(self, person: ParticipantInfo) -> None:
        assert self.recorder is not None
        self.recorder.add_participant(person.role, person.name)

    def _on_chat(self, message: ChatMessage) -> None:
        assert self.recorder is not None
        self.recorder.log(EventKind.CHAT, sender=message.name, role=message.role.value,
                          text=message.text, seq=message.seq)

    def _on_op(self, op: Op) -> None:
        assert self.recorder is not None
        self.recorder.log_op(op)

    def _on_board(self, board: Board) -> None:
        assert self.recorder is not None
        self.recorder.log_board(board.snapshot(), board.last_seq)

    def _on_share(self, session: LiveSession, who: str) -> None:
        assert self.pictures is not None
        self.pictures.update(session, who)

    def _present(self, person: ParticipantInfo) -> None:
        """Log who is already in the room, so replay can name the authors of marks."""
        assert self.recorder is not None
        self.recorder.log(EventKind.JOIN, participant=person.id, name=person.name,
                          role=person.role.value, present=True)

    def _on_chapter(self, chapter: ChapterMessage) -> None:
        assert self.recorder is not None
        self.recorder.log(EventKind.CHAPTER, title=chapter.title, seq=chapter.seq,
                          by=chapter.name, role=chapter.role.value)

    def note_privacy(self, paused: bool, by: str, *, t: float | None = None) -> None:
        """Log that this participant's own video was paused for privacy (or resumed) at
        ``t`` (default now), by ``by``: at the moment of the action, on the recording's
        clock, whether or not the room hears of it."""
        if self.recorder is not None and self.session is not None:
            self.recorder.log(EventKind.PRIVACY_PAUSE if paused else EventKind.PRIVACY_RESUME,
                              t=t, by=by, participant=self.session.me.id)

    def _on_privacy(self, notice: PrivacyNotice) -> None:
        """Someone else's video was paused for privacy or resumed (ours: note_privacy)."""
        assert self.recorder is not None and self.session is not None
        if notice.sender != self.session.me.id:
            self.recorder.log(
                EventKind.PRIVACY_PAUSE if notice.paused else EventKind.PRIVACY_RESUME,
                by=notice.name, participant=notice.sender, role=notice.role.value)

    def _on_joined(self, person: ParticipantInfo) -> None:
        assert self.recorder is not None
        self._name(person)
        self.recorder.log(EventKind.JOIN, participant=person.id, name=person.name,
                          role=person.role.value)

    def _on_left(self, person: ParticipantInfo, reason: str) -> None:
        assert self.recorder is not None
        self.recorder.log(EventKind.LEAVE, participant=person.id, name=person.name,
                          role=person.role.value, reason=reason)
        self.mix.remove(person.id)

    def _on_video(self, receiver: VideoReceiver) -> None:
        assert self.recorder is not None and self.session is not None
        if receiver.encoded is None:
            logger.warning("%s cannot be recorded: the stock receive path has no frame tap",
                           receiver.label)
            return
        sender = self.session.participants.get(receiver.participant)
        key = (sender.name if sender else receiver.participant, receiver.label)
        if key in self._received:  # the same video on a new track: the file goes on
            self._received[key][1].attach(receiver.encoded)
            return
        label = receiver.label
        if label in self.recorder.labels:
            label = f"{label} ({key[0]})"[:64]
        packets = ReceivedPackets()
        packets.attach(receiver.encoded)
        try:
            self.recorder.add_source(label, packets)
        except RecordingError as exc:
            logger.warning("cannot record %s: %s", label, exc)
            return
        self._received[key] = (label, packets)

    def _on_video_ended(self, receiver: VideoReceiver) -> None:
        for _, packets in self._received.values():
            if receiver.encoded is not None and packets.holds(receiver.encoded):
                packets.release(receiver.encoded)

    def _on_link(self, session: LiveSession, state: str) -> None:
        """The session rejoined the server by itself: the room must hear again that we
        record (the server forgot it when the link dropped)."""
        if state == "live":
            self._spawn(self._reannounce(session))

    async def _reannounce(self, session: LiveSession) -> None:
        try:
            await announce(session, True)
        except RecordingError as exc:
            if self.session is session:  # no consent now: stop rather than record unseen
                logger.warning("recording stops: %s", exc)
                await self.stop()
        except SurgeryTeachError as exc:  # the link dropped again: its next "live" retries
            logger.info("the room could not be told of the recording yet: %s", exc)

    def _spawn(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("recording task failed", exc_info=task.exception())

    def _hear(self, session: LiveSession, participant_id: str) -> None:
        track: MediaStreamTrack | None = session.voice_copy(participant_id)
        if track is not None:
            self.mix.add(participant_id, track)

    def _status(self, status: RecorderStatus) -> None:
        if status.state is RecorderState.FAILED and self._stopping is None:
            # The disk stopped the recording: shut it down (the room hears it no longer
            # records; the mix's voices and our listeners go), the session goes on.
            self._spawn(self._stop_after_failure())
        if self._on_status is not None:
            self._on_status(status)

    async def _stop_after_failure(self) -> None:
        await self.stop()
