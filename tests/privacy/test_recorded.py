"""What is recorded and exported from a masked source carries no masked pixel: every frame
of the (encrypted) recording and of a plain MP4 clip exported from it has the tower's
overlay band uniform and without text, while an unmasked control source keeps its text;
and the export is noted in the computer's export log."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import av
import pytest

from surgery_teach.casebook import open_recording
from surgery_teach.casebook.export import export_clip
from surgery_teach.casebook.export_log import LOG_FILE
from surgery_teach.casebook.media import open_media
from surgery_teach.casefile import Manifest
from surgery_teach.casefile.keys import recording_key
from surgery_teach.casefile.layout import new_case_folder
from surgery_teach.casefile.sealed_folder import is_sealed_file
from surgery_teach.media.encoder import EncoderSettings, SharedEncoder
from surgery_teach.privacy import preset, protect
from surgery_teach.recording import Recorder, RecorderOptions
from surgery_teach.settings import data_dir
from tests.privacy.tower import TOP_BAND, TowerSource, bright_pixels, region
from tests.recording.helpers import until
from tests.timing import seconds

pytestmark = pytest.mark.slow


async def _record(folder: Path) -> None:
    masked = TowerSource(640, 360, 15, label="Laparoscope")
    control = TowerSource(640, 360, 15, label="Room camera")
    protect(masked, preset("top-band"))
    protect(control, ())
    encoders = []
    for source in (masked, control):
        source.start()
        encoder = SharedEncoder(source, EncoderSettings(keyframe_interval=1.0))
        encoder.start()
        encoders.append(encoder)
    recorder = Recorder(folder, Manifest(title="Cholecystectomy"),
                        [(e.source.label, e) for e in encoders],
                        options=RecorderOptions(min_free_bytes=0))
    try:
        await recorder.start()
        await until(lambda: min(recorder.status.frames.values()) >= 30, seconds(20), "frames")
        await recorder.stop()
    finally:
        for encoder in encoders:
            encoder.stop()
        for source in (masked, control):
            source.stop()


def _frames(container: av.container.InputContainer) -> list[av.VideoFrame]:
    return list(container.decode(video=0))


def test_the_recording_and_an_exported_clip_carry_no_masked_pixel(tmp_path: Path) -> None:
    key = recording_key(encrypt=True, passphrase="pytest hospital passphrase")
    folder = new_case_folder(tmp_path, "case", key=key)
    asyncio.run(_record(folder))
    case = open_recording(folder)
    files = {s.label: folder / s.file for s in case.manifest.sources}
    assert is_sealed_file(files["Laparoscope"])

    with open_media(files["Laparoscope"]) as container:
        recorded = _frames(container)
    assert len(recorded) >= 30
    for frame in recorded:
        top = region(frame, TOP_BAND, inset=4)
        assert int(top.max()) - int(top.min()) <= 6 and bright_pixels(top) == 0
    with open_media(files["Room camera"]) as container:  # the check can fail: unmasked
        assert bright_pixels(region(_frames(container)[-1], TOP_BAND, inset=4)) > 100

    clip = export_clip(case, "Laparoscope", 0.0, case.manifest.duration or 2.0,
                       tmp_path / "clip.mp4", marks=False, allow_plain=True)
    assert clip is not None and clip.exists()
    with av.open(str(clip)) as container:
        exported = _frames(container)
    assert len(exported) >= 15
    for frame in exported:
        top = region(frame, TOP_BAND, inset=4)
        assert int(top.max()) - int(top.min()) <= 6 and bright_pixels(top) == 0

    # the export is noted: which case and source, where it went, that it left encryption
    noted = [json.loads(line) for line in
             (data_dir() / LOG_FILE).read_text(encoding="utf-8").splitlines()]
    mine = [n for n in noted if n["file"] == str(clip)]
    assert len(mine) == 1 and mine[0]["case"] == folder.name
    assert mine[0]["source"] == "Laparoscope" and mine[0]["from_encrypted"] is True
