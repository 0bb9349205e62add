"""The OpenCV renderer puts each mark on the expected pixels, blended by its opacity."""

from __future__ import annotations

import numpy as np
import pytest

from surgery_teach.annotations import (
    Add,
    Arrow,
    Board,
    Ellipse,
    Line,
    Pen,
    Pointer,
    Rect,
    Text,
)
from surgery_teach.annotations.render import render_marks

W, H = 640, 360
STYLE = {"author": "p-1", "source": "Laparoscope", "colour": "#ff0000", "width": 0.01}


def black() -> np.ndarray:
    return np.zeros((H, W, 3), np.uint8)


def red_mask(frame: np.ndarray, level: int = 128) -> np.ndarray:
    """Where the picture is clearly red (OpenCV frames are BGR)."""
    b, g, r = (frame[..., i].astype(int) for i in range(3))
    return (r >= level) & (g < 60) & (b < 60)


def test_an_arrow_lies_along_its_line_and_nowhere_else() -> None:
    frame = black()
    arrow = Arrow(id="a", start=(0.25, 0.5), end=(0.75, 0.5), **STYLE)
    render_marks(frame, [(arrow, 1.0)])
    red = red_mask(frame)
    ys, xs = np.nonzero(red)
    assert abs(xs.min() - 160) <= 3 and abs(xs.max() - 480) <= 2
    assert red[180, 165:476].all()  # the shaft and the head along y = 180
    assert abs(ys.mean() - 180) < 1.0
    assert not frame[:150].any() and not frame[211:].any()  # nothing far above or below
    assert not frame[:, :150].any() and not frame[:, 490:].any()
    # The head is wider than the shaft, near the tip.
    assert red[:, 466].sum() > 2 * red[:, 300].sum()


def test_stroke_width_is_a_fraction_of_the_picture_height() -> None:
    frame = black()
    line = Line(id="l", start=(0.1, 0.5), end=(0.9, 0.5), **{**STYLE, "width": 0.02})
    render_marks(frame, [(line, 1.0)])
    thickness = red_mask(frame)[:, W // 2].sum()
    assert abs(thickness - 0.02 * H) <= 2  # 7.2 px


def test_an_ellipse_ring_passes_through_its_box_edges_and_is_hollow() -> None:
    frame = black()
    ring = Ellipse(id="e", box=(0.25, 0.25, 0.75, 0.75), **STYLE)
    render_marks(frame, [(ring, 1.0)])
    red = red_mask(frame)
    for x, y in [(160, 180), (480, 180), (320, 90), (320, 270)]:  # left, right, top, bottom
        assert red[y - 2 : y + 3, x - 2 : x + 3].any(), (x, y)
    # On the ring at 45 degrees: centre + axes * cos/sin(45).
    x45, y45 = round(320 + 160 * 0.7071), round(180 + 90 * 0.7071)
    assert red[y45 - 2 : y45 + 3, x45 - 2 : x45 + 3].any()
    assert not frame[140:220, 220:420].any()  # the middle stays clear
    assert not frame[:80].any() and not frame[:, :150].any()
    assert not red[85:96, 155:166].any()  # the box corner is off the ring


def test_a_rect_outlines_its_box() -> None:
    frame = black()
    render_marks(frame, [(Rect(id="r", box=(0.25, 0.25, 0.75, 0.75), **STYLE), 1.0)])
    red = red_mask(frame)
    assert red[90, 170:470].all() and red[270, 170:470].all()
    assert red[100:260, 160].all() and red[100:260, 480].all()
    assert not frame[100:260, 170:470].any()


def test_a_stroke_follows_its_points_and_a_single_point_is_a_dot() -> None:
    frame = black()
    stroke = Pen(id="p", points=((0.1, 0.1), (0.2, 0.1), (0.2, 0.3)), **STYLE)
    dot = Pen(id="d", points=((0.5, 0.5),), **STYLE)
    render_marks(frame, [(stroke, 1.0), (dot, 1.0)])
    red = red_mask(frame)
    assert red[36, 70:125].all() and red[40:105, 128].all()
    assert red[180, 318:323].all() and red[178:183, 320].all()  # a dot 4 px across
    assert not red[60:100, 64:120].any()  # inside the corner, off the stroke


def test_opacity_half_gives_about_half_intensity() -> None:
    frame = black()
    line = Line(id="l", start=(0.1, 0.5), end=(0.9, 0.5), **{**STYLE, "width": 0.03})
    render_marks(frame, [(line, 0.5)])
    assert frame[180, 320].tolist() == pytest.approx([0, 0, 128], abs=2)
    grey = np.full((H, W, 3), 100, np.uint8)
    render_marks(grey, [(line, 0.25)])
    assert grey[180, 320].tolist() == pytest.approx([75, 75, 139], abs=2)
    assert (grey[:150] == 100).all()  # blending leaves the rest of the picture alone


def test_pinned_marks_stay_and_live_ones_fade_then_vanish() -> None:
    board = Board()
    live = Line(id="live", start=(0.1, 0.25), end=(0.9, 0.25), created=100.0, **STYLE)
    pinned = Line(id="pin", start=(0.1, 0.75), end=(0.9, 0.75), created=0.0, pinned=True, **STYLE)
    board.apply(Add(live))
    board.apply(Add(pinned))

    def at(now: float) -> tuple[int, int]:
        frame = black()
        render_marks(frame, board.shapes("Laparoscope", now))
        return int(frame[90, 320, 2]), int(frame[270, 320, 2])

    assert at(103.0) == (255, 255)
    live_red, pinned_red = at(104.5)
    assert abs(live_red - 128) <= 2 and pinned_red == 255
    assert at(106.0) == (0, 255)


def test_a_pointer_is_a_dot_with_a_dark_rim() -> None:
    frame = np.full((H, W, 3), 255, np.uint8)
    render_marks(frame, [(Pointer(id="x", at=(0.5, 0.5), **STYLE), 1.0)])
    assert frame[180, 320].tolist() == [0, 0, 255]
    row = frame[180].astype(int).sum(axis=1)
    assert row[300:340].min() < 100  # the rim is dark on a white picture
    assert (frame[:150] == 255).all()


def _label(text: str, colour: str = "#ffff00") -> np.ndarray:
    frame = np.full((H, W, 3), 128, np.uint8)
    label = Text(id="t", anchor=(0.1, 0.5), text=text, **{**STYLE, "colour": colour})
    render_marks(frame, [(label, 1.0)])
    return frame


def test_a_label_is_drawn_above_its_anchor_with_a_dark_outline() -> None:
    frame = _label("Calot")
    yellow = (frame[..., 0] < 60) & (frame[..., 1] > 200) & (frame[..., 2] > 200)
    ys, xs = np.nonzero(yellow)
    assert ys.max() <= 182 and ys.min() >= 180 - 0.08 * H - 4  # 8 widths tall, on the baseline
    assert xs.min() >= 62 and xs.max() < 250
    dark = frame.sum(axis=2) < 150
    assert dark[150:190, 55:250].sum() > 50


def test_non_ascii_labels_are_drawn_with_a_unicode_font() -> None:
    cyrillic, cjk, placeholder = _label("Пузырь"), _label("胆囊"), _label("??????")
    for frame in (cyrillic, cjk):
        assert (frame != 128).any()
    assert not np.array_equal(cyrillic, placeholder)  # real glyphs, not question marks


def test_invisible_marks_and_bad_frames() -> None:
    frame = black()
    render_marks(frame, [(Line(id="l", start=(0, 0), end=(1, 1), **STYLE), 0.0)])
    assert not frame.any()
    with pytest.raises(ValueError, match="H x W x 3 uint8"):
        render_marks(np.zeros((H, W), np.uint8), [])
    with pytest.raises(ValueError, match="contiguous"):
        render_marks(black()[:, ::2], [])
