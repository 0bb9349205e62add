"""Every user-facing string goes through :func:`tr` (or :func:`tr_n` for counts).

The catalogues are gettext ``.po`` files in ``ui/translations/`` (``zh_CN.po``,
``ru.po``), keyed by the English text, compiled to ``.mo`` (:mod:`ui.catalogs`);
``{name}`` placeholders are filled after lookup. Counts go through :func:`tr_n`
("1 viewer", "5 viewers"), whose entry has one text per plural form of the language, as
its ``Plural-Forms`` rule says (Russian one 1, 21, 101…; few 2-4, 22-24…; many 5-20,
25-30…, 11-14; Chinese one form). A test checks that every ``tr("...")`` and
``tr_n(...)`` literal in ``ui/`` has a translation in each catalogue, and none is stale.
"""

from __future__ import annotations

import gettext
import logging
from functools import cache

from surgery_teach.wire.role import Role
from ui.catalogs import CATALOG_DIR, load

logger = logging.getLogger(__name__)

__all__ = ["CATALOG_DIR", "LANGUAGES", "catalog", "language", "plural_form", "problem_text",
           "role_name", "set_language", "tr", "tr_n"]

LANGUAGES = {"en": "English", "zh_CN": "简体中文", "ru": "Русский"}

_language = "en"


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``language`` (English: none)."""
    if language == "en":
        return gettext.NullTranslations()
    return load(language)


def catalog(language: str) -> dict[str, str]:
    """``language``'s singular entries: English text -> translation."""
    entries = getattr(translations(language), "_catalog", {})
    return {key: value for key, value in entries.items() if isinstance(key, str) and key}


def plural_form(language: str, n: int) -> str:
    """The CLDR plural category of the whole number ``n`` in ``language`` (for tests and
    for texts that are chosen, not looked up)."""
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
        return translations(_language).gettext(template).format(**problem.values)  # type: ignore[attr-defined]
    except (KeyError, IndexError, ValueError):
        return str(problem)


def tr(text: str, **values: object) -> str:
    """``text`` in the current language, with ``{placeholders}`` filled from ``values``."""
    translated = translations(_language).gettext(text)
    if values:
        try:
            return translated.format(**values)
        except (KeyError, IndexError, ValueError):
            return text.format(**values)
    return translated


def tr_n(one: str, other: str, n: int, **values: object) -> str:
    """A text about ``n`` things in the current language, in the plural form that goes
    with ``n``: ``tr_n("{n} viewer", "{n} viewers", 5)``. ``{n}`` and ``values`` fill
    the placeholders."""
    text = translations(_language).ngettext(one, other, n)
    english = one if n == 1 else other
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
