"""The "source lost" placeholder picture."""

from __future__ import annotations

import numpy as np

from surgery_teach.capture import LostPicture


def test_placeholder_is_dark_says_what_happened_and_has_the_source_size():
    picture = LostPicture(640, 480, "camera:0", "Laparoscope")
    assert picture.headline == "SOURCE LOST – camera:0 – reconnecting"
    image = picture.image(lost_for=3.2)
    assert image.shape == (480, 640, 3)
    assert image.mean() < 50
    assert image.max() > 150  # the text is there and bright


def test_placeholder_frames_come_in_the_requested_format():
    picture = LostPicture(1280, 720, "rtsp://cam.local/s")
    yuv = picture.frame(0.0)
    assert (yuv.format.name, yuv.width, yuv.height) == ("yuv420p", 1280, 720)
    bgr = picture.frame(0.0, "bgr24")
    assert (bgr.format.name, bgr.width, bgr.height) == ("bgr24", 1280, 720)
    odd = LostPicture(641, 361, "camera:0").frame(1.0)
    assert (odd.format.name, odd.width, odd.height) == ("yuv420p", 641, 361)


def test_the_seconds_counter_changes_the_picture():
    picture = LostPicture(320, 240, "camera:0")
    assert not np.array_equal(picture.image(1.0), picture.image(12.0))


def test_chinese_and_russian_labels_are_drawn():
    blank = LostPicture(640, 360, "camera:0").image(1.0)
    for label in ("腹腔镜", "Лапароскоп"):
        picture = LostPicture(640, 360, "camera:0", label)
        assert picture.label == label
        assert not np.array_equal(picture.image(1.0), blank)
