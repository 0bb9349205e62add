"""Drawing on the video: the toolbar and the glue between the main view and the board.

Marks are drawn from the session's board, which changes only when the server sends ops
back in order, so every participant sees the same marks. Pointer gestures on the main
view become ops through the Qt-free :class:`ToolSession`.
"""

from __future__ import annotations

import time

from PyQt6.QtCore import QObject, QRectF, QTimer
from PyQt6.QtGui import QKeySequence, QPainter, QShortcut
from PyQt6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QLineEdit,
    QPushButton,
    QWidget,
)

from surgery_teach.annotations import (
    FADE_AFTER,
    Clear,
    ClearScope,
    Freeze,
    Redo,
    Tool,
    ToolSession,
    Undo,
    Unfreeze,
    id_sequence,
)
from surgery_teach.capture.base import FrameSlot
from surgery_teach.protocol.messages import Role
from ui.common.flow import FlowLayout
from ui.common.marks import paint_marks
from ui.common.plain import ElidedLabel
from ui.common.video_view import VideoView
from ui.i18n import tr
from ui.session.controller import SessionController
from ui.session.stage import Stage, StageSource

COLOURS = {"#ff3b30": "Red", "#ffd60a": "Yellow", "#30d158": "Green", "#64d2ff": "Blue",
           "#ffffff": "White"}
WIDTHS = {0.003: "Thin", 0.006: "Medium", 0.012: "Thick"}
# Single keys pick a tool (a focused text field keeps its letters): P A L O B T X.
TOOL_KEYS = {"P": Tool.PEN, "A": Tool.ARROW, "L": Tool.LINE, "O": Tool.ELLIPSE,
             "B": Tool.RECT, "T": Tool.TEXT, "X": Tool.POINTER}
REPAINT_MS = 50  # marks fade smoothly and pointers move at 20 frames a second at least


def tool_names() -> dict[Tool, str]:
    return {Tool.PEN: tr("Pen"), Tool.ARROW: tr("Arrow"), Tool.LINE: tr("Line"),
            Tool.ELLIPSE: tr("Circle"), Tool.RECT: tr("Box"), Tool.TEXT: tr("Text"),
            Tool.POINTER: tr("Pointer")}


def colour_names() -> dict[str, str]:
    names = {"Red": tr("Red"), "Yellow": tr("Yellow"), "Green": tr("Green"),
             "Blue": tr("Blue"), "White": tr("White")}
    return {code: names[name] for code, name in COLOURS.items()}


def width_names() -> dict[float, str]:
    names = {"Thin": tr("Thin"), "Medium": tr("Medium"), "Thick": tr("Thick")}
    return {value: names[name] for value, name in WIDTHS.items()}


class DrawingToolbar(QWidget):
    """Tools, colour, width, pin, label text, undo/redo and clear."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = FlowLayout(self)  # wraps onto a second line in a narrow window
        policy = self.sizePolicy()
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self.tools = QButtonGroup(self)
        self.tools.setExclusive(True)
        self.tool_buttons: dict[Tool, QPushButton] = {}
        keys = {tool: key for key, tool in TOOL_KEYS.items()}
        for tool, name in tool_names().items():
            button = QPushButton(name)
            button.setToolTip(f"{name} ({keys[tool]})")
            button.setCheckable(True)
            button.setObjectName("tool")
            button.setProperty("tool", tool.value)
            self.tools.addButton(button)
            self.tool_buttons[tool] = button
            layout.addWidget(button)
        self.tool_buttons[Tool.ARROW].setChecked(True)
        self.colour = QComboBox()
        for code, name in colour_names().items():
            self.colour.addItem(name, code)
        self.width_choice = QComboBox()
        for value, name in width_names().items():
            self.width_choice.addItem(name, value)
        self.width_choice.setCurrentIndex(1)
        self.pinned = QCheckBox(tr("Pin"))
        self.pinned.setToolTip(
            tr("Pinned marks stay until cleared; others fade after a few seconds"))
        self.label_text = QLineEdit()
        self.label_text.setPlaceholderText(tr("Label text"))
        self.label_text.setMaximumWidth(160)
        self.undo = QPushButton(tr("Undo"))
        self.redo = QPushButton(tr("Redo"))
        self.clear_mine = QPushButton(tr("Clear mine"))
        self.clear_all = QPushButton(tr("Clear all"))
        self.freeze = QPushButton(tr("Freeze frame"))
        self.freeze.setCheckable(True)
        self.status = ElidedLabel("")
        self.status.setObjectName("muted")
        for widget in (self.colour, self.width_choice, self.pinned, self.label_text, self.undo,
                       self.redo, self.clear_mine, self.clear_all, self.freeze, self.status):
            layout.addWidget(widget)

    @property
    def tool(self) -> Tool:
        button = self.tools.checkedButton()
        return Tool(button.property("tool")) if button is not None else Tool.ARROW


class Telestration(QObject):
    """Binds the session's board to the views and the main view's gestures to ops."""

    def __init__(self, controller: SessionController, views: list[VideoView],
                 main: VideoView, toolbar: DrawingToolbar, stage: Stage | None = None) -> None:
        super().__init__(toolbar)
        self.controller = controller
        self.stage = stage
        self.fade_after = FADE_AFTER  # seconds a live (unpinned) mark stays before fading
        self._still_slots: dict[str, FrameSlot] = {}
        self.main = main
        self.toolbar = toolbar
        self._session_tool: ToolSession | None = None
        self._new_id = None
        for view in views:
            view.overlays.append(lambda painter, rect, v=view: self._paint(painter, rect, v))
        self._views = views
        main.pointer_pressed.connect(self._press)
        main.pointer_moved.connect(self._move)
        main.pointer_released.connect(self._release)
        toolbar.undo.clicked.connect(lambda: self._send_author_op(Undo))
        toolbar.redo.clicked.connect(lambda: self._send_author_op(Redo))
        toolbar.clear_mine.clicked.connect(lambda: self._clear(ClearScope.MINE))
        toolbar.clear_all.clicked.connect(lambda: self._clear(ClearScope.ALL))
        toolbar.freeze.clicked.connect(self._freeze_clicked)
        controller.still_changed.connect(self._still_changed)
        for key, tool in TOOL_KEYS.items():
            QShortcut(QKeySequence(key), toolbar.window(),
                      activated=toolbar.tool_buttons[tool].click)
        QShortcut(QKeySequence("F"), toolbar.window(), activated=toolbar.freeze.click)
        QShortcut(QKeySequence.StandardKey.Undo, toolbar.window(),
                  activated=toolbar.undo.click)
        QShortcut(QKeySequence.StandardKey.Redo, toolbar.window(),
                  activated=toolbar.redo.click)
        controller.marks_changed.connect(self._repaint)
        controller.participants_changed.connect(self.refresh_rights)
        controller.state_changed.connect(lambda _: self.refresh_rights())
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._tick)
        self._timer.start(REPAINT_MS)
        self.refresh_rights()

    # -- rights ------------------------------------------------------------------------------

    def refresh_rights(self) -> None:
        """Show the tools only to those the server lets draw."""
        can = self.controller.can_draw
        self.main.drawing = can
        for widget in (*self.toolbar.tool_buttons.values(), self.toolbar.colour,
                       self.toolbar.width_choice, self.toolbar.pinned, self.toolbar.label_text,
                       self.toolbar.undo, self.toolbar.redo, self.toolbar.clear_mine):
            widget.setEnabled(can)
        self.toolbar.clear_all.setVisible(self.controller.config.role == Role.MENTOR)
        self.toolbar.clear_all.setEnabled(can)
        freezer = self.controller.config.role in (Role.SURGEON, Role.MENTOR)
        self.toolbar.freeze.setVisible(freezer)
        self.toolbar.freeze.setEnabled(can and freezer)
        if can:
            self.toolbar.status.setText("")
        elif self.controller.config.role == Role.TRAINEE:
            self.toolbar.status.setText(tr("A mentor can allow you to draw"))
        else:
            self.toolbar.status.setText(tr("Marks from the surgeon and mentors appear here"))

    # -- painting ----------------------------------------------------------------------------

    def _paint(self, painter: QPainter, rect: QRectF, view: VideoView) -> None:
        session = self.controller.session
        if session is None or not view.source_name:
            return
        marks = session.board.shapes(view.source_name, time.time(), self.fade_after)
        names = {pid: p.name for pid, p in session.participants.items()}
        names[session.me.id] = session.me.name
        paint_marks(painter, rect, marks, names, me=session.me.id)

    def _repaint(self) -> None:
        for view in self._views:
            view.update()

    def _tick(self) -> None:
        session = self.controller.session
        if session is None:
            return
        now = time.time()
        if self._session_tool is not None and self._session_tool.drawing:
            self._send_all(self._session_tool.tick(now))
        if any(session.board.shapes(v.source_name, now, self.fade_after)
               for v in self._views if v.source_name):
            self._repaint()

    # -- gestures ----------------------------------------------------------------------------

    def _tool_session(self) -> ToolSession | None:
        session = self.controller.session
        if session is None or not self.main.source_name:
            return None
        if self._new_id is None or getattr(self, "_id_owner", None) != session.me.id:
            self._new_id = id_sequence(session.me.id)
            self._id_owner = session.me.id
        return ToolSession(self.toolbar.tool, author=session.me.id,
                           colour=self.toolbar.colour.currentData(),
                           width=self.toolbar.width_choice.currentData(),
                           source=self.main.source_name,
                           pinned=self.toolbar.pinned.isChecked(), id_factory=self._new_id)

    def _press(self, x: float, y: float) -> None:
        tool = self._tool_session()
        if tool is None:
            return
        self._session_tool = tool
        frame = self.main.current_frame()
        frame_time = frame.captured_at if frame is not None else time.time()
        ops = tool.press(x, y, frame_time, time.time())
        if tool.tool is Tool.TEXT:
            text = self.toolbar.label_text.text().strip()
            if not text:
                self.toolbar.status.setText(tr("Type the label text first, then click"))
                return
            ops += tool.type_text(text, time.time())
        self._send_all(ops)

    def _move(self, x: float, y: float) -> None:
        if self._session_tool is not None and self._session_tool.drawing:
            self._send_all(self._session_tool.move(x, y, time.time()))

    def _release(self, x: float, y: float) -> None:
        if self._session_tool is not None and self._session_tool.drawing:
            self._send_all(self._session_tool.release(x, y, time.time()))

    def _send_all(self, ops: list) -> None:  # type: ignore[type-arg]
        for op in ops:
            self.controller.annotate(op)

    def _send_author_op(self, kind: type) -> None:
        session = self.controller.session
        if session is not None:
            self.controller.annotate(kind(author=session.me.id))

    # -- freeze frame ---------------------------------------------------------------------

    def _freeze_clicked(self) -> None:
        session = self.controller.session
        name = self.main.source_name
        if session is None or not name:
            return
        if session.board.frozen(name) is not None:
            self.controller.annotate(Unfreeze(name, author=session.me.id))
            return
        frame = self.main.current_frame()
        if frame is not None:
            self.controller.annotate(Freeze(name, frame.captured_at, author=session.me.id))

    def _still_changed(self, source: str) -> None:
        """Show a frozen picture large, with the live video as a thumbnail, or undo that."""
        session = self.controller.session
        if self.stage is None or session is None:
            return
        key = f"still:{source}"
        still = session.stills.get(source)
        if still is None:
            self._still_slots.pop(source, None)
            self.stage.remove(key)
        else:
            slot = FrameSlot()
            slot.put(still.to_frame())
            self._still_slots[source] = slot
            self.stage.remove(key)
            self.stage.add(StageSource(key=key, label=tr("{source} — frozen", source=source),
                                       slot=slot, name=source))
            self.stage.show_main(key)
        self.toolbar.freeze.setChecked(bool(session.stills))

    def _clear(self, scope: ClearScope) -> None:
        session = self.controller.session
        if session is not None and self.main.source_name:
            self.controller.annotate(Clear(scope, self.main.source_name, author=session.me.id))
