"""The translation catalogues: gettext ``.po`` sources, compiled to ``.mo``.

``ui/translations/<language>.po`` are the sources (edited by hand or with any PO editor,
English text as ``msgid``, plural forms by the language's ``Plural-Forms`` rule: Russian
one / few / many, Chinese one form). ``make setup`` compiles them to ``.mo`` next to them
(``python -m ui.catalogs``), as the app bundle does; a missing or stale ``.mo`` is compiled
in memory when the language is first used, so a fresh checkout works too. Reading and
writing PO/MO is Babel's; looking texts up is the standard library's :mod:`gettext`.
"""

from __future__ import annotations

import gettext
import io
import logging
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

CATALOG_DIR = Path(__file__).resolve().parent / "translations"
LANGUAGES = ("ru", "zh_CN")


def compile_po(po: Path) -> bytes:
    """The ``.mo`` bytes of the catalogue ``po`` (raises ``OSError``/``ValueError``)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as source:
        catalog = read_po(source, abort_invalid=True)
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def load(language: str, directory: Path = CATALOG_DIR) -> gettext.NullTranslations:
    """``language``'s translations: its ``.mo`` if it is at least as new as its ``.po``,
    else the ``.po`` compiled now; English (no translation) if neither can be read."""
    po, mo = directory / f"{language}.po", directory / f"{language}.mo"
    try:
        if mo.is_file() and (not po.is_file() or mo.stat().st_mtime >= po.stat().st_mtime):
            data = mo.read_bytes()
        else:
            data = compile_po(po)
        return gettext.GNUTranslations(io.BytesIO(data))
    except Exception as exc:  # a broken catalogue must never stop the app: English instead
        logger.warning("translation %s unavailable (%s); using English", language, exc)
        return gettext.NullTranslations()


def compile_all(directory: Path = CATALOG_DIR, out: Path | None = None) -> list[Path]:
    """Write ``<language>.mo`` for every ``<language>.po`` in ``directory`` (into ``out``,
    default beside them)."""
    written = []
    for po in sorted(directory.glob("*.po")):
        mo = (out or directory) / f"{po.stem}.mo"
        mo.parent.mkdir(parents=True, exist_ok=True)
        mo.write_bytes(compile_po(po))
        written.append(mo)
    return written


def main() -> int:
    """``python -m ui.catalogs [OUT_DIR]``: compile every catalogue (beside its source)."""
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    for mo in compile_all(CATALOG_DIR, out):
        print(f"compiled {mo}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
