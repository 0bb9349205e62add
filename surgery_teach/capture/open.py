"""Open the video source a spec names: the one place that knows every kind of source.

:mod:`.spec` only parses spec strings; the source modules import it for labels, and this
module imports them, so nothing imports back.
"""

from __future__ import annotations

from surgery_teach.capture.base import VideoSource
from surgery_teach.capture.camera import CameraSource
from surgery_teach.capture.spec import (
    SYNTHETIC_DEFAULT_FPS,
    SYNTHETIC_DEFAULT_SIZE,
    SourceKind,
    SourceSpec,
    parse_source_spec,
)
from surgery_teach.capture.stream import FileSource, RtspSource
from surgery_teach.capture.synthetic import SyntheticSource


def open_source(source: str | SourceSpec) -> VideoSource:
    """Make the video source a spec names; call ``start()`` on it to open the device."""
    spec = parse_source_spec(source) if isinstance(source, str) else source
    if spec.kind is SourceKind.SYNTHETIC:
        width, height = SYNTHETIC_DEFAULT_SIZE
        return SyntheticSource(
            width=spec.width or width,
            height=spec.height or height,
            fps=spec.fps or SYNTHETIC_DEFAULT_FPS,
            label=spec.label,
            motion="motion" in spec.options,
        )
    if spec.kind is SourceKind.CAMERA:
        device: int | str = int(spec.target) if spec.target.isdigit() else spec.target
        return CameraSource(
            device, width=spec.width, height=spec.height, fps=spec.fps, label=spec.label
        )
    if spec.kind is SourceKind.FILE:
        return FileSource(spec.target, label=spec.label)
    return RtspSource(spec.target, label=spec.label)
