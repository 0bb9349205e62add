"""The session window's top row on one line: the least-used buttons go into a "⋯" menu.

The top row holds the name, the REC line, the microphone and a dozen buttons; in Russian
with a long name and a recording it took three lines at 1366 px, pushing the video
down. :class:`TopBarOverflow` keeps it on one line while it can: when the row is too
narrow it moves the least-used buttons (shortcut help, side panels, full screen, swap
source, push-to-talk, class mode, chapter, in that order) into the "⋯" menu (their
keyboard shortcuts keep working), and gives the name and the REC
line (elided labels, whole text in the tooltip) what width is left, down to a floor.
Only when even that does not fit does the row wrap (:class:`~ui.common.flow.FlowLayout`).
A button in the menu is the same button, hidden: the menu's entry clicks it, so its
shortcut, its state and what it does stay the same.
"""

from __future__ import annotations

from PyQt6.QtCore import QEvent, QObject, QTimer
from PyQt6.QtWidgets import QAbstractButton, QMenu, QToolButton, QWidget

from ui.common.plain import ElidedLabel
from ui.i18n import tr

LABEL_FLOOR = 180
"""The narrowest the name or the REC line is made while buttons can still go into the
menu instead."""
LABEL_MIN = ElidedLabel.MINIMUM_WIDTH
"""The narrowest they are made when every button that may go is in the menu; below
that the row wraps."""


class TopBarOverflow(QObject):
    """Watches ``row`` (a flow row) and keeps its contents on one line while it can.

    ``candidates``: buttons that may go into the menu, least used first. ``labels``:
    elided labels that share the width left, each at most its maximum width when made.
    """

    def __init__(self, row: QWidget, candidates: list[QAbstractButton],
                 labels: list[ElidedLabel], more: QToolButton) -> None:
        super().__init__(row)
        self.row = row
        self.candidates = candidates
        self.labels = labels
        self.more = more
        self.menu = QMenu(more)
        more.setMenu(self.menu)
        more.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        more.setText("⋯")
        more.setToolTip(tr("More: the buttons that do not fit in this row"))
        more.hide()
        self.menu.aboutToShow.connect(self._fill_menu)
        self.overflowed: list[QAbstractButton] = []
        self._widest = {label: label.maximumWidth() for label in labels}
        self._pending = False
        row.installEventFilter(self)

    # -- watching the row -----------------------------------------------------------------

    def eventFilter(self, watched: QObject | None, event: QEvent | None) -> bool:
        if watched is self.row and event is not None and event.type() in (
                QEvent.Type.Resize, QEvent.Type.LayoutRequest, QEvent.Type.Show):
            self._schedule()
        return False

    def _schedule(self) -> None:
        if not self._pending:
            self._pending = True
            QTimer.singleShot(0, self.fit)

    # -- fitting ---------------------------------------------------------------------------

    def fit(self) -> None:
        """Choose what goes into the menu for the row's width now, and apply it (only
        what changed: applying the same choice again changes nothing)."""
        self._pending = False
        width = self.row.contentsRect().width()
        if width <= 0:
            return
        target, room = self._choose(width)
        for button in self.overflowed:
            if button not in target:
                button.show()
        for button in target:
            if not button.isHidden():  # shown again meanwhile (its own rules)
                button.hide()
        self.overflowed = target
        if self.more.isHidden() == bool(target):
            self.more.setVisible(bool(target))
        self._share(room)

    def offers(self, button: QAbstractButton) -> bool:
        """Whether ``button`` can be used now: in the row, or in the "⋯" menu."""
        return button.isVisible() or (button in self.overflowed and self.more.isVisible())

    def _in_row(self) -> list[QWidget]:
        """The row's widgets that show, counting those we moved into the menu."""
        layout = self.row.layout()
        widgets = []
        for i in range(layout.count() if layout is not None else 0):
            item = layout.itemAt(i)
            widget = item.widget() if item is not None else None
            if widget is not None and widget is not self.more and (
                    not widget.isHidden() or widget in self.overflowed):
                widgets.append(widget)
        return widgets

    def _spacing(self) -> int:
        layout = self.row.layout()
        spacing = layout.spacing() if layout is not None else 6
        return spacing if spacing >= 0 else 6

    def _choose(self, width: int) -> tuple[list[QAbstractButton], int]:
        """The buttons to move into the menu, and the width left for the labels."""
        gap = self._spacing()
        widgets = self._in_row()
        labels = [w for w in widgets if w in self.labels]
        others = {w: min(w.sizeHint().width(), w.maximumWidth()) + gap
                  for w in widgets if w not in self.labels}
        needed = sum(others.values()) + len(labels) * (LABEL_FLOOR + gap)
        target: list[QAbstractButton] = []
        for button in self.candidates:
            if needed <= width:
                break
            if button in others:
                if not target:
                    needed += self.more.sizeHint().width() + gap
                needed -= others.pop(button)
                target.append(button)
        more = self.more.sizeHint().width() + gap if target else 0
        return target, width - sum(others.values()) - more - len(labels) * gap

    def _share(self, room: int) -> None:
        """Give the visible labels ``room`` px between them, each at most its width when
        made and at least :data:`LABEL_MIN` (the row wraps if that is too much)."""
        shown = [label for label in self.labels if not label.isHidden()]
        wants = {label: min(label.sizeHint().width(), self._widest[label]) for label in shown}
        left = max(room, LABEL_MIN * len(shown))
        order = sorted(shown, key=lambda lab: wants[lab])  # the shorter first: less to cut
        for index, label in enumerate(order):
            share = left // (len(order) - index)
            given = max(LABEL_MIN, min(wants[label], share))
            if label.maximumWidth() != given:
                label.setMaximumWidth(given)
            left -= given

    # -- the menu --------------------------------------------------------------------------

    def _fill_menu(self) -> None:
        """One entry per button in the menu, as the button is now (text, state)."""
        self.menu.clear()
        for button in self.overflowed:
            text = button.text() or button.toolTip()
            action = self.menu.addAction(button.icon(), text)
            if action is None:
                continue
            action.setEnabled(button.isEnabled())
            if button.isCheckable():
                action.setCheckable(True)
                action.setChecked(button.isChecked())
            action.triggered.connect(lambda _checked=False, b=button: b.click())
