"""Shared pictures in a recording, with real files and codecs: each picture kept exactly
as it was sent (de-identified, sealed in an encrypted case), its stretch in the event
log, its marks tied to it, and the timeline showing it with its marks in the stretch."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from surgery_teach.annotations.render import bgr_colour
from surgery_teach.casebook import open_case, open_recording
from surgery_teach.casebook.problems import CHUNKS_TAMPERED
from surgery_teach.casebook.shared_pictures import marked_picture, read_shared_picture
from surgery_teach.casebook.timeline import build_timeline
from surgery_teach.casefile import EventKind, Manifest
from surgery_teach.casefile.keys import KeyRing, random_key
from surgery_teach.casefile.layout import new_case_folder
from surgery_teach.casefile.sealed_folder import read_case_file
from surgery_teach.casefile.sealing import HEADER_SIZE, OVERHEAD, SealedReader
from surgery_teach.errors import CaseLockedError, RecordingError
from surgery_teach.recording import Recorder
from surgery_teach.recording.shared_pictures import SharedPictureLog
from surgery_teach.sharing import open_file, prepare_share
from tests.recording.shared_case import (
    BLUE,
    DICOM_BOX,
    MENTOR,
    PNG_BOX,
    Room,
    SharedCase,
    ecg_strip,
    record_shared_case,
)
from tests.sharing.files import PATIENT, PRIVATE_VALUE

pytestmark = pytest.mark.slow



def patient_words() -> list[bytes]:
    """Every identifying value written into the DICOM file, as it could appear in bytes
    (those long enough not to turn up by chance in compressed pixels)."""
    words = []
    for value in [*PATIENT.values(), PRIVATE_VALUE]:
        for form in {value, value.replace("^", " "), value.split("^")[0]}:
            if len(form) >= 6:
                words += [form.encode(), form.encode("utf-16-le")]
    return words


def blue_box(picture: np.ndarray) -> tuple[int, int, int, int]:
    """The extent (x0, y0, x1, y1 in pixels) of the blue mark drawn into ``picture``."""
    ys, xs = np.nonzero(np.all(picture == bgr_colour(BLUE), axis=2))
    assert len(xs) > 20, "no mark drawn on the picture"
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


def assert_box_at(picture: np.ndarray, box: tuple[float, float, float, float]) -> None:
    """The blue mark is the rectangle ``box`` (fractions) of ``picture``, give or take
    half its line."""
    height, width = picture.shape[:2]
    x0, y0, x1, y1 = blue_box(picture)
    expected = (box[0] * width, box[1] * height, box[2] * width, box[3] * height)
    line = max(1, round(0.01 * height))
    assert all(abs(a - b) <= line + 1 for a, b in zip((x0, y0, x1, y1), expected,
                                                      strict=True)), ((x0, y0, x1, y1),
                                                                      expected)


def check_case(recorded: SharedCase) -> None:
    """What every recording of the shared case must hold, plain or encrypted."""
    folder = recorded.folder
    case = open_recording(folder)
    starts = [e for e in case.events if e.kind is EventKind.SHARE_START]
    stops = [e for e in case.events if e.kind is EventKind.SHARE_STOP]
    assert [e.data["share"] for e in starts] == [recorded.png.share_id,
                                                 recorded.dicom.share_id]
    assert [e.data["share"] for e in stops] == [recorded.png.share_id,
                                                recorded.dicom.share_id]
    for event, share in zip(starts, (recorded.png, recorded.dicom), strict=True):
        # who shared it, and exactly which bytes (the file the viewers got)
        assert (event.data["participant"], event.data["name"], event.data["role"]) == (
            "p-mentor", "Dr Li", "mentor")
        assert event.data["sha256"] == share.sha256
        assert event.data["description"]["title"] == share.description["title"]
        assert read_case_file(folder / event.data["file"]) == share.picture
    # the marks on the pictures are logged as marks on video are, tied by their source
    sources = [e.data["op"]["shape"]["source"] for e in case.events
               if e.kind is EventKind.MARK]
    assert sources == ["share:" + recorded.png.share_id, "share:" + recorded.dicom.share_id]

    # nothing in the case names the patient of the DICOM file
    for path in folder.iterdir():
        plain = read_case_file(path) if path.name != "sealed.json" else path.read_bytes()
        for word in patient_words():
            assert word not in plain, f"{word!r} in {path.name}"

    timeline = build_timeline(case)
    png_stretch, dicom_stretch = timeline.shares
    for stretch, (began, ended) in ((png_stretch, recorded.png_shown),
                                    (dicom_stretch, recorded.dicom_shown)):
        assert abs(timeline.clock_time(stretch.start) - began) < 0.05
        assert stretch.end is not None and abs(timeline.clock_time(stretch.end) - ended) < 0.05
        assert stretch.by == "Dr Li"
    assert png_stretch.end == dicom_stretch.start  # replaced, not stopped in between
    # inside each stretch, after its mark: that picture with its mark on its pixels
    for stretch, share, marked, box in (
            (png_stretch, recorded.png, recorded.png_marked, PNG_BOX),
            (dicom_stretch, recorded.dicom, recorded.dicom_marked, DICOM_BOX)):
        t = timeline.case_time(marked) + 0.2
        assert timeline.shared_at(t) == stretch
        pixels = read_shared_picture(folder, stretch)
        assert np.array_equal(pixels, share.preview())
        marks = timeline.marks_at(t, stretch.source)
        assert len(marks) == 1
        assert_box_at(marked_picture(pixels, marks), box)
        before = timeline.marks_at(timeline.case_time(marked) - 0.1, stretch.source)
        assert not before  # not yet drawn
    assert timeline.shared_at(png_stretch.start - 0.1) is None  # the video before
    assert timeline.shared_at(dicom_stretch.end + 0.1) is None  # and after  # type: ignore[operator]
    assert open_case(folder).problems == ()


def test_a_plain_case_keeps_each_shared_picture_and_when_it_was_shown(tmp_path: Path) -> None:
    recorded = asyncio.run(record_shared_case(tmp_path / "case", tmp_path))
    names = sorted(p.name for p in recorded.folder.iterdir())
    assert names == sorted(["endoscope.mkv", "events.jsonl", "manifest.json",
                            f"shared-{recorded.png.share_id}.png",
                            f"shared-{recorded.dicom.share_id}.png"])
    check_case(recorded)


def test_an_encrypted_case_seals_the_shared_pictures(tmp_path: Path, ring: KeyRing) -> None:
    folder = new_case_folder(tmp_path, "Shared pictures", key=ring.add(random_key()))
    recorded = asyncio.run(record_shared_case(folder, tmp_path))
    for share in (recorded.png, recorded.dicom):
        raw = (folder / f"shared-{share.share_id}.png").read_bytes()
        assert raw.startswith(b"\x89STCASE\n")
        assert b"IHDR" not in raw and b"IDAT" not in raw and share.picture[:64] not in raw
        with SealedReader(folder / f"shared-{share.share_id}.png") as reader:
            check = reader.verify()
            assert check.complete and not check.damaged
    events = (folder / "events.jsonl").read_bytes()
    assert b"share-start" not in events and b"Dr Li" not in events
    check_case(recorded)

    # locked: the picture is not read, and says why
    stretch = build_timeline(open_recording(folder)).shares[0]
    ring.forget()
    with pytest.raises(CaseLockedError):
        read_shared_picture(folder, stretch)


def test_a_changed_or_missing_picture_is_named_and_the_case_still_opens(
        tmp_path: Path, ring: KeyRing) -> None:
    folder = new_case_folder(tmp_path, "Shared pictures", key=ring.add(random_key()))
    recorded = asyncio.run(record_shared_case(folder, tmp_path))
    png_stretch, dicom_stretch = build_timeline(open_recording(folder)).shares
    path = folder / png_stretch.file
    raw = bytearray(path.read_bytes())
    raw[HEADER_SIZE + OVERHEAD + 10] ^= 0x01  # one bit of the sealed picture
    path.write_bytes(raw)
    with pytest.raises(RecordingError, match="changed or damaged"):
        read_shared_picture(folder, png_stretch)
    problems = open_case(folder).problems
    assert any(p.template == CHUNKS_TAMPERED and p.values["file"] == png_stretch.file
               for p in problems)
    (folder / dicom_stretch.file).unlink()
    with pytest.raises(RecordingError, match="not in its folder"):
        read_shared_picture(folder, dicom_stretch)
    assert open_case(folder).playable == ("Endoscope",)
    assert recorded.png.share_id in png_stretch.file


def test_the_recorder_keeps_files_only_under_new_plain_names(tmp_path: Path) -> None:
    async def scenario() -> None:
        recorder = Recorder(tmp_path / "case", Manifest(title="t"), [])
        assert recorder.keep_file("shared-x.png", b"data") is None  # not recording yet
        for bad in ("../x.png", ".hidden", "manifest.json", "events.jsonl", "a/b.png"):
            with pytest.raises(RecordingError):
                recorder.keep_file(bad, b"data")
        await recorder.start()
        write = recorder.keep_file("shared-x.png", b"data")
        assert write is not None
        with pytest.raises(RecordingError):
            recorder.keep_file("shared-x.png", b"again")  # taken
        await recorder.stop()  # waits for the write
        assert write.done() and (tmp_path / "case" / "shared-x.png").read_bytes() == b"data"

    asyncio.run(scenario())


def test_a_sharer_back_under_a_new_identity_goes_on_with_the_same_stretch(
        tmp_path: Path) -> None:
    """After a reconnect the sharer's picture comes back under their new participant id:
    the recording goes on with the same stretch (no stop, no second copy); a picture
    whose size is not the one its description announces is not kept."""
    png = prepare_share(open_file(ecg_strip(tmp_path / "ecg.png")), title="ECG")

    async def scenario() -> list[tuple[str, str, str]]:
        recorder = Recorder(tmp_path / "case", Manifest(title="t"), [])
        room = Room()
        log = SharedPictureLog(recorder)
        await recorder.start()
        room.arrived(MENTOR.id, png)
        log.update(room, MENTOR.id)
        again = replace(MENTOR, id="p-mentor-2")  # the mentor's link came back
        room.participants = {again.id: again}
        room.stopped(MENTOR.id)
        room.arrived(again.id, png)
        log.update(room, again.id)
        log.update(room, MENTOR.id)  # (the old identity's picture went)
        room.stopped(again.id)
        log.update(room, again.id)
        lying = replace(png, description={**png.description, "width": 999})
        room.arrived(again.id, lying)
        log.update(room, again.id)
        await recorder.stop()
        return [(e.kind.value, e.data["share"], e.data["participant"])
                for e in open_recording(tmp_path / "case").events
                if e.kind in (EventKind.SHARE_START, EventKind.SHARE_STOP)]

    assert asyncio.run(scenario()) == [("share-start", png.share_id, "p-mentor"),
                                       ("share-stop", png.share_id, "p-mentor-2")]
    assert sorted(p.name for p in (tmp_path / "case").iterdir()) == [
        "events.jsonl", "manifest.json", f"shared-{png.share_id}.png"]
