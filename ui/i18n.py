"""Every user-facing string goes through :func:`tr`.

Catalogs are JSON files in ``ui/translations/`` (``zh_CN.json``, ``ru.json``) mapping the
English text to the translation; ``{name}`` placeholders are filled after lookup. A test
checks that every ``tr("...")`` literal in ``ui/`` has a translation in each catalog.
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
    return {str(k): str(v) for k, v in data.items()}


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


def role_name(role: Role | str) -> str:
    """The role's name in the current language."""
    names = {
        Role.SURGEON: tr("Surgeon"),
        Role.MENTOR: tr("Mentor"),
        Role.TRAINEE: tr("Trainee"),
        Role.STUDENT: tr("Student"),
    }
    return names.get(Role(role), str(role))
