"""Text that looks like a patient identifier, before it goes into a case's metadata.

Titles and hospital names end up in manifests, folder names and the library, which leave
the hospital with exported or published cases. Names cannot be told from procedures by a
rule, but the usual identifiers can: dates (a date of birth), long runs of digits (a
record number, an ID card), and the words that come with them. :func:`identifier_hint`
says which, so the record dialog can warn before anything is written.
"""

from __future__ import annotations

import re
from typing import Final

# 2025-05-01, 01.05.1961, 1/5/61, 1961年5月1日
_DATE: Final = re.compile(
    r"\b\d{4}[-./]\d{1,2}[-./]\d{1,2}\b|\b\d{1,2}[-./]\d{1,2}[-./]\d{2,4}\b"
    r"|\d{2,4}\s*年\s*\d{1,2}\s*月(\s*\d{1,2}\s*日)?")
# a record number or an ID card (a Chinese resident ID is 17 digits and a check digit)
_NUMBER: Final = re.compile(r"\d{6,}|\d{17}[\dXx]")
_WORDS: Final = re.compile(
    r"\b(dob|d\.o\.b|born|mrn|patient|pt\.?|id|record no)\b|出生|生日|患者|病人|病历号|住院号"
    r"|身份证|пациент|д\.?\s?р\.?|дата рождения|полис|снилс|№\s*\d",
    re.IGNORECASE)


def identifier_hint(text: str) -> str | None:
    """Why ``text`` may identify a patient (``"date"``, ``"number"`` or ``"word"``), or
    None. A hint, not a guarantee: a name alone is not recognised."""
    if _DATE.search(text):
        return "date"
    if _NUMBER.search(text):
        return "number"
    if _WORDS.search(text):
        return "word"
    return None
