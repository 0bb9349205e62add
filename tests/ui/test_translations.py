"""Every user-facing string is translated into Simplified Chinese and Russian."""

from __future__ import annotations

import ast
import json
import re
import string
from pathlib import Path

import pytest

from ui.i18n import CATALOG_DIR, PLURAL_FORMS, catalog, set_language, tr

UI = Path(__file__).resolve().parents[2] / "ui"


def tr_literals() -> set[str]:
    found = set()
    for path in UI.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "tr" and node.args):
                first = node.args[0]
                assert isinstance(first, ast.Constant) and isinstance(first.value, str), (
                    f"{path.name}:{node.lineno}: tr() needs a literal string to be translatable")
                found.add(first.value)
    return found


def tr_n_literals() -> dict[str, str]:
    """The ``tr_n(one, other, n)`` calls in ``ui/``: their key (``other``) -> ``one``."""
    found = {}
    for path in UI.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "tr_n"):
                one, other = node.args[:2]
                assert all(isinstance(a, ast.Constant) and isinstance(a.value, str)
                           for a in (one, other)), (
                    f"{path.name}:{node.lineno}: tr_n() needs literal strings")
                found[other.value] = one.value  # type: ignore[union-attr]
    return found


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("language", ["zh_CN", "ru"])
def test_every_string_is_translated_with_the_same_placeholders(language: str) -> None:
    data = json.loads((CATALOG_DIR / f"{language}.json").read_text(encoding="utf-8"))
    literals = tr_literals()
    assert len(literals) > 30
    missing = sorted(literals - set(data))
    assert missing == [], f"untranslated in {language}: {missing}"
    for source in literals:
        assert fields(data[source]) == fields(source), f"{language}: placeholders of {source!r}"
        assert data[source].strip(), f"{language}: empty translation of {source!r}"
    from surgery_teach.casebook.problems import TEMPLATES  # translated by problem_text()

    plurals = tr_n_literals()
    for other, one in plurals.items():
        forms = data.get(other)
        assert isinstance(forms, dict), f"{language}: no plural forms for {other!r}"
        assert set(forms) == set(PLURAL_FORMS[language]), f"{language}: forms of {other!r}"
        assert fields(one) <= fields(other), f"placeholders of {one!r}"  # "One of…": no {n}
        for text in forms.values():
            assert fields(text) == fields(other), f"{language}: placeholders of {other!r}"
            assert text.strip(), f"{language}: empty plural form of {other!r}"
    stale = sorted(set(data) - literals - set(TEMPLATES) - set(plurals))
    assert stale == [], f"{language} has translations nothing uses: {stale}"


def test_translations_are_really_in_the_language() -> None:
    zh = catalog("zh_CN")
    ru = catalog("ru")
    assert any(re.search(r"[\u4e00-\u9fff]", v) for v in zh.values())
    assert all(re.search(r"[\u4e00-\u9fff]", v) for k, v in zh.items() if re.search("[a-z]{4}", k))
    assert all(re.search(r"[А-Яа-яЁё]", v) for k, v in ru.items() if re.search("[a-z]{4}", k))


def test_switching_language_changes_strings_and_falls_back_to_english() -> None:
    try:
        assert set_language("zh_CN") == "zh_CN"
        assert tr("Leave") == catalog("zh_CN")["Leave"] != "Leave"
        assert set_language("ru") == "ru"
        assert tr("Participants ({count})", count=3) == catalog("ru")[
            "Participants ({count})"].format(count=3)
        assert set_language("xx") == "en"
        assert tr("Leave") == "Leave"
    finally:
        set_language("en")


@pytest.mark.parametrize("language", ["zh_CN", "ru"])
def test_every_case_problem_the_core_can_report_is_translated(language: str) -> None:
    from surgery_teach.casebook.problems import INTERRUPTED, TEMPLATES, Problem
    from ui.i18n import problem_text

    data = catalog(language)
    for template in TEMPLATES:
        assert template in data, f"{language}: no translation for {template!r}"
        assert fields(data[template]) == fields(template), template
    problem = Problem(INTERRUPTED, time="12:31")
    assert problem == "recording was interrupted; plays up to 12:31"  # still the sentence
    set_language(language)
    try:
        shown = problem_text(problem)
        assert "12:31" in shown and shown != problem and shown == data[INTERRUPTED].format(
            time="12:31")
        assert problem_text("a sentence from an older cache") == "a sentence from an older cache"
    finally:
        set_language("en")
