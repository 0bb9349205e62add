"""Masks cover burned-in patient text: solid masks leave one colour, blurred ones leave
nothing readable, and nothing outside a mask changes."""

from __future__ import annotations

import functools

import av
import cv2
import numpy as np
import pytest

from surgery_teach.capture import SyntheticSource
from surgery_teach.errors import ConfigError
from surgery_teach.privacy import Mask, MaskStyle, apply_masks, preset
from tests.privacy.tower import (
    BOTTOM_BAND,
    TOP_BAND,
    TowerSource,
    bright_pixels,
    draw_overlay,
    region,
)


@functools.cache
def _tower_pixels() -> np.ndarray:
    return TowerSource(1280, 720, 30).render(5, 5 / 30, 0.0).to_ndarray()


def tower_frame() -> av.VideoFrame:
    """A 1280x720 tower picture (a new frame each time; the scene is drawn once)."""
    return av.VideoFrame.from_ndarray(_tower_pixels(), format="yuv420p")


def test_the_tower_frame_really_shows_patient_text_in_its_bands() -> None:
    frame = tower_frame()
    assert bright_pixels(region(frame, TOP_BAND)) > 1000
    assert bright_pixels(region(frame, BOTTOM_BAND)) > 500


@pytest.mark.parametrize(("style", "level"), [(MaskStyle.BLACK, 0), (MaskStyle.GREY, 128)])
def test_a_solid_mask_leaves_its_band_one_colour_and_no_text(style: MaskStyle,
                                                            level: int) -> None:
    frame = tower_frame()
    masked = apply_masks(frame, [Mask(*TOP_BAND, style=style)])
    band = region(masked, TOP_BAND)
    assert band.min() == band.max()
    assert abs(int(band[0, 0]) - level) <= 3  # limited-range YUV to grey
    colour = masked.to_ndarray(format="bgr24")[: int(0.12 * 720), :]
    assert colour.reshape(-1, 3).std(axis=0).max() == 0  # no chroma from the text either


def test_outside_its_masks_the_picture_is_unchanged() -> None:
    frame = tower_frame()
    masked = apply_masks(frame, preset("top-and-bottom"))
    before, after = frame.to_ndarray(), masked.to_ndarray()
    rows = slice(int(0.12 * 720) + 1, int(0.88 * 720) - 1)
    assert np.array_equal(before[rows], after[rows])
    assert not np.array_equal(before, after)
    assert np.array_equal(frame.to_ndarray(), before)  # the original frame is untouched


def test_a_blurred_mask_leaves_no_text_and_no_fine_detail() -> None:
    frame = tower_frame()
    plain = SyntheticSource(1280, 720, 30).render(5, 5 / 30, 0.0)  # the same, without text
    masks = [Mask(*TOP_BAND, style=MaskStyle.BLUR), Mask(*BOTTOM_BAND, style="blur")]
    masked, masked_plain = apply_masks(frame, masks), apply_masks(plain, masks)
    for box in (TOP_BAND, BOTTOM_BAND):
        # what the text adds to the picture, before and after blurring
        text = cv2.absdiff(region(frame, box), region(plain, box))
        left = cv2.absdiff(region(masked, box), region(masked_plain, box))
        assert text.max() > 150  # white letters
        assert left.max() < 100  # no letter pixel survives; only faint 24-pixel blobs
        # letters are edges; cells of 24 pixels smoothed leave almost none
        assert cv2.Laplacian(left, cv2.CV_32F).var() < cv2.Laplacian(text, cv2.CV_32F).var() / 50


def test_masks_round_outwards_so_they_cover_at_least_what_they_name() -> None:
    mask = Mask(0.101, 0.0501, 0.2, 0.1)
    assert mask.box(100, 100) == (10, 5, 31, 16)
    assert Mask(0.0, 0.0, 1.0, 1.0).box(1920, 1080) == (0, 0, 1920, 1080)
    # one pixel wide at the right edge of a tiny frame still covers that pixel
    frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 255, np.uint8), format="bgr24")
    masked = apply_masks(frame, [Mask(0.99, 0.0, 0.01, 1.0)]).to_ndarray()
    assert (masked[:, 63] == 0).all() and (masked[:, 62] == 255).all()


def test_bgr_frames_from_cameras_stay_bgr_and_are_masked() -> None:
    bgr = np.full((480, 640, 3), 90, np.uint8)
    draw_overlay(bgr)
    frame = av.VideoFrame.from_ndarray(bgr, format="bgr24")
    masked = apply_masks(frame, preset("top-band"))
    assert masked.format.name == "bgr24"
    assert bright_pixels(region(masked, TOP_BAND)) == 0
    assert region(masked, TOP_BAND).max() == 0


def test_other_formats_are_masked_as_yuv420p() -> None:
    frame = tower_frame().reformat(format="rgb24")
    masked = apply_masks(frame, preset("top-band"))
    assert masked.format.name == "yuv420p"
    assert bright_pixels(region(masked, TOP_BAND)) == 0


def test_no_masks_give_the_frame_itself() -> None:
    frame = tower_frame()
    assert apply_masks(frame, []) is frame


@pytest.mark.parametrize(("values", "words"), [
    ((1.0, 0, 0.5, 0.5), "outside the picture"),
    ((-0.1, 0, 0.5, 0.5), "outside the picture"),
    ((0.6, 0, 0.5, 0.5), "reaches past the picture's edge"),
    ((0, 0, 0.001, 0.5), "too small"),
    ((0, 0, float("nan"), 0.5), "must be a number"),
])
def test_a_bad_mask_says_what_is_wrong(values: tuple[float, ...], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        Mask(*values)


def test_a_mask_goes_to_json_and_back() -> None:
    mask = Mask(0.1, 0.2, 0.3, 0.4, MaskStyle.BLUR)
    assert Mask.from_json(mask.to_json()) == mask
    with pytest.raises(ConfigError, match="lacks w, h"):
        Mask.from_json({"x": 0, "y": 0})
    with pytest.raises(ConfigError, match="style 'pink' is unknown"):
        Mask.from_json({"x": 0, "y": 0, "w": 0.5, "h": 0.5, "style": "pink"})
