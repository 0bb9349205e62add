"""Cameras: missing devices are named, and an unplugged camera comes back by itself.

Physical cameras do not exist here. :class:`FakeCamera` plays the device; the source
reaches it through :class:`FakeCapture`, a :class:`CaptureDevice` like the real OpenCV one,
returned from the ``_open_capture`` seam.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from surgery_teach.capture import CameraSource, CaptureDevice, CapturedFrame, open_source
from surgery_teach.errors import CaptureDeviceError
from tests.timing import seconds


class FakeCamera:
    """The physical camera: can be unplugged, replugged, or made to fail oddly."""

    def __init__(self, width: int = 320, height: int = 240, fps: float = 30.0) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.plugged = True
        self.crash_next_read = False
        self.opens = 0
        self.releases = 0
        self.pictures = 0
        self._changed = threading.Event()

    def unplug(self) -> None:
        self.plugged = False
        self._changed.set()

    def replug(self, width: int | None = None, height: int | None = None) -> None:
        self.width = width or self.width
        self.height = height or self.height
        self.plugged = True

    def picture(self) -> np.ndarray:
        """A grey picture whose level counts pictures, so tests can tell them apart."""
        self.pictures += 1
        return np.full((self.height, self.width, 3), 60 + self.pictures % 100, np.uint8)

    def wait_frame_interval(self) -> None:
        # A real device blocks until its next picture; an unplug interrupts that.
        self._changed.wait(1 / self.fps)
        self._changed.clear()


class FakeCapture(CaptureDevice):
    """One opening of the fake camera, shaped like the OpenCV capture."""

    def __init__(self, camera: FakeCamera) -> None:
        self.camera = camera
        self.opened = camera.plugged
        self.released = False
        camera.opens += 1

    def isOpened(self) -> bool:
        return self.opened

    def read(self) -> tuple[bool, np.ndarray | None]:
        camera = self.camera
        if camera.crash_next_read:
            camera.crash_next_read = False
            raise RuntimeError("driver bug")
        if not (self.opened and camera.plugged and not self.released):
            return False, None
        camera.wait_frame_interval()
        if not camera.plugged:
            return False, None
        return True, camera.picture()

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.camera.releases += 1

    def get(self, prop_id: int) -> float:
        return self.camera.fps


class FakeCameraSource(CameraSource):
    def __init__(self, camera: FakeCamera, **options) -> None:
        super().__init__(0, retry_interval=0.2, **options)
        self.camera = camera

    def _open_capture(self) -> CaptureDevice:
        return FakeCapture(self.camera)


@pytest.fixture
def camera():
    return FakeCamera()


@pytest.fixture
def source(camera):
    started = FakeCameraSource(camera)
    started.start()
    yield started
    started.stop()


def _wait_for(source: CameraSource, after: int, *, lost: bool) -> CapturedFrame:
    """The first frame after seq ``after`` whose ``lost`` flag is as asked."""
    seq = after
    while True:
        frame = source.slot.wait_after(seq, seconds(3))
        assert frame is not None, f"no {'lost' if lost else 'real'} frame after seq {after}"
        if frame.lost == lost:
            return frame
        seq = frame.seq


def test_missing_device_path_names_the_device_and_what_was_found():
    source = open_source("camera:/dev/video99")
    with pytest.raises(CaptureDeviceError) as caught:
        source.start()
    error = caught.value
    assert error.device == "/dev/video99"
    assert error.available == []  # no cameras on this machine
    assert "/dev/video99" in str(error)
    assert "Devices found: none" in str(error)
    assert source.slot.latest() is None
    source.stop()


def test_missing_device_index_is_a_device_error_too():
    with pytest.raises(CaptureDeviceError) as caught:
        CameraSource(99).start()
    assert caught.value.device == "99"


def test_a_camera_that_does_not_open_fails_at_start(camera):
    camera.plugged = False
    source = FakeCameraSource(camera)
    with pytest.raises(CaptureDeviceError, match="did not open"):
        source.start()
    assert camera.releases == camera.opens


def test_frames_flow_as_bgr24_at_the_device_size(source, camera):
    frame = _wait_for(source, 0, lost=False)
    later = _wait_for(source, frame.seq, lost=False)
    assert later.seq > frame.seq
    image = later.image
    assert (image.format.name, image.width, image.height) == ("bgr24", 320, 240)
    assert source.size == (320, 240)
    assert source.fps == 30.0
    assert source.label == "Camera 0"


def test_unplug_shows_placeholders_and_replug_resumes_real_frames(source, camera):
    real = _wait_for(source, 0, lost=False)

    camera.unplug()
    lost = _wait_for(source, real.seq, lost=True)
    image = lost.image
    assert (image.format.name, image.width, image.height) == ("bgr24", 320, 240)
    assert image.to_ndarray().mean() < 60  # dark placeholder
    still_lost = _wait_for(source, lost.seq, lost=True)
    assert still_lost.seq > lost.seq  # placeholders keep coming while the camera is away
    assert camera.opens >= 2  # it has been retrying

    camera.replug()
    back = _wait_for(source, still_lost.seq, lost=False)
    assert back.image.to_ndarray().mean() >= 60
    again = _wait_for(source, back.seq, lost=False)
    assert again.seq > back.seq
    assert source.running


def test_a_camera_coming_back_at_another_size_keeps_the_stream_size(source, camera):
    real = _wait_for(source, 0, lost=False)
    camera.unplug()
    lost = _wait_for(source, real.seq, lost=True)
    camera.replug(width=640, height=480)
    back = _wait_for(source, lost.seq, lost=False)
    assert (back.image.width, back.image.height) == (320, 240)


def test_an_unexpected_driver_exception_does_not_kill_the_thread(source, camera):
    real = _wait_for(source, 0, lost=False)
    camera.crash_next_read = True
    recovered = _wait_for(source, _wait_for(source, real.seq, lost=True).seq, lost=False)
    assert recovered.seq > real.seq
    assert source.running


def test_stop_releases_every_opening(camera):
    source = FakeCameraSource(camera)
    source.start()
    real = _wait_for(source, 0, lost=False)
    camera.unplug()
    lost = _wait_for(source, real.seq, lost=True)
    while camera.opens < 2:  # let it retry (and fail) at least once
        lost = _wait_for(source, lost.seq, lost=True)
    source.stop()
    assert not source.running
    assert source.slot.closed
    assert camera.releases == camera.opens
