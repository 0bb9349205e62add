"""Keys of the session window and where author names go, on real widgets (offscreen):
F1 or ? lists the keys, F11 leaves only the video and Esc brings the panels back, and a
pointer's or an arrow's author name never covers the point it marks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QColor, QImage, QPainter
from PyQt6.QtWidgets import QLabel

from surgery_teach.annotations import Arrow, Pointer, VisibleShape
from surgery_teach.annotations.geometry import pointer_radius_px
from surgery_teach.protocol.messages import Role
from surgery_teach.rtc.session import SessionConfig
from ui.common.marks import paint_marks, tag_box, tag_place
from ui.session.controller import SessionController
from ui.session.window import SessionWindow


@pytest.fixture
def window(qtbot, run, tmp_path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A mentor's window that has not joined (keys and panels are local)."""
    monkeypatch.setenv("SURGERY_TEACH_CONFIG_DIR", str(tmp_path))
    controller = SessionController(
        SessionConfig(server="ws://127.0.0.1:9", room="keys", name="Dr Li", role=Role.MENTOR),
        [], speak=False)
    win = SessionWindow(controller)
    qtbot.addWidget(win)
    win.resize(1366, 768)
    win.show()
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow)
    win._left = True  # never joined: closing the window has nothing to leave
    return win


def test_f1_and_question_mark_list_the_keys_and_any_key_closes_the_list(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    qtbot.keyClick(window, Qt.Key.Key_F1)
    sheet = window.shortcuts
    assert sheet.isVisible() and sheet.geometry() == window.rect()
    texts = [label.text() for label in sheet.findChildren(QLabel)]
    assert "F11" in texts and "Tab" in texts and any("full screen" in t for t in texts)
    qtbot.keyClick(sheet, Qt.Key.Key_Escape)
    assert not sheet.isVisible()
    window.help_button.click()
    assert sheet.isVisible()
    qtbot.mouseClick(sheet, Qt.MouseButton.LeftButton)
    assert not sheet.isVisible()


def test_f11_leaves_only_the_video_and_esc_brings_the_panels_back(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    panels = (window.top_bar, window.drawing_toolbar, window.side)
    assert all(p.isVisible() for p in panels)
    with_panels = window.stage.main.width()
    qtbot.keyClick(window, Qt.Key.Key_F11)
    assert window.video_only and window.isFullScreen()
    assert not any(p.isVisible() for p in panels)
    window.layout().activate()
    assert window.stage.main.width() > with_panels
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert not window.video_only and not window.isFullScreen()
    assert all(p.isVisible() for p in panels)


def _clearance(box: QRectF, point: QPointF) -> float:
    dx = max(box.left() - point.x(), 0.0, point.x() - box.right())
    dy = max(box.top() - point.y(), 0.0, point.y() - box.bottom())
    return math.hypot(dx, dy)


@pytest.mark.parametrize("where", [(0.5, 0.5), (0.98, 0.02), (0.02, 0.98), (0.99, 0.99)])
def test_a_pointers_name_stands_off_its_tip_even_in_a_corner(where: tuple[float, float]) -> None:
    target = QRectF(0, 0, 1280, 720)
    pointer = Pointer(id="p-li:1", author="p-li", source="L", colour="#30d158", width=0.01,
                      at=where)
    point, away, clearance = tag_place(pointer, target)
    radius = pointer_radius_px(pointer.width, 720)
    box = tag_box(point, away, clearance, 160, 24, target)
    assert target.contains(box)
    assert _clearance(box, point) >= 2 * radius  # the tip and what it touches stay in view


def test_an_arrows_name_goes_behind_its_tail_never_on_its_head(qapp) -> None:  # type: ignore[no-untyped-def]
    """Painted for real: no white name pixels near the arrow's head."""
    image = QImage(640, 360, QImage.Format.Format_RGB32)
    image.fill(QColor("#000000"))
    arrow = Arrow(id="p-li:2", author="p-li", source="L", colour="#ff3b30", width=0.006,
                  start=(0.3, 0.5), end=(0.6, 0.5))
    pointer = Pointer(id="p-li:3", author="p-li", source="L", colour="#30d158", width=0.01,
                      at=(0.8, 0.3))
    painter = QPainter(image)
    paint_marks(painter, QRectF(0, 0, 640, 360),
                [VisibleShape(arrow, 1.0), VisibleShape(pointer, 1.0)],
                {"p-li": "Dr Li, Zepu County Hospital"}, me="p-wang")
    painter.end()
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    ptr = image.constBits()
    ptr.setsize(image.sizeInBytes())
    rgb = np.frombuffer(ptr, np.uint8).reshape(360, image.bytesPerLine())[:, :640 * 3]
    rgb = rgb.reshape(360, 640, 3)
    white = (rgb > 200).all(axis=2)
    assert white.sum() > 100  # the names are drawn
    ys, xs = np.mgrid[0:360, 0:640]
    near_head = np.hypot(xs - 0.6 * 640, ys - 0.5 * 360) < 30
    assert not (white & near_head).any()
    radius = pointer_radius_px(pointer.width, 360)
    near_tip = np.hypot(xs - 0.8 * 640, ys - 0.3 * 360) < 2 * radius + 2
    ring = near_tip & ~(np.hypot(xs - 0.8 * 640, ys - 0.3 * 360) < radius + 3)  # (its outline)
    assert not (white & ring).any()
