"""Exporting a clip: a standard MP4 (checked by ffprobe) showing the right frames, with
the session's marks burned in where and when they were drawn; cancel and a full disk
leave nothing behind."""

from __future__ import annotations

import errno
import io
import json
import subprocess
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import av
import pytest

from surgery_teach.capture import luma_of, read_stamp
from surgery_teach.casebook import SourcePlayer, build_timeline, export_clip, open_recording
from surgery_teach.casebook.export import ClipExport, ExportOptions
from surgery_teach.casefile import read_manifest, write_manifest
from surgery_teach.errors import DiskFullError, RecordingError
from tests.recording.cases import is_mark_colour, mark_left_edge, recorded_case

FRAME = 1 / 30
START, END = 0.2, 2.8


@pytest.fixture
def case_folder(tmp_path: Path) -> Path:
    return recorded_case(tmp_path)


def probe(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return dict(json.loads(out.stdout))


def frames_of(path: Path) -> list[tuple[float, Any]]:
    with av.open(str(path)) as container:
        return [(float(f.time), f) for f in container.decode(video=0)]


def test_a_clip_is_standard_mp4_with_the_marks_where_and_when_they_were_drawn(
    case_folder: Path, tmp_path: Path
) -> None:
    case = open_recording(case_folder)
    timeline = build_timeline(case)
    out = tmp_path / "clip.mp4"
    progress: list[float] = []
    assert export_clip(case, "Endoscope", START, END, out, progress=progress.append) == out

    info = probe(out)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
    assert (video["codec_name"], video["pix_fmt"], video["width"], video["height"]) == (
        "h264", "yuv420p", 320, 240)
    assert (audio["codec_name"], audio["sample_rate"]) == ("aac", "48000")
    assert float(info["format"]["duration"]) == pytest.approx(END - START, abs=0.1)
    assert float(video["duration"]) == pytest.approx(END - START, abs=FRAME + 0.01)
    head = out.read_bytes()[:65536]
    assert 0 <= head.find(b"moov") < head.find(b"mdat")  # faststart: index first
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert list(tmp_path.glob(".*")) == []  # no temporary file left

    [tick] = timeline.mark_ticks
    [freeze] = timeline.freezes
    assert freeze.end is not None
    x, y = mark_left_edge(320, 240)
    decoded = frames_of(out)
    assert len(decoded) == pytest.approx((END - START) * 30, abs=1)
    # the recorded pictures' capture times (a busy machine's source skips some)
    with SourcePlayer(case, "Endoscope", start=timeline.start) as player:
        recorded = sorted(stamp.captured_at - timeline.start
                          for picture in iter(player.next, None)
                          if (stamp := read_stamp(luma_of(picture.frame))) is not None)
    seen_with, seen_without, unreadable = 0, 0, 0
    for clip_time, frame in decoded:
        t = START + clip_time
        stamp = read_stamp(luma_of(frame))
        if stamp is None:  # a busy machine's recording has a blurred picture or two
            unreadable += 1
            continue
        # The picture viewers saw then: the live frame, or the held one while frozen.
        shown = freeze.frame_time if freeze.start + FRAME < t < freeze.end - FRAME else t
        if not (abs(t - freeze.start) < FRAME or abs(t - freeze.end) < FRAME):
            # the last picture captured by then (one a hair after ``shown`` may be either)
            before = [c for c in recorded if c <= shown + 0.003]
            either = before[-2:] if before[-1] > shown - 0.003 else before[-1:]
            got = stamp.captured_at - timeline.start
            assert any(abs(got - c) <= 0.003 for c in either), (t, got, either)
        marked = is_mark_colour(frame.to_ndarray(format="bgr24")[y, x])
        if t > tick.time + FRAME:
            assert marked, f"no mark at {t:.3f} s"
            seen_with += 1
        elif t < tick.time - FRAME:
            assert not marked, f"a mark at {t:.3f} s, before it was drawn"
            seen_without += 1
    assert seen_with > 20 and seen_without > 5 and unreadable <= 3


def test_marks_can_be_left_out(case_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "plain.mp4"
    export_clip(open_recording(case_folder), "Endoscope", 1.0, 2.0, out, marks=False)
    x, y = mark_left_edge(320, 240)
    assert not any(is_mark_colour(f.to_ndarray(format="bgr24")[y, x]) for _, f in frames_of(out))


def test_a_case_without_audio_exports_video_only(case_folder: Path, tmp_path: Path) -> None:
    write_manifest(case_folder, replace(read_manifest(case_folder), audio=None))
    (case_folder / "audio.mka").unlink()
    out = tmp_path / "silent.mp4"
    export_clip(open_recording(case_folder), "Room camera", 0.5, 1.5, out)
    streams = probe(out)["streams"]
    assert [s["codec_name"] for s in streams] == ["h264"]
    assert float(streams[0]["duration"]) == pytest.approx(1.0, abs=1 / 15 + 0.01)


def test_cancel_leaves_no_file(case_folder: Path, tmp_path: Path) -> None:
    cancel = threading.Event()
    out = tmp_path / "cancelled.mp4"

    def progress(fraction: float) -> None:
        if fraction > 0.3:
            cancel.set()

    case = open_recording(case_folder)
    assert export_clip(case, "Endoscope", 0.0, 2.9, out, progress=progress, cancel=cancel) is None
    assert cancel.is_set()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case"]


class FillingFile(io.RawIOBase):
    """A real file on a disk that is full after ``room`` bytes."""

    def __init__(self, path: Path, room: int) -> None:
        super().__init__()
        self._file = open(path, "xb")  # closed in close()
        self._room = room

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        if len(view) > self._room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self._room -= len(view)
        return self._file.write(view) or 0

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def close(self) -> None:
        self._file.close()
        super().close()


class ExportToFullDisk(ClipExport):
    opened: ClassVar[list[Path]] = []

    def open_output(self, path: Path) -> av.container.OutputContainer:
        self.opened.append(path)
        return av.open(FillingFile(path, 60_000), "w", format="mp4")


def test_a_full_disk_is_a_clear_error_and_leaves_no_half_file(
    case_folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "clip.mp4"
    export = ExportToFullDisk(
        open_recording(case_folder), "Endoscope", 0.0, 2.9, out, marks=True, progress=None,
        cancel=None, timeline=None, options=ExportOptions(crf=10),
    )
    with pytest.raises(DiskFullError, match="the disk is full") as caught:
        export.run()
    assert str(out) in str(caught.value) and "unfinished clip was removed" in str(caught.value)
    assert ExportToFullDisk.opened == [export.temporary]  # it did write there, then removed it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case"]


@pytest.mark.parametrize(("label", "start", "end", "problem"), [
    ("Endoscope", 2.0, 1.0, "pick a start before the end"),
    ("Endoscope", -1.0, 1.0, "pick a start before the end"),
    ("Endoscope", 50.0, 60.0, "no picture after 50.0 s"),
    ("Microscope", 0.0, 1.0, "no source 'Microscope'"),
])
def test_bad_requests_are_refused_with_a_reason(
    case_folder: Path, tmp_path: Path, label: str, start: float, end: float, problem: str
) -> None:
    with pytest.raises(RecordingError, match=problem):
        export_clip(open_recording(case_folder), label, start, end, tmp_path / "x.mp4")
    assert not (tmp_path / "x.mp4").exists()


def test_a_missing_output_folder_is_named(case_folder: Path, tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="does not exist"):
        export_clip(open_recording(case_folder), "Endoscope", 0, 1, tmp_path / "no" / "x.mp4")
