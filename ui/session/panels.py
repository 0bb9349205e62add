"""Side panels of the session window: participants and link health."""

from __future__ import annotations

from collections.abc import Callable

from PyQt6.QtCore import QPoint, Qt, pyqtSignal
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import (
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from surgery_teach.media.health import Health, LinkReport
from surgery_teach.protocol.messages import ParticipantInfo, Role
from ui.common.plain import PlainLabel, plain_box
from ui.i18n import role_name, tr
from ui.session.connection_problems import ConnectionProblems
from ui.session.viewers import ViewersPanel, layer_text
from ui.theme import HEALTH_COLOURS


class ParticipantsPanel(QWidget):
    """Who is in the room, their role, and who is sending video or voice.

    For those whose role may remove participants (:meth:`allow_removal`), a "Remove from
    room…" button and context menu ask for confirmation, naming the person, and then emit
    ``remove_requested(participant id)``.
    """

    remove_requested = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = PlainLabel(tr("Participants"))
        self.title.setObjectName("muted")
        self.list = QListWidget()
        self.list.setWordWrap(True)  # long names wrap instead of scrolling sideways
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._on_context_menu)
        self.list.currentItemChanged.connect(lambda *_: self._update_remove_button())
        self.remove_button = QPushButton(tr("Remove from room…"))
        self.remove_button.hide()
        self.remove_button.clicked.connect(self._remove_selected)
        self.confirmation: QMessageBox | None = None
        self._may_remove: Callable[[ParticipantInfo], bool] | None = None
        self._shown: dict[str, ParticipantInfo] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.list)
        layout.addWidget(self.remove_button)

    def allow_removal(self, may_remove: Callable[[ParticipantInfo], bool]) -> None:
        """Offer "Remove from room…" for the participants ``may_remove`` accepts."""
        self._may_remove = may_remove
        self.remove_button.show()
        self._update_remove_button()

    def selected(self) -> ParticipantInfo | None:
        item = self.list.currentItem()
        return self._shown.get(item.data(Qt.ItemDataRole.UserRole)) if item else None

    def _removable(self, participant: ParticipantInfo | None) -> bool:
        return bool(participant and self._may_remove and self._may_remove(participant))

    def _update_remove_button(self) -> None:
        self.remove_button.setEnabled(self._removable(self.selected()))

    def _remove_selected(self) -> None:
        participant = self.selected()
        if participant is not None and self._removable(participant):
            self.confirm_removal(participant)

    def context_menu(self, item: QListWidgetItem) -> QMenu | None:
        """The actions for one participant's line (None when there are none)."""
        participant = self._shown.get(item.data(Qt.ItemDataRole.UserRole))
        if participant is None or not self._removable(participant):
            return None
        menu = QMenu(self)
        action = menu.addAction(tr("Remove {name} from room…", name=participant.name))
        action.triggered.connect(lambda: self.confirm_removal(participant))
        return menu

    def _on_context_menu(self, position: QPoint) -> None:
        item = self.list.itemAt(position)
        menu = self.context_menu(item) if item is not None else None
        if menu is not None:
            self.list.setCurrentItem(item)
            menu.popup(self.list.viewport().mapToGlobal(position))

    def confirm_removal(self, participant: ParticipantInfo) -> None:
        """Ask before removing ``participant``; emits ``remove_requested`` on "Remove"."""
        box = plain_box(QMessageBox.Icon.Warning, tr("Remove from room"),
                        tr("Remove {name} ({role}) from the room?", name=participant.name,
                           role=role_name(participant.role)), self)
        box.setInformativeText(tr(
            "They are disconnected at once. Where the room uses tokens, they cannot come "
            "back into this case while their token lasts."))
        remove = box.addButton(tr("Remove"), QMessageBox.ButtonRole.DestructiveRole)
        remove.setObjectName("danger")
        cancel = box.addButton(tr("Cancel"), QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(cancel)  # Enter does not remove anyone
        box.setEscapeButton(cancel)

        def done() -> None:
            if box.clickedButton() is remove:
                self.remove_requested.emit(participant.id)
            self.confirmation = None

        box.finished.connect(lambda _: done())
        self.confirmation = box
        box.open()

    def show_participants(self, me: ParticipantInfo, others: list[ParticipantInfo],
                          sending: set[str], speaking: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        """``sending``: ids whose video we receive (or our own when we publish)."""
        current = self.list.currentItem()
        selected = current.data(Qt.ItemDataRole.UserRole) if current is not None else None
        self.list.blockSignals(True)
        self.list.clear()
        self._shown = {p.id: p for p in [me, *others]}
        ordered = sorted(others, key=lambda p: (list(Role).index(Role(p.role)), p.name))
        for participant in [me, *ordered]:
            text = f"{participant.name} — {role_name(participant.role)}"
            if participant.id == me.id:
                text += f" ({tr('you')})"
            marks = []
            if participant.id in sending:
                marks.append("▶ " + tr("video"))
            if participant.id in speaking:
                marks.append("♪ " + tr("speaking"))
            if participant.role == Role.TRAINEE and participant.can_draw:
                marks.append("✎ " + tr("may draw"))
            if marks:
                text += "   " + "  ".join(marks)
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, participant.id)
            self.list.addItem(item)
            if participant.id == selected:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        self._update_remove_button()
        self.title.setText(tr("Participants ({count})", count=len(others) + 1))


class LinkHealthPanel(QWidget):
    """One line per received source, coloured green/amber/red at 150/300 ms."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = PlainLabel(tr("Link health"))
        self.title.setObjectName("muted")
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.warning = PlainLabel("")
        self.warning.setObjectName("alarm")
        self.warning.setWordWrap(True)
        self.warning.hide()
        self.problems = ConnectionProblems()  # why there is no connection to someone
        self.viewers = ViewersPanel()  # the surgeon's: what each viewer gets
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.problems)
        layout.addWidget(self.warning)
        layout.addWidget(self.list)
        layout.addWidget(self.viewers)
        self.reports: list[LinkReport] = []
        self.show_reports([])

    def show_reports(self, reports: list[LinkReport]) -> None:
        self.reports = reports
        self.list.clear()
        if not reports:  # a surgeon alone, or before the first picture arrives
            empty = QListWidgetItem(tr("Nothing received yet: each video you receive "
                                       "shows its frame rate, delay and loss here."))
            empty.setForeground(QColor("#8b95a5"))
            empty.setFlags(Qt.ItemFlag.NoItemFlags)
            self.list.addItem(empty)
        for r in reports:
            delay = (tr("delay {ms} ms", ms=round(r.delay_ms)) if r.delay_ms is not None
                     else tr("delay not measurable"))
            rtt = f"RTT {round(r.rtt_ms)} ms" if r.rtt_ms is not None else "RTT –"
            text = (f"● {r.label} — {r.fps:.0f} fps · {delay}\n"
                    f"   {tr('bitrate')} {r.kbit_per_s / 1000:.1f} Mbit/s · "
                    f"{tr('loss')} {r.loss * 100:.1f}% · {rtt}")
            if r.limited:
                text += f"\n   {layer_text(r)}"
            item = QListWidgetItem(text)
            item.setForeground(QColor(HEALTH_COLOURS[r.health]))
            item.setData(Qt.ItemDataRole.UserRole, r.health.value)
            self.list.addItem(item)
        late = [r for r in reports if r.too_late_to_guide]
        poor = [r for r in reports if r.health is Health.POOR and not r.too_late_to_guide]
        if late:
            worst = max(late, key=lambda r: r.delay_ms or 0)
            self.warning.setText(tr(
                "Video from {label} arrives {ms} ms late: too late to guide safely. "
                "Say \"stop\" by voice and wait for confirmation.",
                label=worst.label, ms=round(worst.delay_ms or 0)))
            self.warning.show()
        elif poor:
            self.warning.setText(tr(
                "The link to {label} is poor (low frame rate or packet loss): "
                "the picture may freeze or lag.", label=poor[0].label))
            self.warning.show()
        else:
            self.warning.hide()
