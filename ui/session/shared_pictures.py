"""A shared picture in the session window: large in the main place, a bar that says whose.

When someone shares a picture (:class:`~ui.session.share_feed.ShareFeed`), it takes the
main place in a :class:`~ui.common.shared_picture_view.SharedPictureView` (pan and zoom
of each viewer's own), the live video goes into the thumbnails like a freeze, and the
drawing tools draw on the picture (marks with source ``share:<id>``). A bar above says
who shares what; it shows a progress bar while a picture arrives, "Back to video" (and
then "Show shared picture") for everyone, and "Stop sharing" for the sharer.
"""

from __future__ import annotations

import html

from PyQt6.QtCore import QObject
from PyQt6.QtWidgets import QHBoxLayout, QProgressBar, QPushButton, QWidget

from ui.common.plain import ElidedLabel
from ui.common.shared_picture_view import SharedPictureView
from ui.i18n import tr
from ui.session.controller import SessionController
from ui.session.share_feed import ShownShare
from ui.session.stage import Stage
from ui.session.telestration import Telestration


class ShareBar(QWidget):
    """The line above the stage while a picture is shared or arriving."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shareBar")
        self.text = ElidedLabel("")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.back_button = QPushButton(tr("Back to video"))
        self.stop_button = QPushButton(tr("Stop sharing"))
        self.stop_button.setObjectName("danger")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(self.text, 1)
        for widget in (self.progress, self.back_button, self.stop_button):
            layout.addWidget(widget)
        self.hide()


class SharedPictures(QObject):
    """Shows ``controller.shares.current`` on ``stage`` and draws on it."""

    def __init__(self, controller: SessionController, stage: Stage,
                 telestration: Telestration, bar: ShareBar) -> None:
        super().__init__(bar)
        self.controller = controller
        self.stage = stage
        self.telestration = telestration
        self.bar = bar
        self.view = SharedPictureView()
        self.view.hide()
        self.shown: ShownShare | None = None
        self._arriving: dict[str, tuple[int, int]] = {}  # sharer -> (held, total)
        controller.shares.changed.connect(self._on_changed)
        controller.shares.progress.connect(self._on_progress)
        controller.participants_changed.connect(self._show_bar)
        stage.covered_changed.connect(self._covered_changed)
        bar.back_button.clicked.connect(self.toggle_video)
        bar.stop_button.clicked.connect(controller.stop_sharing)

    # -- what the feed says ------------------------------------------------------------------

    def _on_changed(self) -> None:
        current = self.controller.shares.current
        new = current is not None and (self.shown is None
                                       or current.share_id != self.shown.share_id)
        self.shown = current
        if current is None:
            self.view.show_picture(None)
            self.stage.cover(None)
        else:
            self._arriving.pop(current.who, None)
            if new:  # a new picture: everyone looks at it, fitted
                self.view.show_picture(current.pixels, source_name=current.source_name,
                                       label=current.title)
                self.stage.cover(self.view)
        self._follow_stage()
        self._show_bar()

    def _on_progress(self, who: str, held: int, total: int) -> None:
        if held >= total:
            self._arriving.pop(who, None)
        else:
            self._arriving[who] = (held, total)
        self._show_bar()

    def _covered_changed(self, _covered: bool) -> None:
        self._follow_stage()
        self._show_bar()

    def _follow_stage(self) -> None:
        self.telestration.set_main(self.view if self.stage.covered else self.stage.main)

    # -- actions -------------------------------------------------------------------------

    def toggle_video(self) -> None:
        """Back to the live video (the picture stays shared), or to the picture again."""
        if self.stage.covered:
            self.stage.cover(None)
        elif self.shown is not None:
            self.stage.cover(self.view)

    def back_to_video(self) -> bool:
        """Esc: the live video large again; False if the picture was not shown."""
        if not self.stage.covered:
            return False
        self.stage.cover(None)
        return True

    # -- the bar -------------------------------------------------------------------------

    def _name(self, who: str) -> str:
        session = self.controller.session
        if session is None:
            return ""
        info = session.participants.get(who)
        return info.name if info is not None else ""

    def _show_bar(self) -> None:
        bar, shown = self.bar, self.shown
        parts = []
        if shown is not None and shown.mine:
            parts.append(tr("You share a picture: {title}", title=shown.title)
                         if shown.title else tr("You share a picture"))
        elif shown is not None:
            name = self._name(shown.who)
            parts.append(tr("{name} shares a picture: {title}", name=name, title=shown.title)
                         if shown.title else tr("{name} shares a picture", name=name))
        session = self.controller.session
        for gone in [who for who in self._arriving
                     if session is None or who not in session.participants]:
            del self._arriving[gone]  # the sharer left mid-transfer: nothing is coming
        arriving = next(iter(self._arriving.items()), None)
        if arriving is not None:
            who, (held, total) = arriving
            parts.append(tr("Receiving a picture from {name}…", name=self._name(who)))
            bar.progress.setRange(0, max(total, 1))
            bar.progress.setValue(held)
        bar.progress.setVisible(arriving is not None)
        text = " · ".join(parts)
        bar.text.setText(text)
        bar.text.setToolTip(html.escape(text))  # a peer's title is text, never markup
        bar.back_button.setVisible(shown is not None)
        bar.back_button.setText(tr("Back to video") if self.stage.covered
                                else tr("Show shared picture"))
        bar.stop_button.setVisible(self.controller.shares.mine is not None)
        bar.setVisible(bool(parts))
