"""Every user-facing string is translated into Simplified Chinese and Russian."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from ui.catalogs import CATALOG_DIR, compile_all, load
from ui.i18n import catalog, plural_form, set_language, tr, tr_n

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


PLURAL_FORMS = {"ru": 3, "zh_CN": 1}
"""How many forms a plural entry of each language gives (its ``Plural-Forms`` rule)."""


def read_catalogue(language: str):  # type: ignore[no-untyped-def]
    with (CATALOG_DIR / f"{language}.po").open("rb") as source:
        return read_po(source, abort_invalid=True)


@pytest.mark.parametrize("language", ["zh_CN", "ru"])
def test_every_string_is_translated_with_the_same_placeholders(language: str) -> None:
    po = read_catalogue(language)
    assert po.num_plurals == PLURAL_FORMS[language]
    data = {m.id: m.string for m in po if m.id and isinstance(m.id, str)}
    plural_entries = {m.id[1]: m for m in po if isinstance(m.id, tuple)}
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
        entry = plural_entries.get(other)
        assert entry is not None, f"{language}: no plural forms for {other!r}"
        assert entry.id[0] == one, f"{language}: {other!r} has another singular"
        forms = entry.string
        assert len(forms) == PLURAL_FORMS[language], f"{language}: forms of {other!r}"
        assert fields(one) <= fields(other), f"placeholders of {one!r}"  # "One of…": no {n}
        for text in forms:
            assert fields(text) == fields(other), f"{language}: placeholders of {other!r}"
            assert text.strip(), f"{language}: empty plural form of {other!r}"
    stale = sorted(set(data) - literals - set(TEMPLATES))
    stale += sorted(set(plural_entries) - set(plurals))
    assert stale == [], f"{language} has translations nothing uses: {stale}"


@pytest.mark.parametrize("n", [0, 1, 2, 4, 5, 11, 12, 14, 21, 22, 25, 101, 111, 112, 1001])
def test_counts_take_the_plural_form_their_number_needs(n: int) -> None:
    """The compiled catalogue's rule picks the form the CLDR rules give for ``n``."""
    try:
        set_language("ru")
        texts = dict(zip(("one", "few", "many"), read_catalogue("ru")[
            ("{n} viewer watches your video", "{n} viewers watch your video")].string,
            strict=True))
        assert tr_n("{n} viewer watches your video", "{n} viewers watch your video", n) \
            == texts[plural_form("ru", n)].format(n=n)
        set_language("en")
        assert tr_n("{n} viewer watches your video", "{n} viewers watch your video", n) \
            == ("{n} viewer watches your video" if n == 1
                else "{n} viewers watch your video").format(n=n)
    finally:
        set_language("en")


def test_compiled_catalogues_are_used_and_a_broken_one_falls_back_to_english(
        tmp_path: Path) -> None:
    for language in ("ru", "zh_CN"):
        (tmp_path / f"{language}.po").write_bytes((CATALOG_DIR / f"{language}.po").read_bytes())
    written = compile_all(tmp_path)
    assert sorted(p.name for p in written) == ["ru.mo", "zh_CN.mo"]
    assert load("ru", tmp_path).gettext("Leave") == catalog("ru")["Leave"] != "Leave"
    (tmp_path / "ru.mo").unlink()
    (tmp_path / "ru.po").write_bytes(b'msgid "Leave"\nmsgstr "\xff\xfe"\n')  # not UTF-8
    assert load("ru", tmp_path).gettext("Leave") == "Leave"  # English, not a crash


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
