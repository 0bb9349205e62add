"""Record a case: every source's video, the event log and the manifest, crash-safe.

:class:`Recorder` subscribes to the live :class:`SharedEncoder` of each source, so
recording adds no encode: the packets the viewers get are copied into the files as they
are, on one worker thread per file. The asyncio loop only hands packets over. A viewer
records what it receives the same way (:class:`~.sources.ReceivedPackets`: the pictures
as they arrived, undecoded); sources may be added while recording (:meth:`add_source`),
and one whose size is not known yet joins the manifest with its first keyframe.

**One file per source.** Each source gets its own single-stream file rather than one file with
several streams, because a multi-stream muxer interleaves: it holds one source's packets back
while it waits for the others, so a stalled or unplugged camera would keep seconds of the *other*
sources in memory, where a crash loses them. Separate files also keep a source's size change or a
late first frame from touching the others, and every player opens a single-stream file. They share
one timeline through the capture clock: each file's ``clock_origin`` (in the manifest, in the
``source-start`` event and as a tag in the file) is the capture time of its media time 0.

**Failures never raise into the live session.** After :meth:`Recorder.start` succeeded, a full
disk or any write error stops the recording, closes what was written so it plays, and is reported
through :attr:`Recorder.status` and the ``on_status`` callback (:class:`DiskFullError` names the
folder and the fix). The encoders and their viewers keep running. The recorder stops *before* the
disk is full (``min_free_bytes``), while the files and manifest can still be finished cleanly; a
real ``ENOSPC`` is handled too.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from surgery_teach import __version__
from surgery_teach.annotations.ops import Freeze, Op, Unfreeze
from surgery_teach.annotations.wire import op_to_json
from surgery_teach.casefile.container import (
    AudioFileWriter,
    VideoFileWriter,
)
from surgery_teach.casefile.events import EVENTS_FILE, Event, EventKind, EventLog
from surgery_teach.casefile.layout import media_file_name
from surgery_teach.casefile.manifest import (
    MANIFEST_FILE,
    MAX_PARTICIPANTS,
    MAX_SOURCES,
    AudioEntry,
    Manifest,
    Participant,
    RecordingState,
    SourceEntry,
    write_manifest,
)
from surgery_teach.casefile.sealed_folder import write_case_file
from surgery_teach.errors import DiskFullError, RecordingError
from surgery_teach.media.encoder import EncodedFrame, SharedEncoder
from surgery_teach.recording.sources import (
    PacketSource,
    Subscription,
    as_packet_source,
    picture_size,
)
from surgery_teach.recording.status import (
    RecorderOptions,
    RecorderState,
    RecorderStatus,
    recording_failure,
)
from surgery_teach.recording.writer import DiskSpaceGuard, WriterThread, join_all
from surgery_teach.wire.role import Role

__all__ = ["Recorder", "RecorderOptions", "RecorderState", "RecorderStatus"]

logger = logging.getLogger("surgery_teach.recording")

_JOIN_TIMEOUT = 10.0


@dataclass
class _SourceRecording:
    label: str
    source: PacketSource
    file: str
    writer: VideoFileWriter
    thread: WriterThread[EncodedFrame]
    listed: bool  # in the manifest; a source of unknown size joins it with its first frame
    tap: Subscription | None = None


class Recorder:
    """Records ``sources`` (``(label, SharedEncoder or PacketSource)`` pairs) into the
    case ``folder``.

    ``manifest`` says what the case is (title, hospital, participants); the recorder
    fills in sources, times and state. Use :func:`new_case_folder` for the folder.
    ``audio``, if given, must be the recorder's own track (e.g. from
    ``MediaRelay().subscribe(mic)``): two consumers of one track would split its frames.
    Call :meth:`start` and :meth:`stop` on the asyncio loop; :meth:`log` from anywhere.
    """

    #: The file writers; a test subclass swaps in one that fails like a full disk.
    video_writer_type: type[VideoFileWriter] = VideoFileWriter
    audio_writer_type: type[AudioFileWriter] = AudioFileWriter

    def __init__(
        self,
        folder: Path,
        manifest: Manifest,
        sources: Sequence[tuple[str, SharedEncoder | PacketSource]],
        *,
        audio: MediaStreamTrack | None = None,
        options: RecorderOptions | None = None,
        on_status: Callable[[RecorderStatus], None] | None = None,
    ) -> None:
        labels = [label for label, _ in sources]
        if len(set(labels)) != len(labels):
            raise RecordingError(f"source labels must be unique, got {labels}")
        self.folder = Path(folder)
        self.options = options or RecorderOptions()
        self._draft = manifest
        self._manifest = manifest
        self._sources = [(label, as_packet_source(source)) for label, source in sources]
        self._taken: set[str] = set()  # file names in use
        self._guard: DiskSpaceGuard | None = None
        self._manifest_writes: set[asyncio.Task[None]] = set()
        self._file_writes: set[asyncio.Future[None]] = set()  # keep_file's, awaited at stop
        self._manifest_lock = asyncio.Lock()
        self._audio_track = audio
        self._on_status = on_status
        self._state = RecorderState.IDLE
        self._error: RecordingError | None = None
        self._recordings: list[_SourceRecording] = []
        self._audio: tuple[AudioFileWriter, WriterThread[tuple[av.AudioFrame, float]]] | None = None
        self._audio_task: asyncio.Task[None] | None = None
        self._events: EventLog | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._finishing: asyncio.Task[None] | None = None
        self._starting = False

    # -- what the UI reads ------------------------------------------------------------------

    @property
    def manifest(self) -> Manifest:
        """The manifest as last written (the final one after :meth:`stop`)."""
        return self._manifest

    @property
    def state(self) -> RecorderState:
        return self._state

    @property
    def error(self) -> RecordingError | None:
        return self._error

    @property
    def status(self) -> RecorderStatus:
        files = [r.writer for r in self._recordings]
        if self._audio is not None:
            files.append(self._audio[0])  # type: ignore[arg-type]
        return RecorderStatus(
            state=self._state, folder=self.folder, error=self._error,
            frames={r.label: r.writer.frames for r in self._recordings},
            dropped={r.label: r.thread.counts.dropped + r.writer.dropped_before_keyframe
                     for r in self._recordings},
            bytes_written=sum(f.bytes_written for f in files),
        )

    # -- start -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the files, write the first manifest and start recording.

        Raises :class:`RecordingError` (:class:`DiskFullError` if the disk is already
        nearly full) when recording cannot begin; after that, nothing raises.
        """
        if self._starting or self._state is not RecorderState.IDLE:
            raise RecordingError("this recorder was already started; make a new one",
                                 str(self.folder))
        self._starting = True
        try:
            await self._start()
        finally:
            self._starting = False

    async def _start(self) -> None:
        self._loop = asyncio.get_running_loop()
        started = time.time()
        options = self.options
        guard = self._guard = DiskSpaceGuard(
            self.folder, options.min_free_bytes, interval=options.space_check_interval
        )
        self._recordings = [
            self._make_source(label, source, guard) for label, source in self._sources
        ]
        entries = [self._entry(rec) for rec in self._recordings if rec.listed]
        audio = None
        if self._audio_track is not None:
            name = media_file_name("audio", options.container.format.audio_suffix, self._taken)
            self._taken.add(name)
            audio = AudioEntry(file=name)
        started_at = dt.datetime.fromtimestamp(started).astimezone()
        self._manifest = replace(
            self._draft,
            date=self._draft.date or started_at.date(),
            sources=tuple(entries),
            audio=audio,
            started_at=started_at,
            ended_at=None,
            state=RecordingState.RECORDING,
            error=None,
            app_version=__version__,
        )
        self._events = await asyncio.to_thread(self._create_files, guard)
        self._events.log(
            EventKind.RECORDING_START, t=started, folder=self.folder.name,
            sources=[rec.label for rec in self._recordings],
        )
        if audio is not None:
            self._audio = self._make_audio(audio, guard)

        self._state = RecorderState.RECORDING
        for rec in self._recordings:
            rec.thread.start()
            rec.tap = rec.source.subscribe(self._video_sink(rec))
        if self._audio is not None and self._audio_track is not None:
            self._audio[1].start()
            self._audio_task = asyncio.create_task(self._pump_audio(self._audio_track))
        logger.info("recording %d source(s) into %s", len(self._recordings), self.folder)
        self._notify()

    def _create_files(self, guard: DiskSpaceGuard) -> EventLog:
        """On a worker thread: folder, first manifest, event log."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if (self.folder / MANIFEST_FILE).exists():
                raise RecordingError(
                    f"{self.folder} already holds a recording; record into a new folder",
                    str(self.folder),
                )
            free = guard.free()
            if free is not None and free < guard.min_free:
                raise DiskFullError(str(self.folder), free, while_recording=False)
            write_manifest(self.folder, self._manifest)
            events = EventLog(
                self.folder / EVENTS_FILE,
                sync_interval=self.options.events_sync_interval,
                on_error=self._failed_from_thread,
            )
            events.open()
            return events
        except OSError as exc:
            raise recording_failure(self.folder, exc) from exc

    def _make_source(
        self, label: str, source: PacketSource, guard: DiskSpaceGuard
    ) -> _SourceRecording:
        """The file and writer thread of one video (no disk access until its first frame)."""
        name = media_file_name(label, self.options.container.format.value, self._taken)
        self._taken.add(name)
        width, height = source.size() or (0, 0)  # 0: read from the first keyframe
        writer = self.video_writer_type(
            self.folder / name, label=label, width=width, height=height,
            options=self.options.container,
        )
        max_queued = max(30, round(source.fps * self.options.max_queued_seconds))

        def write(encoded: EncodedFrame) -> None:
            if not writer.width:
                size = picture_size(bytes(encoded.packet)) if encoded.keyframe else None
                if size is None:
                    return  # no file before a picture whose size can be read
                writer.width, writer.height = size
            wrote = writer.write(encoded.packet, captured_at=encoded.captured_at)
            if wrote and writer.frames == 1:
                self._log_source_start(label, name, writer.clock_origin)
                if not rec.listed:
                    self._call_soon(self._list_source, rec)

        thread: WriterThread[EncodedFrame] = WriterThread(
            label,
            write=write,
            close=writer.close,
            on_error=self._failed_from_thread,
            guard=guard,
            max_queued=max_queued,
            request_keyframe=source.request_keyframe,
        )
        rec = _SourceRecording(label, source, name, writer, thread, listed=width > 0)
        return rec

    def _entry(self, rec: _SourceRecording) -> SourceEntry:
        return SourceEntry(
            label=rec.label, file=rec.file, width=rec.writer.width, height=rec.writer.height,
            fps=rec.source.fps,
        )

    # -- while recording ---------------------------------------------------------------------

    def add_source(self, label: str, source: SharedEncoder | PacketSource) -> None:
        """Record one more video from now on (one that appeared after :meth:`start`).

        Loop thread, while recording. :class:`RecordingError` if ``label`` is taken or
        the case already has the most sources a manifest lists.
        """
        if self._state is not RecorderState.RECORDING or self._guard is None:
            raise RecordingError("the recording is not running; start a new one")
        if label in self.labels:
            raise RecordingError(f"a source called {label!r} is already recorded")
        if len(self._recordings) >= MAX_SOURCES:
            raise RecordingError(f"a case holds at most {MAX_SOURCES} video sources")
        rec = self._make_source(label, as_packet_source(source), self._guard)
        self._recordings.append(rec)
        rec.thread.start()
        rec.tap = rec.source.subscribe(self._video_sink(rec))
        if rec.listed:
            self._list_source(rec)
        logger.info("recording %s as well", label)

    @property
    def labels(self) -> list[str]:
        """The labels of the videos being recorded."""
        return [rec.label for rec in self._recordings]

    def add_participant(self, role: Role | str, name: str) -> None:
        """Name someone who took part; the manifest lists each role and name once."""
        person = Participant(role=Role(role), name=name)
        people = self._draft.participants
        if person in people or len(people) >= MAX_PARTICIPANTS:
            return
        self._draft = replace(self._draft, participants=(*people, person))
        if self._state is not RecorderState.IDLE:
            self._manifest = replace(self._manifest, participants=self._draft.participants)
            self._save_manifest()

    def _list_source(self, rec: _SourceRecording) -> None:
        """Put a started source in the manifest (loop thread)."""
        if self._state is not RecorderState.RECORDING:
            return  # the final manifest lists it
        rec.listed = True
        self._manifest = replace(self._manifest, sources=(*self._manifest.sources,
                                                          self._entry(rec)))
        self._save_manifest()

    def _save_manifest(self) -> None:
        """Rewrite the manifest while recording (atomic, on a worker thread), so a crash
        keeps what changed; the final manifest waits for these writes."""
        if self._state is not RecorderState.RECORDING:
            return

        async def save() -> None:
            async with self._manifest_lock:  # one writer at a time: they share a temp file
                if self._state is not RecorderState.RECORDING:
                    return
                try:
                    await asyncio.to_thread(write_manifest, self.folder, self._manifest)
                except OSError as exc:
                    self._failed(exc)

        task = asyncio.get_running_loop().create_task(save())
        self._manifest_writes.add(task)
        task.add_done_callback(self._manifest_writes.discard)

    def _call_soon(self, callback: Callable[..., None], *args: Any) -> None:
        """Run ``callback`` on the loop from a worker thread."""
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed: the app is exiting
                self._loop.call_soon_threadsafe(callback, *args)

    def _make_audio(
        self, entry: AudioEntry, guard: DiskSpaceGuard
    ) -> tuple[AudioFileWriter, WriterThread[tuple[av.AudioFrame, float]]]:
        writer = self.audio_writer_type(self.folder / entry.file, options=self.options.container)

        def write(item: tuple[av.AudioFrame, float]) -> None:
            frame, captured_at = item
            first = writer.clock_origin is None
            writer.write(frame, captured_at=captured_at)
            if first:
                self._log_source_start("audio", entry.file, writer.clock_origin)

        thread: WriterThread[tuple[av.AudioFrame, float]] = WriterThread(
            "audio", write=write, close=writer.close, on_error=self._failed_from_thread,
            guard=guard, max_queued=round(50 * self.options.max_queued_seconds),
        )
        return writer, thread

    def _video_sink(self, rec: _SourceRecording) -> Callable[[EncodedFrame], None]:
        def sink(encoded: EncodedFrame) -> None:
            rec.thread.offer(encoded, keyframe=encoded.keyframe)

        return sink

    async def _pump_audio(self, track: MediaStreamTrack) -> None:
        assert self._audio is not None
        thread = self._audio[1]
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            except Exception:  # the microphone's problem; the video recording goes on
                logger.exception("audio for the recording stopped")
                return
            assert isinstance(frame, av.AudioFrame)
            # Received now, so captured about one frame ago (the device's own latency is
            # not known here).
            captured_at = time.time() - frame.samples / (frame.sample_rate or 48_000)
            thread.offer((frame, captured_at))

    def _log_source_start(self, label: str, file: str, clock_origin: float | None) -> None:
        if self._events is not None and clock_origin is not None:
            self._events.log(
                EventKind.SOURCE_START, t=clock_origin, source=label, file=file,
                clock_origin=round(clock_origin, 6),
            )

    # -- events ------------------------------------------------------------------------------

    def log(self, kind: EventKind | str, *, t: float | None = None, **data: Any) -> Event | None:
        """Add an event at ``t`` (default now, on the capture clock); ``None`` if the
        recording is not running. Raises only for an unknown ``kind`` or data that is
        not plain JSON (programming errors), never for the disk."""
        if self._events is None or self._state is not RecorderState.RECORDING:
            Event(0.0, kind, data)  # type: ignore[arg-type]  # still reject a bad kind
            return None
        return self._events.log(kind, t=t, **data)

    def add_chapter(self, title: str, *, t: float | None = None) -> Event | None:
        """Start a chapter called ``title`` now (or at ``t``); synced to disk at once."""
        if not isinstance(title, str) or not title.strip() or len(title) > 200:
            raise RecordingError(f"a chapter title must be 1 to 200 characters, got {title!r}")
        return self.log(EventKind.CHAPTER, t=t, title=title.strip())

    def log_op(self, op: Op, *, t: float | None = None) -> Event | None:
        """Log an annotation op: freeze/unfreeze as their own kinds, the rest as ``mark``."""
        kind = (
            EventKind.FREEZE if isinstance(op, Freeze)
            else EventKind.UNFREEZE if isinstance(op, Unfreeze)
            else EventKind.MARK
        )
        return self.log(kind, t=t, op=op_to_json(op))

    def log_board(self, ops: Sequence[Op], seq: int, *, t: float | None = None) -> Event | None:
        """Log the whole board, replaced at once: the marks present when recording starts,
        and the fresh state after an undo or redo (the server answers those with a snapshot,
        not an op). Replay swaps in this state, so undone marks vanish as they did live."""
        return self.log(EventKind.BOARD, t=t, ops=[op_to_json(op) for op in ops], seq=seq)

    def keep_file(self, name: str, data: bytes) -> asyncio.Future[None] | None:
        """Keep ``data`` as the case's file ``name`` (a shared picture), atomically on a
        worker thread, sealed in an encrypted case; the write (stop waits for it, a failure
        stops the recording), or None when not recording. :class:`RecordingError` for a
        name that is not a new plain file name. Loop thread."""
        if Path(name).name != name or name.startswith((".", "manifest.", "events.")) \
                or name in self._taken:
            raise RecordingError(f"{name!r} is not a new file name for the case folder")
        if self._state is not RecorderState.RECORDING:
            return None
        self._taken.add(name)
        write = asyncio.ensure_future(asyncio.to_thread(write_case_file, self.folder / name, data))
        self._file_writes.add(write)
        write.add_done_callback(self._file_written)
        return write

    def _file_written(self, write: asyncio.Future[None]) -> None:
        self._file_writes.discard(write)
        if not write.cancelled() and write.exception() is not None:
            self._failed(write.exception())  # type: ignore[arg-type]

    async def flush_events(self, timeout: float | None = None) -> bool:
        """Wait until every event logged so far is on disk (``fsync``-ed)."""
        if self._events is None:
            return False
        return await asyncio.to_thread(self._events.flush, timeout)

    # -- stop --------------------------------------------------------------------------------

    async def stop(self) -> Manifest:
        """Finish the files and write the final manifest; returns it. Never raises for
        the disk: a failure is in :attr:`error` and the manifest's ``error``."""
        if self._state is RecorderState.IDLE:
            return self._manifest
        if self._finishing is None:
            self._finishing = asyncio.create_task(self._finish())
        await asyncio.shield(self._finishing)
        return self._manifest

    def _failed_from_thread(self, exc: BaseException) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(self._failed, exc)
        except RuntimeError:  # the loop is closed: the app is exiting anyway
            pass

    def _failed(self, exc: BaseException) -> None:
        if self._error is None:
            self._error = recording_failure(self.folder, exc)
            logger.error("%s", self._error)
        if self._finishing is None and self._state is RecorderState.RECORDING:
            self._finishing = asyncio.create_task(self._finish())

    async def _finish(self) -> None:
        self._state = RecorderState.STOPPING
        self._notify()
        for rec in self._recordings:
            if rec.tap is not None:
                rec.tap.stop()  # the encoder keeps running for everyone else
        if self._audio_task is not None:
            self._audio_task.cancel()
            await asyncio.gather(self._audio_task, return_exceptions=True)
        threads: list[WriterThread[Any]] = [r.thread for r in self._recordings]
        if self._audio is not None:
            threads.append(self._audio[1])
        for thread in threads:
            thread.finish()
        await asyncio.to_thread(join_all, threads, _JOIN_TIMEOUT)
        if self._file_writes:  # a shared picture being kept: the case is not done without it
            await asyncio.gather(*self._file_writes, return_exceptions=True)

        ended = time.time()
        error = self._error
        assert self._events is not None
        if error is None:
            self._events.log(EventKind.RECORDING_STOP, t=ended)
        else:
            self._events.log(EventKind.RECORDING_FAILED, t=ended, error=str(error))
        if self._manifest_writes:  # an earlier manifest must not land after the final one
            await asyncio.gather(*self._manifest_writes, return_exceptions=True)
        events_error = await asyncio.to_thread(self._close_events)
        if events_error is not None and self._error is None:
            self._error = recording_failure(self.folder, events_error)
        self._manifest = self._final_manifest(ended, self._error)
        manifest_error = await asyncio.to_thread(self._write_final_manifest)
        if manifest_error is not None and self._error is None:
            self._error = recording_failure(self.folder, manifest_error)
        self._state = RecorderState.FAILED if self._error is not None else RecorderState.STOPPED
        logger.info("recording in %s %s", self.folder, self._state.value)
        self._notify()

    def _final_manifest(self, ended: float, error: RecordingError | None) -> Manifest:
        origins = {r.label: r.writer.clock_origin for r in self._recordings}
        listed = {entry.label for entry in self._manifest.sources}
        late = [self._entry(r) for r in self._recordings  # started as the recording stopped
                if r.label not in listed and r.writer.frames and r.writer.width]
        sources = tuple(
            replace(entry, clock_origin=origins.get(entry.label))
            for entry in (*self._manifest.sources, *late)
        )
        audio = self._manifest.audio
        if audio is not None and self._audio is not None:
            audio = replace(audio, clock_origin=self._audio[0].clock_origin)
        return replace(
            self._manifest,
            sources=sources,
            audio=audio,
            ended_at=dt.datetime.fromtimestamp(ended).astimezone(),
            state=RecordingState.FAILED if error else RecordingState.FINISHED,
            error=None if error is None else str(error),
        )

    def _close_events(self) -> OSError | None:
        """On a worker thread: sync and close the event log. A disk that went away (EIO
        on close) is returned, not raised: the final manifest is still tried, and what
        was written before stays."""
        assert self._events is not None
        try:
            self._events.close()
        except OSError as exc:
            logger.error("could not close the event log in %s: %s", self.folder, exc)
            return exc
        return None

    def _write_final_manifest(self) -> OSError | None:
        """On a worker thread: the final manifest."""
        try:
            write_manifest(self.folder, self._manifest)
        except OSError as exc:
            # The manifest written at start stays; open_recording() completes it from
            # the event log, as after a crash.
            logger.error("could not write the final manifest in %s: %s", self.folder, exc)
            return exc
        return None

    def _notify(self) -> None:
        if self._on_status is None:
            return
        try:
            self._on_status(self.status)
        except Exception:  # a broken UI callback must not break the recording
            logger.exception("recording status callback failed")
