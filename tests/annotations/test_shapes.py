"""Shapes check and normalise themselves, so code that builds a bad mark fails at once."""

from __future__ import annotations

import pytest

from surgery_teach.annotations import Arrow, Ellipse, Pen, Pointer, Rect, Text
from surgery_teach.errors import ProtocolError

STYLE = {"author": "p-1", "source": "Laparoscope", "colour": "#FFaa00", "width": 0.004}


def test_colour_is_kept_in_lower_case_and_numbers_as_floats() -> None:
    arrow = Arrow(id="a", start=[0, 1], end=(1, 0), frame_time=3, **STYLE)  # type: ignore[arg-type]
    assert arrow.colour == "#ffaa00"
    assert arrow.start == (0.0, 1.0) and isinstance(arrow.start, tuple)
    assert isinstance(arrow.frame_time, float)


def test_a_box_is_kept_with_its_corners_in_order() -> None:
    assert Rect(id="r", box=(0.8, 0.9, 0.2, 0.1), **STYLE).box == (0.2, 0.1, 0.8, 0.9)
    assert Ellipse(id="e", box=[0.5, 0.5, 0.5, 0.5], **STYLE).box == (0.5,) * 4  # type: ignore[arg-type]


def test_a_stroke_keeps_its_points_as_a_tuple() -> None:
    pen = Pen(id="p", points=[[0.1, 0.2], (0.3, 0.4)], **STYLE)  # type: ignore[list-item]
    assert pen.points == ((0.1, 0.2), (0.3, 0.4))
    assert hash(pen)  # frozen, hashable: safe to share between views


@pytest.mark.parametrize(
    ("build", "problem"),
    [
        (lambda: Arrow(id="", start=(0, 0), end=(1, 1), **STYLE), "'id' must not be empty"),
        (lambda: Arrow(id="a", start=(0, 0), end=(1, 1.5), **STYLE), r"'end\[1\]' must be from 0"),
        (lambda: Arrow(id="a", start=(0, float("nan")), end=(1, 1), **STYLE), "finite"),
        (lambda: Text(id="t", anchor=(0.5, 0.5), text="x" * 201, **STYLE), "'text' is 201"),
        (lambda: Text(id="t", anchor=(0.5, 0.5), text="\ud800", **STYLE), "surrogate"),
        (lambda: Pen(id="p", points=((0.5, 0.5),) * 2001, **STYLE), "'points' holds 2001"),
        (lambda: Pointer(id="x", at=(0.5, 0.5), pinned=True, **STYLE), "'pinned' must be false"),
        (
            lambda: Rect(id="r", box=(0, 0, 1), **STYLE),  # type: ignore[arg-type]
            "'box' must be",
        ),
        (
            lambda: Arrow(id="a", start=(0, 0), end=(1, 1), **{**STYLE, "width": 0.0009}),
            "'width' must be from 0.001 to 0.05",
        ),
        (
            lambda: Arrow(id="a", start=(0, 0), end=(1, 1), **{**STYLE, "colour": "#fff"}),
            "'colour' must be a colour",
        ),
        (
            lambda: Arrow(id="a", start=(0, 0), end=(1, 1), created=-1.0, **STYLE),
            "'created' must not be negative",
        ),
    ],
)
def test_bad_values_are_refused_with_the_field_named(build: object, problem: str) -> None:
    with pytest.raises(ProtocolError, match=problem) as caught:
        build()  # type: ignore[operator]
    assert caught.value.code == "bad-annotation"


def test_label_errors_do_not_quote_the_text() -> None:
    with pytest.raises(ProtocolError) as caught:
        Text(id="t", anchor=(0.5, 0.5), text="Mrs Smith, 54\n", **STYLE)
    assert "Smith" not in str(caught.value)
