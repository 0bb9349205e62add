"""Pan and zoom of one's own: a picture point stays the same point at every zoom."""

from __future__ import annotations

import pytest

from surgery_teach.sharing.viewport import MAX_ZOOM, Viewport


def test_zoom_one_fits_the_picture_letterboxed() -> None:
    view = Viewport(1000, 500, 800, 600)
    assert view.image_rect() == (0.0, 100.0, 800.0, 400.0)
    assert view.to_picture(400, 300) == (0.5, 0.5)
    assert view.pixel(0, 100) == (0, 0) and view.pixel(799.9, 499.9) == (999, 499)


def test_the_wheel_zooms_about_the_point_under_the_mouse() -> None:
    view = Viewport(1000, 500, 800, 600)
    before = view.to_picture(100, 250)
    zoomed = view.zoomed_at(100, 250, 4)
    assert zoomed.zoom == 4
    assert zoomed.to_picture(100, 250) == pytest.approx(before)
    assert zoomed.scale == pytest.approx(view.scale * 4)


def test_a_point_maps_to_the_same_picture_pixel_for_viewers_at_any_zoom_and_size() -> None:
    """Viewer A draws on a zoomed, panned picture; B (another window size, its own zoom)
    shows the mark at the same picture pixel."""
    a = Viewport(4000, 3000, 1280, 720).zoomed_at(300, 200, 6).panned(-150, 80)
    b = Viewport(4000, 3000, 640, 900).zoomed_at(500, 700, 2.5)
    for x, y in [(640, 360), (13, 700), (1200, 20)]:
        fx, fy = a.to_picture(x, y)
        bx, by = b.to_window(fx, fy)
        assert b.pixel(bx, by) == a.pixel(x, y)
        assert b.to_picture(bx, by) == pytest.approx((fx, fy))


def test_panning_never_loses_the_picture_and_zoom_is_bounded() -> None:
    view = Viewport(1000, 1000, 500, 500).zoomed_at(250, 250, 2).panned(10_000, -10_000)
    left, top, width, height = view.image_rect()
    assert left <= 250 <= left + width and top <= 250 <= top + height
    assert left == 0 and top + height == 500  # stopped at the edges
    assert Viewport(10, 10, 100, 100).zoomed_at(0, 0, 1000).zoom == MAX_ZOOM
    assert Viewport(10, 10, 100, 100).zoomed_at(0, 0, 0.001).zoom == 1
    assert view.fitted().image_rect() == (0.0, 0.0, 500.0, 500.0)
