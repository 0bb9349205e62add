"""Source specs: every accepted form from literal text, and clear errors for the rest."""

from __future__ import annotations

import pytest

from surgery_teach.capture import (
    ACCEPTED_FORMS,
    SourceKind,
    parse_source_spec,
)
from surgery_teach.errors import ConfigError

VALID = [
    # text, kind, target, width, height, fps, label
    ("synthetic", "synthetic", "", 1280, 720, 30.0, "Synthetic laparoscope"),
    ("  synthetic  ", "synthetic", "", 1280, 720, 30.0, "Synthetic laparoscope"),
    ("synthetic:1280x720@30", "synthetic", "", 1280, 720, 30.0, "Synthetic laparoscope"),
    ("synthetic:1920x1080", "synthetic", "", 1920, 1080, 30.0, "Synthetic laparoscope"),
    ("synthetic:640x360@25", "synthetic", "", 640, 360, 25.0, "Synthetic laparoscope"),
    ("synthetic:1280x720@29.97", "synthetic", "", 1280, 720, 29.97, "Synthetic laparoscope"),
    ("camera:0", "camera", "0", None, None, None, "Camera 0"),
    ("camera:3", "camera", "3", None, None, None, "Camera 3"),
    ("camera:/dev/video2", "camera", "/dev/video2", None, None, None, "Camera 2"),
    ("camera:0:1920x1080@30", "camera", "0", 1920, 1080, 30.0, "Camera 0"),
    ("camera:1:1280x720", "camera", "1", 1280, 720, None, "Camera 1"),
    ("camera:/dev/video2:1280x720@60", "camera", "/dev/video2", 1280, 720, 60.0, "Camera 2"),
    (
        "camera:/dev/v4l/by-path/pci-0000:00:14.0-usb-0:1:1.0-video-index0:1920x1080",
        "camera",
        "/dev/v4l/by-path/pci-0000:00:14.0-usb-0:1:1.0-video-index0",
        1920,
        1080,
        None,
        "Camera pci-0000:00:14.0-usb-0:1:1.0-video-index0",
    ),
    ("file:/videos/case 12.mp4", "file", "/videos/case 12.mp4", None, None, None, "case 12.mp4"),
    ("file:///videos/case.mkv", "file", "/videos/case.mkv", None, None, None, "case.mkv"),
    ("file:clip.mp4", "file", "clip.mp4", None, None, None, "clip.mp4"),
    (
        "rtsp://192.168.1.20:554/stream1",
        "rtsp",
        "rtsp://192.168.1.20:554/stream1",
        None,
        None,
        None,
        "192.168.1.20",
    ),
    (
        "rtsp://cam.or.local/live?channel=1&sub=0",
        "rtsp",
        "rtsp://cam.or.local/live?channel=1&sub=0",
        None,
        None,
        None,
        "cam.or.local",
    ),
    ("rtsps://cam.example/s", "rtsp", "rtsps://cam.example/s", None, None, None, "cam.example"),
    ("Laparoscope=camera:0", "camera", "0", None, None, None, "Laparoscope"),
    ("腹腔镜=camera:0:1920x1080@30", "camera", "0", 1920, 1080, 30.0, "腹腔镜"),
    ("Лапароскоп=synthetic:1920x1080", "synthetic", "", 1920, 1080, 30.0, "Лапароскоп"),
    ("Room camera = camera:/dev/video4", "camera", "/dev/video4", None, None, None, "Room camera"),
    (
        "Endo: left=rtsp://10.0.0.5/s?x=1",
        "rtsp",
        "rtsp://10.0.0.5/s?x=1",
        None,
        None,
        None,
        "Endo: left",
    ),
    ("Teaching clip=file:/v/a=b.mp4", "file", "/v/a=b.mp4", None, None, None, "Teaching clip"),
    ("SYNTHETIC:640X360", "synthetic", "", 640, 360, 30.0, "Synthetic laparoscope"),
]


@pytest.mark.parametrize(("text", "kind", "target", "width", "height", "fps", "label"), VALID)
def test_valid_specs_parse(text, kind, target, width, height, fps, label):
    spec = parse_source_spec(text)
    assert (spec.kind, spec.target, spec.width, spec.height, spec.fps, spec.label) == (
        SourceKind(kind),
        target,
        width,
        height,
        fps,
        label,
    )


def test_file_spec_expands_home(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert parse_source_spec("file:~/a.mp4").target == str(tmp_path / "a.mp4")


MALFORMED = [
    ("", "empty"),
    ("   ", "empty"),
    ("webcam", "unknown kind"),
    ("http://cam/stream", "unknown kind"),
    ("synthetic:", "is not a size"),
    ("synthetic:1280", "is not a size"),
    ("synthetic:1280x", "is not a size"),
    ("synthetic:widexhigh", "is not a size"),
    ("synthetic:1281x720", "even"),
    ("synthetic:100x100", "outside"),
    ("synthetic:9000x5000", "outside"),
    ("synthetic:1280x720@0", "frame rate"),
    ("synthetic:1280x720@500", "frame rate"),
    ("synthetic:1280x720@", "is not a size"),
    ("camera:", "index or a device path"),
    ("camera:abc", "neither an index"),
    ("camera:-1", "neither an index"),
    ("camera:999", "out of range"),
    ("camera:0:1280x720@", "neither an index"),
    ("camera:0:1279x720", "even"),
    ("file:", "path is empty"),
    ("file:   ", "path is empty"),
    ("rtsp://", "no host"),
    ("rtsp:///stream", "no host"),
    ("rtsp://host:99999/x", "malformed"),
    ("rtsp://host/my stream", "spaces"),
    ("=camera:0", "label before '=' is empty"),
    ("Laparoscope=", "empty"),
    ("Laparoscope=webcam", "unknown kind"),
    ("L" * 65 + "=camera:0", "longer than 64"),
    ("Lap\x07=camera:0", "control characters"),
]


@pytest.mark.parametrize(("text", "reason"), MALFORMED)
def test_malformed_specs_raise_config_error_listing_accepted_forms(text, reason):
    with pytest.raises(ConfigError) as caught:
        parse_source_spec(text)
    message = str(caught.value)
    assert reason in message
    assert ACCEPTED_FORMS in message
    assert repr(text.strip()) in message


def test_non_text_spec_is_a_config_error():
    with pytest.raises(ConfigError, match="must be text"):
        parse_source_spec(0)  # type: ignore[arg-type]


def test_credentials_never_appear_in_errors_or_display():
    with pytest.raises(ConfigError) as caught:
        parse_source_spec("Endo=rtsp://admin:s3cret@/stream")
    assert "s3cret" not in str(caught.value)
    assert "***@" in str(caught.value)

    spec = parse_source_spec("rtsp://admin:s3cret@cam.local:554/s")
    assert spec.target == "rtsp://admin:s3cret@cam.local:554/s"
    assert spec.display == "rtsp://***@cam.local:554/s"
    assert "s3cret" not in repr(spec)
    assert spec.label == "cam.local"


@pytest.mark.parametrize(
    ("text", "display"),
    [
        ("synthetic", "synthetic:1280x720@30"),
        ("camera:0", "camera:0"),
        ("camera:/dev/video2:1280x720@60", "camera:/dev/video2:1280x720@60"),
        ("X=file:/a/b.mp4", "file:/a/b.mp4"),
    ],
)
def test_display_is_a_spec_that_parses_back(text, display):
    spec = parse_source_spec(text)
    assert spec.display == display
    again = parse_source_spec(display)
    assert (again.kind, again.target, again.width, again.height, again.fps) == (
        spec.kind,
        spec.target,
        spec.width,
        spec.height,
        spec.fps,
    )
