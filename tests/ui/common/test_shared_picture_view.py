"""A mark drawn on a zoomed shared picture lands on the same picture pixel for a viewer
with another window size and zoom (checked on the pixels each window paints)."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QPoint, QPointF, QRectF, Qt
from PyQt6.QtGui import QColor, QImage, QPainter, QPen, QWheelEvent
from PyQt6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from ui.common.shared_picture_view import SharedPictureView

W, H = 2000, 1500


def _coded_picture() -> np.ndarray:
    """Each pixel's colour says where it is: G = x % 256, B = y % 256 (as RGB),
    R = 16 * (x // 256) + y // 256."""
    x = np.arange(W)[None, :].repeat(H, 0)
    y = np.arange(H)[:, None].repeat(W, 1)
    rgb = np.stack([16 * (x // 256) + y // 256, x % 256, y % 256], axis=2).astype(np.uint8)
    return np.ascontiguousarray(rgb[:, :, ::-1])  # BGR


def _where(image: QImage, x: int, y: int) -> tuple[int, int]:
    colour = QColor(image.pixel(x, y))
    r, g, b = colour.red(), colour.green(), colour.blue()
    return (r // 16) * 256 + g, (r % 16) * 256 + b


def _view(qtbot: QtBot, width: int, height: int) -> SharedPictureView:
    view = SharedPictureView()
    qtbot.addWidget(view)
    view.resize(width, height)
    view.show()
    qtbot.waitExposed(view)
    view.show_picture(_coded_picture(), source_name="share:" + "a" * 32, label="CT")
    return view


def _wheel(view: SharedPictureView, x: float, y: float, notches: int) -> None:
    for _ in range(notches):
        event = QWheelEvent(QPointF(x, y), QPointF(x, y), QPoint(0, 0), QPoint(0, 120),
                            Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                            Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(view, event)


def test_a_mark_on_a_zoomed_picture_lands_on_the_same_pixel_for_another_viewer(
        qtbot: QtBot) -> None:
    drawer = _view(qtbot, 800, 450)
    drawer.drawing = True
    _wheel(drawer, 300, 200, 13)  # zoom about 18x, about a point left of centre
    assert drawer.viewport is not None and drawer.viewport.zoom > 16
    drawer.pan(-40, 25)
    painted = drawer.grab().toImage()
    with qtbot.waitSignal(drawer.pointer_pressed, timeout=2000) as pressed:
        qtbot.mousePress(drawer, Qt.MouseButton.LeftButton, pos=QPoint(420, 230))
    fx, fy = pressed.args
    target_pixel = drawer.viewport.pixel(420, 230)
    assert _where(painted, 420, 230) == target_pixel  # the drawer saw that very pixel

    viewer = _view(qtbot, 500, 700)

    def ring(painter: QPainter, rect: QRectF) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setPen(QPen(QColor(255, 0, 0), 2))
        centre = QPointF(rect.left() + fx * rect.width(), rect.top() + fy * rect.height())
        painter.drawEllipse(centre, 8, 8)

    viewer.overlays.append(ring)
    assert viewer.viewport is not None
    viewer.zoom_at(*viewer.viewport.to_window(fx, fy), 9)  # the viewer zooms in on it
    viewer.pan(60, -35)
    image = viewer.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    reds = [(x, y) for y in range(image.height()) for x in range(image.width())
            if QColor(image.pixel(x, y)).getRgb()[:3] == (255, 0, 0)]
    assert reds, "the mark is not on the viewer's screen"
    xs, ys = [p[0] for p in reds], [p[1] for p in reds]
    cx, cy = round((min(xs) + max(xs)) / 2), round((min(ys) + max(ys)) / 2)
    seen = _where(image, cx, cy)
    assert abs(seen[0] - target_pixel[0]) <= 1 and abs(seen[1] - target_pixel[1]) <= 1, (
        seen, target_pixel)


def test_double_click_and_zero_fit_the_picture_again(qtbot: QtBot) -> None:
    view = _view(qtbot, 640, 480)
    _wheel(view, 100, 100, 5)
    assert view.viewport is not None and view.viewport.zoom > 3
    qtbot.keyClick(view, Qt.Key.Key_0)
    assert view.viewport.zoom == 1
    qtbot.keyClick(view, Qt.Key.Key_Plus)
    assert view.viewport.zoom == 1.5
    qtbot.mouseDClick(view, Qt.MouseButton.LeftButton, pos=QPoint(10, 10))
    assert view.viewport.zoom == 1


def test_without_a_picture_it_says_so(qtbot: QtBot) -> None:
    view = SharedPictureView()
    qtbot.addWidget(view)
    view.resize(320, 200)
    view.show_picture(None)
    assert view.viewport is None
    view.grab()  # paints the placeholder without failing
