"""The player's seek bar: playhead, chapters as ticks (titles on hover), mark activity.

:class:`TimelineBar` paints the case's length left to right; a click or a drag asks for
a seek (``seek_requested(case_seconds)``) and the player lands on the exact frame. Mark
activity is a strip of bars above the track, one per few pixels, taller where more marks
were drawn, so a student finds where the mentor explained something.

The bar zooms (Ctrl+wheel, or :meth:`TimelineBar.zoom_in` / :meth:`~TimelineBar.zoom_out`
from the player's buttons) around the playhead, which stays where it was on the bar; the
wheel alone then moves along the case, and the window pages along as the case plays
(:class:`~surgery_teach.casebook.zoom.TimeWindow`). Every marker is placed through the
same window, so chapters, marks and privacy pauses stay on their moment at any zoom.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from PyQt6.QtCore import QPointF, QRectF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import (
    QBrush,
    QColor,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPolygonF,
    QWheelEvent,
)
from PyQt6.QtWidgets import QSizePolicy, QToolTip, QWidget

from surgery_teach.casebook.chapters import Chapter
from surgery_teach.casebook.zoom import ZOOM_STEP, TimeWindow
from ui.common.plain import tip
from ui.theme import ACCENT, MUTED

MARK_COLOUR = "#ffd60a"
CHAPTER_COLOUR = "#58a6ff"
PRIVACY_COLOUR = "#8b949e"  # a privacy pause: grey, hatched, over the track
SHARED_COLOUR = "#3fb950"  # a picture was shared: a green band under the track
TICK_HIT_PX = 6  # how near the pointer must be to a chapter tick for its title
ACTIVITY_BIN_PX = 4
WHEEL_NOTCH = 120  # angleDelta of one notch of an ordinary mouse wheel
PAN_PER_NOTCH = 0.25  # of the window's span, when the wheel moves along a zoomed case


def format_time(seconds: float, *, tenths: bool = False) -> str:
    """``m:ss`` (``h:mm:ss`` from an hour), with ``.t`` if ``tenths``."""
    seconds = max(0.0, seconds)
    whole = math.floor(seconds * 10) / 10 if tenths else math.floor(seconds)
    hours, rest = divmod(int(whole), 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
    if tenths:
        text += f".{round((whole - int(whole)) * 10) % 10}"
    return text


def parse_time(text: str) -> float | None:
    """Seconds for ``1:02:03.5``, ``12:31``, ``75`` or ``75,5``; ``None`` if not a time."""
    parts = text.strip().replace(",", ".").split(":")
    if not 1 <= len(parts) <= 3 or not all(re.fullmatch(r"\d+", p) for p in parts[:-1]):
        return None
    if not re.fullmatch(r"\d+(\.\d*)?", parts[-1]):
        return None
    numbers = [int(p) for p in parts[:-1]] + [float(parts[-1])]
    if any(n >= 60 for n in numbers[1:]):
        return None
    total = 0.0
    for n in numbers:
        total = total * 60 + n
    return total


class TimelineBar(QWidget):
    """Seek bar for ``0..duration`` case seconds. Set :attr:`position`, chapters and mark
    times; emits ``seek_requested(t)`` on click and while dragging."""

    seek_requested = pyqtSignal(float)
    zoom_changed = pyqtSignal(float)  # the new zoom (1: the whole case)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.duration = 0.0
        self.position = 0.0
        self.chapters: tuple[Chapter, ...] = ()
        self.mark_times: tuple[float, ...] = ()
        self.privacy: tuple[tuple[float, float | None], ...] = ()  # paused spans
        self.shared: tuple[tuple[float, float | None], ...] = ()  # a picture shown
        self.window = TimeWindow(0.0)
        self.dragging = False
        self._moved_away = False  # the wheel moved the view: do not pull it back yet
        self.setMouseTracking(True)
        self.setMinimumHeight(56)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys belong to the player

    def sizeHint(self) -> QSize:
        return QSize(600, 56)

    def set_case(self, duration: float, chapters: Sequence[Chapter],
                 mark_times: Sequence[float],
                 privacy: Sequence[tuple[float, float | None]] = (),
                 shared: Sequence[tuple[float, float | None]] = ()) -> None:
        """``privacy``: spans (start, end or None: to the end) paused for privacy;
        ``shared``: spans a shared picture was shown instead of the video."""
        self.duration = max(0.0, duration)
        self.window = TimeWindow(self.duration)
        self.chapters = tuple(chapters)
        self.mark_times = tuple(sorted(mark_times))
        self.privacy = tuple(privacy)
        self.shared = tuple(shared)
        self.update()

    def paused_at(self, t: float) -> bool:
        """Whether case time ``t`` lies in a privacy pause (its pictures are the card)."""
        return any(start <= t and (end is None or t < end) for start, end in self.privacy)

    def set_position(self, t: float) -> None:
        if not self.dragging and abs(t - self.position) > 1e-6:
            self.position = t
            if not self._moved_away:
                self.window = self.window.following(t)
            self.update()

    def reveal_playhead(self) -> None:
        """Bring the window back to the playhead at its next position (after a seek from
        the chapters, the chat or a key, even if the wheel moved the view away)."""
        self._moved_away = False

    # -- zoom ------------------------------------------------------------------------------

    @property
    def zoom(self) -> float:
        return self.window.zoom

    def zoom_in(self) -> None:
        self.zoom_by(ZOOM_STEP)

    def zoom_out(self) -> None:
        self.zoom_by(1 / ZOOM_STEP)

    def zoom_by(self, factor: float) -> None:
        """Zoom around the playhead, which stays where it is on the bar (or comes into
        the middle if it was out of view)."""
        before = self.window.zoom
        self.window = self.window.zoomed(factor, self.position)
        self._moved_away = False
        self.update()
        if self.window.zoom != before:
            self.zoom_changed.emit(self.window.zoom)

    # -- geometry --------------------------------------------------------------------------

    def _track(self) -> QRectF:
        return QRectF(8, self.height() - 18, max(1, self.width() - 16), 8)

    def x_of(self, t: float) -> float:
        """Where case time ``t`` is on the bar; beyond the track's ends when the zoomed
        window does not show it (the painting leaves it out)."""
        track = self._track()
        if self.duration <= 0:
            return track.left()
        return track.left() + track.width() * self.window.fraction_of(t)

    def time_at(self, x: float) -> float:
        track = self._track()
        return self.window.time_at((x - track.left()) / track.width())

    def chapter_near(self, x: float) -> Chapter | None:
        best = None
        for chapter in self.chapters:
            gap = abs(self.x_of(chapter.time) - x)
            if gap <= TICK_HIT_PX and (best is None or gap < best[0]):
                best = (gap, chapter)
        return best[1] if best else None

    def activity(self) -> list[int]:
        """Marks started per bin of :data:`ACTIVITY_BIN_PX` pixels along the track."""
        bins = [0] * max(1, int(self._track().width()) // ACTIVITY_BIN_PX)
        if self.duration <= 0:
            return bins
        for t in self.mark_times:
            if self.window.shows(t):
                index = int(min(max(self.window.fraction_of(t), 0.0), 0.999999) * len(bins))
                bins[index] += 1
        return bins

    # -- painting --------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent | None) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        track = self._track()
        painter.fillRect(track, QColor("#30363d"))
        x = min(max(self.x_of(self.position), track.left()), track.right())
        played = QRectF(track.left(), track.top(), x - track.left(), track.height())
        painter.fillRect(played, QColor(ACCENT))
        # what lies outside the zoomed window is not drawn (a tick's head may overhang)
        painter.setClipRect(QRectF(track.left() - 7, 0, track.width() + 14, self.height()))
        self._paint_privacy(painter, track)
        self._paint_shared(painter, track)
        self._paint_activity(painter, track)
        self._paint_chapters(painter, track)
        if self.window.zoomed_in:
            self._paint_window_ends(painter, track)
        if self.window.shows(self.position):
            painter.setPen(QPen(QColor("#ffffff"), 2))
            painter.setBrush(QColor("#ffffff"))
            painter.drawEllipse(QPointF(x, track.center().y()), 7, 7)
        painter.end()

    def _paint_window_ends(self, painter: QPainter, track: QRectF) -> None:
        """The case times at the two ends of a zoomed bar, under the track."""
        painter.setPen(QColor(MUTED))
        font = painter.font()
        font.setPointSizeF(max(6.0, font.pointSizeF() * 0.75))
        painter.setFont(font)
        below = QRectF(track.left(), track.bottom() + 1, track.width(),
                       self.height() - track.bottom() - 1)
        tenths = self.window.span < 60  # a close zoom: whole seconds would repeat
        painter.drawText(below, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop),
                         format_time(self.window.start, tenths=tenths))
        painter.drawText(below, int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop),
                         format_time(self.window.end, tenths=tenths))

    def _paint_activity(self, painter: QPainter, track: QRectF) -> None:
        bins = self.activity()
        peak = max(bins)
        if not peak:
            return
        colour = QColor(MARK_COLOUR)
        room = track.top() - 14  # the chapter ticks take the top 12 px
        for i, count in enumerate(bins):
            if count:
                height = max(3.0, room * count / peak)
                painter.fillRect(QRectF(track.left() + i * ACTIVITY_BIN_PX,
                                        track.top() - 2 - height, ACTIVITY_BIN_PX - 1, height),
                                 colour)

    def _paint_privacy(self, painter: QPainter, track: QRectF) -> None:
        for start, end in self.privacy:
            left, right = self.x_of(start), self.x_of(self.duration if end is None else end)
            span = QRectF(left, track.top() - 4, max(2.0, right - left), track.height() + 8)
            painter.fillRect(span, QBrush(QColor(PRIVACY_COLOUR), Qt.BrushStyle.BDiagPattern))
            painter.fillRect(QRectF(span.left(), span.top(), span.width(), 2),
                             QColor(PRIVACY_COLOUR))

    def _paint_shared(self, painter: QPainter, track: QRectF) -> None:
        for start, end in self.shared:
            left, right = self.x_of(start), self.x_of(self.duration if end is None else end)
            painter.fillRect(QRectF(left, track.bottom() + 1, max(2.0, right - left), 3),
                             QColor(SHARED_COLOUR))

    def _paint_chapters(self, painter: QPainter, track: QRectF) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(CHAPTER_COLOUR))
        for chapter in self.chapters:
            if not self.window.shows(chapter.time):
                continue
            x = self.x_of(chapter.time)
            painter.fillRect(QRectF(x - 1, 10, 2, track.bottom() - 10), QColor(CHAPTER_COLOUR))
            painter.drawPolygon(QPolygonF([QPointF(x - 6, 0), QPointF(x + 6, 0),
                                           QPointF(x, 10)]))
        painter.setPen(QColor(MUTED))

    # -- pointer ---------------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent | None) -> None:
        if event is None or event.button() != Qt.MouseButton.LeftButton or self.duration <= 0:
            return
        self.dragging = True
        self._seek_to(event.position().x())

    def mouseMoveEvent(self, event: QMouseEvent | None) -> None:
        if event is None:
            return
        x = event.position().x()
        if self.dragging:
            self._seek_to(x)
            return
        chapter = self.chapter_near(x)
        text = (f"{chapter.title} — {format_time(chapter.time)}" if chapter is not None
                else format_time(self.time_at(x)))
        QToolTip.showText(event.globalPosition().toPoint(), tip(text), self)

    def mouseReleaseEvent(self, event: QMouseEvent | None) -> None:
        if event is not None and self.dragging:
            self._seek_to(event.position().x())
            self.dragging = False

    def wheelEvent(self, event: QWheelEvent | None) -> None:
        """Ctrl+wheel zooms around the playhead; the wheel alone moves along a zoomed
        case (and leaves a case shown whole to the window around the bar)."""
        if event is None:
            return
        delta = event.angleDelta()
        notches = (delta.y() or delta.x()) / WHEEL_NOTCH
        if not notches or self.duration <= 0:
            event.ignore()
            return
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom_by(ZOOM_STEP ** (notches / 2))  # two notches: one button press
        elif self.window.zoomed_in:
            self.window = self.window.scrolled(-notches * PAN_PER_NOTCH)
            self._moved_away = True
            self.update()
        else:
            event.ignore()
            return
        event.accept()

    def _seek_to(self, x: float) -> None:
        self.position = self.time_at(x)
        self._moved_away = False  # the playhead is where the student looks now
        self.update()
        self.seek_requested.emit(self.position)
