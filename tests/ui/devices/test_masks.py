"""Masks drawn in the device dialog: a preset and a dragged rectangle show on the preview,
are remembered for the device when OK is pressed (not on Cancel), and a session opened
afterwards covers those parts of every frame before anything else sees it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from PyQt6.QtWidgets import QApplication, QDialogButtonBox

from surgery_teach.capture import SyntheticSource
from surgery_teach.privacy import Mask, MaskStore, guard_of, preset
from surgery_teach.protocol.messages import Role
from surgery_teach.rtc.session import SessionConfig
from surgery_teach.settings import Settings
from tests.timing import seconds
from tests.ui.conftest import until
from ui.devices.setup import DeviceSetup
from ui.session.controller import SessionController

SYNTHETIC = "Laparoscope=synthetic:640x360@30"


@pytest.fixture(autouse=True)
def no_masks_before(qapp: QApplication) -> Iterator[None]:
    qapp.setQuitOnLastWindowClosed(False)
    MaskStore.load().path.unlink(missing_ok=True)
    yield
    MaskStore.load().path.unlink(missing_ok=True)
    qapp.setQuitOnLastWindowClosed(True)


def test_a_preset_and_a_dragged_mask_are_kept_for_the_device_on_ok(qtbot: Any,
                                                                    run: Any) -> None:
    async def scenario() -> None:
        dialog = DeviceSetup(Settings(sources=[SYNTHETIC]))
        qtbot.addWidget(dialog)
        dialog.resize(1180, 740)
        dialog.show()
        await until(lambda: dialog.view.frames_painted >= 3, seconds(10), "preview frames")
        editor = dialog.masks
        assert editor.device == "synthetic" and editor.masks == ()
        editor.preset_buttons["top-band"].click()
        dialog.view.pointer_pressed.emit(0.6, 0.5)  # a drag on the preview
        dialog.view.pointer_moved.emit(0.8, 0.7)
        dialog.view.pointer_released.emit(0.8, 0.7)
        dragged = editor.masks[-1]
        assert editor.masks[:-1] == preset("top-band")
        assert (dragged.x, dragged.y) == pytest.approx((0.6, 0.5))
        assert (dragged.w, dragged.h) == pytest.approx((0.2, 0.2))
        dialog.view.pointer_pressed.emit(0.1, 0.5)  # a click is not a mask
        dialog.view.pointer_released.emit(0.105, 0.5)
        assert len(editor.masks) == 2
        assert MaskStore.load().masks_for("synthetic") == ()  # nothing saved before OK
        ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
        assert ok is not None
        ok.click()
        assert MaskStore.load().masks_for("synthetic") == editor.masks

    run(scenario())


def test_cancel_keeps_the_masks_as_they_were(qtbot: Any) -> None:
    MaskStore.load().remember("synthetic", preset("bottom-band"))
    dialog = DeviceSetup(Settings(sources=[SYNTHETIC]))
    qtbot.addWidget(dialog)
    dialog.masks.show_device(SYNTHETIC)
    dialog.masks.clear()
    cancel = dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel)
    assert cancel is not None
    cancel.click()
    assert MaskStore.load().masks_for("synthetic") == preset("bottom-band")


def test_a_session_covers_the_remembered_masks_in_every_frame(qapp: QApplication) -> None:
    MaskStore.load().remember("synthetic", (Mask(0.0, 0.0, 1.0, 0.2),))
    source = SyntheticSource(640, 360, 30, label="Laparoscope")
    controller = SessionController(
        SessionConfig(server="ws://127.0.0.1:9", room="r", name="Dr Wang", role=Role.SURGEON),
        [source], speak=False)
    guard = guard_of(source)
    assert guard is not None and guard.masks == (Mask(0.0, 0.0, 1.0, 0.2),)
    source.start()
    try:
        frame = source.slot.wait_after(0, seconds(10))
        assert frame is not None
        grey = np.asarray(frame.image.to_ndarray(format="gray"))
        band, below = grey[: int(360 * 0.2) - 1], grey[int(360 * 0.2) + 2:]
        assert int(band.max()) - int(band.min()) <= 2  # covered: one colour, no stamp
        assert below.std() > 5  # the rest of the picture is there
    finally:
        source.stop()
    assert controller.curtain is not None
