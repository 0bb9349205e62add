"""Video sources: cameras, capture cards, files, RTSP streams and a synthetic scene.

Pick a source with a spec string (:func:`parse_source_spec`, :func:`open_source`), call
``start()``, and read the newest frame from its ``slot``. The synthetic source stamps
every frame with its sequence number and capture time (:mod:`.stamp`).
"""

from __future__ import annotations

from surgery_teach.capture.base import CapturedFrame, FrameSlot, VideoSource
from surgery_teach.capture.camera import CameraSource, CaptureDevice, OpenCVCapture
from surgery_teach.capture.devices import DeviceInfo, list_devices
from surgery_teach.capture.lost import LostPicture
from surgery_teach.capture.open import open_source
from surgery_teach.capture.spec import (
    ACCEPTED_FORMS,
    SourceKind,
    SourceSpec,
    parse_source_spec,
)
from surgery_teach.capture.stamp import Stamp, luma_of, read_stamp, write_stamp
from surgery_teach.capture.stream import FileSource, RtspSource
from surgery_teach.capture.synthetic import LaparoscopyScene, SyntheticSource

__all__ = [
    "ACCEPTED_FORMS",
    "CameraSource",
    "CaptureDevice",
    "CapturedFrame",
    "DeviceInfo",
    "FileSource",
    "FrameSlot",
    "LaparoscopyScene",
    "LostPicture",
    "OpenCVCapture",
    "RtspSource",
    "SourceKind",
    "SourceSpec",
    "Stamp",
    "SyntheticSource",
    "VideoSource",
    "list_devices",
    "luma_of",
    "open_source",
    "parse_source_spec",
    "read_stamp",
    "write_stamp",
]
