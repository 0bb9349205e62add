"""“Publish to the hospital library…” in the library window: a mentor publishes an encrypted
case recorded on this computer to a real library server (asked for its passphrase, told
plainly when it is wrong, nothing sent), sees it listed as in the library, plays the
library's copy in the player, adds a chapter and exports a clip there, both of which reach
the library; without
a library set up the window says how to set one."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from library_server.config import LibraryConfig
from surgery_teach.casebook.media import stop_streaming
from surgery_teach.casefile.keys import (
    PASSPHRASE_ENV,
    KeyRing,
    recording_key,
    use_key_ring,
)
from surgery_teach.casefile.layout import new_case_folder
from surgery_teach.caselibrary.passes import LibraryRole
from surgery_teach.caselibrary.remote import RemoteLibrary
from tests.library_server.helpers import (
    SECRET,
    Certificate,
    LibraryThread,
    make_certificate,
    token,
)
from tests.recording.cases import TITLE, _record
from tests.timing import seconds
from tests.ui.conftest import until
from tests.ui.library.test_remote_library import hospital  # noqa: F401 (a fixture)
from ui.i18n import set_language
from ui.library.player import PlayerWindow
from ui.library.window import ENTRY_ROLE, LibraryWindow

Run = Callable[[Any], Any]
PASSPHRASE = "theatre three, blue door"

pytestmark = pytest.mark.slow


@pytest.fixture
def ring(monkeypatch: pytest.MonkeyPatch) -> Iterator[KeyRing]:
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)
    ring = KeyRing(use_os_keyring=False)
    previous = use_key_ring(ring)
    try:
        yield ring
    finally:
        use_key_ring(previous)


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def _encrypted_recording(recordings: Path) -> Path:
    """A case really recorded encrypted with the hospital passphrase, in ``recordings``."""
    folder = new_case_folder(recordings, TITLE,
                             key=recording_key(encrypt=True, passphrase=PASSPHRASE))
    with ThreadPoolExecutor(1) as pool:  # asyncio.run must not unset the test's Qt loop
        pool.submit(asyncio.run, _record(folder, audio=False)).result()
    return folder


def _library(tmp_path: Path) -> tuple[LibraryThread, RemoteLibrary]:
    """A library server over TLS and a mentor's connection to it."""
    certificate = make_certificate(tmp_path)
    server = LibraryThread(LibraryConfig(
        data_dir=tmp_path / "library", secret=SECRET, port=0, min_free_bytes=0,
        cert_file=certificate.cert, key_file=certificate.key))
    remote = RemoteLibrary(server.url, token(LibraryRole.MENTOR, ["hospital:zepu"]),
                           cache=tmp_path / "cache", ca_file=certificate.cert)
    return server, remote


def test_a_mentor_publishes_an_encrypted_case_from_the_library_window(
    run: Run, tmp_path: Path, ring: KeyRing
) -> None:
    recordings = tmp_path / "recordings"
    folder = _encrypted_recording(recordings)
    ring.forget()  # this computer has to be given the passphrase
    server, remote = _library(tmp_path)
    window = LibraryWindow(recordings, audio=False, remote=remote)
    confirmed: list[tuple[str, str]] = []

    def confirm(title: str, library: str) -> str | None:
        confirmed.append((title, library))
        return "Cholecystectomy"

    window.publishing.confirm = confirm
    try:
        window.show()
        run(window.refresh())
        assert window.publish_button.isVisible()
        before = _hashes(folder)
        window.ask_passphrase = lambda title: "theatre three, red door"
        assert window.publish_selected() is None
        assert "does not open" in window.status.text() and confirmed == []
        window.ask_passphrase = lambda title: None  # cancelled: nothing happens
        assert window.publish_selected() is None and confirmed == []
        assert not any((tmp_path / "library" / "uploads").iterdir())

        window.ask_passphrase = lambda title: PASSPHRASE
        seen: list[str] = []
        window.publishing.status.connect(seen.append)
        task = window.publish_selected()
        assert task is not None and confirmed == [(TITLE, server.url)]
        result = run(task)
        assert result is not None and result.case.procedure == "Cholecystectomy"
        assert any("Sending" in line and "%" in line for line in seen)
        assert _hashes(folder) == before  # the encrypted original is untouched
        run(until(lambda: window.list.count() == 2 and "is now in the hospital library"
                  in window.status.text(), seconds(15), "the library's copy listed"))
        items = [window.list.item(r) for r in range(window.list.count())]
        [in_library] = [i for i in items if "In the hospital library" in i.toolTip()]
        [here] = [i for i in items if i is not in_library]
        assert "Published to the hospital library" in here.toolTip()  # what is published
        window.list.setCurrentItem(in_library)
        assert window.publish_selected() is None
        assert "already in the hospital library" in window.status.text()

        opened = window.open_entry(in_library.data(ENTRY_ROLE))
        assert opened is not None
        player = run(opened)
        assert isinstance(player, PlayerWindow)
        run(until(lambda: player.view.current_frame() is not None, seconds(10),
                  "the first picture"))
        assert player.playable.folder.parent == tmp_path / "cache"
        assert not (player.playable.folder / "endoscope.mkv").exists()  # streamed
        player.chapters.add_at("Clipping the cystic artery", 1.0)  # a mentor's edit
        run(until(lambda: "students see them now" in window.status.text(), seconds(10),
                  "the edit to reach the library"))
        assert player.chapters.problem.isHidden()
        [listed] = remote.entries("cystic artery")
        assert "Clipping the cystic artery" in [t for t, _ in listed.summary.chapters]
        player.export_button.click()  # a clip of the library's copy goes back to it
        dialog = player.export_dialog
        assert dialog is not None
        dialog.start_field.setText("0:00.5")
        dialog.end_field.setText("0:02.0")
        dialog.output.setText(str(tmp_path / "calot.mp4"))
        dialog.start_export()
        run(until(lambda: "students see it there" in dialog.message.text(), seconds(30),
                  "the clip to reach the library"))
        [listed] = remote.entries("cystic artery")
        assert [c.name for c in listed.summary.clips] == ["calot.mp4"]
        dialog.reject()
        player.close()
        stop_streaming(player.playable.folder)
    finally:
        window.close()
        server.stop()


def test_without_a_library_the_window_says_how_to_set_one_up(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.ui.library.test_window import recorded

    monkeypatch.delenv("SURGERY_TEACH_LIBRARY_URL", raising=False)
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    case = recorded(tmp_path)
    case.rename(recordings / "case")
    set_language("ru")
    window = LibraryWindow(recordings, audio=False)
    try:
        run(window.refresh())
        assert window.remote is None and window.publish_selected() is None
        text = window.status.text()
        assert "SURGERY_TEACH_LIBRARY_URL" in text and "библиотека" in text
    finally:
        set_language("en")
        window.close()


def test_a_student_token_is_told_in_russian_to_ask_for_a_mentor_token(
    run: Run, hospital: tuple[LibraryThread, Certificate, Path], tmp_path: Path,  # noqa: F811
) -> None:
    server, certificate, local = hospital
    remote = RemoteLibrary(server.url, token(LibraryRole.STUDENT, ["hospital:zepu"]),
                           cache=tmp_path / "cache", ca_file=certificate.cert)
    set_language("ru")
    window = LibraryWindow(local, audio=False, remote=remote)
    window.publishing.confirm = lambda title, library: title
    try:
        run(window.refresh())
        window.list.setCurrentRow(next(r for r in range(window.list.count())
                                       if window.list.item(r).text() == "Local chole"))
        task = window.publish_selected()
        assert task is not None and run(task) is None
        text = window.status.text()
        assert "токен наставника" in text and "Local chole" in text
    finally:
        set_language("en")
        window.close()


def test_a_case_damaged_on_disk_is_not_published_and_the_mentor_is_told_in_chinese(
    run: Run, tmp_path: Path, ring: KeyRing
) -> None:
    from surgery_teach.casefile.sealing import HEADER_SIZE

    recordings = tmp_path / "recordings"
    folder = _encrypted_recording(recordings)
    with open(folder / "endoscope.mkv", "r+b") as file:  # a sector changed on disk
        file.seek(HEADER_SIZE + 3000)
        byte = file.read(1)
        file.seek(HEADER_SIZE + 3000)
        file.write(bytes([byte[0] ^ 0x55]))
    server, remote = _library(tmp_path)
    set_language("zh_CN")
    window = LibraryWindow(recordings, audio=False, remote=remote)
    window.publishing.confirm = lambda title, library: "Cholecystectomy"
    try:
        run(window.refresh())
        task = window.publish_selected()
        assert task is not None and run(task) is None
        text = window.status.text()
        assert TITLE in text and "损坏" in text and "备份" in text, text
        assert not any((tmp_path / "library" / "cases").iterdir())
    finally:
        set_language("en")
        window.close()
        server.stop()
