"""How a case is recorded (:class:`RecorderOptions`) and how the recording stands.

A failure while recording becomes one :class:`RecordingError` naming the folder and the
fix (:func:`recording_failure`); a full disk is a :class:`DiskFullError`.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from surgery_teach.casefile.container import ContainerOptions
from surgery_teach.errors import DiskFullError, RecordingError
from surgery_teach.recording.writer import DiskSpaceGuard

_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


@dataclass(frozen=True, kw_only=True)
class RecorderOptions:
    """How a case is recorded.

    ``min_free_bytes``: stop (cleanly) when the disk has less than this left; 256 MiB is
    about 7 minutes of one 1080p source at 5 Mbit/s. ``max_queued_seconds``: how much
    video may wait for a slow disk before frames are dropped up to the next keyframe.
    ``events_sync_interval``: the event log is ``fsync``-ed at least this often.
    """

    container: ContainerOptions = field(default_factory=ContainerOptions)
    min_free_bytes: int = 256 * 1024 * 1024
    max_queued_seconds: float = 10.0
    events_sync_interval: float = 0.1
    space_check_interval: float = 2.0


class RecorderState(StrEnum):
    IDLE = "idle"
    RECORDING = "recording"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"  # stopped by ``error``; what was written plays


@dataclass(frozen=True)
class RecorderStatus:
    """What the UI shows: state, the error that stopped the recording, per-source counts."""

    state: RecorderState
    folder: Path
    error: RecordingError | None = None
    frames: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    bytes_written: int = 0


def recording_failure(folder: Path, exc: BaseException) -> RecordingError:
    """What to tell the user when writing into ``folder`` failed with ``exc``."""
    if isinstance(exc, RecordingError):
        return exc
    if isinstance(exc, OSError) and exc.errno in _DISK_FULL:
        return DiskFullError(str(folder), DiskSpaceGuard(folder, 0).free())
    return RecordingError(
        f"recording stopped: cannot write to {folder}: {exc}. Everything recorded "
        "until now is saved there and plays. Check the disk, then start a new recording.",
        str(folder),
    )
