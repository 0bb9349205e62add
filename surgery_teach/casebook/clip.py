"""An exported clip (a plain MP4, :func:`~.export.export_clip`) read for the player.

A clip is not a case folder: no manifest, no events. :func:`open_exported_clip` reads it as
a case of one source whose file is the clip, with no events, so the same
:class:`~.playback.SourcePlayer` (frame-exact seeks and steps), the player's video worker
and its clock play it; its sound is :meth:`RecordedAudio.of_file
<surgery_teach.casebook.audio.RecordedAudio.of_file>`. Case time is the clip's own media
time. Blocking (it decodes the first picture): call it on a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

import av

from surgery_teach.casebook.case import RecordedCase
from surgery_teach.casebook.media import open_media
from surgery_teach.casebook.playback import decode_tolerantly, media_end
from surgery_teach.casebook.timeline import Timeline, build_timeline
from surgery_teach.casefile.manifest import Manifest, RecordingState, SourceEntry
from surgery_teach.errors import RecordingError

CLIP_SOURCE: Final = "Clip"
"""The label of the clip's one source (what the video worker is asked to show)."""
_DEFAULT_FPS: Final = 30.0


@dataclass(frozen=True)
class PlayableClip:
    """A clip as the player sees it: ``case`` is the clip read as a one-source case
    (source :data:`CLIP_SOURCE`), ``duration`` how many seconds play, ``first_picture``
    the time of its first frame (where the player opens), ``audio`` whether it has sound."""

    path: Path
    case: RecordedCase
    timeline: Timeline
    duration: float
    first_picture: float
    audio: bool
    width: int
    height: int
    fps: float

    @property
    def label(self) -> str:
        return CLIP_SOURCE


def open_exported_clip(path: Path) -> PlayableClip:
    """Read the MP4 clip ``path`` for playback; :class:`RecordingError` naming the file if
    it cannot be opened or holds no picture."""
    try:
        container = open_media(path)
    except (av.FFmpegError, OSError) as exc:
        raise RecordingError(f"the clip {path.name} cannot be opened "
                             f"({getattr(exc, 'strerror', None) or exc})",
                             str(path.parent)) from exc
    with container:
        if not container.streams.video:
            raise RecordingError(f"the clip {path.name} holds no picture", str(path.parent))
        stream = container.streams.video[0]
        width = stream.codec_context.width
        height = stream.codec_context.height
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else _DEFAULT_FPS
        audio = bool(container.streams.audio)
        first = next(decode_tolerantly(container, stream, path), None)
    if first is None or width < 16 or height < 16:
        raise RecordingError(f"the clip {path.name} holds no picture that decodes",
                             str(path.parent))
    first_picture = max(0.0, float(first.time or 0.0))
    last = media_end(path)
    duration = max(first_picture, last if last is not None else 0.0) + 1.0 / fps
    manifest = Manifest(
        title=path.stem,
        sources=(SourceEntry(label=CLIP_SOURCE, file=path.name, width=width, height=height,
                             fps=min(max(fps, 0.1), 1000.0), clock_origin=0.0),),
        state=RecordingState.FINISHED,
    )
    case = RecordedCase(folder=path.parent, manifest=manifest, events=[], interrupted=False,
                        events_truncated=False)
    return PlayableClip(path=path, case=case, timeline=build_timeline(case, duration=duration),
                        duration=duration, first_picture=first_picture, audio=audio,
                        width=width, height=height, fps=fps)
