"""The library window lists the hospital library's cases beside the local ones and plays
a remote case in the same player, streaming it from a real library server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtTest import QTest

from library_server.config import LibraryConfig
from surgery_teach.casebook.media import stop_streaming
from surgery_teach.caselibrary.passes import LibraryRole
from surgery_teach.caselibrary.publish import publish_case
from surgery_teach.caselibrary.remote import RemoteLibrary
from tests.library_server.helpers import (
    SECRET,
    Certificate,
    LibraryThread,
    case_variant,
    make_certificate,
    token,
)
from tests.timing import seconds
from tests.ui.conftest import until
from tests.ui.library.test_window import recorded
from ui.library.player import PlayerWindow
from ui.library.window import LibraryWindow

Run = Callable[[Any], Any]


@pytest.fixture
def hospital(tmp_path: Path) -> Iterator[tuple[LibraryThread, Certificate, Path]]:
    """A library holding "Appendectomy (library)", and a local folder with one case."""
    certificate = make_certificate(tmp_path)
    server = LibraryThread(LibraryConfig(
        data_dir=tmp_path / "library", secret=SECRET, port=0, min_free_bytes=0,
        cert_file=certificate.cert, key_file=certificate.key))
    case = recorded(tmp_path)
    local = tmp_path / "recordings"
    local.mkdir()
    case_variant(case, local, title="Local chole")
    with server.connect(token(LibraryRole.MENTOR, ["hospital:zepu"]),
                        ca=certificate) as connection:
        publish_case(case_variant(case, tmp_path, title="Appendectomy (library)"), connection)
    yield server, certificate, local
    server.stop()


def test_a_student_opens_a_library_case_in_the_player(
    run: Run, hospital: tuple[LibraryThread, Certificate, Path], tmp_path: Path
) -> None:
    server, certificate, local = hospital
    remote = RemoteLibrary(server.url, token(LibraryRole.STUDENT, ["hospital:zepu"]),
                           cache=tmp_path / "cache", ca_file=certificate.cert)

    async def make() -> LibraryWindow:
        window = LibraryWindow(local, audio=False, remote=remote)
        window.show()
        await window.refresh()
        return window

    window = run(make())
    opened: list[PlayerWindow] = []
    window.player_opened.connect(opened.append)
    try:
        shown = {window.list.item(r).text(): window.list.item(r) for r in
                 range(window.list.count())}
        assert set(shown) == {"Local chole", "Appendectomy (library)"}
        assert "In the hospital library" in shown["Appendectomy (library)"].toolTip()
        assert "In the hospital library" not in shown["Local chole"].toolTip()
        window.list.setCurrentItem(shown["Appendectomy (library)"])
        window.list.setFocus()
        QTest.keyClick(window.list, Qt.Key.Key_Return)
        run(until(lambda: bool(opened), seconds(15), "the player"))
        player = opened[0]
        assert player.playable.manifest.title == "Appendectomy (library)"
        assert player.playable.folder.parent == tmp_path / "cache"
        assert player.playable.playable == ("Endoscope", "Room camera")
        assert not (player.playable.folder / "endoscope.mkv").exists()  # streamed
        assert [c.title for c in player.timeline.chapters] == ["Exposure", "Dissection"]
        player.chapters.add_at("My own note", 1.0)  # a student's edit stays here
        run(until(lambda: "only a mentor" in player.chapters.problem.text(), seconds(10),
                  "the player to say the edit stays on this computer"))
        assert "My own note" in [c.title for c in player.chapters.chapters]
        player.close()
        stop_streaming(player.playable.folder)
    finally:
        window.close()
