"""Shared pictures recorded from a live session with real parts: the signaling server,
aiortc peers on 127.0.0.1, x264. A mentor shares a PNG, then a DICOM slice written with
patient tags set, and draws a box on each; the mentor's own recording (plain) and the
surgeon's (encrypted, of what it received) both keep each picture as it was sent and
replay it with its box on the same picture pixels."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from signaling_server.server import ServerConfig, start_server
from surgery_teach.annotations import Add, Rect
from surgery_teach.capture import SyntheticSource
from surgery_teach.casebook import open_case, open_recording
from surgery_teach.casebook.shared_pictures import marked_picture, read_shared_picture
from surgery_teach.casebook.timeline import build_timeline
from surgery_teach.casefile import EventKind
from surgery_teach.casefile.keys import KeyRing, random_key
from surgery_teach.casefile.sealed_folder import is_sealed_file, read_case_file
from surgery_teach.media.encoder import EncoderSettings, SharedEncoder
from surgery_teach.protocol.messages import Role
from surgery_teach.recording.live import SessionRecording
from surgery_teach.rtc.session import LiveSession, SessionConfig
from surgery_teach.sharing import open_file, prepare_share
from tests.recording.helpers import until
from tests.recording.shared_case import BLUE, DICOM_BOX, PNG_BOX, ct_slice, ecg_strip
from tests.recording.test_shared_pictures import assert_box_at, patient_words
from tests.timing import seconds

pytestmark = pytest.mark.slow



def _config(url: str, name: str, role: Role) -> SessionConfig:
    return SessionConfig(server=url, room="consult", name=name, role=role)


async def test_a_live_session_records_each_shared_picture_and_its_marks(
        tmp_path: Path, ring: KeyRing) -> None:
    png = prepare_share(open_file(ecg_strip(tmp_path / "ecg.png")), title="ECG, lead II")
    dicom = prepare_share(open_file(ct_slice(tmp_path / "IM0001.dcm")), title="CT chest")
    server = await start_server(ServerConfig(port=0))
    source = SyntheticSource(320, 240, 15, label="Laparoscope")
    source.start()
    encoder = SharedEncoder(source, EncoderSettings(keyframe_interval=1))
    sessions: list[LiveSession] = []
    marked: dict[str, float] = {}
    try:
        surgeon = await LiveSession.start(_config(server.url, "Dr Wang", Role.SURGEON),
                                          [encoder])
        sessions.append(surgeon)
        mentor = await LiveSession.start(_config(server.url, "Dr Li", Role.MENTOR))
        sessions.append(mentor)
        received = SessionRecording(tmp_path / "surgeon", title="Consultation",
                                    encoders=[encoder], key=ring.add(random_key()))
        received_folder = await received.start(surgeon)
        own = SessionRecording(tmp_path / "mentor", title="Consultation")
        own_folder = await own.start(mentor)
        await until(lambda: own.recorder is not None
                    and own.recorder.status.frames.get("Laparoscope", 0) >= 10,
                    seconds(30), "the surgeon's video in the mentor's recording")

        for number, (share, box) in enumerate(((png, PNG_BOX), (dicom, DICOM_BOX)), 1):
            mentor.share_picture(share)  # the second replaces the first
            await until(lambda share=share: _viewing(surgeon, mentor) == share.share_id,
                        seconds(30), "the picture at the surgeon")
            source_name = "share:" + share.share_id
            await mentor.annotate(Add(Rect(
                id=f"{mentor.me.id}:{number}", author=mentor.me.id, source=source_name,
                colour=BLUE, width=0.01, box=box, pinned=True)))
            await until(lambda s=source_name: bool(surgeon.board.shapes(s, 0)), seconds(10),
                        "the box at the surgeon")
            marked[share.share_id] = time.time()
            await _more_video(own, 8)
        mentor.stop_sharing()
        await until(lambda: _viewing(surgeon, mentor) is None, seconds(10),
                    "the sharing stopped at the surgeon")
        await _more_video(own, 8)
        await own.stop()
        await received.stop()
    finally:
        for session in sessions:
            await session.close()
        encoder.stop()
        source.stop()
        await server.close()

    for folder in (own_folder, received_folder):
        case = open_recording(folder)
        starts = [e for e in case.events if e.kind is EventKind.SHARE_START]
        assert [e.data["share"] for e in starts] == [png.share_id, dicom.share_id]
        assert {(e.data["name"], e.data["role"]) for e in starts} == {("Dr Li", "mentor")}
        assert [e.data["share"] for e in case.events if e.kind is EventKind.SHARE_STOP] == [
            png.share_id, dicom.share_id]
        for share in (png, dicom):
            path = folder / f"shared-{share.share_id}.png"
            assert read_case_file(path) == share.picture  # as sent, byte for byte
            assert is_sealed_file(path) is (folder == received_folder)
        for path in folder.iterdir():
            plain = read_case_file(path) if path.name != "sealed.json" else path.read_bytes()
            for word in patient_words():
                assert word not in plain, f"{word!r} in {path.name}"
        timeline = build_timeline(case)
        assert [s.share_id for s in timeline.shares] == [png.share_id, dicom.share_id]
        for share, box in ((png, PNG_BOX), (dicom, DICOM_BOX)):
            t = timeline.case_time(marked[share.share_id]) + 0.1
            stretch = timeline.shared_at(t)
            assert stretch is not None and stretch.share_id == share.share_id
            assert stretch.by == "Dr Li"
            pixels = read_shared_picture(folder, stretch)
            assert np.array_equal(pixels, share.preview())
            assert_box_at(marked_picture(pixels, timeline.marks_at(t, stretch.source)), box)
        last = timeline.shares[-1]
        assert last.end is not None and timeline.shared_at(last.end + 0.1) is None
        assert not [p for p in open_case(folder).problems if "shared-" in p]  # (no sound here)


def _viewing(viewer: LiveSession, sharer: LiveSession) -> str | None:
    held = viewer.shares.viewing.get(sharer.me.id)
    return None if held is None else held.share_id


async def _more_video(recording: SessionRecording, frames: int) -> None:
    """Until ``frames`` more pictures of the surgeon's video are in ``recording``."""
    assert recording.recorder is not None
    status = recording.recorder.status
    now = status.frames["Laparoscope"]
    await until(lambda: recording.recorder.status.frames["Laparoscope"] >= now + frames,  # type: ignore[union-attr]
                seconds(10), "more video")
