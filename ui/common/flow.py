"""A row of widgets that wraps onto further lines when the window is narrow.

A plain :class:`~PyQt6.QtWidgets.QHBoxLayout` makes its window at least as wide as all
its buttons side by side, so a long name, a translation or the REC line pushed the
session window wider than a laptop's screen. :class:`FlowLayout` asks only for its widest
item's width and lays the rest out line after line (the height follows the width through
Qt's height-for-width), like words in a paragraph.
"""

from __future__ import annotations

from PyQt6.QtCore import QPoint, QRect, QSize, Qt
from PyQt6.QtWidgets import QLayout, QLayoutItem, QSizePolicy, QWidget


class FlowLayout(QLayout):
    """Items left to right, wrapping to a new line when the next one does not fit."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 6) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._spacing = spacing
        self.setContentsMargins(0, 0, 0, 0)

    # -- QLayout's item bookkeeping --------------------------------------------------------

    def addItem(self, item: QLayoutItem | None) -> None:
        if item is not None:
            self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation(0)

    # -- sizes -----------------------------------------------------------------------------

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._arrange(QRect(0, 0, width, 0), move=False)

    def sizeHint(self) -> QSize:
        """Everything on one line."""
        shown = self._shown()
        width = sum(i.sizeHint().width() for i in shown) + self._spacing * max(0, len(shown) - 1)
        height = max((i.sizeHint().height() for i in shown), default=0)
        m = self.contentsMargins()
        return QSize(width + m.left() + m.right(), height + m.top() + m.bottom())

    def minimumSize(self) -> QSize:
        """As wide as the widest item's minimum: the rest wraps."""
        size = QSize()
        for item in self._shown():
            size = size.expandedTo(item.minimumSize())
        m = self.contentsMargins()
        return size + QSize(m.left() + m.right(), m.top() + m.bottom())

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        self._arrange(rect, move=True)

    # -- layout ----------------------------------------------------------------------------

    def _shown(self) -> list[QLayoutItem]:
        return [i for i in self._items if not i.isEmpty()]

    def _arrange(self, rect: QRect, *, move: bool) -> int:
        """Place the items in ``rect`` (when ``move``); returns the height they need."""
        m = self.contentsMargins()
        area = rect.adjusted(m.left(), m.top(), -m.right(), -m.bottom())
        x, y, line_height = area.x(), area.y(), 0
        line: list[tuple[QLayoutItem, QPoint, QSize]] = []

        def flush() -> None:
            for item, point, size in line:  # centre each item on its line
                item.setGeometry(QRect(point + QPoint(0, (line_height - size.height()) // 2),
                                       size))
            line.clear()

        for item in self._shown():
            hint = item.sizeHint()
            width = min(hint.width(), item.maximumSize().width(), area.width())
            width = max(item.minimumSize().width(), width)
            height = hint.height()
            if item.hasHeightForWidth():
                height = item.heightForWidth(width)
            if x > area.x() and x + width > area.right() + 1:  # not the line's first
                if move:
                    flush()
                x, y = area.x(), y + line_height + self._spacing
                line_height = 0
            if move:
                line.append((item, QPoint(x, y), QSize(width, height)))
            x += width + self._spacing
            line_height = max(line_height, height)
        if move:
            flush()
        return y + line_height - area.y() + m.top() + m.bottom()


def flow_row(widgets: list[QWidget], parent: QWidget | None = None) -> QWidget:
    """A widget holding ``widgets`` in a :class:`FlowLayout` (its height follows its width)."""
    row = QWidget(parent)
    layout = FlowLayout(row)
    for widget in widgets:
        layout.addWidget(widget)
    policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
    policy.setHeightForWidth(True)
    row.setSizePolicy(policy)
    return row
