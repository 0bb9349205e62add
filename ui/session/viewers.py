"""What each viewer gets of the surgeon's video, and the layer a viewer itself gets.

The publisher chooses a layer per viewer (:mod:`surgery_teach.rtc.adaptation`); the
surgeon sees, per viewer and source, the layer, loss and round trip, and a warning when
the upload limits the class. A viewer sees its own layer and why beside the link health.
"""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from surgery_teach.media.health import Health, LinkReport
from surgery_teach.media.layer_choice import Reason
from surgery_teach.rtc.adaptation import ViewerState
from ui.i18n import tr, tr_n
from ui.theme import HEALTH_COLOURS


def reason_text(reason: str) -> str:
    """A sender's reason (English, from the wire) in the user's language; unknown ones
    are shown as they came, as plain text."""
    known = {
        Reason.BEST: tr("best quality"),
        Reason.CHECKING: tr("checking your link"),
        Reason.LINK: tr("limited by your link"),
        Reason.PICTURE_LOSS: tr("limited: pictures keep breaking up on your link"),
        Reason.FRAME_RATE: tr("fewer pictures a second: your link cannot carry the "
                              "smallest picture"),
        Reason.UPLINK: tr("limited by the surgeon's upload"),
    }
    return known.get(reason, reason)  # type: ignore[call-overload, no-any-return]


def layer_text(report: LinkReport) -> str:
    """``"360p, limited by your link"`` for a video the sender sends smaller; ``""`` when
    it sends its best or did not say."""
    if not report.limited:
        return ""
    return f"{report.layer}, {reason_text(report.reason)}"


class ViewersPanel(QWidget):
    """The surgeon's view of the viewers: one line per viewer and source."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("")  # "3 viewers watch your video"
        self.title.setObjectName("muted")
        self.warning = QLabel(tr("Your upload limits the class: some viewers get a smaller "
                                 "picture. Use a media server to send each picture once."))
        self.warning.setObjectName("alarm")
        self.warning.setWordWrap(True)
        self.warning.setTextFormat(Qt.TextFormat.PlainText)
        self.list = QListWidget()
        self.list.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.warning)
        layout.addWidget(self.list)
        self.viewers: list[ViewerState] = []
        self.show_viewers([], False)

    def show_viewers(self, viewers: list[ViewerState], uplink_limited: bool) -> None:
        self.viewers = viewers
        self.setVisible(bool(viewers))
        self.warning.setVisible(uplink_limited)
        self.list.clear()
        for viewer in sorted(viewers, key=lambda v: (v.name, v.source)):
            loss = "–" if viewer.loss is None else f"{viewer.loss * 100:.1f}%"
            rtt = "–" if viewer.rtt_ms is None else f"{viewer.rtt_ms:.0f} ms"
            text = (f"{viewer.name} — {viewer.source} {viewer.layer}\n"
                    f"   {reason_text(viewer.reason)} · {tr('loss')} {loss} · RTT {rtt}")
            item = QListWidgetItem(text)
            limited = viewer.reason not in (Reason.BEST, Reason.CHECKING)
            item.setForeground(QColor(HEALTH_COLOURS[Health.FAIR if limited else Health.GOOD]))
            self.list.addItem(item)
        self.list.setFixedHeight(min(6, max(1, len(viewers))) * 40 + 6)
        count = len({viewer.participant for viewer in viewers})
        self.title.setText(tr_n("{n} viewer watches your video",
                                "{n} viewers watch your video", count))
