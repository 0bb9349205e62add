"""open_source: a spec string or a parsed spec becomes an unstarted source of its kind."""

from __future__ import annotations

import pytest

from surgery_teach.capture import (
    CameraSource,
    FileSource,
    RtspSource,
    SyntheticSource,
    open_source,
    parse_source_spec,
)


@pytest.mark.parametrize(
    ("text", "cls", "label"),
    [
        ("synthetic:640x360@15", SyntheticSource, "Synthetic laparoscope"),
        ("Лапароскоп=camera:0:1280x720", CameraSource, "Лапароскоп"),
        ("file:/videos/a.mp4", FileSource, "a.mp4"),
        ("rtsp://u:p@cam.local/s", RtspSource, "cam.local"),
    ],
)
def test_open_source_makes_an_unstarted_source_of_the_right_kind(text, cls, label):
    source = open_source(text)
    assert type(source) is cls
    assert source.label == label
    assert not source.running  # type: ignore[attr-defined]
    assert source.slot.latest() is None
    source.stop()  # stopping a never-started source is fine


def test_open_source_takes_a_parsed_spec_and_keeps_its_format():
    source = open_source(parse_source_spec("synthetic:640x360@15"))
    assert source.size == (640, 360)
    assert source.fps == 15.0
    camera = open_source("camera:2:1920x1080@30")
    assert camera.size == (1920, 1080)
    assert camera.fps == 30.0
    assert camera.spec == "camera:2"
