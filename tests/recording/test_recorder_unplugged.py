"""A recording disk that goes away while the recording stops (a USB disk pulled out):
closing the event log fails with EIO. The stop still ends, says why, and keeps what was
written."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from surgery_teach.casefile import Manifest, Participant, RecordingState, read_manifest
from surgery_teach.casefile.events import EventLog
from surgery_teach.media.encoder import SharedEncoder
from surgery_teach.protocol.messages import Role
from surgery_teach.recording import Recorder, RecorderOptions, RecorderState, RecorderStatus
from tests.recording.helpers import decode_stamped, until
from tests.timing import seconds

CASE = Manifest(title="Appendectomy", participants=(Participant(Role.SURGEON, "Dr Lima"),))


async def test_an_event_log_that_cannot_close_fails_the_recording_but_keeps_it(
        tmp_path: Path, encoder: SharedEncoder, monkeypatch: pytest.MonkeyPatch) -> None:
    real_close = EventLog.close

    def unplugged(self: EventLog, timeout: float | None = 5.0) -> None:
        real_close(self, timeout)  # what was pending is written; then the disk is gone
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(EventLog, "close", unplugged)
    statuses: list[RecorderStatus] = []
    folder = tmp_path / "case"
    recorder = Recorder(folder, CASE, [("Endoscope", encoder)],
                        options=RecorderOptions(min_free_bytes=0), on_status=statuses.append)
    await recorder.start()
    await until(lambda: recorder.status.frames["Endoscope"] >= 30, seconds(10), "frames")

    manifest = await recorder.stop()  # does not raise

    assert recorder.state is RecorderState.FAILED and statuses[-1].state is RecorderState.FAILED
    assert recorder.error is not None and str(folder) in str(recorder.error)
    assert "Input/output error" in str(recorder.error)
    assert statuses[-1].error is recorder.error
    assert manifest.state is RecordingState.FAILED and manifest.error == str(recorder.error)
    assert read_manifest(folder) == manifest
    (entry,) = manifest.sources
    assert len(decode_stamped(folder / entry.file)) == recorder.status.frames["Endoscope"]
