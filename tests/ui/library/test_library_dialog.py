"""“Hospital library…”: a student pastes the library's address and token once (saved in the
settings, the token never in a repr), bad input is refused in plain words, and the
library window lists the library's cases from then on without environment variables."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from surgery_teach.caselibrary.passes import LibraryRole
from surgery_teach.settings import Settings
from tests.library_server.helpers import Certificate, LibraryThread, token
from tests.ui.library.test_remote_library import hospital  # noqa: F401 (a fixture)
from ui.library.library_dialog import LibraryDialog
from ui.library.window import LibraryWindow

Run = Callable[[Any], Any]


@pytest.fixture
def settings_kept(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No library in the environment; the shared test settings put back afterwards."""
    for name in ("URL", "TOKEN", "CA"):
        monkeypatch.delenv(f"SURGERY_TEACH_LIBRARY_{name}", raising=False)
    before = Settings.load()
    yield
    before.save()


def test_bad_input_is_refused_and_good_input_saved(qtbot: Any, settings_kept: None,
                                                  tmp_path: Path) -> None:
    dialog = LibraryDialog()
    qtbot.addWidget(dialog)
    dialog.url.setText("library.hospital.cn")
    dialog.accept()
    assert "https://HOST:PORT" in dialog.problem.text() and not dialog.result()
    dialog.url.setText("https://library.hospital.cn:8443")
    dialog.accept()
    assert "token" in dialog.problem.text()
    dialog.token.setText("eyJ.secret.token")
    dialog.ca_file.setText(str(tmp_path / "missing.pem"))
    dialog.accept()
    assert "missing.pem" in dialog.problem.text()
    assert Settings.load().library_url == ""  # nothing saved while it was refused
    dialog.ca_file.setText("")
    dialog.accept()
    saved = Settings.load()
    assert (saved.library_url, saved.library_token) == (
        "https://library.hospital.cn:8443", "eyJ.secret.token")
    assert "secret" not in repr(saved)


def test_the_window_lists_the_library_the_settings_name(
    run: Run, qtbot: Any, settings_kept: None,
    hospital: tuple[LibraryThread, Certificate, Path],  # noqa: F811
) -> None:
    server, certificate, local = hospital
    dialog = LibraryDialog()
    qtbot.addWidget(dialog)
    dialog.url.setText(server.url)
    dialog.token.setText(token(LibraryRole.STUDENT, ["hospital:zepu"]))
    dialog.ca_file.setText(str(certificate.cert))
    dialog.accept()
    window = LibraryWindow(local, audio=False)
    try:
        run(window.refresh())
        titles = {window.list.item(r).text() for r in range(window.list.count())}
        assert titles == {"Local chole", "Appendectomy (library)"}
        run(window.set_remote(None))  # the address cleared: local cases only
        titles = {window.list.item(r).text() for r in range(window.list.count())}
        assert titles == {"Local chole"}
    finally:
        window.close()
