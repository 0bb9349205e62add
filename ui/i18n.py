"""Every user-facing string goes through :func:`tr`.

Catalogs are JSON files in ``ui/translations/`` (``zh_CN.json``, ``ru.json``) mapping the
English text to the translation; ``{name}`` placeholders are filled after lookup. A test
checks that every ``tr("...")`` literal in ``ui/`` has a translation in each catalog.

Counts go through :func:`tr_n` ("1 viewer", "5 viewers"): its catalog entry is keyed by
the English plural text and holds one text per plural form of the language, by the CLDR
plural rules (Russian ``one`` 1, 21, 101…; ``few`` 2-4, 22-24…; ``many`` 5-20, 25-30…, 11-14;
Chinese one ``other`` form): ``"{n} viewers": {"one": "{n} зритель", "few": "{n}
зрителя", "many": "{n} зрителей"}``.
"""

from __future__ import annotations

import json
import logging
from functools import cache
from pathlib import Path

from surgery_teach.wire.role import Role

logger = logging.getLogger(__name__)

CATALOG_DIR = Path(__file__).resolve().parent / "translations"
LANGUAGES = {"en": "English", "zh_CN": "简体中文", "ru": "Русский"}

_language = "en"


@cache
def catalog(language: str) -> dict[str, str]:
    if language == "en":
        return {}
    path = CATALOG_DIR / f"{language}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        logger.warning("translation %s unavailable (%s); using English", language, exc)
        return {}
    return {str(k): str(v) for k, v in data.items() if not isinstance(v, dict)}


@cache
def plural_catalog(language: str) -> dict[str, dict[str, str]]:
    """The plural entries of ``language``'s catalog: English plural text -> form -> text."""
    if language == "en":
        return {}
    try:
        data = json.loads((CATALOG_DIR / f"{language}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # catalog() has said why
    return {str(k): {str(f): str(t) for f, t in v.items()}
            for k, v in data.items() if isinstance(v, dict)}


def plural_form(language: str, n: int) -> str:
    """The CLDR plural category of the whole number ``n`` in ``language``."""
    n = abs(n)
    if language == "ru":
        if n % 10 == 1 and n % 100 != 11:
            return "one"
        if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
            return "few"
        return "many"
    if language == "zh_CN":
        return "other"
    return "one" if n == 1 else "other"


PLURAL_FORMS = {"en": ("one", "other"), "ru": ("one", "few", "many"), "zh_CN": ("other",)}
"""The forms a plural entry of each language must give."""


def set_language(language: str) -> str:
    """Switch language; unknown codes fall back to English. Returns the one in effect."""
    global _language
    _language = language if language in LANGUAGES else "en"
    return _language


def language() -> str:
    return _language


def problem_text(problem: str) -> str:
    """A case problem from the core (:class:`~surgery_teach.casebook.problems.Problem`) in
    the current language; plain sentences (e.g. an old cache's) as they are."""
    template = getattr(problem, "template", None)
    if not isinstance(template, str):
        return str(problem)
    try:  # the templates are listed in surgery_teach.casebook.problems.TEMPLATES
        return catalog(_language).get(template, template).format(**problem.values)  # type: ignore[attr-defined]
    except (KeyError, IndexError, ValueError):
        return str(problem)


def tr(text: str, **values: object) -> str:
    """``text`` in the current language, with ``{placeholders}`` filled from ``values``."""
    translated = catalog(_language).get(text, text)
    if values:
        try:
            return translated.format(**values)
        except (KeyError, IndexError, ValueError):
            return text.format(**values)
    return translated


def tr_n(one: str, other: str, n: int, **values: object) -> str:
    """A text about ``n`` things in the current language, in the plural form that goes
    with ``n``: ``tr_n("{n} viewer", "{n} viewers", 5)``. ``{n}`` and ``values`` fill
    the placeholders. The catalog entry is keyed by ``other``."""
    form = plural_form(_language, n)
    forms = plural_catalog(_language).get(other)
    english = one if plural_form("en", n) == "one" else other
    text = forms.get(form, english) if forms else english
    try:
        return text.format(n=n, **values)
    except (KeyError, IndexError, ValueError):
        return english.format(n=n, **values)


def role_name(role: Role | str) -> str:
    """The role's name in the current language."""
    names = {
        Role.SURGEON: tr("Surgeon"),
        Role.MENTOR: tr("Mentor"),
        Role.TRAINEE: tr("Trainee"),
        Role.STUDENT: tr("Student"),
    }
    return names.get(Role(role), str(role))
