"""The synthetic scope's known motion is the motion the pictures really show."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from surgery_teach.capture import open_source, parse_source_spec
from surgery_teach.capture.synthetic import LaparoscopyScene
from surgery_teach.capture.synthetic_motion import ScopeMotion, ScopeMotionSettings, frame_time

WIDTH, HEIGHT = 640, 360


def _fine(frame: np.ndarray) -> np.ndarray:
    """Tissue detail without the scope's shading (which does not move with the tissue)."""
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32)
    return grey - cv2.GaussianBlur(grey, (0, 0), 6)


def _shift(before: np.ndarray, after: np.ndarray, at: np.ndarray, half: int = 40) -> np.ndarray:
    """Phase-correlation shift of the window round ``at`` from ``before`` to ``after``."""
    x, y = int(at[0]), int(at[1])
    window = cv2.createHanningWindow((2 * half, 2 * half), cv2.CV_32F)
    a = np.ascontiguousarray(before[y - half : y + half, x - half : x + half])
    b = np.ascontiguousarray(after[y - half : y + half, x - half : x + half])
    (dx, dy), _ = cv2.phaseCorrelate(a, b, window)
    return np.array([dx, dy])


def test_motion_starts_still_and_picture_and_tissue_coordinates_round_trip():
    motion = ScopeMotion(WIDTH, HEIGHT)
    points = np.array([[100.0, 80.0], [320.0, 180.0], [500.0, 300.0]])
    assert np.allclose(motion.image_of(points, 0.0), points)
    for t in (0.7, 3.3, 9.1):
        assert np.allclose(motion.image_of(motion.scene_of(points, t), t), points, atol=1e-6)
        assert not np.allclose(motion.scene_of(points, t), points, atol=5)


def test_motion_stays_within_the_asked_ranges():
    motion = ScopeMotion(WIDTH, HEIGHT)
    times = np.arange(0, 60, 1 / 30)
    zooms = [motion.zoom(t) for t in times]
    rolls = [math.degrees(motion.roll(t)) for t in times]
    assert 0.8 - 1e-9 <= min(zooms) < 0.81 and 1.24 < max(zooms) <= 1.25 + 1e-9
    assert -15.01 < min(rolls) < -14.5 and 14.5 < max(rolls) < 15.01
    # The picture's content never pans faster than 20% of the width a second.
    centre = np.array([[WIDTH / 2, HEIGHT / 2]])
    tissue = motion.scene_of(centre, 0.0)
    track = np.array([motion.image_of(tissue, t)[0] for t in times])
    speeds = np.hypot(*np.diff(track, axis=0).T) * 30
    assert 0.1 * WIDTH < speeds.max() <= 0.2 * WIDTH * 1.25 * 1.05  # pan plus breathing
    with pytest.raises(ValueError, match="zoom"):
        ScopeMotionSettings(zoom_range=(1.2, 0.9))


@pytest.mark.parametrize("start", [1.0, 6.5, 12.0])
def test_the_rendered_tissue_moves_where_the_motion_says(start):
    motion = ScopeMotion(WIDTH, HEIGHT)
    scene = LaparoscopyScene(WIDTH, HEIGHT, motion=motion)
    step = 3 / 30
    before = _fine(scene.render(start).copy())
    after = _fine(scene.render(start + step))
    checked = 0
    for at in (np.array([230.0, 120.0]), np.array([260.0, 250.0]), np.array([400.0, 110.0])):
        predicted = motion.image_of(motion.scene_of(at[None], start), start + step)[0] - at
        measured = _shift(before, after, at)
        if np.hypot(*predicted) < 2:
            continue  # too still to tell the model from no motion at all
        checked += 1
        assert np.hypot(*(measured - predicted)) < 1.0, (at, predicted, measured)
        # ...and a still scene would not have explained it.
        assert np.hypot(*measured) > 2
    assert checked >= 2


def test_without_motion_the_scene_is_as_before():
    still = LaparoscopyScene(WIDTH, HEIGHT)
    assert still.motion is None
    assert open_source("synthetic:640x360").motion is None  # type: ignore[attr-defined]


def test_motion_is_switched_on_in_the_source_spec():
    spec = parse_source_spec("Scope=synthetic:640x360@30,motion")
    assert spec.options == ("motion",) and spec.display == "synthetic:640x360@30,motion"
    source = open_source(spec)
    assert source.spec == "synthetic:640x360@30,motion"
    assert isinstance(source.motion, ScopeMotion)  # type: ignore[attr-defined]
    assert frame_time(31, 30.0) == pytest.approx(1.0)
    with pytest.raises(Exception, match="unknown synthetic option 'wobble'"):
        parse_source_spec("synthetic:640x360,wobble")
