"""An exported clip read for the player: a one-source case whose frames, seeks and sound
are the clip's own; a file that is not a clip is refused naming it."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from surgery_teach.casebook import export_clip, open_recording
from surgery_teach.casebook.audio import SAMPLE_RATE, RecordedAudio
from surgery_teach.casebook.clip import CLIP_SOURCE, open_exported_clip
from surgery_teach.casebook.playback import SourcePlayer
from surgery_teach.errors import RecordingError
from tests.recording.cases import recorded_case


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    case = open_recording(recorded_case(tmp_path))
    written = export_clip(case, "Endoscope", 0.5, 2.0, tmp_path / "calot.mp4")
    assert written is not None
    return written


def _decoded(path: Path) -> list[tuple[float, np.ndarray]]:
    with av.open(str(path)) as container:
        return [(float(f.time), f.to_ndarray(format="rgb24"))
                for f in container.decode(video=0)]


def test_a_clip_plays_frame_exact_like_a_source_of_a_case(clip: Path) -> None:
    played = open_exported_clip(clip)
    frames = _decoded(clip)
    assert played.label == CLIP_SOURCE and played.case.folder == clip.parent
    assert (played.width, played.height, played.fps) == (320, 240, 30.0)
    assert played.first_picture == frames[0][0] == 0.0
    assert played.duration == pytest.approx(frames[-1][0] + 1 / 30)
    assert played.audio
    with SourcePlayer(played.case, played.label, start=played.timeline.start) as player:
        first = player.seek(played.first_picture)
        assert first is not None and np.array_equal(first.to_rgb(), frames[0][1])
        middle = player.seek(1.0 + 0.001)  # the frame on screen at 1 s is the clip's 31st
        assert middle is not None and np.array_equal(middle.to_rgb(), frames[30][1])
        following = player.next()
        assert following is not None and np.array_equal(following.to_rgb(), frames[31][1])


def test_a_clips_sound_is_its_own(clip: Path) -> None:
    with av.open(str(clip)) as container:
        seconds = sum(f.samples for f in container.decode(audio=0)) / SAMPLE_RATE
    with RecordedAudio.of_file(clip) as audio:
        played = sum(len(chunk.samples) for chunk in audio.chunks(0.0)) / SAMPLE_RATE
        half = sum(len(chunk.samples) for chunk in audio.chunks(0.75)) / SAMPLE_RATE
    assert played == pytest.approx(seconds, abs=0.03)
    assert half == pytest.approx(seconds - 0.75, abs=0.03)


def test_a_file_that_is_not_a_clip_is_refused_naming_it(tmp_path: Path, clip: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video" * 100)
    with pytest.raises(RecordingError, match=r"broken\.mp4"):
        open_exported_clip(broken)
    with pytest.raises(RecordingError, match="holds no audio"):
        RecordedAudio.of_file(tmp_path / "case" / "endoscope.mkv")
