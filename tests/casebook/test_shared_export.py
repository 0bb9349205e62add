"""An exported clip across shared pictures (real recorder, codecs and files): each
picture's stretch is a still of it, fitted into the clip's frame, with its mark burned
in on the picture's pixels from when it was drawn; the video before and after."""

from __future__ import annotations

import asyncio
from pathlib import Path

import av
import numpy as np
import pytest

from surgery_teach.casebook import build_timeline, export_clip, open_recording
from surgery_teach.casebook.shared_stills import fit
from tests.recording.shared_case import DICOM_BOX, PNG_BOX, SIZE, record_shared_case

pytestmark = pytest.mark.slow


def blue(bgr: np.ndarray) -> np.ndarray:
    b, g, r = (bgr[..., i].astype(int) for i in range(3))
    return (b > 150) & (r < 100) & (g < 100)


def test_a_clip_shows_each_shared_picture_as_a_still_with_its_mark(tmp_path: Path) -> None:
    recorded = asyncio.run(record_shared_case(tmp_path / "case", tmp_path))
    case = open_recording(recorded.folder)
    timeline = build_timeline(case)
    png_stretch, dicom_stretch = timeline.shares
    start = max(0.0, png_stretch.start - 0.3)
    end = (dicom_stretch.end or 0) + 0.3
    out = tmp_path / "clip.mp4"
    assert export_clip(case, "Endoscope", start, end, out) == out
    with av.open(str(out)) as container:
        frames = [(start + float(f.time), f.to_ndarray(format="bgr24"))
                  for f in container.decode(video=0)]
    assert frames[0][1].shape[:2] == (SIZE[1], SIZE[0])
    width, height = SIZE

    def frames_in(begin: float, finish: float) -> list[np.ndarray]:
        found = [bgr for t, bgr in frames if begin + 0.04 < t < finish - 0.04]
        assert found, (begin, finish)
        return found

    for stretch, share, marked, box in (
            (png_stretch, recorded.png, recorded.png_marked, PNG_BOX),
            (dicom_stretch, recorded.dicom, recorded.dicom_marked, DICOM_BOX)):
        fitted = fit(share.preview(), width, height)
        h, w = fitted.shape[:2]
        top, left = (height - h) // 2, (width - w) // 2
        drawn = timeline.case_time(marked)
        assert stretch.end is not None
        for bgr in frames_in(stretch.start, drawn):  # the picture, not yet marked
            assert not blue(bgr).any()
            region = bgr[top:top + h, left:left + w].astype(int)
            assert np.abs(region - fitted.astype(int)).mean() < 6  # the picture itself
        for bgr in frames_in(drawn, stretch.end):  # then with its mark
            ys, xs = np.nonzero(blue(bgr))
            assert len(xs) > 20
            want = (left + box[0] * w, top + box[1] * h, left + box[2] * w, top + box[3] * h)
            found = (xs.min(), ys.min(), xs.max(), ys.max())
            assert all(abs(a - b) <= 4 for a, b in zip(found, want, strict=True)), (found, want)
    # the video before and after: no picture there
    before = frames_in(start, png_stretch.start)
    after = frames_in(dicom_stretch.end, end)  # type: ignore[operator]
    png_fitted = fit(recorded.png.preview(), width, height)
    top = (height - png_fitted.shape[0]) // 2
    for bgr in (*before, *after):
        assert not blue(bgr).any()
        region = bgr[top:top + png_fitted.shape[0]].astype(int)
        assert np.abs(region - png_fitted.astype(int)).mean() > 30  # not the ECG strip
