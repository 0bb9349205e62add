"""``--mask`` text: rectangles, presets and styles, labels with spaces, and plain errors
that name the fix."""

from __future__ import annotations

import pytest

from surgery_teach.errors import ConfigError
from surgery_teach.privacy import (
    PRESETS,
    Mask,
    MaskOption,
    MaskStyle,
    masks_for_sources,
    parse_mask_option,
    preset,
)


def test_a_labelled_rectangle() -> None:
    assert parse_mask_option("Laparoscope=0,0,1,0.12") == MaskOption(
        "Laparoscope", (Mask(0, 0, 1, 0.12),))


def test_a_label_with_spaces_and_a_style() -> None:
    option = parse_mask_option(" Left camera = 0, 0.88, 1, 0.12 , blur ")
    assert option.label == "Left camera"
    assert option.masks == (Mask(0, 0.88, 1, 0.12, MaskStyle.BLUR),)


def test_a_preset_with_a_style_and_no_label() -> None:
    option = parse_mask_option("corners,gray")
    assert option.label is None
    assert len(option.masks) == 4
    assert {m.style for m in option.masks} == {MaskStyle.GREY}


def test_every_preset_is_valid_and_inside_the_picture() -> None:
    for name in PRESETS:
        for mask in preset(name):
            assert mask.x + mask.w <= 1 + 1e-9 and mask.y + mask.h <= 1 + 1e-9


@pytest.mark.parametrize(("text", "words"), [
    ("", "it is empty"),
    ("Laparoscope=", "nothing follows"),
    ("=0,0,1,0.1", "label before '=' is empty"),
    ("Laparoscope=0,0,1", "4 numbers x,y,w,h, not 3"),
    ("Laparoscope=0,0,one,0.1", "'one' is not a number"),
    ("Laparoscope=0,0,1280,80", "fractions of the picture from 0 to 1, not pixels"),
    ("Laparoscope=0.5,0,0.6,0.1", "reaches past the picture's edge"),
    ("Laparoscope=top", "neither a preset nor a rectangle"),
])
def test_bad_masks_name_the_problem_and_list_the_forms(text: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_mask_option(text)
    message = str(caught.value)
    assert words in message
    assert "accepted mask forms" in message and "top-band" in message


def test_masks_go_to_the_sources_they_name_and_unlabelled_ones_to_all() -> None:
    options = [parse_mask_option("Laparoscope=top-band"),
               parse_mask_option("room camera=0,0,0.5,0.5"),
               parse_mask_option("bottom-band")]
    per_source = masks_for_sources(options, ["Laparoscope", "Room camera"])
    assert per_source[0] == preset("top-band") + preset("bottom-band")
    assert per_source[1] == (Mask(0, 0, 0.5, 0.5), *preset("bottom-band"))


def test_a_mask_for_a_source_that_does_not_exist_lists_those_that_do() -> None:
    with pytest.raises(ConfigError, match="the sources are 'Laparoscope', 'Room camera'"):
        masks_for_sources([parse_mask_option("Scope=top-band")], ["Laparoscope", "Room camera"])
