"""An encrypted case recorded with a hospital passphrase on another computer: the library
lists it as locked, asks the passphrase when it is opened, says so plainly when the
passphrase is wrong (nothing changed on disk), and opens it with the right one."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from surgery_teach.casefile.keys import (
    PASSPHRASE_ENV,
    KeyRing,
    recording_key,
    use_key_ring,
)
from surgery_teach.casefile.layout import new_case_folder
from tests.recording.cases import _record
from tests.timing import seconds
from tests.ui.conftest import until
from ui.library.player import PlayerWindow
from ui.library.window import LibraryWindow

Run = Callable[[Any], Any]
PASSPHRASE = "theatre three, blue door"


@pytest.fixture
def ring(monkeypatch: pytest.MonkeyPatch) -> Iterator[KeyRing]:
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)  # this computer was not given it
    ring = KeyRing()
    previous = use_key_ring(ring)
    try:
        yield ring
    finally:
        use_key_ring(previous)


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


@pytest.mark.slow
def test_a_locked_case_asks_its_passphrase_and_opens(run: Run, tmp_path: Path,
                                                     ring: KeyRing) -> None:
    root = tmp_path / "library"
    key = recording_key(encrypt=True, passphrase=PASSPHRASE)
    folder = new_case_folder(root, "Whipple", key=key)
    with ThreadPoolExecutor(1) as pool:  # asyncio.run must not unset the test's Qt loop
        pool.submit(asyncio.run, _record(folder, audio=False)).result()
    ring.forget()  # as on the computer of the student who copied it
    before = _hashes(folder)

    window = LibraryWindow(root, audio=False)
    try:
        run(window.refresh())
        [entry] = window.entries
        assert entry.locked is not None
        asked: list[str] = []

        def wrong(title: str) -> str:
            asked.append(title)
            return "theatre three, red door"

        window.ask_passphrase = wrong
        assert window.open_entry(entry) is None
        assert asked == [entry.title]
        assert "does not open" in window.status.text() and "nothing was changed" in \
            window.status.text()
        assert window.players == []
        window.ask_passphrase = lambda title: None  # cancelled: nothing happens
        assert window.open_entry(entry) is None and window.players == []

        window.ask_passphrase = lambda title: PASSPHRASE
        task = window.open_entry(entry)
        assert task is not None
        player = run(task)
        assert isinstance(player, PlayerWindow) and window.players == [player]
        run(until(lambda: player.view.current_frame() is not None, seconds(10),
                  "the first picture"))
        assert "Laparoscopic cholecystectomy" in player.windowTitle()  # its own manifest
    finally:
        for player in list(window.players):
            player.close()
        window.close()
    after = _hashes(folder)
    assert {name: after[name] for name in before} == before  # the case's own files unchanged
