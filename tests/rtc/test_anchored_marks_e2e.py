"""Marks that stay on the tissue, live: a mentor anchors a mark, the scope moves, and every
viewer sees the mark on the same tissue, on the same frame (the synthetic scope's known
motion is the ground truth)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from surgery_teach.annotations import Add, Ellipse
from surgery_teach.capture import SyntheticSource, luma_of, read_stamp
from surgery_teach.media.encoder import SharedEncoder
from surgery_teach.protocol.messages import Role
from surgery_teach.rtc.session import LiveSession, SessionConfig
from surgery_teach.rtc.tracking_link import follow_anchored_marks
from tests.rtc.live import until
from tests.timing import seconds

pytestmark = pytest.mark.slow

W, H, FPS = 1280, 720, 30
AT = (0.36, 0.45)  # on textured tissue that stays in view, clear of the grasper


class TimedSource(SyntheticSource):
    """The synthetic scope, noting the animation time of each frame it makes: under load
    its pacer skips ticks, so frame ``n`` is not always at ``(n - 1) / fps``."""

    def __init__(self) -> None:
        super().__init__(W, H, FPS, label="Laparoscope", motion=True)
        self.times: dict[int, float] = {}

    def render(self, seq: int, t: float, captured_at: float):  # type: ignore[no-untyped-def]
        self.times[seq] = t
        return super().render(seq, t, captured_at)


def on_screen(session: LiveSession) -> tuple[int, float] | None:
    """The stamped number and capture time of the frame ``session`` shows now."""
    frame = session.receivers[0].slot.latest() if session.receivers else None
    stamp = read_stamp(luma_of(frame.image)) if frame is not None else None
    return None if stamp is None else (stamp.seq, stamp.captured_at)


def drawn_at(shape: Ellipse, session: LiveSession, frame: tuple[int, float]
             ) -> tuple[np.ndarray, bool] | None:
    """Where ``session`` draws the centre of ``shape`` on ``frame`` (its stamped number and
    capture time), in pixels, and whether it shows it lost."""
    mark = session.board.get(shape.id)
    place = session.board.place(mark, *frame) if mark is not None else None
    if place is None:
        return None
    x, y = place.apply(AT)
    return np.array([x * W, y * H]), place.lost


async def test_an_anchored_mark_stays_on_its_tissue_for_every_viewer(server_url: str) -> None:
    source = TimedSource()
    source.start()
    encoder = SharedEncoder(source)
    motion = source.motion
    assert motion is not None

    def join(name: str, role: Role, encoders=None) -> asyncio.Future[LiveSession]:  # type: ignore[no-untyped-def]
        return LiveSession.start(SessionConfig(server=server_url, room="anchor", name=name,
                                               role=role), encoders)  # type: ignore[return-value]

    surgeon = await join("Dr Wang", Role.SURGEON, [encoder])
    tracking = follow_anchored_marks(surgeon)
    mentor = await join("Prof Li", Role.MENTOR)
    trainee = await join("Trainee", Role.TRAINEE)
    student = await join("Student", Role.STUDENT)
    try:
        for s in (mentor, trainee, student):
            await until(lambda s=s: on_screen(s) is not None, seconds(20), "live video")
        # the mentor circles the tissue on the frame she is looking at
        seen = on_screen(mentor)
        assert seen is not None
        drawn_frame, drawn_time = seen
        shape = Ellipse(id=f"{mentor.me.id}:1", author=mentor.me.id, source="Laparoscope",
                        colour="#ffd400", width=0.004, pinned=True, anchored=True,
                        frame_time=drawn_time,
                        box=(AT[0] - 0.04, AT[1] - 0.05, AT[0] + 0.04, AT[1] + 0.05))
        await mentor.annotate(Add(shape))
        # a few batches in, the viewers can interpolate and carry the mark on
        await until(lambda: len(trainee.board.view().poses.get("Laparoscope", ())) >= 3,
                    seconds(10), "the first poses at the trainee")
        scene = motion.scene_of(np.array([[AT[0] * W, AT[1] * H]]), source.times[drawn_frame])

        def error(at: tuple[np.ndarray, bool], frame: int) -> float:
            return float(np.linalg.norm(at[0] - motion.image_of(scene, source.times[frame])[0]))

        shown_errors, apart, lost, frames = [], [], 0, []
        last = 0
        while len(frames) < 60:  # two seconds of the trainee's frames
            await until(lambda last=last: (on_screen(trainee) or (0, 0))[0] > last, seconds(5),  # type: ignore[misc]
                        "the trainee's next frame")
            shown = on_screen(trainee)
            assert shown is not None
            last = shown[0]
            frames.append(shown)
            # what the trainee and the student draw on this frame, as it is on screen
            at_trainee = drawn_at(shape, trainee, shown)
            at_student = drawn_at(shape, student, shown)
            assert at_trainee is not None and at_student is not None
            lost += at_trainee[1]
            if not at_trainee[1]:
                shown_errors.append(error(at_trainee, last))
                apart.append(float(np.linalg.norm(at_trainee[0] - at_student[0])))
        # a busy machine may doubt a moment (dashed, where last trusted); never most of it
        assert lost <= 10, f"the mark was reported lost on open tissue on {lost} of 60 frames"
        # the same frames once their own poses had arrived (what a replay shows)
        settled = [error(at, frame) for frame, t in frames
                   if (at := drawn_at(shape, trainee, (frame, t))) is not None and not at[1]]
        # how far the tissue got from where it was drawn (the scope pans back and forth,
        # so at the last frame it may be near its start again)
        travelled = max(np.linalg.norm(motion.image_of(scene, source.times[frame])[0]
                                       - np.array([AT[0] * W, AT[1] * H]))
                        for frame, _ in frames)
        worker = tracking.sources[0].worker
        print(f"on screen: median {np.median(shown_errors):.2f} p95 "
              f"{np.percentile(shown_errors, 95):.2f} max {max(shown_errors):.2f} px; settled: "
              f"median {np.median(settled):.2f} max {max(settled):.2f} px; viewers apart max "
              f"{max(apart):.2f} px; lost {lost}/60; travelled {travelled:.0f} px; tracked "
              f"{worker.frames_tracked} skipped {worker.frames_skipped} frames, "
              f"{worker.busy_seconds:.2f} s busy")
        assert travelled > 40  # the scope really moved: a fixed mark would be far off
        # the targets are a median of 8 px and a 95th percentile of 20 px
        assert np.median(shown_errors) <= 4.0 and np.percentile(shown_errors, 95) <= 8.0
        # a busy machine's tracker may misjudge a frame: at most the p95 of 20 px
        assert np.percentile(settled, 95) <= 8.0 and max(settled) <= 20.0, [
            round(e, 1) for e in settled]
        assert max(apart) <= 4.0, apart
    finally:
        tracking.stop()
        for s in (student, trainee, mentor, surgeon):
            await s.close()
        encoder.stop()
        source.stop()
