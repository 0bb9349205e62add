"""Qt's own buttons (OK, Cancel) follow the app's language, and the app has one name
per language in every window title."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from PyQt6.QtWidgets import QDialogButtonBox

from ui.i18n import catalog
from ui.qt_translations import install_qt_translations

Buttons = QDialogButtonBox.StandardButton


@pytest.fixture
def english_after() -> Iterator[None]:
    yield
    install_qt_translations("en")


def button_texts(qtbot) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    box = QDialogButtonBox(Buttons.Ok | Buttons.Cancel)
    qtbot.addWidget(box)
    ok, cancel = box.button(Buttons.Ok), box.button(Buttons.Cancel)
    assert ok is not None and cancel is not None
    return ok.text().replace("&", ""), cancel.text().replace("&", "")


@pytest.mark.parametrize(("language", "script"),
                         [("ru", r"[А-Яа-я]"), ("zh_CN", r"[\u4e00-\u9fff]")])
def test_qts_own_ok_and_cancel_are_translated(qtbot, english_after: None, language: str,
                                             script: str) -> None:  # type: ignore[no-untyped-def]
    assert install_qt_translations(language)
    ok, cancel = button_texts(qtbot)
    assert re.search(script, cancel), cancel  # Отмена, 取消
    assert ok == "OK" if language == "ru" else re.search(script, ok), ok  # Qt's Russian: OK
    assert install_qt_translations("en")
    assert button_texts(qtbot) == ("OK", "Cancel")


@pytest.mark.parametrize("language", ["ru", "zh_CN"])
def test_every_window_title_uses_one_app_name(language: str) -> None:
    titles = {key: text for key, text in catalog(language).items()
              if key.startswith("Surgery teaching — ")}
    assert len(titles) >= 3
    names = {text.split(" — ")[0] for text in titles.values()}
    assert len(names) == 1, f"{language} names the app differently: {names}"
