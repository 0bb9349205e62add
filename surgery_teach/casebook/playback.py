"""Frame-exact playback of one recorded video source on the case's time axis.

A source's file starts at its first keyframe, captured at the file's ``clock_origin``;
a frame at media time ``m`` therefore sits at case time ``clock_origin + m - start``.
:class:`SourcePlayer` decodes from the keyframe before a seek target up to the frame that
was on screen at that moment, then steps forward frame by frame. Use one player from one
worker thread (PyAV decoders are not shared between threads).

A killed recording's file may end in a half-written cluster and has no index (cues):
playback stops at the last whole frame, and seeking reads the file from the start to
find keyframes, which is slower but exact.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import av
import numpy as np

from surgery_teach.capture.frame_sei import read_frame_sei
from surgery_teach.casebook.case import RecordedCase
from surgery_teach.casebook.media import media_exists, open_media
from surgery_teach.casebook.timeline import case_start
from surgery_teach.errors import RecordingError

logger = logging.getLogger("surgery_teach.recording")

_EPSILON: Final = 0.0005  # Matroska keeps milliseconds; a frame at t counts as shown at t
_FORWARD_LIMIT: Final = 1.5  # decode forward instead of seeking when the target is this close
_SEEK_BACK_STEPS: Final = (0.0, 1.0, 4.0, 16.0, math.inf)  # if a seek lands after the target


@dataclass(frozen=True)
class PlaybackFrame:
    """A decoded picture and where it sits: ``time`` in case seconds, ``media_time`` in
    the file. ``frame`` is PyAV's; :meth:`to_rgb` / :meth:`to_bgr` give numpy arrays."""

    time: float
    media_time: float
    frame: av.VideoFrame

    @property
    def frame_time(self) -> float | None:
        """The capture time of this picture as its SEI names it (the surgeon's clock, as
        live poses of anchored marks are tagged), or None in a recording without it."""
        named = read_frame_sei(self.frame)
        return None if named is None else named[1]

    def to_rgb(self) -> np.ndarray:
        return self.frame.to_ndarray(format="rgb24")

    def to_bgr(self) -> np.ndarray:
        return self.frame.to_ndarray(format="bgr24")


def still_plays(case: RecordedCase, *, besides: str | None = None) -> str:
    """"Still plays: Room camera, the audio." for an error message (files present only)."""
    names = [
        s.label for s in case.manifest.sources
        if s.label != besides and s.clock_origin is not None and media_exists(case.folder / s.file)
    ]
    audio = case.manifest.audio
    if audio is not None and audio.clock_origin is not None and media_exists(
            case.folder / audio.file):
        names.append("the audio")
    return f"Still plays: {', '.join(names)}." if names else "Nothing else in this case plays."


def media_end(path: Path) -> float | None:
    """Media time (s) of the last frame in the video file ``path`` that demuxes whole;
    ``None`` if it has none or cannot be opened. Reads the file's tail (the whole file
    when a crash left it without an index)."""
    try:
        container = open_media(path)
    except (av.FFmpegError, OSError):
        return None
    with container:
        if not container.streams.video:
            return None
        stream = container.streams.video[0]
        last: float | None = None
        try:
            container.seek(2**62, stream=stream, backward=True)
        except av.FFmpegError:
            container.seek(0, stream=stream)
        try:
            for packet in container.demux(stream):
                if packet.pts is not None and packet.size:
                    time = float(packet.pts * stream.time_base)
                    last = time if last is None else max(last, time)
        except av.FFmpegError:
            pass  # a half-written tail: everything before it counts
        return last


class SourcePlayer:
    """Decodes ``label``'s file of ``case`` for playback; one thread only.

    Raises :class:`RecordingError` naming the file and what else still plays when the
    file is missing or cannot be opened. A damaged stretch inside the file is skipped; a
    file cut short (crash, full disk) simply ends early: :attr:`end` says where.
    ``start`` is the capture-clock time of case time 0 (default :func:`case_start`).
    """

    def __init__(self, case: RecordedCase, label: str, *, start: float | None = None) -> None:
        try:
            entry = case.manifest.source(label)
        except KeyError:
            labels = ", ".join(s.label for s in case.manifest.sources) or "none"
            raise RecordingError(
                f"this case has no source {label!r}; its sources: {labels}", str(case.folder)
            ) from None
        self.label = label
        self.path = case.folder / entry.file
        self._case = case
        if entry.clock_origin is None or not media_exists(self.path):
            raise self._error("was never recorded (the source sent no picture)")
        self.origin = entry.clock_origin - (case_start(case) if start is None else start)
        self.fps = entry.fps
        try:
            self._container = open_media(self.path)
        except (av.FFmpegError, OSError) as exc:
            raise self._error(f"is damaged and cannot be opened ({_reason(exc)})") from exc
        if not self._container.streams.video:
            self._container.close()
            raise self._error("holds no video")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        context = self._stream.codec_context
        self.width = context.width or entry.width
        self.height = context.height or entry.height
        self._frames: Iterator[av.VideoFrame] | None = None
        self._current: PlaybackFrame | None = None  # last returned
        self._ahead: PlaybackFrame | None = None  # decoded after it, not yet returned
        self._end: float | None = None
        self._closed = False

    def _error(self, problem: str) -> RecordingError:
        others = still_plays(self._case, besides=self.label)
        return RecordingError(
            f"{self.path.name} ({self.label}) {problem}. {others}", str(self._case.folder)
        )

    # -- time ---------------------------------------------------------------------------------

    @property
    def end(self) -> float:
        """Case time of the last frame that demuxes whole (measured once, on first use)."""
        if self._end is None:
            last = media_end(self.path)
            self._end = self.origin + (last if last is not None else 0.0)
        return self._end

    def case_time(self, media_time: float) -> float:
        """Case seconds of a media time in this file."""
        return self.origin + media_time

    def media_time(self, t: float) -> float:
        """Media time in this file of case time ``t`` (negative before the file starts)."""
        return t - self.origin

    # -- reading ------------------------------------------------------------------------------

    def seek(self, t: float) -> PlaybackFrame | None:
        """The frame on screen at case time ``t``: the last one whose time is <= ``t``.
        ``None`` before the source's first frame; the last frame after its end."""
        self._check_open()
        target = t - self.origin + _EPSILON
        if target < 0:  # nothing on screen yet; next() gives the first frame
            self._frames = None
            self._current = self._ahead = None
            return None
        current = self._current
        if current is not None and current.media_time <= target:
            if self._ahead is not None and self._ahead.media_time > target:
                return current  # still on screen
            if target - current.media_time <= _FORWARD_LIMIT:
                return self._forward_to(target)
        for back in _SEEK_BACK_STEPS:
            self._restart(max(0.0, target - back))
            first = self._decode_one()
            if first is None and target - back > 0:
                continue  # landed past the last frame: from further back
            if first is None or first.media_time <= target or target - back <= 0:
                self._current = first
                if first is None or first.media_time > target:
                    return first  # nothing decodes, or only later than the target
                return self._forward_to(target)
        return None

    def next(self) -> PlaybackFrame | None:
        """The frame after the one last returned (the first frame if none yet); ``None``
        at the end of the file."""
        self._check_open()
        if self._frames is None:
            self._restart(0.0)
        following = self._ahead if self._ahead is not None else self._decode_one()
        self._ahead = None
        if following is not None:
            self._current = following
        return following

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._frames = None
            self._container.close()

    def __enter__(self) -> SourcePlayer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- decoding -----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RecordingError(f"the player for {self.path.name} is closed")

    def _forward_to(self, target: float) -> PlaybackFrame | None:
        """Step from the current frame to the last one at or before ``target``."""
        while True:
            following = self._ahead if self._ahead is not None else self._decode_one()
            self._ahead = following
            if following is None or following.media_time > target:
                return self._current
            self._current, self._ahead = following, None

    def _restart(self, media_time: float) -> None:
        """Position the demuxer at the keyframe at or before ``media_time``."""
        if media_time <= 0:
            self._reopen()  # a fresh demuxer starts at the very first packet
        else:
            try:
                self._container.seek(int(media_time / self._stream.time_base),
                                     stream=self._stream, backward=True)
            except av.FFmpegError:
                self._reopen()
        self._frames = self._decode()
        self._current = self._ahead = None

    def _reopen(self) -> None:
        """Start again from the top of the file (a seek failed, or the start was asked)."""
        self._container.close()
        try:
            self._container = open_media(self.path)
        except (av.FFmpegError, OSError) as exc:
            raise self._error(f"can no longer be read ({_reason(exc)})") from exc
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"

    def _decode_one(self) -> PlaybackFrame | None:
        assert self._frames is not None
        frame = next(self._frames, None)
        if frame is None or frame.time is None:
            return None
        media_time = float(frame.time)
        return PlaybackFrame(self.origin + media_time, media_time, frame)

    def _decode(self) -> Iterator[av.VideoFrame]:
        return decode_tolerantly(self._container, self._stream, self.path)  # type: ignore[return-value]


def decode_tolerantly(
    container: av.container.InputContainer, stream: av.stream.Stream, path: Path
) -> Iterator[av.VideoFrame | av.AudioFrame]:
    """Decode ``stream`` to its end, or to a half-written tail (a killed recording), where
    it stops; a damaged packet in the middle is skipped. Both are logged, never raised."""
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.FFmpegError as exc:  # a half-written tail: the file ends here
            logger.info("%s ends in a damaged stretch: %s", path.name, _reason(exc))
            return
        try:
            yield from packet.decode()
        except av.FFmpegError as exc:
            logger.warning("%s: skipped a damaged packet: %s", path.name, _reason(exc))


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)
