"""Recording on a computer without a keyring: the hospital passphrase is asked once (the
recording is encrypted with it), a cancelled question records nothing and says why."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PyQt6.QtWidgets import QApplication

from surgery_teach.casefile.keys import PASSPHRASE_ENV, KeyRing, use_key_ring
from surgery_teach.protocol.messages import Role
from surgery_teach.rtc.loop_thread import LoopThread
from tests.timing import seconds
from ui.common.media_thread import GuiCalls
from ui.recording.control import RecordingControl


@pytest.fixture
def control(qapp: QApplication, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingControl]:
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)  # and the tests' keyring fails: none
    previous = use_key_ring(KeyRing())
    media = LoopThread("test-media")
    media.start()
    made = RecordingControl([], tmp_path, Role.SURGEON, title="Whipple", media=media,
                            gui=GuiCalls())
    try:
        yield made
    finally:
        media.stop(seconds(10))
        use_key_ring(previous)


def test_a_cancelled_passphrase_records_nothing_and_says_why(
        qapp: QApplication, control: RecordingControl) -> None:
    problems: list[str] = []
    control.problem.connect(problems.append)
    asked: list[int] = []
    control.ask_passphrase = lambda: asked.append(1) or None  # type: ignore[func-returns-value]
    control.toggle()
    assert asked == [1]
    assert problems and "passphrase" in problems[0]
    assert not control.busy and not control.active  # nothing was started


def test_the_passphrase_is_asked_once_and_gives_the_case_key(
        qapp: QApplication, control: RecordingControl) -> None:
    asked: list[int] = []

    def ask() -> str:
        asked.append(1)
        return "theatre three, blue door"

    control.ask_passphrase = ask
    first = control._case_key()
    second = control._case_key()
    assert asked == [1]  # kept in memory for the session
    assert first[0] and second[0]
    assert first[1] is not None and first[1].kdf is not None  # from the passphrase
    problems: list[str] = []
    control.problem.connect(problems.append)
    control.ask_passphrase = lambda: "short"
    control._passphrase = None
    assert control._case_key() == (False, None)
    assert problems and "10 characters" in problems[0]
