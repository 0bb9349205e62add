"""A camera plugged in while the Devices dialog is open appears after Rescan, and the
kind of source chosen stays chosen."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from surgery_teach.capture import DeviceInfo, SourceKind, list_devices
from surgery_teach.settings import Settings
from tests.ui.devices.test_setup import make_dialog
from ui.devices.setup import DeviceSetup


def test_rescan_lists_a_camera_plugged_in_after_the_dialog_opened(
        qtbot: Any, tmp_path: Path) -> None:
    sysfs, dev = tmp_path / "sys", tmp_path / "dev"
    sysfs.mkdir()
    dev.mkdir()

    class OnThisMachine(DeviceSetup):
        def cameras(self) -> list[DeviceInfo]:
            return partial(list_devices, sysfs=sysfs, dev=dev)()

    def index_of(data: object) -> int:
        return next((i for i in range(dialog.kind.count())
                     if dialog.kind.itemData(i) == data), -1)

    dialog = make_dialog(qtbot, Settings(sources=[]), OnThisMachine)
    kinds = [dialog.kind.itemData(i) for i in range(dialog.kind.count())]
    assert not any(k is not None and k[0] is SourceKind.CAMERA for k in kinds)
    file_kind = index_of((SourceKind.FILE, ""))
    dialog.kind.setCurrentIndex(file_kind)

    (dev / "video2").touch()  # plugged in now
    dialog.rescan_button.click()
    assert index_of((SourceKind.CAMERA, str(dev / "video2"))) >= 0
    assert dialog.kind.currentData() == (SourceKind.FILE, "")  # the choice stays
    assert dialog.location.isEnabled()  # and the form still follows it
