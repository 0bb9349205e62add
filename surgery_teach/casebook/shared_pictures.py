"""The shared pictures of a recorded case: when each was shown, and its pixels.

A recorder logs ``share-start`` and ``share-stop`` around every picture shared into the
session and keeps the picture itself in the case folder
(:mod:`surgery_teach.recording.shared_pictures`). :func:`shared_stretches` reads those
events into :class:`SharedStretch` es on the case's time axis; :func:`shown_at` says which
picture the room looked at at a moment (the newest one still shared, as live), and
:func:`read_shared_picture` gives its pixels, checked against the SHA-256 the recorder
logged. Marks drawn on a picture have the source :attr:`SharedStretch.source`, so a
:class:`~.timeline.Timeline` replays them like marks on a video. Pure but for reading
the picture's file; no Qt. :func:`marked_picture` draws the marks into it, as a clip
shows it.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

import cv2
import numpy as np

from surgery_teach.annotations.board import VisibleShape
from surgery_teach.annotations.render import render_marks
from surgery_teach.casebook.problems import (
    SHARED_PICTURE_CHANGED,
    SHARED_PICTURE_MISSING,
    SHARED_PICTURE_UNREADABLE,
    Problem,
)
from surgery_teach.casefile.events import Event, EventKind
from surgery_teach.casefile.layout import is_shared_picture_file
from surgery_teach.casefile.sealed_folder import read_case_file
from surgery_teach.errors import CaseKeyError, RecordingError

logger = logging.getLogger("surgery_teach.recording")

MAX_SIDE: Final = 8192  # as a share may have (docs/protocol.md section 8.s)
_ID: Final = re.compile(r"[0-9a-f]{32}")
_SHA: Final = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class SharedStretch:
    """Picture ``share_id`` (kept as ``file``, ``width`` x ``height`` pixels) was shown
    from case time ``start`` to ``end`` (``None``: to the end of the case), shared by
    ``by`` (their display name; ``participant`` their id then)."""

    share_id: str
    file: str
    sha256: str
    width: int
    height: int
    start: float
    end: float | None
    by: str = ""
    participant: str = ""
    title: str = ""
    description: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def source(self) -> str:
        """The marks' source for this picture (docs/protocol.md section 8.s)."""
        return "share:" + self.share_id

    def covers(self, t: float) -> bool:
        return self.start <= t and (self.end is None or t < self.end)


def shared_stretches(events: Iterable[Event], start: float) -> tuple[SharedStretch, ...]:
    """The stretches of ``events`` (an event log), in case seconds from ``start`` (the
    capture-clock time of case time 0), by start. A malformed event is skipped (logged);
    a stretch whose stop was never logged lasts to the end of the case."""
    done: list[SharedStretch] = []
    shown: dict[str, SharedStretch] = {}  # share id -> its stretch under way
    for event in events:
        if event.kind is EventKind.SHARE_START:
            stretch = _stretch(event.data, event.t - start)
            if stretch is None:
                logger.warning("skipped a malformed share-start event at %.3f", event.t)
                continue
            shown.setdefault(stretch.share_id, stretch)  # (logged twice: from the first)
        elif event.kind is EventKind.SHARE_STOP:
            share_id = event.data.get("share")
            if isinstance(share_id, str):
                _end(shown, done, share_id, event.t - start)
    done.extend(shown.values())
    return tuple(sorted(done, key=lambda s: s.start))


def shown_at(stretches: Sequence[SharedStretch], t: float) -> SharedStretch | None:
    """The picture the room looked at at case time ``t``: of the pictures shared then,
    the one shared last (as the live session shows it), or ``None``."""
    current = None
    for stretch in stretches:
        if stretch.start > t:
            break
        if stretch.covers(t):
            current = stretch
    return current


def logged_pictures(events: Iterable[Event]) -> dict[str, str]:
    """The pictures ``events`` (an event log) say were shared: each file's name and the
    SHA-256 its picture had when recorded, in the order they were first shown. What a
    copy of the case (the hospital library's) must hold for its stretches to show."""
    return {s.file: s.sha256 for s in shared_stretches(events, 0.0)}


def read_shared_picture(folder: Path, stretch: SharedStretch) -> np.ndarray:
    """The picture of ``stretch`` (BGR, uint8), exactly as it was shared.

    :class:`RecordingError` names the problem (the file is missing, changed since it
    was recorded, or cannot be read), its message a :class:`~.problems.Problem` a UI
    translates; :class:`~surgery_teach.errors.CaseKeyError` if the case is encrypted
    and locked."""
    path = folder / stretch.file
    try:
        data = read_case_file(path)  # decrypted in an encrypted case
    except CaseKeyError:
        raise
    except FileNotFoundError:
        raise RecordingError(Problem(SHARED_PICTURE_MISSING, file=stretch.file),
                             str(folder)) from None
    except OSError as exc:
        raise RecordingError(Problem(SHARED_PICTURE_UNREADABLE, file=stretch.file,
                                     reason=exc.strerror or exc), str(folder)) from exc
    if hashlib.sha256(data).hexdigest() != stretch.sha256:
        raise RecordingError(Problem(SHARED_PICTURE_CHANGED, file=stretch.file), str(folder))
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if pixels is None or pixels.shape[:2] != (stretch.height, stretch.width):
        raise RecordingError(Problem(SHARED_PICTURE_CHANGED, file=stretch.file), str(folder))
    return pixels


def marked_picture(pixels: np.ndarray, marks: Iterable[VisibleShape]) -> np.ndarray:
    """A copy of ``pixels`` with ``marks`` (:meth:`~.timeline.Timeline.marks_at` of the
    stretch's source) drawn as live, at the picture's own resolution."""
    picture = np.ascontiguousarray(pixels).copy()
    render_marks(picture, marks)
    return picture


# -- inside -----------------------------------------------------------------------------------


def _stretch(data: Mapping[str, Any], t: float) -> SharedStretch | None:
    share_id, file, sha = data.get("share"), data.get("file"), data.get("sha256")
    description = data.get("description")
    if not (isinstance(share_id, str) and _ID.fullmatch(share_id)
            and isinstance(file, str) and is_shared_picture_file(file)
            and file.startswith(f"shared-{share_id}.")
            and isinstance(sha, str) and _SHA.fullmatch(sha)
            and isinstance(description, dict)):
        return None
    width, height = _side(description.get("width")), _side(description.get("height"))
    if width is None or height is None:
        return None
    title = description.get("title")
    return SharedStretch(
        share_id=share_id, file=file, sha256=sha, width=width, height=height, start=t,
        end=None, by=_text(data.get("name")), participant=_text(data.get("participant")),
        title=_text(title), description=dict(description),
    )


def _side(value: object) -> int | None:
    """A picture's side in pixels, if ``value`` is one."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_SIDE:
        return value
    return None


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _end(shown: dict[str, SharedStretch], done: list[SharedStretch], share_id: str,
         t: float) -> None:
    stretch = shown.pop(share_id, None)
    if stretch is not None:
        done.append(replace(stretch, end=max(t, stretch.start)))
