"""Video source specs: the one text form a user types to pick a source.

Accepted forms (see :data:`ACCEPTED_FORMS`)::

    synthetic                      synthetic:1280x720        synthetic:1920x1080@30
    camera:0                       camera:/dev/video2        camera:0:1920x1080@30
    file:/path/video.mp4           rtsp://host:554/stream    rtsps://host/stream

Any of them may carry a display label as ``LABEL=SPEC`` (``Laparoscope=camera:0``,
``腹腔镜=camera:1``). Parsing is pure; :func:`open_source` turns a spec into a (not yet
started) :class:`~surgery_teach.capture.base.VideoSource`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from surgery_teach.errors import ConfigError

ACCEPTED_FORMS = """\
accepted video source forms:
  synthetic                generated test scene, 1280x720 at 30 fps
  synthetic:WxH[@FPS]      e.g. synthetic:1920x1080@30
  synthetic:WxH[@FPS],motion   the scope moves over breathing tissue (known motion)
  camera:N[:WxH[@FPS]]     e.g. camera:0, camera:0:1920x1080@30
  camera:/dev/videoN[:WxH[@FPS]]
  file:PATH                e.g. file:/videos/case12.mp4 (loops)
  rtsp://HOST[:PORT]/PATH  or rtsps://...
  LABEL=SOURCE             names the source, e.g. Laparoscope=camera:0"""

SYNTHETIC_DEFAULT_SIZE = (1280, 720)
SYNTHETIC_DEFAULT_FPS = 30.0
SYNTHETIC_LABEL = "Synthetic laparoscope"
SYNTHETIC_OPTIONS = ("motion",)

MIN_SIZE = (160, 120)
MAX_SIZE = (7680, 4320)
MAX_FPS = 120.0
MAX_LABEL_LENGTH = 64

_SIZE_RE = re.compile(r"^(\d{1,5})x(\d{1,5})(?:@(\d{1,3}(?:\.\d{1,3})?))?$", re.IGNORECASE)
_URL_SCHEMES = ("rtsp", "rtsps")
_CREDENTIALS_RE = re.compile(r"(://)[^/\s]*@")


class SourceKind(StrEnum):
    """Where pictures come from."""

    SYNTHETIC = "synthetic"
    CAMERA = "camera"
    FILE = "file"
    RTSP = "rtsp"


@dataclass(frozen=True, repr=False)
class SourceSpec:
    """A parsed video source.

    ``target`` is the device (``"0"``, ``"/dev/video2"``), file path or full URL, empty for
    synthetic. ``width``/``height``/``fps`` are the requested (camera) or generated
    (synthetic) format, ``None`` when the device or file decides. ``label`` is what the UI
    shows for this source.
    """

    kind: SourceKind
    target: str
    width: int | None
    height: int | None
    fps: float | None
    label: str
    #: Extra words after a comma; synthetic only: ``("motion",)`` makes the scope move.
    options: tuple[str, ...] = ()

    @property
    def display(self) -> str:
        """The spec as text, safe for logs and screens (URL credentials removed)."""
        fmt = ""
        if self.width is not None and self.height is not None:
            fmt = f"{self.width}x{self.height}"
        if self.fps is not None:
            fmt += f"@{self.fps:g}"
        if self.kind is SourceKind.SYNTHETIC:
            extra = "".join(f",{option}" for option in self.options)
            return f"synthetic:{fmt}{extra}" if fmt else "synthetic"
        if self.kind is SourceKind.CAMERA:
            return f"camera:{self.target}:{fmt}" if fmt else f"camera:{self.target}"
        if self.kind is SourceKind.FILE:
            return f"file:{self.target}"
        return redact_url(self.target)

    def __repr__(self) -> str:
        return f"SourceSpec({self.display!r}, label={self.label!r})"


def parse_source_spec(text: str) -> SourceSpec:
    """Parse a source spec such as ``"Laparoscope=camera:0:1920x1080@30"``.

    Raises :class:`ConfigError` naming the problem and listing the accepted forms.
    """
    if not isinstance(text, str):
        kind = type(text).__name__
        raise ConfigError(f"video source must be text, not {kind}.\n{ACCEPTED_FORMS}")
    stripped = text.strip()
    label: str | None = None
    body = stripped
    if not _starts_like_spec(stripped) and "=" in stripped:
        label, _, body = stripped.partition("=")
        label, body = label.strip(), body.strip()
        _check_label(label, text)
    if not body:
        raise _malformed(text, "it is empty")

    lowered = body.lower()
    if lowered == "synthetic" or lowered.startswith("synthetic:"):
        spec = _parse_synthetic(body, text)
    elif lowered.startswith("camera:"):
        spec = _parse_camera(body, text)
    elif lowered.startswith("file:"):
        spec = _parse_file(body, text)
    elif lowered.split(":", 1)[0] in _URL_SCHEMES and "://" in body:
        spec = _parse_url(body, text)
    else:
        raise _malformed(text, "unknown kind of source")
    if label is not None:
        spec = SourceSpec(spec.kind, spec.target, spec.width, spec.height, spec.fps, label,
                          spec.options)
    return spec


def redact_url(text: str) -> str:
    """``text`` with any URL ``user:password@`` part replaced by ``***@``."""
    return _CREDENTIALS_RE.sub(r"\1***@", text)


def camera_label(device: int | str) -> str:
    """Default label of a camera: ``Camera 0`` for index 0 or ``/dev/video0``."""
    if isinstance(device, int):
        return f"Camera {device}"
    name = Path(device).name
    match = re.fullmatch(r"video(\d+)", name)
    return f"Camera {match[1]}" if match else f"Camera {name}"


def _starts_like_spec(text: str) -> bool:
    lowered = text.lower()
    return (
        lowered == "synthetic"
        or lowered.startswith(("synthetic:", "camera:", "file:"))
        or any(lowered.startswith(f"{scheme}://") for scheme in _URL_SCHEMES)
    )


def _check_label(label: str, text: str) -> None:
    if not label:
        raise _malformed(text, "the label before '=' is empty")
    if len(label) > MAX_LABEL_LENGTH:
        raise _malformed(text, f"the label is longer than {MAX_LABEL_LENGTH} characters")
    if any(not ch.isprintable() for ch in label):
        raise _malformed(text, "the label contains control characters")


def _parse_format(fmt: str, text: str) -> tuple[int, int, float | None]:
    match = _SIZE_RE.match(fmt)
    if not match:
        raise _malformed(text, f"{fmt!r} is not a size like 1280x720 or 1280x720@30")
    width, height = int(match[1]), int(match[2])
    fps = float(match[3]) if match[3] else None
    if not (MIN_SIZE[0] <= width <= MAX_SIZE[0] and MIN_SIZE[1] <= height <= MAX_SIZE[1]):
        raise _malformed(
            text,
            f"size {width}x{height} is outside {MIN_SIZE[0]}x{MIN_SIZE[1]}"
            f"..{MAX_SIZE[0]}x{MAX_SIZE[1]}",
        )
    if width % 2 or height % 2:
        raise _malformed(text, f"size {width}x{height} must have even width and height")
    if fps is not None and not 1 <= fps <= MAX_FPS:
        raise _malformed(text, f"frame rate {fps:g} is outside 1..{MAX_FPS:g}")
    return width, height, fps


def _parse_synthetic(body: str, text: str) -> SourceSpec:
    width, height = SYNTHETIC_DEFAULT_SIZE
    fps: float | None = SYNTHETIC_DEFAULT_FPS
    _, sep, fmt = body.partition(":")
    fmt, _, extra = fmt.partition(",")
    options = tuple(word.strip().lower() for word in extra.split(",")) if extra else ()
    unknown = [word for word in options if word not in SYNTHETIC_OPTIONS]
    if unknown:
        raise _malformed(text, f"unknown synthetic option {unknown[0]!r} (known: "
                               f"{', '.join(SYNTHETIC_OPTIONS)})")
    if sep:
        width, height, requested_fps = _parse_format(fmt.strip(), text)
        fps = requested_fps or SYNTHETIC_DEFAULT_FPS
    return SourceSpec(SourceKind.SYNTHETIC, "", width, height, fps, SYNTHETIC_LABEL, options)


def _parse_camera(body: str, text: str) -> SourceSpec:
    rest = body[len("camera:") :].strip()
    width = height = None
    fps = None
    device, sep, tail = rest.rpartition(":")
    if sep and _SIZE_RE.match(tail.strip()):
        width, height, fps = _parse_format(tail.strip(), text)
        rest = device.strip()
    if not rest:
        raise _malformed(text, "the camera needs an index or a device path, e.g. camera:0")
    if rest.isdigit():
        index = int(rest)
        if index > 255:
            raise _malformed(text, f"camera index {index} is out of range 0..255")
        return SourceSpec(SourceKind.CAMERA, str(index), width, height, fps, camera_label(index))
    if rest.startswith("/"):
        return SourceSpec(SourceKind.CAMERA, rest, width, height, fps, camera_label(rest))
    raise _malformed(
        text, f"camera {rest!r} is neither an index (camera:0) nor a path (camera:/dev/video2)"
    )


def _parse_file(body: str, text: str) -> SourceSpec:
    path = body[len("file:") :]
    if path.startswith("//"):  # file:///abs/path URL form
        path = path[2:]
    path = path.strip()
    if not path:
        raise _malformed(text, "the file path is empty")
    expanded = str(Path(path).expanduser())
    return SourceSpec(SourceKind.FILE, expanded, None, None, None, Path(expanded).name)


def _parse_url(body: str, text: str) -> SourceSpec:
    try:
        parts = urlsplit(body)
        host = parts.hostname
        _ = parts.port  # raises ValueError on a bad port
    except ValueError as exc:
        raise _malformed(text, f"the URL is malformed ({exc})") from exc
    if not host:
        raise _malformed(text, "the URL has no host, e.g. rtsp://192.168.1.20:554/stream")
    if any(ch.isspace() for ch in body):
        raise _malformed(text, "the URL contains spaces")
    return SourceSpec(SourceKind.RTSP, body, None, None, None, host)


def _malformed(text: str, reason: str) -> ConfigError:
    shown = redact_url(text.strip())
    return ConfigError(f"bad video source {shown!r}: {reason}.\n{ACCEPTED_FORMS}")
