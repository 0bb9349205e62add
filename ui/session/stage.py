"""The main video large and the other sources as thumbnails; click or Tab to swap."""

from __future__ import annotations

from dataclasses import dataclass

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from surgery_teach.capture.base import FrameSlot
from ui.common.video_view import VideoView

THUMB_HEIGHT = 150


@dataclass(eq=False)
class StageSource:
    """A picture the stage can show: a local source or a received track."""

    key: str
    label: str
    slot: FrameSlot
    name: str = ""  # the source's own name (marks refer to it); defaults to the label

    def __post_init__(self) -> None:
        self.name = self.name or self.label


class Stage(QWidget):
    """Shows one source large; ``main_changed`` fires with the new main source's key."""

    main_changed = pyqtSignal(str)
    covered_changed = pyqtSignal(bool)  # a shared picture took the main place, or left it

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.sources: list[StageSource] = []
        self.main = VideoView()
        self._thumbs: list[VideoView] = []
        self._thumbs_shown = True
        self.cover_widget: QWidget | None = None  # shown in the main place instead
        self._strip = QHBoxLayout()
        self._strip.setContentsMargins(0, 0, 0, 0)
        self._strip.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.main, 1)
        layout.addLayout(self._strip)

    def show_thumbnails(self, shown: bool) -> None:
        """Show or hide the small pictures (video-only full screen hides them)."""
        self._thumbs_shown = shown
        for thumb in self._thumbs:
            thumb.setVisible(shown)

    @property
    def thumbnails(self) -> list[VideoView]:
        return list(self._thumbs)

    @property
    def covered(self) -> bool:
        return self.cover_widget is not None and not self.cover_widget.isHidden()

    def cover(self, widget: QWidget | None) -> None:
        """Show ``widget`` (a shared picture) in the main place, every source as a
        thumbnail (like a freeze); None shows the main video again. A click on a
        thumbnail uncovers too, bringing that source large."""
        was = self.covered
        layout = self.layout()
        if widget is not None and widget is not self.cover_widget and layout is not None:
            if self.cover_widget is not None:
                self.cover_widget.hide()
            layout.insertWidget(0, widget, 1)  # type: ignore[attr-defined]
            self.cover_widget = widget
        if self.cover_widget is not None:
            self.cover_widget.setVisible(widget is not None)
        self.main.setVisible(widget is None)
        self._rebuild()
        if self.covered != was:
            self.covered_changed.emit(self.covered)

    def main_key(self) -> str | None:
        return self.sources[0].key if self.sources else None

    def add(self, source: StageSource) -> None:
        if any(s.key == source.key for s in self.sources):
            return
        self.sources.append(source)
        self._rebuild()

    def remove(self, key: str) -> None:
        before = self.main_key()
        self.sources = [s for s in self.sources if s.key != key]
        self._rebuild()
        if self.main_key() != before:
            self.main_changed.emit(self.main_key() or "")

    def hand_over(self, key: str, slot: FrameSlot) -> None:
        """Show ``key``'s source from ``slot`` from now on: the same source on another
        path (a room moving onto the media server or back). It keeps its place (the main
        view stays the main view, with its marks), and its picture stays on screen until
        the new path's first one is drawn."""
        source = next((s for s in self.sources if s.key == key), None)
        if source is None or source.slot is slot:
            return
        for view in [self.main, *self._thumbs]:
            if view.slot is source.slot:
                view.hand_over(slot)
        source.slot = slot
        self._rebuild()

    def clear(self) -> None:
        self.sources.clear()
        self._rebuild()

    def show_main(self, key: str) -> None:
        """Make ``key`` the main picture; the previous main becomes a thumbnail."""
        index = next((i for i, s in enumerate(self.sources) if s.key == key), None)
        if index is None or index == 0:
            return
        self.sources[0], self.sources[index] = self.sources[index], self.sources[0]
        self._rebuild()
        self.main_changed.emit(key)

    def swap_next(self) -> None:
        """Bring the next source to the main view (keyboard: Tab)."""
        if len(self.sources) > 1:
            self.show_main(self.sources[1].key)

    def _rebuild(self) -> None:
        if self.sources:
            first = self.sources[0]
            if self.main.slot is not first.slot:
                self.main.follow(first.slot, first.label)
            self.main.label = first.label
            self.main.source_name = first.name
        else:
            self.main.follow(None, "")
        others = self.sources if self.covered else self.sources[1:]
        while len(self._thumbs) > len(others):
            thumb = self._thumbs.pop()
            thumb.stop()
            self._strip.removeWidget(thumb)
            thumb.deleteLater()
        while len(self._thumbs) < len(others):
            thumb = VideoView()
            thumb.setFixedHeight(THUMB_HEIGHT)
            thumb.setFixedWidth(THUMB_HEIGHT * 16 // 9)
            thumb.clicked.connect(lambda t=thumb: self._thumb_clicked(t))
            self._strip.insertWidget(len(self._thumbs), thumb)
            thumb.setVisible(self._thumbs_shown)
            self._thumbs.append(thumb)
        for thumb, source in zip(self._thumbs, others, strict=True):
            if thumb.slot is not source.slot:
                thumb.follow(source.slot, source.label)
            thumb.label = source.label
            thumb.source_name = source.name
            thumb.setProperty("source_key", source.key)

    def _thumb_clicked(self, thumb: VideoView) -> None:
        key = thumb.property("source_key")
        if key and self.covered:
            self.cover(None)
        if key:
            self.show_main(str(key))
