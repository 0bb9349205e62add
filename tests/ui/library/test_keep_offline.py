"""“Keep for offline viewing” in the library window: a student keeps a library case, the
library goes away, and the case is still listed and plays in the player."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from surgery_teach.casebook.media import stop_streaming
from surgery_teach.casefile.sealed_folder import is_sealed_file
from surgery_teach.caselibrary.passes import LibraryRole
from surgery_teach.caselibrary.remote import RemoteLibrary
from tests.library_server.helpers import Certificate, LibraryThread, token
from tests.timing import seconds
from tests.ui.conftest import until
from tests.ui.library.test_remote_library import hospital  # noqa: F401 (a fixture)
from ui.library.player import PlayerWindow
from ui.library.window import ENTRY_ROLE, LibraryWindow

Run = Callable[[Any], Any]
TITLE = "Appendectomy (library)"


def _item(window: LibraryWindow, title: str) -> Any:
    return next(window.list.item(r) for r in range(window.list.count())
                if window.list.item(r).text() == title)


def test_a_student_keeps_a_case_and_plays_it_without_the_library(
    run: Run, hospital: tuple[LibraryThread, Certificate, Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    server, certificate, local = hospital
    cache = tmp_path / "cache"

    def window_on(url: str) -> LibraryWindow:
        remote = RemoteLibrary(url, token(LibraryRole.STUDENT, ["hospital:zepu"]),
                               cache=cache, ca_file=certificate.cert)
        window = LibraryWindow(local, audio=False, remote=remote)
        window.show()
        run(window.refresh())
        return window

    window = window_on(server.url)
    try:
        window.list.setCurrentItem(_item(window, "Local chole"))
        assert window.publish_button.isVisible() and not window.keep_button.isVisible()
        window.list.setCurrentItem(_item(window, TITLE))
        assert window.keep_button.isVisible() and window.keep_button.isEnabled()
        assert not window.publish_button.isVisible()
        task = window.keep_selected()
        assert task is not None
        folder = run(task)
        assert folder is not None and is_sealed_file(folder / "endoscope.mkv")
        assert "plays without the hospital library" in window.status.text()
        assert "Kept on this computer" in _item(window, TITLE).toolTip()
        window.list.setCurrentItem(_item(window, TITLE))
        assert not window.keep_button.isEnabled()
    finally:
        window.close()

    server.stop()  # the ward has no link
    window = window_on(server.url)
    try:
        assert "Hospital library:" in window.status.text()
        kept = _item(window, TITLE)
        task = window.open_entry(kept.data(ENTRY_ROLE))
        assert task is not None
        player = run(task)
        assert isinstance(player, PlayerWindow)
        run(until(lambda: player.view.current_frame() is not None, seconds(10),
                  "the first picture of the kept case"))
        assert player.playable.folder == folder
        player.close()
        stop_streaming(player.playable.folder)
    finally:
        window.close()
