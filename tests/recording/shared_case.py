"""A recorded case with shared pictures, for the recording, casebook and player tests.

:func:`record_shared_case` records a short case through the real :class:`Recorder` and
:class:`SharedPictureLog`, fed what a live session gives them: a mentor's PNG (an ECG
strip) arrives whole and is marked with a blue box, then the mentor replaces it with a
DICOM slice written with patient tags set (marked too), then stops sharing, and the
video plays on. The "session" is :class:`Room`: the real :class:`SessionShares` of the
recording participant with the shares as they arrived, and who is in the room.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from surgery_teach.annotations.ops import Add
from surgery_teach.annotations.shapes import Rect
from surgery_teach.capture import SyntheticSource
from surgery_teach.casefile import Manifest, Participant
from surgery_teach.media.encoder import EncoderSettings, SharedEncoder
from surgery_teach.protocol.messages import ParticipantInfo, Role
from surgery_teach.recording import Recorder, RecorderOptions
from surgery_teach.recording.shared_pictures import SharedPictureLog
from surgery_teach.rtc.shares import SessionShares
from surgery_teach.sharing import OutgoingShare, open_file, prepare_share
from surgery_teach.sharing.transfer import ReceivedShare
from tests.recording.helpers import until
from tests.sharing.files import ct_dataset, phantom, write_dicom
from tests.timing import seconds

SIZE = (320, 240)
BLUE = "#0000ff"  # nowhere in the ECG strip, the CT slice or the synthetic tissue
PNG_BOX = (0.25, 0.30, 0.60, 0.70)  # where the box on the ECG strip goes (fractions)
DICOM_BOX = (0.40, 0.55, 0.55, 0.70)  # and round the CT slice's nodule
DICOM_SIDE = 256
MENTOR = ParticipantInfo(id="p-mentor", name="Dr Li", role=Role.MENTOR)
SURGEON = ParticipantInfo(id="p-surgeon", name="Dr Ana Lima", role=Role.SURGEON)


@dataclass
class Room:
    """What :class:`SharedPictureLog` reads of a live session: who we are, who else is
    here, and the real shares object holding the pictures as they arrived."""

    me: ParticipantInfo = SURGEON
    participants: dict[str, ParticipantInfo] = field(
        default_factory=lambda: {MENTOR.id: MENTOR})
    shares: SessionShares = field(default_factory=lambda: SessionShares(lambda who: None))

    def arrived(self, who: str, share: OutgoingShare) -> None:
        """``who``'s picture arrived whole and checked, as :class:`SessionShares` keeps it."""
        self.shares.viewing[who] = ReceivedShare(share.share_id, share.picture,
                                                 dict(share.description))

    def stopped(self, who: str) -> None:
        del self.shares.viewing[who]


@dataclass(frozen=True)
class SharedCase:
    """What was shared when (capture clock) and where it was marked."""

    folder: Path
    png: OutgoingShare
    dicom: OutgoingShare
    png_shown: tuple[float, float]  # (from, to) capture clock
    dicom_shown: tuple[float, float]
    png_marked: float
    dicom_marked: float


def ecg_strip(path: Path) -> Path:
    """A PNG of a paper ECG strip: pink grid on white with a black trace."""
    picture = np.full((300, 480, 3), 255, np.uint8)
    picture[::12, :] = (200, 180, 255)
    picture[:, ::12] = (200, 180, 255)
    xs = np.arange(480)
    ys = (150 - 60 * np.exp(-((xs % 120) - 60) ** 2 / 20.0)).astype(int)
    for x, y in zip(xs, ys, strict=True):
        picture[y - 1:y + 2, x] = (0, 0, 0)
    assert cv2.imwrite(str(path), picture)
    return path


def ct_slice(path: Path) -> Path:
    """A DICOM CT slice with every identifying tag of tests.sharing.files.PATIENT set."""
    hu = phantom(DICOM_SIDE)
    hu[150:170, 110:130] = 100  # a "nodule"
    return write_dicom(path, ct_dataset(hu=hu))


def box_mark(mark_id: str, share: OutgoingShare, box: tuple[float, float, float, float],
             seq: int) -> Add:
    now = time.time()
    return Add(Rect(id=mark_id, author=MENTOR.id, source="share:" + share.share_id,
                    colour=BLUE, width=0.01, box=box, pinned=True, created=now,
                    frame_time=now), seq=seq)


async def record_shared_case(folder: Path, pictures_from: Path) -> SharedCase:
    """Record the case into ``folder`` (new, or made by ``new_case_folder``), reading the
    files to share from ``pictures_from``."""
    png = prepare_share(open_file(ecg_strip(pictures_from / "ecg.png")), title="ECG, lead II")
    dicom = prepare_share(open_file(ct_slice(pictures_from / "IM0001.dcm")),
                          title="CT chest")
    source = SyntheticSource(*SIZE, 30, label="Endoscope")
    source.start()
    encoder = SharedEncoder(source, EncoderSettings(keyframe_interval=0.5))
    encoder.start()
    manifest = Manifest(title="Shared pictures", participants=(
        Participant(Role.SURGEON, SURGEON.name), Participant(Role.MENTOR, MENTOR.name)))
    recorder = Recorder(folder, manifest, [("Endoscope", encoder)],
                        options=RecorderOptions(min_free_bytes=0))
    room = Room()
    log = SharedPictureLog(recorder)
    try:
        await recorder.start()
        await until(lambda: recorder.status.frames.get("Endoscope", 0) >= 15, seconds(10),
                    "half a second of video")
        room.arrived(MENTOR.id, png)
        png_from = time.time()
        log.update(room, MENTOR.id)
        await asyncio.sleep(0.3)
        png_marked = time.time()
        recorder.log_op(box_mark("p-mentor:1", png, PNG_BOX, 1))
        await asyncio.sleep(0.7)
        room.arrived(MENTOR.id, dicom)  # the mentor shares the CT slice instead
        dicom_from = png_to = time.time()
        log.update(room, MENTOR.id)
        await asyncio.sleep(0.3)
        dicom_marked = time.time()
        recorder.log_op(box_mark("p-mentor:2", dicom, DICOM_BOX, 2))
        await asyncio.sleep(0.7)
        room.stopped(MENTOR.id)
        dicom_to = time.time()
        log.update(room, MENTOR.id)
        frames = recorder.status.frames["Endoscope"]
        await until(lambda: recorder.status.frames["Endoscope"] >= frames + 15, seconds(10),
                    "video after the sharing")
    finally:
        await recorder.stop()
        encoder.stop()
        source.stop()
    return SharedCase(folder, png, dicom, (png_from, png_to), (dicom_from, dicom_to),
                      png_marked, dicom_marked)
