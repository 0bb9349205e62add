"""Media files: encoded packets in unchanged, playable by PyAV and ffprobe, on the capture clock."""

from __future__ import annotations

import errno
import fractions
import math
from pathlib import Path

import av
import numpy as np
import pytest

from surgery_teach.casefile.container import (
    CLOCK_ORIGIN_TAG,
    AudioFileWriter,
    ContainerFormat,
    ContainerOptions,
    SyncedFile,
    VideoFileWriter,
)
from surgery_teach.errors import RecordingError
from surgery_teach.media.encoder import EncodedFrame
from tests.recording.helpers import (
    annexb_nal_units,
    decode_stamped,
    ffprobe,
    length_prefixed_nal_units,
)

FORMATS = [ContainerFormat.MATROSKA, ContainerFormat.FRAGMENTED_MP4]


def record(path: Path, frames: list[EncodedFrame], fmt: ContainerFormat) -> VideoFileWriter:
    writer = VideoFileWriter(path, label="Endoscope", width=640, height=360,
                             options=ContainerOptions(format=fmt))
    for encoded in frames:
        writer.write(encoded.packet, captured_at=encoded.captured_at)
    writer.close()
    return writer


@pytest.mark.parametrize("fmt", FORMATS)
def test_packets_go_into_the_file_unchanged(tmp_path: Path, encoded_frames, fmt) -> None:  # type: ignore[no-untyped-def]
    """No re-encode: every NAL unit in the file is byte-identical to the encoder's."""
    path = tmp_path / f"endoscope.{fmt.value}"
    record(path, encoded_frames, fmt)
    with av.open(str(path)) as container:
        stored = [bytes(p) for p in container.demux(video=0) if p.size]
    assert len(stored) == len(encoded_frames)
    for encoded, data in zip(encoded_frames, stored, strict=True):
        assert length_prefixed_nal_units(data) == annexb_nal_units(bytes(encoded.packet))


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_file_plays_on_the_capture_clock(tmp_path: Path, encoded_frames, fmt) -> None:  # type: ignore[no-untyped-def]
    """Time 0 is the first keyframe; clock_origin + media time = the frame's capture time."""
    path = tmp_path / f"endoscope.{fmt.value}"
    writer = record(path, encoded_frames, fmt)
    assert writer.clock_origin == encoded_frames[0].captured_at
    probe = ffprobe(path)
    assert (probe["codec_name"], probe["width"], probe["height"]) == ("h264", 640, 360)
    assert int(probe["nb_read_packets"]) == len(encoded_frames)

    decoded = decode_stamped(path)
    assert len(decoded) == len(encoded_frames)
    assert decoded[0].media_time == 0
    for frame in decoded:
        assert frame.captured_at == pytest.approx(writer.clock_origin + frame.media_time,
                                                  abs=0.002)
    with av.open(str(path)) as container:
        assert container.metadata[CLOCK_ORIGIN_TAG] == f"{writer.clock_origin:.6f}"


def test_the_file_starts_at_the_first_keyframe(tmp_path: Path, encoded_frames) -> None:  # type: ignore[no-untyped-def]
    leading = [i for i, f in enumerate(encoded_frames) if f.keyframe][1]
    writer = record(tmp_path / "late.mkv", encoded_frames[1:], ContainerFormat.MATROSKA)
    assert writer.dropped_before_keyframe == leading - 1
    assert writer.frames == len(encoded_frames) - leading
    assert writer.clock_origin == encoded_frames[leading].captured_at
    assert decode_stamped(tmp_path / "late.mkv")[0].seq == encoded_frames[leading].seq


def test_packets_shared_with_viewers_are_left_as_they_were(tmp_path: Path, encoded_frames) -> None:  # type: ignore[no-untyped-def]
    before = [(f.packet.pts, f.packet.time_base, bytes(f.packet)) for f in encoded_frames]
    record(tmp_path / "a.mkv", encoded_frames, ContainerFormat.MATROSKA)
    after = [(f.packet.pts, f.packet.time_base, bytes(f.packet)) for f in encoded_frames]
    assert after == before


def test_nothing_before_a_keyframe_leaves_no_file(tmp_path: Path, encoded_frames) -> None:  # type: ignore[no-untyped-def]
    deltas = [f for f in encoded_frames if not f.keyframe][:3]
    writer = record(tmp_path / "none.mkv", deltas, ContainerFormat.MATROSKA)
    assert writer.frames == 0
    assert not (tmp_path / "none.mkv").exists()


def test_an_existing_file_is_never_overwritten(tmp_path: Path, encoded_frames) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "old.mkv").write_bytes(b"an earlier case")
    writer = VideoFileWriter(tmp_path / "old.mkv", label="x", width=640, height=360)
    with pytest.raises(FileExistsError):
        writer.write(encoded_frames[0].packet, captured_at=encoded_frames[0].captured_at)
    assert (tmp_path / "old.mkv").read_bytes() == b"an earlier case"


class FillingFile(SyncedFile):
    """The disk fills after ``room`` bytes: later writes fail with ENOSPC."""

    room = 40_000

    def _write(self, view: memoryview) -> int:
        if self.bytes_written + len(view) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super()._write(view)


class FillingDiskWriter(VideoFileWriter):
    def open_file(self) -> SyncedFile:
        return FillingFile(self.path, self.options.sync_interval)


def test_a_full_disk_surfaces_as_enospc_and_what_was_written_plays(  # type: ignore[no-untyped-def]
    tmp_path: Path, encoded_frames
) -> None:
    path = tmp_path / "full.mkv"
    writer = FillingDiskWriter(path, label="Endoscope", width=640, height=360,
                               options=ContainerOptions(flush_interval=0.2))
    with pytest.raises(OSError) as failure:
        for encoded in encoded_frames:
            writer.write(encoded.packet, captured_at=encoded.captured_at)
    assert failure.value.errno == errno.ENOSPC
    with pytest.raises(OSError):
        writer.close()  # the trailer does not fit either
    ffprobe(path)
    decoded = decode_stamped(path)
    assert 0 < len(decoded) < writer.frames


def test_options_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="flush_interval"):
        ContainerOptions(flush_interval=0)
    assert "faststart" not in ContainerOptions(
        format=ContainerFormat.FRAGMENTED_MP4).muxer_options()["movflags"]


def test_closed_writers_refuse_packets(tmp_path: Path, encoded_frames) -> None:  # type: ignore[no-untyped-def]
    writer = record(tmp_path / "a.mkv", encoded_frames[:3], ContainerFormat.MATROSKA)
    with pytest.raises(RecordingError, match="closed"):
        writer.write(encoded_frames[3].packet, captured_at=0)


def tone(seconds: float, frame_samples: int = 960) -> list[av.AudioFrame]:
    frames = []
    for start in range(0, round(seconds * 48_000), frame_samples):
        t = (np.arange(frame_samples) + start) / 48_000
        samples = (np.sin(2 * math.pi * 440 * t) * 8000).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(samples[None, :], format="s16", layout="mono")
        frame.sample_rate = 48_000
        frame.pts = start
        frame.time_base = fractions.Fraction(1, 48_000)
        frames.append(frame)
    return frames


@pytest.mark.parametrize(("fmt", "codec"), [(ContainerFormat.MATROSKA, "opus"),
                                            (ContainerFormat.FRAGMENTED_MP4, "aac")])
def test_audio_is_encoded_at_48_khz_mono(tmp_path: Path, fmt, codec) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / f"audio.{fmt.audio_suffix}"
    writer = AudioFileWriter(path, options=ContainerOptions(format=fmt))
    for frame in tone(1.0):
        writer.write(frame, captured_at=1000.0)
    writer.close()
    assert writer.clock_origin == 1000.0
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        assert (stream.codec_context.name, stream.rate, stream.channels) == (codec, 48_000, 1)
        decoded = sum(f.samples for f in container.decode(stream))
        assert container.metadata[CLOCK_ORIGIN_TAG] == "1000.000000"
    assert decoded == pytest.approx(48_000, abs=2048)
