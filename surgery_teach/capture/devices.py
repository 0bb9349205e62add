"""Video capture devices present on this machine (Linux V4L2)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SYSFS_VIDEO = Path("/sys/class/video4linux")
DEV = Path("/dev")

_NODE_RE = re.compile(r"video(\d+)")


@dataclass(frozen=True)
class DeviceInfo:
    """One ``/dev/videoN`` node: its path, the driver's name for it, and ``N``.

    A USB camera often shows two nodes (pictures and metadata); both are listed.
    """

    path: str
    name: str
    index: int

    def __str__(self) -> str:
        return f"{self.path} ({self.name})" if self.name != self.path else self.path


def list_devices(*, sysfs: Path = SYSFS_VIDEO, dev: Path = DEV) -> list[DeviceInfo]:
    """The video devices found, ordered by index; ``[]`` when there are none.

    Names come from ``sysfs/videoN/name`` when readable. ``sysfs`` and ``dev`` exist
    for tests.
    """
    indexes: set[int] = set()
    for root in (sysfs, dev):
        try:
            entries = list(root.iterdir())
        except OSError:
            continue
        for entry in entries:
            match = _NODE_RE.fullmatch(entry.name)
            if match:
                indexes.add(int(match[1]))
    devices = []
    for index in sorted(indexes):
        path = str(dev / f"video{index}")
        try:
            name = (sysfs / f"video{index}" / "name").read_text(errors="replace").strip()
        except OSError:
            name = ""
        devices.append(DeviceInfo(path=path, name=name or path, index=index))
    return devices


def describe_devices() -> list[str]:
    """The found devices as short texts for error messages, e.g. ``/dev/video0 (HD Webcam)``."""
    return [str(device) for device in list_devices()]
