"""The player's seek bar: playhead, chapters as ticks (titles on hover), mark activity.

:class:`TimelineBar` paints the case's length left to right; a click or a drag asks for
a seek (``seek_requested(case_seconds)``) and the player lands on the exact frame. Mark
activity is a strip of bars above the track, one per few pixels, taller where more marks
were drawn, so a student finds where the mentor explained something.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from PyQt6.QtCore import QPointF, QRectF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QBrush, QColor, QMouseEvent, QPainter, QPaintEvent, QPen, QPolygonF
from PyQt6.QtWidgets import QSizePolicy, QToolTip, QWidget

from surgery_teach.casebook.chapters import Chapter
from ui.common.plain import tip
from ui.theme import ACCENT, MUTED

MARK_COLOUR = "#ffd60a"
CHAPTER_COLOUR = "#58a6ff"
PRIVACY_COLOUR = "#8b949e"  # a privacy pause: grey, hatched, over the track
TICK_HIT_PX = 6  # how near the pointer must be to a chapter tick for its title
ACTIVITY_BIN_PX = 4


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

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.duration = 0.0
        self.position = 0.0
        self.chapters: tuple[Chapter, ...] = ()
        self.mark_times: tuple[float, ...] = ()
        self.privacy: tuple[tuple[float, float | None], ...] = ()  # paused spans
        self.dragging = False
        self.setMouseTracking(True)
        self.setMinimumHeight(56)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys belong to the player

    def sizeHint(self) -> QSize:
        return QSize(600, 56)

    def set_case(self, duration: float, chapters: Sequence[Chapter],
                 mark_times: Sequence[float],
                 privacy: Sequence[tuple[float, float | None]] = ()) -> None:
        """``privacy``: spans (start, end or None: to the end) paused for privacy."""
        self.duration = max(0.0, duration)
        self.chapters = tuple(chapters)
        self.mark_times = tuple(sorted(mark_times))
        self.privacy = tuple(privacy)
        self.update()

    def paused_at(self, t: float) -> bool:
        """Whether case time ``t`` lies in a privacy pause (its pictures are the card)."""
        return any(start <= t and (end is None or t < end) for start, end in self.privacy)

    def set_position(self, t: float) -> None:
        if not self.dragging and abs(t - self.position) > 1e-6:
            self.position = t
            self.update()

    # -- geometry --------------------------------------------------------------------------

    def _track(self) -> QRectF:
        return QRectF(8, self.height() - 18, max(1, self.width() - 16), 8)

    def x_of(self, t: float) -> float:
        track = self._track()
        if self.duration <= 0:
            return track.left()
        return track.left() + track.width() * min(max(t / self.duration, 0.0), 1.0)

    def time_at(self, x: float) -> float:
        track = self._track()
        fraction = (x - track.left()) / track.width()
        return min(max(fraction, 0.0), 1.0) * self.duration

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
            index = int(min(max(t / self.duration, 0.0), 0.999999) * len(bins))
            bins[index] += 1
        return bins

    # -- painting --------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent | None) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        track = self._track()
        painter.fillRect(track, QColor("#30363d"))
        played = QRectF(track.left(), track.top(), self.x_of(self.position) - track.left(),
                        track.height())
        painter.fillRect(played, QColor(ACCENT))
        self._paint_privacy(painter, track)
        self._paint_activity(painter, track)
        self._paint_chapters(painter, track)
        x = self.x_of(self.position)
        painter.setPen(QPen(QColor("#ffffff"), 2))
        painter.setBrush(QColor("#ffffff"))
        painter.drawEllipse(QPointF(x, track.center().y()), 7, 7)
        painter.end()

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

    def _paint_chapters(self, painter: QPainter, track: QRectF) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(CHAPTER_COLOUR))
        for chapter in self.chapters:
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

    def _seek_to(self, x: float) -> None:
        self.position = self.time_at(x)
        self.update()
        self.seek_requested.emit(self.position)
