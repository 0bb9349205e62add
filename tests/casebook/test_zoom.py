"""The window a zoomed timeline shows: the playhead stays put, nothing leaves the case."""

from __future__ import annotations

import pytest

from surgery_teach.casebook.zoom import MAX_ZOOM, MIN_SPAN, TimeWindow


def test_zooming_in_keeps_the_moment_at_its_place_on_the_bar() -> None:
    whole = TimeWindow(600.0)
    assert (whole.start, whole.span) == (0.0, 600.0)
    assert whole.fraction_of(150.0) == pytest.approx(0.25)
    closer = whole.zoomed(4.0, around=150.0)
    assert closer.span == pytest.approx(150.0)
    assert closer.fraction_of(150.0) == pytest.approx(0.25)  # the playhead did not move
    assert (closer.start, closer.end) == (pytest.approx(112.5), pytest.approx(262.5))
    assert closer.time_at(0.0) == pytest.approx(112.5) and closer.time_at(2.0) == closer.end
    back = closer.zoomed(0.25, around=150.0)
    assert (back.zoom, back.start, back.span) == (1.0, 0.0, 600.0)


def test_the_window_never_leaves_the_case_nor_zooms_past_its_limits() -> None:
    near_end = TimeWindow(600.0, zoom=10.0, start=580.0)
    assert (near_end.start, near_end.end) == (pytest.approx(540.0), pytest.approx(600.0))
    assert TimeWindow(600.0, zoom=1000.0).zoom == MAX_ZOOM
    short = TimeWindow(10.0).zoomed(100.0, around=5.0)
    assert short.span == pytest.approx(MIN_SPAN) and not short.can_zoom_in
    assert TimeWindow(600.0, zoom=0.1).zoom == 1.0
    assert TimeWindow(600.0, zoom=4, start=-50).start == 0.0
    assert TimeWindow(0.0).zoomed(2.0, around=0.0).span == 0.0  # an empty case: no error


def test_a_playhead_out_of_view_comes_into_the_middle_when_zooming() -> None:
    window = TimeWindow(600.0, zoom=4.0, start=0.0)  # shows 0..150
    moved = window.zoomed(2.0, around=400.0)
    assert moved.fraction_of(400.0) == pytest.approx(0.5)


def test_the_window_pages_along_as_the_case_plays_and_jumps_with_a_seek() -> None:
    window = TimeWindow(600.0, zoom=4.0)  # 0..150
    assert window.following(149.0) is window
    paged = window.following(151.0)
    assert (paged.start, paged.end) == (pytest.approx(150.0), pytest.approx(300.0))
    jumped = window.following(400.0)
    assert jumped.shows(400.0) and jumped.fraction_of(400.0) == pytest.approx(0.1)
    assert window.following(590.0).end == pytest.approx(600.0)  # not past the end
    assert window.scrolled(0.5).start == pytest.approx(75.0)
