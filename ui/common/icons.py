"""Icons from a maintained icon font (QtAwesome's Material Design Icons) for buttons.

A button with an icon keeps its words in the tooltip, so it is still named for those
who hover and for screen readers. If the icon font cannot be loaded (a broken install),
buttons simply keep their text: an icon is never the only way to tell what a button does.
"""

from __future__ import annotations

import logging
from functools import cache

from PyQt6.QtCore import QSize
from PyQt6.QtGui import QIcon
from PyQt6.QtWidgets import QAbstractButton

logger = logging.getLogger(__name__)

ICON_COLOUR = "#f0f6fc"  # the theme's text colour (ui.theme.TEXT)

NAMES = {
    "pen": "mdi6.draw", "arrow": "mdi6.arrow-top-right-thick", "line": "mdi6.vector-line",
    "ellipse": "mdi6.circle-outline", "rect": "mdi6.rectangle-outline",
    "text": "mdi6.format-text", "pointer": "mdi6.cursor-default-click",
    "undo": "mdi6.undo", "redo": "mdi6.redo", "clear-mine": "mdi6.eraser",
    "clear-all": "mdi6.delete-sweep", "clear-gone": "mdi6.account-remove",
    "freeze": "mdi6.snowflake", "pin": "mdi6.pin", "mute": "mdi6.microphone-off",
    "talk": "mdi6.microphone", "swap": "mdi6.swap-horizontal", "full-screen": "mdi6.fullscreen",
    "panels": "mdi6.page-layout-sidebar-right", "leave": "mdi6.exit-run",
    "chapter": "mdi6.bookmark-plus", "help": "mdi6.keyboard",
}


@cache
def icon(name: str) -> QIcon | None:
    """The icon called ``name`` in :data:`NAMES`, or None if the font is unavailable."""
    try:
        import qtawesome

        return qtawesome.icon(NAMES[name], color=ICON_COLOUR)
    except Exception:  # an icon is a nicety: a missing font must not stop the window
        logger.warning("icon %s unavailable; the button keeps its text", name, exc_info=True)
        return None


def give_icon(button: QAbstractButton, name: str, *, keep_text: bool = True) -> None:
    """Put the icon ``name`` on ``button``; without ``keep_text`` the button shows only the
    icon and its text moves into the tooltip (unless the icon is unavailable)."""
    found = icon(name)
    if found is None:
        return
    button.setIcon(found)
    button.setIconSize(QSize(18, 18) if keep_text else QSize(22, 22))
    if not keep_text:
        text = button.text()
        if not button.toolTip():
            button.setToolTip(text)
        button.setAccessibleName(text)
        button.setText("")
