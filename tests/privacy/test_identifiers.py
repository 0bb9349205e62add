"""Titles that look like they carry a patient identifier are flagged; procedures are not."""

from __future__ import annotations

import pytest

from surgery_teach.privacy.identifiers import identifier_hint


@pytest.mark.parametrize(("text", "hint"), [
    ("Cholecystectomy 1961-05-01", "date"),
    ("Chole, born 01.05.1961", "date"),
    ("腹腔镜胆囊切除 1961年5月1日", "date"),
    ("Whipple MRN 4471203", "number"),
    ("胆囊切除 650102196105011234", "number"),
    ("Hernia, patient Ivanov", "word"),
    ("胆囊切除 患者张三", "word"),
    ("Холецистэктомия, пациент Иванов", "word"),
    ("Аппендэктомия, полис № 5", "word"),
])
def test_identifiers_are_flagged(text: str, hint: str) -> None:
    assert identifier_hint(text) == hint


@pytest.mark.parametrize("text", [
    "Laparoscopic cholecystectomy", "TAPP hernia repair, step 3", "腹腔镜胆囊切除术",
    "Лапароскопическая холецистэктомия", "Zepu County Hospital", "Xining No. 1 Hospital",
    "Case 12 of the course",
])
def test_procedures_and_hospitals_are_not(text: str) -> None:
    assert identifier_hint(text) is None
