"""Masks remembered per device: kept across runs, keyed so a capture card keeps its masks
on another /dev/videoN, and a damaged file gives no masks instead of an error."""

from __future__ import annotations

import json
from pathlib import Path

from surgery_teach.privacy import Mask, MaskStore, MaskStyle, device_key, preset


def test_masks_are_remembered_per_device_across_loads(tmp_path: Path) -> None:
    path = tmp_path / "masks.json"
    store = MaskStore.load(path)
    tower = device_key("Laparoscope=camera:/dev/video2", device_name="Magewell USB Capture")
    store.remember(tower, (*preset("top-band"), Mask(0.7, 0.85, 0.3, 0.15, MaskStyle.BLUR)))
    store.remember("camera:0", preset("corners"))
    again = MaskStore.load(path)
    assert again.masks_for(tower) == store.masks_for(tower)
    assert len(again.masks_for("camera:0")) == 4
    assert again.masks_for("camera:9") == ()
    again.remember("camera:0", ())  # none: forgotten
    assert MaskStore.load(path).devices() == [tower]


def test_the_store_defaults_to_the_config_folder() -> None:
    # tests point SURGERY_TEACH_CONFIG_DIR at a temporary folder (tests/conftest.py)
    assert MaskStore().path.name == "privacy-masks.json"


def test_device_keys() -> None:
    assert device_key("camera:0:1920x1080@30") == "camera:0"
    assert device_key("Scope=camera:/dev/video2") == "camera:/dev/video2"
    assert device_key("camera:2", device_name="  Magewell  ") == "camera-named:Magewell"
    assert device_key("rtsp://user:secret@10.0.0.5/stream") == "rtsp://***@10.0.0.5/stream"
    assert device_key("synthetic:640x360") == "synthetic"
    assert device_key("file:/videos/a.mp4") == "file:/videos/a.mp4"


def test_a_damaged_file_gives_no_masks_and_bad_entries_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "masks.json"
    path.write_text("{not json", encoding="utf-8")
    assert MaskStore.load(path).devices() == []
    path.write_text(json.dumps({"version": 1, "devices": {
        "camera:0": [{"x": 0, "y": 0, "w": 1, "h": 0.1}],
        "camera:1": [{"x": 0, "y": 0, "w": 5, "h": 0.1}],
        "camera:2": "top-band",
    }}), encoding="utf-8")
    store = MaskStore.load(path)
    assert store.devices() == ["camera:0"]
