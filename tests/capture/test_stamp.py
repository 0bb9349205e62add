"""The pixel stamp: exact round trips, survival through H.264, and no false reads."""

from __future__ import annotations

import gc
import time
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from surgery_teach.capture import LaparoscopyScene, Stamp, luma_of, read_stamp, write_stamp
from surgery_teach.capture.stamp import band_height
from tests.timing import seconds

SIZES = [(640, 360), (1280, 720), (1920, 1080)]


def _luma(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)[: bgr.shape[0]]


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_round_trip_on_raw_frames(width, height):
    scene = LaparoscopyScene(width, height)
    for seq, captured_at in [(1, 1_700_000_000.123456), (2**32 - 1, time.time()), (0, 0.0)]:
        picture = scene.render(seq / 30).copy()
        write_stamp(picture, seq, captured_at)
        stamp = read_stamp(_luma(picture))
        assert stamp is not None
        assert stamp.seq == seq
        assert stamp.captured_at == pytest.approx(captured_at, abs=1e-6)


def test_round_trip_on_odd_sizes_and_through_av_frames():
    picture = np.full((301, 999, 3), 90, np.uint8)
    write_stamp(picture, 77, 12.5)
    assert read_stamp(cv2.cvtColor(picture, cv2.COLOR_BGR2GRAY)) == Stamp(77, 12.5)
    # bgr24 -> yuv420p by swscale gives limited-range luma (16..235): still reads.
    frame = av.VideoFrame.from_ndarray(picture[:300, :998].copy(), format="bgr24")
    assert read_stamp(luma_of(frame.reformat(format="yuv420p"))) == Stamp(77, 12.5)
    assert read_stamp(luma_of(frame)) == Stamp(77, 12.5)


def test_seq_wraps_at_32_bits():
    picture = np.zeros((200, 640, 3), np.uint8)
    write_stamp(picture, 2**32 + 5, 1.0)
    assert read_stamp(_luma(picture)) == Stamp(5, 1.0)


def test_writing_on_a_too_small_frame_is_refused():
    with pytest.raises(ValueError, match="too small"):
        write_stamp(np.zeros((100, 100, 3), np.uint8), 1, 1.0)


def _encoder(width: int, height: int, preset: str) -> av.VideoCodecContext:
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height = width, height
    encoder.pix_fmt = "yuv420p"
    encoder.time_base = Fraction(1, 30)
    encoder.framerate = Fraction(30)
    encoder.bit_rate = 1_000_000
    encoder.options = {"preset": preset, "tune": "zerolatency"}
    return encoder


@pytest.mark.parametrize(
    ("width", "height", "preset"),
    [
        (640, 360, "ultrafast"),
        (1280, 720, "ultrafast"),
        (1280, 720, "medium"),
        (1920, 1080, "ultrafast"),
    ],
)
def test_every_frame_reads_back_after_h264_at_1_mbit(width, height, preset):
    """A moving scene through libx264 at 1 Mbit/s: each decoded frame's stamp is exact."""
    scene = LaparoscopyScene(width, height)
    encoder = _encoder(width, height, preset)
    decoder = av.CodecContext.create("h264", "r")
    sent: dict[int, float] = {}
    read: list[Stamp | None] = []

    def decode(packets: list[av.Packet]) -> None:
        for packet in packets:
            for decoded in decoder.decode(packet):
                read.append(read_stamp(luma_of(decoded)))

    for seq in range(1, 46):
        picture = scene.render(seq / 30)
        captured_at = time.time()
        write_stamp(picture, seq, captured_at)
        sent[seq] = captured_at
        frame = av.VideoFrame.from_numpy_buffer(
            cv2.cvtColor(picture, cv2.COLOR_BGR2YUV_I420), format="yuv420p"
        )
        frame.pts = seq
        decode(encoder.encode(frame))
    decode(encoder.encode(None))
    decode(decoder.decode(None))

    assert len(read) == len(sent)
    assert all(stamp is not None for stamp in read)
    assert [stamp.seq for stamp in read] == list(sent)  # type: ignore[union-attr]
    for stamp in read:
        assert stamp.captured_at == pytest.approx(sent[stamp.seq], abs=1e-6)  # type: ignore[union-attr]


def test_random_pictures_never_read_as_a_stamp():
    rng = np.random.default_rng(2024)
    for _ in range(2000):
        width = int(rng.integers(128, 800))
        height = int(rng.integers(40, 300))
        assert read_stamp(rng.integers(0, 256, (height, width), dtype=np.uint8)) is None


def test_random_cell_patterns_never_read_as_a_stamp():
    """Black/white cells in exactly the stamp's geometry but random bits: magic + CRC reject."""
    rng = np.random.default_rng(7)
    width = 640
    cell = width // 64
    for _ in range(2000):
        bits = rng.integers(0, 2, (2, 64), dtype=np.uint8) * 255
        luma = np.repeat(np.repeat(bits, cell, axis=0), cell, axis=1)
        assert read_stamp(luma) is None


def test_a_single_damaged_cell_is_rejected():
    picture = np.zeros((360, 640, 3), np.uint8)
    write_stamp(picture, 123456, 1_700_000_000.5)
    luma = _luma(picture)
    for column in range(0, 64, 5):
        for row in range(2):
            damaged = luma.copy()
            y, x = row * 10 + 5, column * 10 + 5
            damaged[y - 4 : y + 5, x - 4 : x + 5] = 255 - damaged[y, x]
            assert read_stamp(damaged) is None


@pytest.mark.parametrize(
    "garbage",
    [
        np.zeros((1080, 1920), np.uint8),
        np.full((1080, 1920), 255, np.uint8),
        np.tile(np.arange(1920, dtype=np.uint16).astype(np.uint8), (1080, 1)),
        np.zeros((0, 0), np.uint8),
        np.zeros((10, 10), np.uint8),
        np.zeros((1, 1920), np.uint8),
        np.zeros((100, 1920, 3), np.uint8),
        np.zeros((1080, 1920), np.float32),
        np.zeros(1920, np.uint8),
        "not an array",
        None,
    ],
    ids=["black", "white", "ramp", "empty", "tiny", "one-row", "3d", "float", "1d", "str", "none"],
)
def test_garbage_reads_as_none_without_raising(garbage):
    assert read_stamp(garbage) is None  # type: ignore[arg-type]


def test_reading_costs_well_under_a_millisecond_at_1080p():
    picture = LaparoscopyScene(1920, 1080).render(0.0)
    write_stamp(picture, 1, time.time())
    frame = av.VideoFrame.from_numpy_buffer(
        cv2.cvtColor(picture, cv2.COLOR_BGR2YUV_I420), format="yuv420p"
    )
    start = time.perf_counter()
    for _ in range(200):
        assert read_stamp(luma_of(frame)) is not None
    per_read = (time.perf_counter() - start) / 200
    assert per_read < seconds(0.001)


def test_luma_of_is_a_view_of_plane_0_honouring_line_size():
    frame = av.VideoFrame(100, 50, "yuv420p")  # line_size is padded past the width
    plane = frame.planes[0]
    assert plane.line_size > frame.width
    luma = luma_of(frame)
    assert luma.shape == (50, 100)
    assert not luma.flags.owndata
    raw = np.frombuffer(plane, np.uint8)
    raw[:] = 0
    raw[plane.line_size * 3 + 7] = 200  # row 3, column 7 written through the plane
    assert luma[3, 7] == 200
    assert int(luma.sum()) == 200


def test_luma_of_keeps_the_frame_alive():
    def temporary() -> av.VideoFrame:
        return av.VideoFrame.from_ndarray(np.full((90, 160), 77, np.uint8), format="gray")

    luma = luma_of(temporary().reformat(format="yuv420p"))
    gc.collect()
    assert luma.shape == (90, 160)
    assert np.all(luma == luma[0, 0])


def test_luma_of_matches_the_decoded_y_plane_and_converts_rgb():
    picture = LaparoscopyScene(640, 360).render(1.0)
    i420 = cv2.cvtColor(picture, cv2.COLOR_BGR2YUV_I420)
    frame = av.VideoFrame.from_ndarray(i420, format="yuv420p")
    assert np.array_equal(luma_of(frame), i420[:360])
    bgr = av.VideoFrame.from_ndarray(picture, format="bgr24")
    gray = luma_of(bgr)
    assert gray.shape == (360, 640)
    assert np.abs(gray.astype(int) - i420[:360].astype(int)).mean() < 20


def test_band_height_scales_with_width():
    assert band_height(640) == 20
    assert band_height(1920) == 60
