"""The recorder on a real synthetic source and shared encoder, with the disk as the seam."""

from __future__ import annotations

import asyncio
import collections
import errno
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import av
import pytest

from surgery_teach.annotations.ops import Freeze
from surgery_teach.audio.tracks import ToneTrack
from surgery_teach.casebook import open_recording
from surgery_teach.casefile import EventKind, Manifest, Participant, RecordingState, read_manifest
from surgery_teach.casefile.container import SyncedFile, VideoFileWriter
from surgery_teach.errors import DiskFullError, RecordingError
from surgery_teach.media.encoder import EncodedTrack, EncoderSettings, SharedEncoder
from surgery_teach.protocol.messages import Role
from surgery_teach.recording import Recorder, RecorderOptions, RecorderState, RecorderStatus
from surgery_teach.recording.writer import DiskSpaceGuard
from tests.recording.helpers import (
    annexb_nal_units,
    decode_stamped,
    ffprobe,
    length_prefixed_nal_units,
    until,
)
from tests.timing import seconds

CASE = Manifest(
    title="Laparoscopic cholecystectomy",
    hospital="St Mary's",
    participants=(Participant(Role.SURGEON, "Dr Ana Lima"),
                  Participant(Role.TRAINEE, "Sam Okafor")),
)
NO_RESERVE = RecorderOptions(min_free_bytes=0)


class Viewer:
    """A viewer of the same encoder, keeping every packet it gets."""

    def __init__(self, encoder: SharedEncoder) -> None:
        self.track: EncodedTrack = encoder.subscribe()
        self.packets: list[av.Packet] = []
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            self.packets.append(await self.track.recv())

    def stop(self) -> None:
        self._task.cancel()
        self.track.stop()


@pytest.fixture
async def viewer(encoder: SharedEncoder) -> Iterator[Viewer]:  # type: ignore[misc]
    v = Viewer(encoder)
    yield v
    v.stop()


class ThreadNotingWriter(VideoFileWriter):
    """The real writer, noting which thread each packet is written on."""

    threads: ClassVar[set[str]] = set()

    def write(self, packet: av.Packet, *, captured_at: float) -> bool:
        ThreadNotingWriter.threads.add(threading.current_thread().name)
        return super().write(packet, captured_at=captured_at)


class ThreadNotingRecorder(Recorder):
    video_writer_type = ThreadNotingWriter


async def test_a_case_is_recorded_from_the_live_encoder_without_re_encoding(  # type: ignore[no-untyped-def]
    tmp_path: Path, encoder: SharedEncoder, viewer: Viewer
) -> None:
    statuses: list[RecorderStatus] = []
    folder = tmp_path / "case"
    recorder = ThreadNotingRecorder(folder, CASE, [("Endoscope", encoder)],
                                    options=NO_RESERVE, on_status=statuses.append)
    await recorder.start()
    assert read_manifest(folder).state is RecordingState.RECORDING  # written at start
    await until(lambda: recorder.status.frames["Endoscope"] >= 20, seconds(10), "frames")
    chat = recorder.log("chat", author="Dr Ana Lima", text="clip here")
    recorder.add_chapter("Calot's triangle")
    recorder.log_op(Freeze(seq=3, author="p1", source="Endoscope", frame_time=12.5))
    await until(lambda: recorder.status.frames["Endoscope"] >= 45, seconds(10), "frames")
    manifest = await recorder.stop()

    assert [s.state for s in statuses] == [
        RecorderState.RECORDING, RecorderState.STOPPING, RecorderState.STOPPED]
    assert recorder.error is None
    assert manifest == read_manifest(folder)
    assert manifest.state is RecordingState.FINISHED
    assert manifest.participants == CASE.participants
    assert manifest.duration is not None and manifest.duration > 1
    entry = manifest.source("Endoscope")
    assert (entry.file, entry.width, entry.height, entry.fps) == ("endoscope.mkv", 640, 360, 30)
    assert ThreadNotingWriter.threads == {"recording Endoscope"}  # never the loop's thread

    # The file's packets are the very packets the viewer got: no second encode.
    path = folder / entry.file
    assert ffprobe(path)["codec_name"] == "h264"
    seen = {tuple(annexb_nal_units(bytes(p))) for p in viewer.packets}
    with av.open(str(path)) as container:
        stored = [bytes(p) for p in container.demux(video=0) if p.size]
    assert len(stored) == recorder.status.frames["Endoscope"]
    assert all(tuple(length_prefixed_nal_units(data)) in seen for data in stored)

    # The event log lines up with the pictures: the frame shown at the chat's time was
    # captured within one frame interval of it.
    case = open_recording(folder)
    kinds = [e.kind for e in case.events]
    assert kinds[0] is EventKind.RECORDING_START and kinds[-1] is EventKind.RECORDING_STOP
    assert {EventKind.SOURCE_START, EventKind.CHAT, EventKind.CHAPTER,
            EventKind.FREEZE} <= set(kinds)
    assert not case.interrupted
    assert chat is not None
    frames = decode_stamped(path)
    media_time = case.media_time("Endoscope", chat.t)
    assert media_time is not None
    shown = min(frames, key=lambda f: abs(f.media_time - media_time))
    assert abs(shown.captured_at - chat.t) < 1 / 30 + 0.005
    assert recorder.log("chat", text="after the end") is None


async def test_log_rejects_unknown_kinds_even_when_idle(tmp_path: Path, encoder) -> None:  # type: ignore[no-untyped-def]
    recorder = Recorder(tmp_path, CASE, [("Endoscope", encoder)], options=NO_RESERVE)
    with pytest.raises(RecordingError, match="unknown event kind"):
        recorder.log("surgery-started")
    assert recorder.log("chat", text="not recording yet") is None
    with pytest.raises(RecordingError, match="chapter title"):
        recorder.add_chapter("")


async def test_a_folder_holding_a_recording_is_not_reused(tmp_path: Path, encoder) -> None:  # type: ignore[no-untyped-def]
    first = Recorder(tmp_path, CASE, [("Endoscope", encoder)], options=NO_RESERVE)
    await first.start()
    await first.stop()
    second = Recorder(tmp_path, CASE, [("Endoscope", encoder)], options=NO_RESERVE)
    with pytest.raises(RecordingError, match="already holds a recording"):
        await second.start()


async def test_audio_is_recorded_beside_the_video(tmp_path: Path, encoder) -> None:  # type: ignore[no-untyped-def]
    recorder = Recorder(tmp_path, CASE, [("Endoscope", encoder)], audio=ToneTrack(),
                        options=NO_RESERVE)
    await recorder.start()
    await until(lambda: recorder.status.frames["Endoscope"] >= 30, seconds(10), "frames")
    manifest = await recorder.stop()
    assert manifest.audio is not None and manifest.audio.file == "audio.mka"
    assert manifest.audio.clock_origin is not None
    with av.open(str(tmp_path / "audio.mka")) as container:
        assert container.streams.audio[0].codec_context.name == "opus"
        samples = sum(f.samples for f in container.decode(audio=0))
    assert samples > 0.5 * 48_000


# -- a full disk -------------------------------------------------------------------------------


class FillingFile(SyncedFile):
    room = 120_000  # bytes until the disk is "full": a few seconds of 640x360

    def _write(self, view: memoryview) -> int:
        if self.bytes_written + len(view) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super()._write(view)


class FillingDiskWriter(VideoFileWriter):
    def open_file(self) -> SyncedFile:
        return FillingFile(self.path, self.options.sync_interval)


class FullDiskRecorder(Recorder):
    video_writer_type = FillingDiskWriter


async def assert_stopped_for_a_full_disk(
    recorder: Recorder, folder: Path, statuses: list[RecorderStatus], encoder: SharedEncoder,
    viewer: Viewer,
) -> None:
    await until(lambda: bool(statuses) and statuses[-1].state is RecorderState.FAILED,
                seconds(20), "the recording to stop")
    error = recorder.error
    assert isinstance(error, DiskFullError)
    assert str(folder) in str(error) and "Free some space" in str(error)
    assert statuses[-1].error is error

    # The live session goes on: the viewer still gets packets, the tap is gone.
    assert encoder.viewer_count == 1
    before = len(viewer.packets)
    await until(lambda: len(viewer.packets) >= before + 10, seconds(5), "viewer packets")

    # What was written plays, and stop() afterwards is quiet.
    manifest = await recorder.stop()
    path = folder / "endoscope.mkv"
    ffprobe(path)
    assert len(decode_stamped(path)) >= 10
    assert manifest.state is RecordingState.FAILED and manifest.error == str(error)


async def test_a_full_disk_stops_the_recording_but_not_the_session(  # type: ignore[no-untyped-def]
    tmp_path: Path, encoder: SharedEncoder, viewer: Viewer
) -> None:
    statuses: list[RecorderStatus] = []
    recorder = FullDiskRecorder(tmp_path, CASE, [("Endoscope", encoder)], options=NO_RESERVE,
                                on_status=statuses.append)
    await recorder.start()
    await assert_stopped_for_a_full_disk(recorder, tmp_path, statuses, encoder, viewer)
    # The manifest and log still fit (only the video file "filled" the disk).
    assert read_manifest(tmp_path).state is RecordingState.FAILED
    assert open_recording(tmp_path).events[-1].kind is EventKind.RECORDING_FAILED


async def test_the_recorder_stops_cleanly_before_the_disk_is_full(  # type: ignore[no-untyped-def]
    tmp_path: Path, encoder: SharedEncoder, viewer: Viewer, monkeypatch: pytest.MonkeyPatch
) -> None:
    free = [10**12]
    monkeypatch.setattr(DiskSpaceGuard, "free", lambda self: free[0])
    statuses: list[RecorderStatus] = []
    options = RecorderOptions(min_free_bytes=100 * 10**6, space_check_interval=0.01)
    recorder = Recorder(tmp_path, CASE, [("Endoscope", encoder)], options=options,
                        on_status=statuses.append)
    await recorder.start()
    await until(lambda: recorder.status.frames["Endoscope"] >= 15, seconds(10), "frames")
    free[0] = 50 * 10**6
    await assert_stopped_for_a_full_disk(recorder, tmp_path, statuses, encoder, viewer)
    assert "(50 MB left)" in str(recorder.error)
    # Closed cleanly: the file has its index, so ffprobe knows its duration.
    with av.open(str(tmp_path / "endoscope.mkv")) as container:
        assert container.duration is not None


async def test_a_nearly_full_disk_refuses_to_start(tmp_path: Path, encoder, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(DiskSpaceGuard, "free", lambda self: 10 * 10**6)
    recorder = Recorder(tmp_path, CASE, [("Endoscope", encoder)])
    with pytest.raises(DiskFullError, match=r"cannot start recording: .* \(10 MB left\)"):
        await recorder.start()
    assert encoder.viewer_count == 0


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB file system (tmpfs); needs root, skipped elsewhere."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.slow
async def test_a_real_full_disk(tiny_disk: Path) -> None:
    from surgery_teach.capture import SyntheticSource

    source = SyntheticSource(640, 360, 30, label="Endoscope")
    source.start()
    encoder = SharedEncoder(source, EncoderSettings(bitrate=6_000_000, keyframe_interval=1))
    encoder.start()
    viewer = Viewer(encoder)
    try:
        statuses: list[RecorderStatus] = []
        recorder = Recorder(tiny_disk, CASE, [("Endoscope", encoder)], options=NO_RESERVE,
                            on_status=statuses.append)
        await recorder.start()
        await assert_stopped_for_a_full_disk(recorder, tiny_disk, statuses, encoder, viewer)
        case = open_recording(tiny_disk)  # the manifest from the start, completed from the log
        assert case.manifest.source("Endoscope").clock_origin is not None
    finally:
        viewer.stop()
        encoder.stop()
        source.stop()


def test_a_disk_too_slow_for_the_video_drops_up_to_a_keyframe() -> None:
    """The loop never waits for the disk: a full queue drops video until a keyframe."""
    from surgery_teach.recording.writer import WriterThread

    gate = threading.Event()
    written: list[int] = []
    keyframes_asked = collections.Counter[str]()
    thread: WriterThread[int] = WriterThread(
        "slow", write=lambda n: (gate.wait(), written.append(n)), close=lambda: None,
        on_error=lambda exc: None, max_queued=5,
        request_keyframe=lambda: keyframes_asked.update(["asked"]),
    )
    thread.start()
    thread.offer(0)
    assert until_sync(lambda: thread.queued == 0)  # 0 is being written, and stuck
    for n in range(1, 12):  # 1-5 wait, 6-11 do not fit
        thread.offer(n, keyframe=False)
    assert keyframes_asked["asked"] == 1
    gate.set()
    assert until_sync(lambda: thread.queued == 0)
    for n in range(12, 16):  # the disk is back, but a picture needs its keyframe
        thread.offer(n, keyframe=n == 14)
    thread.finish()
    assert thread.join(seconds(5))
    assert written == [0, 1, 2, 3, 4, 5, 14, 15]
    assert thread.counts.dropped == 8


def until_sync(predicate, timeout: float = seconds(5)) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True
