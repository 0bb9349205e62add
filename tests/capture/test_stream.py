"""Files loop like a live camera; RTSP errors are clear; a dropped stream reconnects."""

from __future__ import annotations

import itertools
import socket
import time
from fractions import Fraction
from pathlib import Path

import av
import av.container
import cv2
import numpy as np
import pytest

from surgery_teach.capture import (
    CapturedFrame,
    FileSource,
    LaparoscopyScene,
    RtspSource,
    luma_of,
    open_source,
    read_stamp,
    write_stamp,
)
from surgery_teach.errors import CaptureError
from tests.timing import seconds

CLIP_FRAMES = 12
CLIP_FPS = 30


def write_clip(path: Path, frames: int = CLIP_FRAMES, fps: int = CLIP_FPS) -> Path:
    """A short real H.264 MP4 whose frames are stamped 1..frames."""
    scene = LaparoscopyScene(320, 240)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        for seq in range(1, frames + 1):
            picture = scene.render(seq / fps)
            write_stamp(picture, seq, 1000.0 + seq)
            frame = av.VideoFrame.from_numpy_buffer(
                cv2.cvtColor(picture, cv2.COLOR_BGR2YUV_I420), format="yuv420p"
            )
            frame.pts, frame.time_base = seq - 1, Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


@pytest.fixture
def clip(tmp_path) -> Path:
    return write_clip(tmp_path / "clip.mp4")


def _next(source, after: int) -> CapturedFrame:
    frame = source.slot.wait_after(after, seconds(3))
    assert frame is not None, f"no frame after seq {after}"
    return frame


def test_a_file_loops_at_its_native_rate(clip):
    source = open_source(f"Teaching clip=file:{clip}")
    assert isinstance(source, FileSource)
    source.start()
    try:
        assert source.size == (320, 240)
        assert source.fps == pytest.approx(CLIP_FPS)
        assert source.label == "Teaching clip"
        frame = _next(source, 0)
        start, first_seq = time.monotonic(), frame.seq
        file_seqs = []
        while len(file_seqs) < CLIP_FRAMES * 2 + 5:  # well past the end of the file
            image = frame.image
            assert (image.format.name, image.width, image.height) == ("yuv420p", 320, 240)
            assert image.pts is None
            assert not frame.lost
            stamp = read_stamp(luma_of(image))
            assert stamp is not None
            file_seqs.append(stamp.seq)
            frame = _next(source, frame.seq)
        elapsed = time.monotonic() - start
        assert file_seqs.count(1) >= 2, file_seqs  # it started over
        assert any(b < a for a, b in itertools.pairwise(file_seqs))
        rate = (frame.seq - first_seq) / elapsed
        assert 20 <= rate <= 40, f"{rate:.1f} fps"
    finally:
        source.stop()
    assert source.slot.closed
    assert not source.running


def test_missing_file_is_a_capture_error_naming_the_path(tmp_path):
    missing = tmp_path / "nope.mp4"
    with pytest.raises(CaptureError) as caught:
        FileSource(missing).start()
    assert str(missing) in str(caught.value)
    assert "does not exist" in str(caught.value)


def test_corrupt_file_is_a_capture_error_naming_the_path(tmp_path):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(bytes(range(256)) * 200)
    with pytest.raises(CaptureError) as caught:
        FileSource(corrupt).start()
    assert str(corrupt) in str(caught.value)
    assert isinstance(caught.value.__cause__, av.FFmpegError)


def test_random_bytes_file_is_a_capture_error(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(3).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    with pytest.raises(CaptureError) as caught:
        FileSource(junk).start()
    assert str(junk) in str(caught.value)


def test_a_directory_or_audio_only_file_is_refused(tmp_path):
    with pytest.raises(CaptureError, match="is a directory"):
        FileSource(tmp_path).start()
    audio = tmp_path / "voice.wav"
    with av.open(str(audio), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        silence = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), layout="mono")
        silence.sample_rate = 8000
        container.mux(stream.encode(silence))
        container.mux(stream.encode(None))
    with pytest.raises(CaptureError, match="no video stream"):
        FileSource(audio).start()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_rtsp_is_a_capture_error_without_credentials():
    url = f"rtsp://admin:s3cret@127.0.0.1:{_closed_port()}/stream"
    source = open_source(url)
    assert isinstance(source, RtspSource)
    assert source.label == "127.0.0.1"
    started = time.monotonic()
    with pytest.raises(CaptureError) as caught:
        source.start()
    assert time.monotonic() - started < seconds(6)
    message = str(caught.value)
    assert "s3cret" not in message
    assert "127.0.0.1" in message
    assert "refused" in message.lower()
    assert isinstance(caught.value.__cause__, av.FFmpegError)


class FlakyStream(RtspSource):
    """An RTSP source whose "network" plays a short clip per connection, then drops.

    While ``network_up`` is false, connecting fails like an unreachable camera.
    """

    def __init__(self, clip: Path) -> None:
        super().__init__("rtsp://cam.local/s", retry_interval=0.2)
        self.clip = clip
        self.network_up = True
        self.connections = 0

    def _open(self) -> av.container.InputContainer:
        if not self.network_up:
            raise CaptureError(f"cannot open {self.spec}: Connection refused")
        self.connections += 1
        return av.open(str(self.clip))


def test_a_dropped_stream_shows_placeholders_and_reconnects(clip):
    source = FlakyStream(clip)
    source.start()
    try:
        frame = _next(source, 0)
        while not frame.lost:  # the clip runs out: the stream "drops"
            frame = _next(source, frame.seq)
        source.network_up = False
        image = frame.image
        assert (image.format.name, image.width, image.height) == ("yuv420p", 320, 240)
        frame = _next(source, frame.seq)
        assert frame.lost
        source.network_up = True
        while frame.lost:
            frame = _next(source, frame.seq)
        assert read_stamp(luma_of(frame.image)) is not None  # real pictures again
        assert source.connections >= 2
    finally:
        source.stop()
    assert not source.running
