"""The SEI naming each picture's captured frame: made by the shared encoder, read back by
FFmpeg's decoder whatever the bytes (emulation prevention), ignored by everything else."""

from __future__ import annotations

import fractions

import av
import numpy as np

from surgery_teach.capture import SyntheticSource
from surgery_teach.capture.frame_sei import read_frame_sei, sei_nal, with_frame_sei
from surgery_teach.media.encoder import EncoderSettings, SharedEncoder


def _encoder() -> av.VideoCodecContext:
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = 320, 180, "yuv420p"
    codec.time_base = fractions.Fraction(1, 90_000)
    codec.options = {"tune": "zerolatency", "preset": "superfast",
                     "x264-params": "repeat-headers=1"}
    return codec


def test_numbers_with_start_code_like_bytes_survive_the_decoder() -> None:
    """0x000001 and 0x000000 inside the payload must be escaped, or the decoder would cut
    the SEI there (and read a broken picture)."""
    encoder, decoder = _encoder(), av.CodecContext.create("h264", "r")
    names = [(0x00000100, 1.0), (0, 0.0), (1, 2.0**-30), (0x00010003, 1.7e9 + 0.001)]
    got = []
    for i, (seq, at) in enumerate(names):
        image = av.VideoFrame.from_ndarray(np.full((180, 320, 3), 40 * i, np.uint8),
                                           format="bgr24").reformat(format="yuv420p")
        image.pts = i * 3000
        for packet in encoder.encode(image):
            for frame in decoder.decode(av.Packet(with_frame_sei(bytes(packet), seq, at))):
                got.append((read_frame_sei(frame), round(float(frame.to_ndarray().mean()))))
    assert [name for name, _ in got] == names
    assert [level for _, level in got] == sorted(level for _, level in got)  # real pictures
    assert b"\x00\x00\x01" not in sei_nal(0x00000100, 0.0)[4:]


def test_a_picture_without_our_sei_names_nothing() -> None:
    encoder, decoder = _encoder(), av.CodecContext.create("h264", "r")
    image = av.VideoFrame.from_ndarray(np.zeros((180, 320, 3), np.uint8), format="bgr24")
    image = image.reformat(format="yuv420p")
    image.pts = 0
    frames = [f for p in encoder.encode(image) for f in decoder.decode(av.Packet(bytes(p)))]
    assert frames and all(read_frame_sei(f) is None for f in frames)  # x264's own SEI only


def test_the_shared_encoder_names_every_picture_with_its_captured_frame() -> None:
    source = SyntheticSource(320, 180, 30, label="Tower")
    source.start()
    encoder = SharedEncoder(source, EncoderSettings(bitrate=300_000))
    decoder = av.CodecContext.create("h264", "r")
    try:
        taken = []
        seq = 0
        while len(taken) < 10:
            captured = source.slot.wait_after(seq, timeout=10)
            assert captured is not None
            seq = captured.seq
            for encoded in encoder._encode(captured):  # the encoder thread's own step
                assert encoded.packet.pts is not None and encoded.packet.time_base
                for frame in decoder.decode(encoded.packet):
                    taken.append((read_frame_sei(frame), encoded.seq, encoded.captured_at,
                                  encoded.keyframe, encoded.packet.is_keyframe))
    finally:
        encoder.stop()
        source.stop()
    assert all(name == (seq, at) for name, seq, at, _, _ in taken), taken
    assert taken[0][3] and taken[0][4]  # the first is a keyframe, and still says so
