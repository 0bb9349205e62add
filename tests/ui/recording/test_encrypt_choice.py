"""The record dialog's "Encrypt the recording" box: on by default, turning it off says what
that means, the choice is remembered, and a case recorded with it off is plain on disk
(a real session, a real recorder)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from signaling_server.server import ServerConfig, start_server
from surgery_teach.casebook import open_recording
from surgery_teach.casefile.sealed_folder import SEAL_FILE, is_sealed_file
from surgery_teach.protocol.messages import Role
from surgery_teach.rtc.session import SessionConfig
from surgery_teach.settings import Settings
from tests.timing import seconds
from tests.ui.conftest import until
from ui.i18n import set_language
from ui.recording.dialog import RecordDialog
from ui.session.controller import SessionController
from ui.session.window import SessionWindow


def test_the_box_is_on_by_default_and_turning_it_off_warns(qtbot: Any) -> None:
    dialog = RecordDialog("chole", "Zepu County Hospital")
    qtbot.addWidget(dialog)
    dialog.show()
    chosen: list[tuple[str, str, bool]] = []
    dialog.chosen.connect(lambda *values: chosen.append(values))
    assert dialog.encrypt.isChecked() and dialog.plain_warning.isHidden()
    dialog.encrypt.setChecked(False)
    assert not dialog.plain_warning.isHidden()
    assert "no patient" in dialog.plain_warning.text()
    dialog.buttons.accepted.emit()
    assert chosen == [("chole", "Zepu County Hospital", False)]

    remembered = RecordDialog("chole", "", encrypt=False)
    qtbot.addWidget(remembered)
    remembered.show()
    assert not remembered.encrypt.isChecked() and not remembered.plain_warning.isHidden()


def test_the_box_and_its_warning_are_in_russian(qtbot: Any) -> None:
    set_language("ru")
    try:
        dialog = RecordDialog("chole", "", encrypt=False)
        qtbot.addWidget(dialog)
        for text in (dialog.encrypt.text(), dialog.plain_warning.text()):
            assert text and not any("a" <= ch <= "z" for ch in text.lower()), text
    finally:
        set_language("en")


@pytest.fixture
def settings_kept() -> Iterator[None]:
    """The tests' settings folder is shared: put the settings back afterwards."""
    before = Settings.load()
    yield
    before.save()


@pytest.mark.slow
def test_a_case_recorded_with_encryption_off_is_plain_and_the_choice_is_kept(
        qtbot, run, tmp_path: Path, settings_kept: None) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> Path:
        server = await start_server(ServerConfig(port=0))
        surgeon = SessionController.from_specs(
            SessionConfig(server=server.url, room="teaching", name="Dr Wang",
                          role=Role.SURGEON), ["Model=synthetic:320x240@30"])
        surgeon.recording.root = tmp_path
        try:
            await surgeon.start()
            window = SessionWindow(surgeon)
            qtbot.addWidget(window)
            window.show()
            rec = window.recording
            rec.record_button.click()
            asked = rec.record_dialog
            assert asked is not None and asked.encrypt.isChecked()  # on unless turned off
            asked.title.setText("Suturing on the bench model")
            asked.encrypt.setChecked(False)
            asked.buttons.accepted.emit()
            await until(lambda: surgeon.recording.active, seconds(10), "the recording")
            folder = surgeon.recording.folder
            assert folder is not None
            await until(lambda: (surgeon.recording.status is not None and
                                 surgeon.recording.status.frames.get("Model", 0) > 10),
                        seconds(20), "video in the file")
            surgeon.recording.toggle()
            await until(lambda: not surgeon.recording.active and not surgeon.recording.busy,
                        seconds(20), "the recording to stop")
            rec.record_button.click()  # the next case offers the same choice
            again = rec.record_dialog
            assert again is not None and not again.encrypt.isChecked()
            again.reject()
        finally:
            await surgeon.leave()
            await server.close()
        return folder

    folder = run(scenario())
    assert Settings.load().encrypt_recordings is False
    assert not (folder / SEAL_FILE).exists()
    (source,) = open_recording(folder).manifest.sources
    assert not is_sealed_file(folder / source.file)
    assert not is_sealed_file(folder / "manifest.json")
