"""Drawing on the video: the toolbar and the glue between the main view and the board.

Marks are drawn from the session's board, which changes only when the server sends ops
back in order, so every participant sees the same marks. Pointer gestures on the main
view become ops through the Qt-free :class:`ToolSession`. While the link to the server is
down, our own marks are drawn at once from a board of their own (:class:`PendingMarks`),
faint, until the server's copies arrive after the rejoin.
"""

from __future__ import annotations

import time

from PyQt6.QtCore import QObject, QPoint, QRectF, QTimer
from PyQt6.QtGui import QKeySequence, QPainter, QShortcut
from PyQt6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QPushButton,
    QWidget,
)

from surgery_teach.annotations import (
    FADE_AFTER,
    Clear,
    ClearScope,
    Freeze,
    Pointer,
    Redo,
    Remove,
    Tool,
    ToolSession,
    Undo,
    Unfreeze,
    id_sequence,
)
from surgery_teach.annotations.board import VisibleShape
from surgery_teach.annotations.colours import default_colour
from surgery_teach.annotations.pending import PendingMarks
from surgery_teach.capture.base import FrameSlot
from surgery_teach.protocol.messages import Role
from ui.common.flow import FlowLayout
from ui.common.icons import give_icon
from ui.common.marks import paint_marks
from ui.common.plain import ElidedLabel
from ui.common.shared_picture_view import SharedPictureView
from ui.common.video_view import VideoView
from ui.i18n import tr, tr_n
from ui.session.controller import SessionController
from ui.session.inline_text import InlineText
from ui.session.overlays import frozen_text, paint_frozen
from ui.session.stage import Stage, StageSource

# In the order authors get them by default (each one the next colour): colours that stand
# out on tissue first, red (blood) last.
COLOURS = {"#ffd60a": "Yellow", "#64d2ff": "Blue", "#30d158": "Green", "#ffffff": "White",
           "#ff3b30": "Red"}
WIDTHS = {0.003: "Thin", 0.006: "Medium", 0.012: "Thick"}
# Single keys pick a tool (a focused text field keeps its letters): P A L O B T X.
TOOL_KEYS = {"P": Tool.PEN, "A": Tool.ARROW, "L": Tool.LINE, "O": Tool.ELLIPSE,
             "B": Tool.RECT, "T": Tool.TEXT, "X": Tool.POINTER}
REPAINT_MS = 50  # marks fade smoothly and pointers move at 20 frames a second at least
PENDING_GRACE_MS = 8000  # after the rejoin, the server's copies have this long to arrive
PENDING_OPACITY = 0.5  # marks the server has not confirmed yet are drawn this faint
FREEZERS = (Role.SURGEON, Role.MENTOR)


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
    """Tools, colour, width, pin, undo/redo, clear and freeze; for those who may not
    draw, one line (``status``) instead."""

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
            give_icon(button, tool.value, keep_text=False)
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
        self.anchored = QCheckBox(tr("Anchor to tissue"))
        self.anchored.setToolTip(tr("Anchored marks follow the tissue as the camera moves; "
                                    "dashed where the tissue was last seen when it is lost"))
        self.undo = QPushButton(tr("Undo"))
        self.undo.setToolTip(tr("Undo your last mark (Ctrl+Z)"))
        self.redo = QPushButton(tr("Redo"))
        self.redo.setToolTip(tr("Redo (Ctrl+Shift+Z)"))
        self.clear_mine = QPushButton(tr("Clear mine"))
        self.clear_all = QPushButton(tr("Clear all"))
        self.clear_all.setToolTip(tr("Clear everyone's marks on this picture"))
        self.clear_gone = QPushButton(tr("Clear marks of those who left"))
        self.freeze = QPushButton(tr("Freeze frame"))
        self.freeze.setToolTip(tr("Hold this picture for everyone (F); F or Esc returns to live"))
        self.freeze.setCheckable(True)
        for button, name in ((self.undo, "undo"), (self.redo, "redo")):
            give_icon(button, name, keep_text=False)
        for button, name in ((self.clear_mine, "clear-mine"), (self.clear_all, "clear-all"),
                             (self.clear_gone, "clear-gone"), (self.freeze, "freeze")):
            give_icon(button, name)
        self.status = ElidedLabel("")
        self.status.setObjectName("muted")
        self.controls: list[QWidget] = [
            *self.tool_buttons.values(), self.colour, self.width_choice, self.pinned,
            self.anchored, self.undo, self.redo, self.clear_mine, self.clear_all,
            self.clear_gone, self.freeze]
        for widget in (*self.controls, self.status):
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
        self._text_tool: ToolSession | None = None
        self.text_editor: InlineText | None = None
        self.pending = PendingMarks()
        self._pending_timer = QTimer(self)
        self._pending_timer.setSingleShot(True)
        self._pending_timer.timeout.connect(self._forget_pending)
        self._link = controller.state
        self._colour_chosen = False
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
        toolbar.clear_gone.clicked.connect(self.clear_marks_of_those_gone)
        toolbar.colour.activated.connect(lambda _: setattr(self, "_colour_chosen", True))
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
        controller.marks_changed.connect(self._marks_changed)
        controller.participants_changed.connect(self.refresh_rights)
        controller.state_changed.connect(self._state_changed)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._tick)
        self._timer.start(REPAINT_MS)
        self.refresh_rights()

    # -- rights ------------------------------------------------------------------------------

    def refresh_rights(self) -> None:
        """Show the tools only to those the server lets draw; the others get one line
        saying so (a whole toolbar of greyed buttons only said "not for you")."""
        can = self.controller.can_draw
        role = self.controller.config.role
        self.main.drawing = can
        video = hasattr(self.main, "slot")  # not a shared picture: it has no frames
        if not can and self.text_editor is not None:
            self.text_editor.cancel()
        for widget in self.toolbar.controls:
            widget.setVisible(can)
        self.toolbar.clear_all.setVisible(can and role in FREEZERS)
        self.toolbar.freeze.setVisible(can and role in FREEZERS and video)
        if hasattr(self.toolbar, "anchored"):  # a shared picture has no tissue that moves
            self.toolbar.anchored.setVisible(can and video)
        self._show_clear_gone()
        self._choose_colour()
        self._show_status()

    def _show_status(self) -> None:
        toolbar, role = self.toolbar, self.controller.config.role
        waiting = len(self.pending)
        if waiting:
            toolbar.status.setText(tr_n("One of your marks waits for the server (shown faint)",
                                        "{n} of your marks wait for the server (shown faint)",
                                        waiting))
        elif self.controller.can_draw:
            toolbar.status.setText("")
        elif role == Role.TRAINEE:
            toolbar.status.setText(tr("Drawing: ask the mentor"))
        else:
            toolbar.status.setText(tr("Marks from the surgeon and mentors appear here"))
        toolbar.status.setVisible(bool(toolbar.status.text()))

    def _choose_colour(self) -> None:
        """Our own colour by default: the next after those who were drawing before us."""
        session = self.controller.session
        if self._colour_chosen or session is None:
            return
        self._colour_chosen = True
        before = self.controller.roles_before_me
        if before is None:
            before = tuple(p.role for p in session.participants.values())
        colour = default_colour(before, list(COLOURS))
        self.toolbar.colour.setCurrentIndex(self.toolbar.colour.findData(colour))

    def gone_marks(self) -> list[str]:
        """Ids of the marks on the main picture whose authors are no longer in the room."""
        session = self.controller.session
        if session is None or not self.main.source_name:
            return []
        here = {*session.participants, session.me.id}
        shown = session.board.shapes(self.main.source_name, time.time(), self.fade_after)
        return [v.shape.id for v in shown
                if v.shape.author not in here and not isinstance(v.shape, Pointer)]

    def _show_clear_gone(self) -> None:
        role = self.controller.config.role
        self.toolbar.clear_gone.setVisible(
            self.controller.can_draw and role in FREEZERS and bool(self.gone_marks()))

    def clear_marks_of_those_gone(self) -> None:
        """Remove the marks (pinned ones above all) of those who left the room."""
        session = self.controller.session
        if session is None:
            return
        for shape_id in self.gone_marks():
            self.controller.annotate(Remove(shape_id, author=session.me.id))

    # -- painting ----------------------------------------------------------------------------

    def _paint(self, painter: QPainter, rect: QRectF, view: VideoView) -> None:
        session = self.controller.session
        if session is None or not view.source_name:
            return
        now = time.time()
        marks = session.board.shapes(view.source_name, now, self.fade_after)
        names = {pid: p.name for pid, p in session.participants.items()}
        names[session.me.id] = session.me.name
        shown = view.current_frame() if hasattr(view, "current_frame") else None
        # anchored marks on their tissue in the frame on screen (by its stamped capture time)
        places = session.board.places(view.source_name, frame_time=shown.captured_at) \
            if shown is not None else session.board.places(view.source_name)
        paint_marks(painter, rect, marks, names, me=session.me.id, places=places)
        waiting = [VisibleShape(s.shape, s.opacity * PENDING_OPACITY)
                   for s in self.pending.shapes(view.source_name, now, self.fade_after)]
        paint_marks(painter, rect, waiting, me=session.me.id)
        still = self._still_slots.get(view.source_name)
        if still is not None and getattr(view, "slot", None) is still:
            author = session.board.held_by.get(view.source_name)
            paint_frozen(painter, rect, frozen_text(
                names.get(author or ""), can_unfreeze=self.controller.config.role in FREEZERS))

    def _marks_changed(self) -> None:
        session = self.controller.session
        if session is not None and len(self.pending):
            self.pending.settle(session.board, session.me.id)
            self._show_status()
        self._show_clear_gone()
        self._repaint()

    def _state_changed(self, state: str) -> None:
        if state == "live" and self._link == "reconnecting" and len(self.pending):
            self._pending_timer.start(PENDING_GRACE_MS)  # what was refused stops showing
        elif state != "live":
            self._pending_timer.stop()
            if state not in ("reconnecting", "connecting"):
                self.pending.clear()
        self._link = state
        self.refresh_rights()

    def _forget_pending(self) -> None:
        self.pending.clear()
        self._show_status()
        self._repaint()

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
               or self.pending.shapes(v.source_name, now, self.fade_after)
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
                           pinned=self.toolbar.pinned.isChecked(),
                           anchored=self.toolbar.anchored.isChecked(), id_factory=self._new_id)

    def _press(self, x: float, y: float) -> None:
        tool = self._tool_session()
        if tool is None:
            return
        self._session_tool = tool
        frame = self.main.current_frame() if hasattr(self.main, "current_frame") else None
        frame_time = frame.captured_at if frame is not None else time.time()
        ops = tool.press(x, y, frame_time, time.time())
        self._send_all(ops)
        if tool.tool is Tool.TEXT:
            self._type_in_place(tool, x, y)

    def _type_in_place(self, tool: ToolSession, x: float, y: float) -> None:
        """Open a field on the picture where the click was; the label goes out on Enter."""
        if self.text_editor is not None:
            self.text_editor.commit()  # a second click: the first label is done
        rect = self.main.video_rect()
        at = QPoint(round(rect.left() + x * rect.width()), round(rect.top() + y * rect.height()))
        self._text_tool = tool

        def done(text: str) -> None:
            self.text_editor = None
            if text and self._text_tool is tool:
                self._send_all(tool.type_text(text, time.time()))
            self._text_tool = None

        self.text_editor = InlineText(self.main, at, done)

    def _move(self, x: float, y: float) -> None:
        if self._session_tool is not None and self._session_tool.drawing:
            self._send_all(self._session_tool.move(x, y, time.time()))

    def _release(self, x: float, y: float) -> None:
        if self._session_tool is not None and self._session_tool.drawing:
            self._send_all(self._session_tool.release(x, y, time.time()))

    def _send_all(self, ops: list) -> None:  # type: ignore[type-arg]
        offline = self.controller.state == "reconnecting"
        for op in ops:
            if offline:  # it waits in the session's outbox: show it now, faint
                self.pending.add(op)
            self.controller.annotate(op)
        if offline and ops:
            self._show_status()
            self._repaint()

    def _send_author_op(self, kind: type) -> None:
        session = self.controller.session
        if session is not None:
            self.controller.annotate(kind(author=session.me.id))

    def return_to_live(self) -> bool:
        """Esc while the large picture is a frozen one: the surgeon and mentors unfreeze
        it for everyone; the others watch the live video large (it stays frozen for the
        rest). False when the large picture is not frozen."""
        session = self.controller.session
        name = self.main.source_name
        still = self._still_slots.get(name)
        if session is None or still is None or getattr(self.main, "slot", None) is not still:
            return False
        if self.controller.config.role in FREEZERS and self.controller.can_draw:
            self.controller.annotate(Unfreeze(name, author=session.me.id))
        elif self.stage is not None:
            live = next((s.key for s in self.stage.sources
                         if s.name == name and not s.key.startswith("still:")), None)
            if live is not None:
                self.stage.show_main(live)
        return True

    def set_main(self, view: VideoView | SharedPictureView) -> None:
        """Draw on ``view`` from now on: the main video, or a shared picture shown in its
        place (marks with its ``source_name``, ``share:<id>``, in picture fractions)."""
        if view is self.main:
            return
        if self.text_editor is not None:
            self.text_editor.commit()
        for signal, slot in (("pointer_pressed", self._press), ("pointer_moved", self._move),
                             ("pointer_released", self._release)):
            getattr(self.main, signal).disconnect(slot)
            getattr(view, signal).connect(slot)
        if view not in self._views:
            view.overlays.append(lambda painter, rect, v=view: self._paint(painter, rect, v))
            self._views.append(view)  # type: ignore[arg-type]
        self.main.drawing = False
        self.main = view  # type: ignore[assignment]
        self.refresh_rights()

    # -- freeze frame ---------------------------------------------------------------------

    def _freeze_clicked(self) -> None:
        session = self.controller.session
        name = self.main.source_name
        if session is None or not name or not hasattr(self.main, "current_frame"):
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
            large = self.stage.main_key() == key
            self.stage.remove(key)
            live = next((s.key for s in self.stage.sources if s.name == source), None)
            if large and live is not None:  # its live picture, not whichever came next
                self.stage.show_main(live)
        else:
            slot = FrameSlot()
            slot.put(still.to_frame())
            self._still_slots[source] = slot
            if any(s.key == key for s in self.stage.sources):
                # the same freeze's picture again (sent on a new connection: the room came
                # back from the media server, a rejoin): in its place, large or not
                self.stage.hand_over(key, slot)
            else:
                self.stage.add(StageSource(key=key, label=tr("{source} — frozen",
                                                             source=source),
                                           slot=slot, name=source))  # the banner: who froze it
                self.stage.show_main(key)
        self.toolbar.freeze.setChecked(bool(session.stills))

    def _clear(self, scope: ClearScope) -> None:
        session = self.controller.session
        if session is not None and self.main.source_name:
            self.controller.annotate(Clear(scope, self.main.source_name, author=session.me.id))
