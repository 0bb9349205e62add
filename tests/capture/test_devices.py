"""Listing V4L2 devices."""

from __future__ import annotations

from surgery_teach.capture import DeviceInfo, list_devices


def test_list_devices_returns_a_list_on_this_machine():
    devices = list_devices()
    assert isinstance(devices, list)
    assert all(isinstance(device, DeviceInfo) for device in devices)


def test_devices_are_read_from_sysfs_with_names_in_index_order(tmp_path):
    sysfs, dev = tmp_path / "sys", tmp_path / "dev"
    for index, name in [(10, "Capture card"), (0, "HD Webcam: HD Webcam"), (1, None)]:
        node = sysfs / f"video{index}"
        node.mkdir(parents=True)
        if name:
            (node / "name").write_text(name + "\n")
    (sysfs / "v4l-subdev0").mkdir()
    dev.mkdir()
    (dev / "video0").touch()
    (dev / "video1").touch()
    (dev / "video10").touch()
    (dev / "null").touch()
    devices = list_devices(sysfs=sysfs, dev=dev)
    assert devices == [
        DeviceInfo(str(dev / "video0"), "HD Webcam: HD Webcam", 0),
        DeviceInfo(str(dev / "video1"), str(dev / "video1"), 1),
        DeviceInfo(str(dev / "video10"), "Capture card", 10),
    ]
    assert str(devices[0]) == f"{dev / 'video0'} (HD Webcam: HD Webcam)"
    assert str(devices[1]) == str(dev / "video1")


def test_missing_sysfs_and_dev_give_an_empty_list(tmp_path):
    assert list_devices(sysfs=tmp_path / "nope", dev=tmp_path / "nada") == []
