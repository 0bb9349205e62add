"""Layers of one source, and one viewer's track moving between them at keyframes."""

from __future__ import annotations

import asyncio
import statistics
from itertools import pairwise

import av
import numpy as np
import pytest

from bench.layers import ideally_scaled
from surgery_teach.capture import CapturedFrame, SyntheticSource, luma_of, read_stamp
from surgery_teach.media.encoder import EncoderSettings, SharedEncoder
from surgery_teach.media.ladder import Layer
from surgery_teach.media.layers import LayeredSource, LayeredTrack
from tests.timing import seconds


@pytest.fixture
async def layered():  # type: ignore[no-untyped-def]
    source = SyntheticSource(1280, 720, 30, label="Laparoscope")
    source.start()
    top = SharedEncoder(source, EncoderSettings(bitrate=2_500_000, keyframe_interval=60))
    top.start()
    layers = LayeredSource(top)
    try:
        yield layers
    finally:
        layers.stop()
        top.stop()
        source.stop()


class Viewer:
    """Decodes a track like a receiver would: one decoder across every switch."""

    def __init__(self, track: LayeredTrack) -> None:
        self.track = track
        self.decoder = av.CodecContext.create("h264", "r")
        self.pictures: list[tuple[int, int, int]] = []  # (stamp seq, width, height)
        self.timestamps: list[int] = []

    async def take(self, count: int) -> None:
        for _ in range(count):
            packet = await asyncio.wait_for(self.track.recv(), seconds(10))
            self.timestamps.append(int(packet.pts))
            for frame in self.decoder.decode(av.Packet(bytes(packet))):
                stamp = read_stamp(luma_of(frame))
                assert stamp is not None, "a picture decoded broken"
                self.pictures.append((stamp.seq, frame.width, frame.height))


def test_the_ladder_of_a_720p_source_keeps_its_shape(layered: LayeredSource) -> None:
    sizes = [(layer.width, layer.height) for layer in layered.ladder]
    assert sizes[0] == (1280, 720)
    assert all(w * 9 == h * 16 for w, h in sizes) and sizes == sorted(sizes, reverse=True)


async def test_a_viewer_moves_down_and_up_with_every_picture_decoding_in_order(
        layered: LayeredSource) -> None:
    switched: list[tuple[int, int]] = []
    viewer = Viewer(LayeredTrack(layered, (0, 1), on_switched=switched.append))
    try:
        await viewer.take(10)
        viewer.track.switch((1, 1))
        await viewer.take(20)
        viewer.track.switch((0, 1))
        await viewer.take(20)
    finally:
        viewer.track.stop()
    assert switched == [(1, 1), (0, 1)]
    seqs = [seq for seq, _, _ in viewer.pictures]
    assert seqs == sorted(set(seqs)), "stamps went backwards or repeated at a switch"
    assert viewer.timestamps == sorted(set(viewer.timestamps))
    sizes = [(w, h) for _, w, h in viewer.pictures]
    small = (layered.ladder[1].width, layered.ladder[1].height)
    assert sizes[0] == (1280, 720) and small in sizes and sizes[-1] == (1280, 720)
    # no stall: the new layer's keyframe comes at once (an urgent request), not after the
    # layer's one-a-second cap (30 pictures) or the periodic keyframe (a minute here)
    assert max(b - a for a, b in pairwise(seqs)) < 15


async def test_a_slowed_bottom_layer_sends_fewer_pictures(layered: LayeredSource) -> None:
    bottom = len(layered.ladder) - 1
    viewer = Viewer(LayeredTrack(layered, (bottom, 3)))
    try:
        await viewer.take(8)
    finally:
        viewer.track.stop()
    seqs = [seq for seq, _, _ in viewer.pictures]
    assert all(b - a >= 3 for a, b in pairwise(seqs)), seqs


async def test_a_layer_nobody_reads_makes_no_keyframes_for_the_others(
        layered: LayeredSource) -> None:
    watching = Viewer(LayeredTrack(layered, (0, 1)))
    silent = LayeredTrack(layered, (0, 1))  # a peer that never answers: never read
    try:
        await watching.take(5)
        before = layered.top.stats.keyframes
        await watching.take(60)  # two seconds
        assert layered.top.stats.keyframes == before
    finally:
        watching.track.stop()
        silent.stop()


async def test_a_lower_layer_shows_its_captured_frame_faithfully_scaled(
        layered: LayeredSource) -> None:
    """The 360p layer's decoded pictures are close to their own captured frames scaled
    down by an ideal (Lanczos) scaler: luma PSNR, median of 20 pictures, 42 dB with area
    averaging (40 with swscale's bilinear, 43 bicubic); a scaler that skips pixels
    aliases the tissue's vessels (point sampling 38 dB, swscale's fast bilinear 33)."""
    captured: dict[int, np.ndarray] = {}

    async def keep() -> None:
        seq = 0
        while (frame := await layered.top.source.slot.next_after(seq)) is not None:
            seq = frame.seq
            captured[seq] = _luma(frame)

    keeping = asyncio.ensure_future(keep())
    viewer = LayeredTrack(layered, (1, 1))
    decoder = av.CodecContext.create("h264", "r")
    pairs: list[tuple[np.ndarray, np.ndarray]] = []  # (decoded, captured), compared after
    try:
        while len(pairs) < 20:
            packet = await asyncio.wait_for(viewer.recv(), seconds(10))
            for picture in decoder.decode(av.Packet(bytes(packet))):
                seq = read_stamp(luma_of(picture)).seq  # type: ignore[union-attr]
                if seq in captured:
                    pairs.append((picture.to_ndarray()[: picture.height].astype(np.float32),
                                  captured[seq]))
    finally:
        viewer.stop()
        keeping.cancel()
    scores = []
    for decoded, original in pairs:  # the heavy part, once nothing waits on it
        reference = ideally_scaled(original, decoded.shape[1], decoded.shape[0])
        scores.append(10 * np.log10(255**2 / np.mean((decoded - reference) ** 2)))
    assert statistics.median(scores) > 39, scores


async def test_each_lower_layer_is_encoded_with_the_x264_settings_of_its_size(
        layered: LayeredSource) -> None:
    """x264 writes its options into its first picture: a 540p layer (more than 360p)
    is encoded one preset faster than the top, ultrafast, with deblocking kept on; a
    360p one at the top's superfast; both on one thread."""
    top = layered.ladder[0]
    layers = LayeredSource(layered.top, (top, Layer("540p", 960, 540, 1_000_000, 30),
                                         Layer("360p", 640, 360, 450_000, 30)))
    try:
        options = {}
        for index in (1, 2):
            encoder = layers.encoder((index, 1))
            track = encoder.subscribe()
            first = bytes(await asyncio.wait_for(track.recv(), seconds(10)))
            track.stop()
            assert b"x264 - core" in first
            text = first.split(b"options: ", 1)[1].split(b"\x00", 1)[0].decode("ascii", "replace")
            options[index] = dict(item.split("=", 1) for item in text.split() if "=" in item)
    finally:
        layers.stop()
    assert options[1]["subme"] == "0" and options[1]["deblock"].startswith("1")  # ultrafast
    assert options[2]["subme"] == "1" and options[2]["deblock"].startswith("1")  # superfast
    assert options[1]["threads"] == options[2]["threads"] == "1"


def _luma(frame: CapturedFrame) -> np.ndarray:
    return frame.image.to_ndarray()[: frame.image.height].astype(np.float32)
