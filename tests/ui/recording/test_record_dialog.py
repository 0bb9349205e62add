"""The record dialog warns, as the title is typed, when it looks like a patient identifier
(a date of birth, a record number), in the user's language; a procedure gets no warning."""

from __future__ import annotations

from typing import Any

from ui.i18n import set_language
from ui.recording.dialog import RecordDialog


def test_a_date_or_number_in_the_title_is_warned_about(qtbot: Any) -> None:
    dialog = RecordDialog("chole-0425", "Zepu County Hospital")
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.warning.isHidden()
    dialog.title.setText("Cholecystectomy, Ivanov 01.05.1961")
    assert not dialog.warning.isHidden() and "date of birth" in dialog.warning.text()
    assert "anyway" in dialog._ok.text()
    dialog.title.setText("Laparoscopic cholecystectomy")
    dialog.hospital.setText("MRN 4471203")
    assert "record or ID number" in dialog.warning.text()
    dialog.hospital.setText("Zepu County Hospital")
    assert dialog.warning.isHidden() and "anyway" not in dialog._ok.text()


def test_the_warning_is_in_russian_for_a_russian_user(qtbot: Any) -> None:
    set_language("ru")
    try:
        dialog = RecordDialog("Холецистэктомия, пациент Иванов", "")
        qtbot.addWidget(dialog)
        text = dialog.warning.text()
        assert text and not any("a" <= ch <= "z" for ch in text.lower()), text
    finally:
        set_language("en")
