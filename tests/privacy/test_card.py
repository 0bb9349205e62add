"""Privacy cards: the frame's size, a colour of their own kind, recognised even after a
real H.264 encode and decode, and never mistaken for the scene."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

from surgery_teach.privacy import CardKind, CardPainter, card_kind
from tests.privacy.tower import TowerSource


def h264_round_trip(frames: list[av.VideoFrame]) -> list[av.VideoFrame]:
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height = frames[0].width, frames[0].height
    encoder.pix_fmt = "yuv420p"
    encoder.time_base = Fraction(1, 30)
    encoder.framerate = Fraction(30)
    encoder.bit_rate = 500_000
    encoder.options = {"preset": "ultrafast", "tune": "zerolatency"}
    decoder = av.CodecContext.create("h264", "r")
    out: list[av.VideoFrame] = []
    for index, frame in enumerate([*frames, None]):
        if frame is not None:
            frame.pts = index
        for packet in encoder.encode(frame):
            out.extend(decoder.decode(packet))
    return out


def test_cards_have_the_size_and_format_asked_and_are_new_frames_each_time() -> None:
    painter = CardPainter()
    first = painter.frame(CardKind.PAUSED, 640, 360)
    second = painter.frame(CardKind.PAUSED, 640, 360)
    assert (first.width, first.height, first.format.name) == (640, 360, "yuv420p")
    assert first is not second
    odd = painter.frame(CardKind.WITHHELD, 641, 361, fmt="yuv420p")
    assert (odd.width, odd.height, odd.format.name) == (641, 361, "bgr24")


def test_each_card_is_recognised_as_its_kind_after_h264() -> None:
    painter = CardPainter()
    for kind in CardKind:
        frames = [painter.frame(kind, 1280, 720, detail="paused by Dr Wang") for _ in range(3)]
        decoded = h264_round_trip(frames)
        assert decoded and all(card_kind(frame) is kind for frame in decoded)


def test_the_scene_and_black_frames_are_not_cards() -> None:
    scene = TowerSource(640, 360, 30).render(1, 0.0, 0.0)
    assert card_kind(scene) is None
    assert card_kind(np.zeros((360, 640, 3), np.uint8)) is None
    assert card_kind(np.full((360, 640, 3), 128, np.uint8)) is None
