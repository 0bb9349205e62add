"""Export a stretch of one recorded source as a standard MP4 anyone can play.

H.264 (``yuv420p``, libx264) with AAC audio when the case has audio, ``+faststart`` so it
plays while downloading. The clip shows what viewers saw live: a freeze-frame holds its
frame, a picture shared in the session shows as a still for its stretch
(:mod:`.shared_stills`), and the marks are burned in where and when they were shown,
drawn by :func:`surgery_teach.annotations.render.render_marks` (the live look). The file
is written under a temporary name beside ``out_path`` and renamed at the end, so a
cancelled or failed export leaves nothing behind.

A clip of an encrypted case is a plain MP4 only by choice: :func:`export_warning` gives
the warning to show, and :func:`export_clip` refuses
(:class:`~surgery_teach.errors.PlainExportError`, carrying that warning) unless called
with ``allow_plain=True`` after the user saw it.
"""

from __future__ import annotations

import errno
import fractions
import logging
import math
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import av
import numpy as np

from surgery_teach.annotations.render import render_marks
from surgery_teach.casebook.audio import SAMPLE_RATE, AudioChunk, RecordedAudio
from surgery_teach.casebook.case import RecordedCase
from surgery_teach.casebook.export_log import note_export
from surgery_teach.casebook.playback import PlaybackFrame, SourcePlayer
from surgery_teach.casebook.shared_stills import SharedStills
from surgery_teach.casebook.timeline import MarkReplay, Timeline, build_timeline
from surgery_teach.casefile.sealed_folder import folder_seal
from surgery_teach.errors import ExportDiskFullError, PlainExportError, RecordingError

logger = logging.getLogger("surgery_teach.recording")

_DISK_FULL: Final = frozenset({errno.ENOSPC, errno.EDQUOT})
_AAC_FRAME: Final = 1024
_BITS_PER_PIXEL_ESTIMATE: Final = 0.15  # generous for crf 20: only for the free-space check
_RESERVE_BYTES: Final = 16 * 1024 * 1024
PLAIN_EXPORT_WARNING: Final = (
    "This case is encrypted, but the exported clip will be a plain MP4 that anyone who "
    "gets the file can watch. Export only pictures without patient identifiers (names, "
    "ID numbers, dates of birth, faces) and keep the clip on hospital storage."
)


def export_warning(case: RecordedCase) -> str | None:
    """The warning to show before exporting from ``case``; ``None`` for a plain case."""
    return PLAIN_EXPORT_WARNING if folder_seal(case.folder) is not None else None


@dataclass(frozen=True, kw_only=True)
class ExportOptions:
    """How a clip is encoded. ``crf`` 18-28 (lower = better, bigger); ``preset`` is
    libx264's; ``audio_bitrate`` for AAC in bit/s."""

    crf: int = 20
    preset: str = "veryfast"
    audio_bitrate: int = 128_000


def export_clip(
    case: RecordedCase,
    source_label: str,
    start: float,
    end: float,
    out_path: Path,
    *,
    marks: bool = True,
    progress: Callable[[float], None] | None = None,
    cancel: threading.Event | None = None,
    timeline: Timeline | None = None,
    options: ExportOptions | None = None,
    allow_plain: bool = False,
) -> Path | None:
    """Write case seconds ``start``..``end`` of ``source_label`` to ``out_path`` (MP4).

    ``progress(fraction)`` is called from this thread as frames are written (0..1).
    Returns ``out_path``, or ``None`` if ``cancel`` was set (no file is left). Raises
    :class:`DiskFullError` (:class:`ExportDiskFullError`) if the disk fills,
    :class:`RecordingError` for anything else (bad range, unreadable source), naming the
    file. Blocking: run it on a worker thread. ``timeline`` saves rebuilding it.
    From an encrypted case: :class:`PlainExportError` (nothing written) unless
    ``allow_plain``, which the caller sets once the user accepted :func:`export_warning`.
    """
    warning = export_warning(case)
    if warning is not None and not allow_plain:
        raise PlainExportError(warning)
    if warning is not None:
        logger.info("exporting a plain clip from an encrypted case, as confirmed")
    written = ClipExport(
        case, source_label, start, end, Path(out_path), marks=marks, progress=progress,
        cancel=cancel, timeline=timeline, options=options or ExportOptions(),
    ).run()
    if written is not None:
        note_export(case_folder=case.folder, source=source_label, start=start, end=end,
                    out_path=written, from_encrypted=warning is not None)
    return written


class ClipExport:
    """One export run (what :func:`export_clip` does); :meth:`open_output` is the seam a
    test overrides to write to a disk that fills up."""

    def __init__(
        self,
        case: RecordedCase,
        label: str,
        start: float,
        end: float,
        out_path: Path,
        *,
        marks: bool,
        progress: Callable[[float], None] | None,
        cancel: threading.Event | None,
        timeline: Timeline | None,
        options: ExportOptions,
    ) -> None:
        if not (math.isfinite(start) and math.isfinite(end) and 0 <= start < end):
            raise RecordingError(f"cannot export {start:g} s to {end:g} s: pick a start "
                                 "before the end, both within the recording")
        self.case = case
        self.label = label
        self.start = start
        self.end = end
        self.out_path = out_path
        self.marks = marks
        self._progress = progress
        self._cancel = cancel or threading.Event()
        self.timeline = timeline or build_timeline(case)
        self.options = options
        self.temporary = out_path.with_name(f".{out_path.name}.part")
        self._reported_at = 0.0

    def open_output(self, path: Path) -> av.container.OutputContainer:
        """Create the MP4 at ``path`` (the temporary name)."""
        return av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"})

    def run(self) -> Path | None:
        player = SourcePlayer(self.case, self.label, start=self.timeline.start)
        try:
            return self._run(player)
        finally:
            player.close()

    def _run(self, player: SourcePlayer) -> Path | None:
        fps = player.fps
        end = min(self.end, player.end + 1 / fps)
        if end <= self.start:
            raise RecordingError(
                f"{self.label} has no picture after {self.start:.1f} s (it ends at "
                f"{player.end:.1f} s); pick an earlier start", str(self.case.folder),
            )
        count = max(1, math.ceil((end - self.start) * fps - 1e-6))
        width, height = player.width - player.width % 2, player.height - player.height % 2
        self._check_space(width, height, fps, end - self.start)
        if not self.out_path.parent.is_dir():
            raise RecordingError(f"cannot export to {self.out_path}: the folder "
                                 f"{self.out_path.parent} does not exist")
        audio = self._open_audio()
        try:
            done = self._write(player, audio, count, fps, width, height)
        except BaseException as exc:
            self.temporary.unlink(missing_ok=True)
            if isinstance(exc, OSError) and exc.errno in _DISK_FULL:
                raise ExportDiskFullError(str(self.out_path), _free(self.out_path)) from exc
            if isinstance(exc, av.FFmpegError | OSError):
                raise RecordingError(f"cannot export {self.out_path}: {exc}") from exc
            raise
        finally:
            if audio is not None:
                audio.close()
        if not done:
            self.temporary.unlink(missing_ok=True)
            return None
        try:
            os.replace(self.temporary, self.out_path)
        except OSError as exc:
            self.temporary.unlink(missing_ok=True)
            raise RecordingError(f"cannot export {self.out_path}: {exc}") from exc
        self._report(1.0, force=True)
        return self.out_path

    def _open_audio(self) -> RecordedAudio | None:
        audio = self.case.manifest.audio
        if audio is None or audio.clock_origin is None:
            return None
        try:
            return RecordedAudio(self.case, start=self.timeline.start)
        except RecordingError as exc:  # the picture still exports
            logger.warning("exporting %s without sound: %s", self.out_path.name, exc)
            return None

    def _write(
        self, player: SourcePlayer, audio: RecordedAudio | None, count: int, fps: float,
        width: int, height: int,
    ) -> bool:
        """Encode ``count`` frames (and the audio beside them); ``False`` if cancelled."""
        container = self.open_output(self.temporary)
        try:
            finished = self._encode(container, player, audio, count, fps, width, height)
        except BaseException:
            _close_quietly(container)
            raise
        if finished:
            container.close()  # writes the index and moves it to the front (faststart)
        else:
            _close_quietly(container)
        return finished

    def _encode(
        self, container: av.container.OutputContainer, player: SourcePlayer,
        audio: RecordedAudio | None, count: int, fps: float, width: int, height: int,
    ) -> bool:
        rate = fractions.Fraction(fps).limit_denominator(1001)
        video = container.add_stream("libx264", rate=rate)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"crf": str(self.options.crf), "preset": self.options.preset}
        sound = None
        if audio is not None:
            sound = container.add_stream("aac", rate=SAMPLE_RATE)
            sound.layout = "mono"
            sound.bit_rate = self.options.audio_bitrate
        samples = AudioFeed(audio, self.start, self.end) if audio is not None else None
        replay = self.timeline.mark_replay() if self.marks else None
        held: dict[float, PlaybackFrame | None] = {}
        freeze_player: SourcePlayer | None = None
        stills = SharedStills(self.case.folder, width, height)
        try:
            for index in range(count):
                if self._cancel.is_set():
                    return False
                t = self.start + index / fps
                picture = self._shared(stills, t, replay)  # it covered the video
                if picture is None:
                    interval = self.timeline.frozen_at(t, self.label)
                    if interval is None:
                        shown = player.seek(t)
                    else:
                        if interval.frame_time not in held:
                            if freeze_player is None:
                                freeze_player = SourcePlayer(
                                    self.case, self.label, start=self.timeline.start
                                )
                            held[interval.frame_time] = freeze_player.seek(
                                interval.frame_time)
                        shown = held[interval.frame_time]
                    picture = self._picture(shown, t, replay, width, height)
                frame = av.VideoFrame.from_ndarray(picture, format="bgr24")
                frame.pts, frame.time_base = index, 1 / rate
                for packet in video.encode(frame):
                    container.mux(packet)
                if samples is not None and sound is not None:
                    for chunk in samples.until(t + 1 / fps):
                        for packet in sound.encode(chunk):
                            container.mux(packet)
                self._report((index + 1) / count)
        finally:
            if freeze_player is not None:
                freeze_player.close()
        for packet in video.encode(None):
            container.mux(packet)
        if samples is not None and sound is not None:
            for chunk in samples.until(math.inf):
                for packet in sound.encode(chunk):
                    container.mux(packet)
            for packet in sound.encode(None):
                container.mux(packet)
        return True

    def _shared(self, stills: SharedStills, t: float,
                replay: MarkReplay | None) -> np.ndarray | None:
        """The shared picture with its marks if one covered the video at ``t``."""
        stretch = self.timeline.shared_at(t)
        if stretch is None:
            return None
        return stills.frame(stretch, replay.shapes(t, stretch.source) if replay else ())

    def _picture(
        self, shown: PlaybackFrame | None, t: float, replay: MarkReplay | None,
        width: int, height: int,
    ) -> np.ndarray:
        if shown is None:  # before the source's first frame
            picture = np.zeros((height, width, 3), np.uint8)
        else:
            frame = shown.frame
            if frame.width != width or frame.height != height:
                frame = frame.reformat(width=width, height=height)
            picture = np.ascontiguousarray(frame.to_ndarray(format="bgr24"))
        if replay is not None:
            # anchored marks through the pose of this very picture when it names its frame
            frame_time = shown.frame_time if shown is not None else None
            render_marks(picture, replay.shapes(t, self.label),
                         replay.places(t, self.label, frame_time))
        return picture

    def _check_space(self, width: int, height: int, fps: float, seconds: float) -> None:
        bits = width * height * fps * _BITS_PER_PIXEL_ESTIMATE + self.options.audio_bitrate
        needed = bits / 8 * seconds + _RESERVE_BYTES
        free = _free(self.out_path)
        if free is not None and free < needed:
            raise ExportDiskFullError(str(self.out_path), free)

    def _report(self, fraction: float, *, force: bool = False) -> None:
        if self._progress is None:
            return
        now = time.monotonic()
        if not force and now - self._reported_at < 0.1:
            return
        self._reported_at = now
        try:
            self._progress(min(1.0, fraction))
        except Exception:  # a broken UI callback must not break the export
            logger.exception("export progress callback failed")


class AudioFeed:
    """The case's audio from ``start`` to ``end`` as AAC-sized frames, on demand."""

    def __init__(self, audio: RecordedAudio, start: float, end: float) -> None:
        self._chunks: Iterator[AudioChunk] = audio.chunks(start, 1.0, block=_AAC_FRAME)
        self._start = start
        self._total = round((end - start) * SAMPLE_RATE)
        self._sent = 0

    def until(self, t: float) -> Iterator[av.AudioFrame]:
        """Frames up to case time ``t`` (all that are left for ``inf``)."""
        limit = self._total if math.isinf(t) else min(
            self._total, round((t - self._start) * SAMPLE_RATE)
        )
        while self._sent < limit:
            chunk = next(self._chunks, None)
            if chunk is None:
                self._sent = self._total
                return
            samples = chunk.samples[: self._total - self._sent, 0]
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(samples).reshape(1, -1), format="flt", layout="mono"
            )
            frame.sample_rate = SAMPLE_RATE
            frame.pts = self._sent
            frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
            self._sent += len(samples)
            yield frame


def _free(path: Path) -> int | None:
    try:
        return shutil.disk_usage(path.parent).free
    except OSError:
        return None


def _close_quietly(container: av.container.OutputContainer) -> None:
    try:
        container.close()
    except (av.FFmpegError, OSError):
        pass
