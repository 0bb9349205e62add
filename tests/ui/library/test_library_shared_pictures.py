"""A student opens a library case with shared pictures from the library window (a real
library server, the shared case really recorded, plain and encrypted): during each
stretch the player shows the picture as shared, with its mark on the picture's own
pixels; a picture changed on the library's disk is refused with the "changed" notice in
the student's language while the video plays in its place."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtTest import QTest

from library_server.config import LibraryConfig
from surgery_teach.casebook.media import stop_streaming
from surgery_teach.casebook.problems import SHARED_PICTURE_CHANGED, Problem
from surgery_teach.casefile.keys import KeyRing
from surgery_teach.caselibrary.passes import LibraryRole
from surgery_teach.caselibrary.publish import publish_case
from surgery_teach.caselibrary.remote import RemoteLibrary
from tests.library_server.helpers import SECRET, LibraryThread, make_certificate, token
from tests.recording.shared_case import DICOM_BOX, PNG_BOX, SharedCase
from tests.timing import seconds
from tests.ui.conftest import until
from tests.ui.library.test_shared_picture_player import (
    check_stretch,
    recorded,
    shows_picture,
)
from ui.i18n import problem_text, set_language
from ui.library.player import PlayerWindow
from ui.library.window import LibraryWindow

Run = Callable[[Any], Any]
MENTOR = token(LibraryRole.MENTOR, ["hospital:zepu"])
STUDENT = token(LibraryRole.STUDENT, ["hospital:zepu"], name="Aynur")



@pytest.fixture
def english() -> Iterator[None]:
    yield
    set_language("en")


def published(tmp_path: Path, ring: KeyRing, *, encrypted: bool
              ) -> tuple[LibraryThread, RemoteLibrary, SharedCase, Path]:
    """The shared case recorded and published to a new library; a student's view of it."""
    case = recorded(tmp_path, encrypted=encrypted, ring=ring)
    certificate = make_certificate(tmp_path)
    server = LibraryThread(LibraryConfig(
        data_dir=tmp_path / "library", secret=SECRET, port=0, min_free_bytes=0,
        cert_file=certificate.cert, key_file=certificate.key))
    with server.connect(MENTOR, ca=certificate) as connection:
        case_id = publish_case(case.folder, connection).case.id
    remote = RemoteLibrary(server.url, STUDENT, cache=tmp_path / "cache",
                           ca_file=certificate.cert)
    return server, remote, case, server.config.data_dir / "cases" / case_id


def open_from_library(run: Run, remote: RemoteLibrary, tmp_path: Path
                      ) -> tuple[LibraryWindow, PlayerWindow]:
    """The library window lists the case; Return on it opens the player."""
    local = tmp_path / "recordings"
    local.mkdir()

    async def make() -> LibraryWindow:
        window = LibraryWindow(local, audio=False, remote=remote)
        window.show()
        await window.refresh()
        return window

    window = run(make())
    opened: list[PlayerWindow] = []
    window.player_opened.connect(opened.append)
    assert window.list.count() == 1
    window.list.setCurrentItem(window.list.item(0))
    window.list.setFocus()
    QTest.keyClick(window.list, Qt.Key.Key_Return)
    run(until(lambda: bool(opened), seconds(15), "the player"))
    opened[0].resize(960, 640)
    return window, opened[0]


@pytest.mark.slow
@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
def test_a_student_sees_the_shared_pictures_of_a_library_case_with_their_marks(
        run: Run, tmp_path: Path, ring: KeyRing, encrypted: bool) -> None:
    server, remote, case, _ = published(tmp_path, ring, encrypted=encrypted)
    window, player = open_from_library(run, remote, tmp_path)
    try:
        assert player.playable.folder.parent == tmp_path / "cache"
        assert not (player.playable.folder / "endoscope.mkv").exists()  # streamed
        assert [s.share_id for s in player.timeline.shares] == [case.png.share_id,
                                                                case.dicom.share_id]
        check_stretch(run, player, case.png, case.png_marked, PNG_BOX)
        check_stretch(run, player, case.dicom, case.dicom_marked, DICOM_BOX)
        player.seek(player.timeline.case_time(case.dicom_shown[1]) + 0.3)
        run(until(lambda: player.stage.currentWidget() is player.view, seconds(5),
                  "the video after the sharing"))
        assert not player.notice.isVisible()
    finally:
        player.close()
        stop_streaming(player.playable.folder)
        window.close()
        server.stop()


@pytest.mark.slow
def test_a_picture_changed_on_the_library_is_refused_in_the_students_language(
        run: Run, tmp_path: Path, ring: KeyRing, english: None) -> None:
    server, remote, case, stored = published(tmp_path, ring, encrypted=False)
    name = next(stored.glob(f"shared-{case.png.share_id}.*")).name
    data = bytearray((stored / name).read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit changed on the library's disk
    (stored / name).write_bytes(bytes(data))
    set_language("ru")
    window, player = open_from_library(run, remote, tmp_path)
    try:
        player.seek(player.timeline.case_time(case.png_marked))
        run(until(lambda: player.notice.isVisible(), seconds(10), "the problem said"))
        said = problem_text(Problem(SHARED_PICTURE_CHANGED, file=name))
        assert said != Problem(SHARED_PICTURE_CHANGED, file=name)  # translated
        assert name in player.notice.text() and said in player.notice.text()
        assert player.stage.currentWidget() is player.view  # the video in its place
        # the other picture shows
        player.seek(player.timeline.case_time(case.dicom_marked))
        run(until(lambda: shows_picture(player, case.dicom.share_id), seconds(10),
                  "the other picture"))
    finally:
        player.close()
        stop_streaming(player.playable.folder)
        window.close()
        server.stop()
