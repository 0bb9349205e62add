"""Qt's own texts (OK, Cancel, Yes, the file dialogs) in the user's language.

PyQt6's wheel ships Qt's catalogues (``qtbase_ru.qm``, ``qtbase_zh_CN.qm``) in
``QLibraryInfo``'s translations folder; without loading one, a Chinese or Russian window
would show English standard buttons.
"""

from __future__ import annotations

import logging

from PyQt6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

logger = logging.getLogger("ui")

_installed: QTranslator | None = None


def install_qt_translations(language: str) -> bool:
    """Load Qt's catalogue for ``language`` (``en``: none) into the running application,
    replacing the one loaded before; ``False`` if there is none for it."""
    global _installed
    app = QCoreApplication.instance()
    if app is None:
        return False
    if _installed is not None:
        QCoreApplication.removeTranslator(_installed)
        _installed = None
    if language == "en":
        QLocale.setDefault(QLocale(QLocale.Language.English))
        return True
    folder = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    translator = QTranslator(app)
    if not translator.load(f"qtbase_{language}", folder):
        logger.info("Qt's own texts stay English: no qtbase_%s in %s", language, folder)
        return False
    QCoreApplication.installTranslator(translator)
    QLocale.setDefault(QLocale(language))
    _installed = translator
    return True
