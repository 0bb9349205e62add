"""A consultation on a shared CT slice, end to end: real windows (offscreen), the real
signaling server, real aiortc peers. A mentor shares a DICOM file written here with
patient tags set; the surgeon sees it large (the same pixels), nothing identifying
arrives; a box drawn on a zoomed picture lands on the same picture pixels for a viewer
at another zoom; a late joiner gets the picture and the box; stop sharing returns
everyone to the video."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from PyQt6.QtCore import QPoint, Qt
from PyQt6.QtGui import QImage

from signaling_server.server import ServerConfig, start_server
from surgery_teach.protocol.messages import Role
from surgery_teach.rtc.shares import NO_RIGHT
from surgery_teach.sharing import open_file, prepare_share
from tests.sharing.files import PATIENT, PRIVATE_VALUE, TISSUE, ct_dataset, phantom, write_dicom
from tests.timing import seconds
from tests.ui.conftest import until
from tests.ui.session.test_telestration import BLUE, blue, controller
from ui.common.share_words import stopped_text
from ui.common.shared_picture_view import SharedPictureView
from ui.i18n import set_language
from ui.session.controller import SessionController
from ui.session.leaving import what_ends
from ui.session.window import SessionWindow

pytestmark = pytest.mark.slow
SIZE = 512


def _ct_file(tmp_path: Path) -> Path:
    hu = phantom(SIZE)
    hu[300:340, 200:260] = TISSUE + 60  # a "nodule": something to look at
    return write_dicom(tmp_path / "IM0001.dcm", ct_dataset(hu=hu))


def _screen(view: SharedPictureView) -> np.ndarray:
    """The view as painted, RGB, one array pixel per widget pixel."""
    image = view.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    image = image.scaled(view.width(), view.height())
    ptr = image.constBits()
    ptr.setsize(image.sizeInBytes())
    rgb = np.frombuffer(ptr, np.uint8).reshape(image.height(), image.bytesPerLine())
    return rgb[:, : image.width() * 3].reshape(image.height(), image.width(), 3).copy()


def _marked_pixels(view: SharedPictureView) -> tuple[float, float, float, float]:
    """The blue mark's extent on ``view``, in pixels of the shared picture."""
    ys, xs = np.nonzero(blue(_screen(view)))
    assert len(xs) > 50, "no mark painted"
    assert view.viewport is not None
    width, height = view.viewport.image_w, view.viewport.image_h
    corners = [view.normalised(float(x), float(y)) for x, y in
               ((xs.min(), ys.min()), (xs.max(), ys.max()))]
    (x0, y0), (x1, y1) = corners
    return x0 * width, y0 * height, x1 * width, y1 * height


def _box_at(view: SharedPictureView, box: tuple[float, float, float, float]) -> bool:
    """Whether the blue mark on ``view`` covers ``box`` (picture pixels), give or take
    half the line's width."""
    if blue(_screen(view)).sum() < 50:
        return False
    found = _marked_pixels(view)
    return all(abs(a - b) < 4 for a, b in zip(found, box, strict=True))


def _at(view: SharedPictureView, px: float, py: float) -> QPoint:
    """Where picture pixel (px, py) is on the widget now."""
    rect = view.video_rect()
    assert view.viewport is not None
    return QPoint(round(rect.left() + px / view.viewport.image_w * rect.width()),
                  round(rect.top() + py / view.viewport.image_h * rect.height()))


def received_bytes(viewer: SessionController, sharer: SessionController) -> bytes:
    live, session = viewer._live, sharer.session
    assert live is not None and session is not None
    return live.shares.viewing[session.me.id].picture


async def _window(qtbot, c: SessionController) -> SessionWindow:  # type: ignore[no-untyped-def]
    await c.start()
    window = SessionWindow(c)
    qtbot.addWidget(window)
    window.resize(1366, 768)
    window.show()
    return window


def test_a_mentor_shares_a_ct_slice_everyone_draws_on_it_and_stops(
        qtbot, run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = _ct_file(tmp_path)
    expected = open_file(path).pixels  # what the sharer's computer shows (file's window)

    async def scenario() -> None:
        server = await start_server(ServerConfig(port=0))
        surgeon = controller(server.url, "Dr Wang", Role.SURGEON,
                             ["Laparoscope=synthetic:640x360@15"])
        mentor = controller(server.url, "Dr Li", Role.MENTOR, ["Mentor cam=synthetic:320x180@10"])
        late: SessionController | None = None
        try:
            surgeon_window = await _window(qtbot, surgeon)
            mentor_window = await _window(qtbot, mentor)
            assert mentor_window.share_button.isVisibleTo(mentor_window) or (
                mentor_window.share_button in mentor_window.overflow.overflowed)
            await until(lambda: surgeon_window.stage.main.frames_painted > 3, seconds(30),
                        "the surgeon's video")

            progress: list[tuple[str, int, int]] = []
            surgeon.shares.progress.connect(lambda *held: progress.append(held))
            # The mentor shares through the dialog.
            mentor_window.open_share_dialog()
            dialog = mentor_window.share_dialog
            assert dialog is not None
            await dialog.open_path(path)
            await dialog.settled()
            dialog.title.setText("CT chest, nodule")
            dialog.share_button.click()
            await until(lambda: surgeon.shares.current is not None, seconds(30),
                        "the picture at the surgeon")
            shown = surgeon.shares.current
            assert shown is not None and shown.title == "CT chest, nodule"
            assert np.array_equal(shown.pixels, expected)  # every pixel as the sharer had it
            view = surgeon_window.shared.view
            assert surgeon_window.stage.covered and view.isVisible()
            assert view.source_name == "share:" + shown.share_id
            assert surgeon_window.telestration.main is view
            # live video goes on in a thumbnail
            assert any(t.label.startswith("Laparoscope") for t in surgeon_window.stage.thumbnails)
            assert "Dr Li" in surgeon_window.share_bar.text.text()
            assert progress and progress[-1][1:] == (len(received_bytes(surgeon, mentor)),) * 2
            assert not surgeon_window.share_bar.progress.isVisibleTo(surgeon_window)
            assert not surgeon_window.share_bar.stop_button.isVisibleTo(surgeon_window)
            await until(lambda: mentor.shares.current is not None, seconds(5), "ours, shown")
            assert "You share" in mentor_window.share_bar.text.text()
            assert mentor_window.share_bar.stop_button.isVisibleTo(mentor_window)

            # Nothing that names the patient arrived: not in the picture, not in its words.
            live = surgeon._live
            assert live is not None
            received = live.shares.viewing[mentor.session.me.id]  # type: ignore[union-attr]
            words = json.dumps(received.description, ensure_ascii=False)
            for value in [*PATIENT.values(), PRIVATE_VALUE]:
                for form in {value, value.replace("^", " ")}:
                    assert form.encode() not in received.picture
                    assert form not in words
            for chunk in (b"tEXt", b"iTXt", b"zTXt", b"eXIf"):
                assert chunk not in received.picture

            # On the surgeon's screen, the picture as the sharer had it.
            await until(lambda: view.viewport is not None and view.width() > 400,
                        seconds(5), "the picture laid out")
            screen = _screen(view)
            for px, py in ((230, 320), (256, 200), (470, 400), (256, 40), (60, 400)):
                at = _at(view, px, py)
                painted = screen[at.y(), at.x()].astype(int)
                assert np.abs(painted - expected[py, px, ::-1]).max() <= 3, (px, py)

            # The surgeon zooms in 3x on the nodule and draws a box round it.
            centre = _at(view, 230, 320)
            view.zoom_at(centre.x(), centre.y(), 3.0)
            toolbar = surgeon_window.drawing_toolbar
            toolbar.tool_buttons[next(t for t in toolbar.tool_buttons
                                      if t.value == "rect")].click()
            toolbar.colour.setCurrentIndex(toolbar.colour.findData(BLUE))
            toolbar.pinned.setChecked(True)
            qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=_at(view, 200, 300))
            qtbot.mouseMove(view, pos=_at(view, 230, 320))
            qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=_at(view, 260, 340))
            source = view.source_name
            mentor_view = mentor_window.shared.view
            for where in (view, mentor_view):  # 3x at the surgeon, fitted at the mentor
                await until(lambda where=where: _box_at(where, (200, 300, 260, 340)),
                            seconds(10), "the whole box painted on the picture's pixels")
            assert view.viewport is not None and view.viewport.zoom == 3.0
            assert mentor_view.viewport is not None and mentor_view.viewport.zoom == 1.0
            assert len(mentor.session.board.shapes(source, 0)) == 1  # type: ignore[union-attr]

            # A late joiner gets the picture and the box.
            late = controller(server.url, "Trainee", Role.TRAINEE)
            late_window = await _window(qtbot, late)
            await until(lambda: late.shares.current is not None, seconds(30),  # type: ignore[union-attr]
                        "the picture at the late joiner")
            assert np.array_equal(late.shares.current.pixels, expected)  # type: ignore[union-attr]
            assert late_window.stage.covered
            late_view = late_window.shared.view
            await until(lambda: _box_at(late_view, (200, 300, 260, 340)), seconds(10),
                        "the box painted at the late joiner")
            # a trainee who may not draw may not share either
            assert not late_window.share_button.isVisibleTo(late_window)

            # Anyone can go back to the video, and to the picture again.
            late_window.share_bar.back_button.click()
            assert not late_window.stage.covered
            assert late_window.telestration.main is late_window.stage.main
            assert late_window.share_bar.back_button.text() == "Show shared picture"
            late_window.share_bar.back_button.click()
            assert late_window.stage.covered

            # Leaving would take the picture away: the mentor is asked first.
            sharing = "The picture you share goes away for everyone."
            assert sharing in what_ends(mentor)

            # Stop sharing: everyone is back on the video.
            mentor_window.share_bar.stop_button.click()
            for c, w in ((surgeon, surgeon_window), (late, late_window),
                         (mentor, mentor_window)):
                await until(lambda c=c: c.shares.current is None, seconds(10),
                            f"the picture gone at {c.config.name}")
                assert not w.stage.covered and w.telestration.main is w.stage.main
                assert not w.share_bar.isVisibleTo(w)
            assert sharing not in what_ends(mentor)
        finally:
            for c in (late, mentor, surgeon):
                if c is not None:
                    await c.leave()
            await server.close()

    run(scenario())


def test_a_trainee_shares_once_allowed_and_the_picture_goes_when_they_leave(
        qtbot, run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Trainees share only while a mentor lets them draw; a sharer who leaves the room
    takes the picture with them (the others are back on the video)."""
    noise = np.random.default_rng(7).integers(0, 255, (300, 400, 3), np.uint8)
    png = tmp_path / "ecg.png"
    assert cv2.imwrite(str(png), noise)

    async def scenario() -> None:
        server = await start_server(ServerConfig(port=0))
        surgeon = controller(server.url, "Dr Wang", Role.SURGEON,
                             ["Laparoscope=synthetic:640x360@15"])
        mentor = controller(server.url, "Dr Li", Role.MENTOR)
        trainee = controller(server.url, "Trainee Ma", Role.TRAINEE)
        try:
            surgeon_window = await _window(qtbot, surgeon)
            await mentor.start()
            trainee_window = await _window(qtbot, trainee)
            await until(lambda: trainee_window.stage.main.frames_painted > 3, seconds(30),
                        "video at the trainee")
            assert not trainee_window.overflow.offers(trainee_window.share_button)
            assert trainee.session is not None
            mentor.grant_draw(trainee.session.me.id, True)
            await until(lambda: trainee_window.overflow.offers(trainee_window.share_button),
                        seconds(10), "Share image… for the trainee allowed to draw")

            trainee.share_picture(prepare_share(open_file(png), title="ECG, lead II"))
            await until(lambda: surgeon.shares.current is not None, seconds(30),
                        "the trainee's picture at the surgeon")
            assert np.array_equal(surgeon.shares.current.pixels, noise)  # type: ignore[union-attr]
            assert surgeon_window.stage.covered
            assert "Trainee Ma" in surgeon_window.share_bar.text.text()

            await trainee.leave()
            await until(lambda: surgeon.shares.current is None, seconds(10),
                        "the picture gone with its sharer")
            assert not surgeon_window.stage.covered
            assert surgeon_window.telestration.main is surgeon_window.stage.main
        finally:
            for c in (trainee, mentor, surgeon):
                await c.leave()
            await server.close()

    run(scenario())


def test_stopping_a_trainees_drawing_takes_their_picture_down_for_everyone(
        qtbot, run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A mentor stops the drawing of a trainee who shares: the picture goes for everyone
    as when a sharer leaves, the trainee is told why in their language (Russian here)
    and the share dialog they had open closes. Viewers keep the rule themselves: an
    older client that keeps sharing after losing the right is dropped all the same."""
    noise = np.random.default_rng(11).integers(0, 255, (300, 400, 3), np.uint8)
    png = tmp_path / "ecg.png"
    assert cv2.imwrite(str(png), noise)

    async def scenario() -> None:
        server = await start_server(ServerConfig(port=0))
        surgeon = controller(server.url, "Dr Wang", Role.SURGEON,
                             ["Laparoscope=synthetic:640x360@15"])
        # the mentor sends video too: only a publisher connects to a trainee
        mentor = controller(server.url, "Dr Li", Role.MENTOR, ["Mentor cam=synthetic:320x180@10"])
        trainee = controller(server.url, "Trainee Ma", Role.TRAINEE)
        try:
            surgeon_window = await _window(qtbot, surgeon)
            mentor_window = await _window(qtbot, mentor)
            trainee_window = await _window(qtbot, trainee)
            await until(lambda: trainee_window.stage.main.frames_painted > 3, seconds(30),
                        "video at the trainee")
            assert trainee.session is not None
            me = trainee.session.me.id

            async def allowed_and_shared(title: str) -> None:
                mentor.grant_draw(me, True)
                await until(lambda: trainee_window.overflow.offers(
                    trainee_window.share_button), seconds(10), "Share image… offered")
                trainee.share_picture(prepare_share(open_file(png), title=title))
                for c in (surgeon, mentor):
                    await until(lambda c=c: c.shares.current is not None
                                and c.shares.current.title == title, seconds(30),
                                f"the trainee's picture at {c.config.name}")

            await allowed_and_shared("ECG, lead II")
            assert surgeon_window.stage.covered and mentor_window.stage.covered
            trainee_window.open_share_dialog()  # preparing another one meanwhile
            dialog = trainee_window.share_dialog
            assert dialog is not None and dialog.isVisible()

            mentor.grant_draw(me, False)
            for c, w in ((surgeon, surgeon_window), (mentor, mentor_window),
                         (trainee, trainee_window)):
                await until(lambda c=c: c.shares.current is None, seconds(10),
                            f"the picture gone at {c.config.name}")
                assert not w.stage.covered and w.telestration.main is w.stage.main
                assert not w.share_bar.isVisibleTo(w)
            assert trainee._live is not None and trainee._live.shares.mine is None
            assert not dialog.isVisible()
            assert not trainee_window.overflow.offers(trainee_window.share_button)
            said = stopped_text(NO_RIGHT)
            await until(lambda: any(said in line for line in trainee_window.chat.log.lines()),
                        seconds(5), "the trainee told why")
            assert re.search(r"[А-Яа-я]{4}", said) and not re.search(r"[A-Za-z]{3}", said)
            assert any("не было показано" in line for line in trainee_window.chat.log.lines())

            # Sharing without the right (a click that raced the mentor) sends nothing.
            notes = len(trainee_window.chat.log.lines())
            trainee.share_picture(prepare_share(open_file(png), title="too late"))
            await until(lambda: len(trainee_window.chat.log.lines()) > notes, seconds(5),
                        "the refusal said")
            assert said in trainee_window.chat.log.lines()[-1]
            assert trainee._live is not None and trainee._live.shares.mine is None

            # An older client that goes on sharing after losing the right: the viewers
            # drop its picture themselves.
            await allowed_and_shared("ECG, lead V5")
            live = trainee._live
            assert live is not None
            live._shares_follow_rights = lambda: None  # type: ignore[method-assign]
            mentor.grant_draw(me, False)
            for c in (surgeon, mentor):
                await until(lambda c=c: c.shares.current is None, seconds(10),
                            f"the picture dropped by {c.config.name}")
            assert live.shares.mine is not None  # it still "shares"
            assert not surgeon_window.stage.covered
        finally:
            for c in (trainee, mentor, surgeon):
                await c.leave()
            await server.close()

    set_language("ru")
    try:
        run(scenario())
    finally:
        set_language("en")
