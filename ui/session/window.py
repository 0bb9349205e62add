"""The live session window: video stage, participants, chat, link health, controls."""

from __future__ import annotations

import asyncio
import logging

from PyQt6.QtCore import QRectF, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QCloseEvent, QKeySequence, QPainter, QShortcut
from PyQt6.QtWidgets import (
    QPushButton,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from surgery_teach.media.receive import VideoReceiver
from surgery_teach.privacy import guard_of
from surgery_teach.protocol.messages import ParticipantInfo, PrivacyNotice, Role
from surgery_teach.protocol.roles import may_share
from surgery_teach.sharing import UidMap
from ui.common.flow import flow_row
from ui.common.icons import give_icon
from ui.common.plain import ElidedLabel, PlainLabel
from ui.common.server_words import route_reason_text
from ui.devices.masks import paint_masks
from ui.i18n import role_name, tr
from ui.recording.widgets import RecordingWidgets
from ui.session.chat import ChatPanel
from ui.session.controller import SessionController
from ui.session.leaving import LeaveQuestion, what_ends
from ui.session.overlays import ShortcutSheet, shortcut_rows
from ui.session.panels import LinkHealthPanel, ParticipantsPanel
from ui.session.remote_tiles import RemoteTiles
from ui.session.share_dialog import ShareDialog
from ui.session.shared_pictures import ShareBar, SharedPictures
from ui.session.stage import Stage, StageSource
from ui.session.telestration import DrawingToolbar, Telestration
from ui.session.top_bar import TopBarOverflow
from ui.session.voice import VoicePanel

logger = logging.getLogger(__name__)

RECONNECTED_MS = 5000  # "Reconnected" stays this long in the banner


class SessionWindow(QWidget):
    """One participant's view of a case. ``closed`` fires once the user has left."""

    closed = pyqtSignal()

    def __init__(self, controller: SessionController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.setWindowTitle(tr("Surgery teaching — room {room}", room=controller.config.room))
        self._fit_to_screen(1500, 900)
        self._left = False
        self.end_reason = ""  # why the session ended by itself (removed, refused), if it did
        self.leave_question: LeaveQuestion | None = None
        self.video_only = False
        self._was = controller.state

        self.banner = PlainLabel("")
        self.banner.setObjectName("banner")
        self.banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.banner.setWordWrap(True)
        self.banner.hide()

        self.who = ElidedLabel(f"{controller.config.name} — {role_name(controller.config.role)} · "
                          + tr("room {room}", room=controller.config.room))
        self.who.setObjectName("title")
        self.mute_button = QPushButton(tr("Mute mic (M)"))
        self.mute_button.setCheckable(True)
        self.mute_button.toggled.connect(self._on_mute)
        # push-to-talk (a key of the user's choice, whatever has focus), meter, sound menu
        self.voice_panel = VoicePanel(self, controller, note=lambda text: self.chat.note(text))
        self.voice_panel.changed.connect(self._show_mic_state)
        self.ptt_button = QPushButton()
        self.ptt_button.setCheckable(True)
        self.ptt_button.toggled.connect(self._on_push_to_talk)
        self.mic_state = PlainLabel("")
        self.fullscreen_button = QPushButton(tr("Full screen (F11)"))
        self.fullscreen_button.setToolTip(tr("Only the video, full screen; Esc returns"))
        self.swap_button = QPushButton(tr("Swap source (Tab)"))
        self.leave_button = QPushButton(tr("Leave"))
        self.leave_button.setObjectName("danger")
        # Patient privacy: every source of ours shows the "paused for privacy" card at once
        self.privacy_button = QPushButton()
        self.privacy_button.setCheckable(True)
        self.privacy_button.setVisible(bool(controller.sources))
        self.privacy_button.clicked.connect(self.toggle_privacy)
        self._show_privacy(False)
        # Class mode (surgeon, mentors): everyone's media through the media server
        self.class_button = QPushButton(tr("Class mode"))
        self.class_button.setCheckable(True)
        self.class_button.setToolTip(tr("Send the video through the hospital's media "
                                        "server: for large classes and weak uplinks"))
        self.class_button.setVisible(controller.config.role in (Role.SURGEON, Role.MENTOR))
        self.class_button.clicked.connect(self._class_clicked)
        # Share image… (surgeon, mentors; trainees while allowed to draw): a CT slice, a page
        self.share_button = QPushButton(tr("Share image…"))
        self.share_button.setToolTip(tr("Show everyone a picture, a PDF page or a DICOM "
                                        "image from this computer, without patient details"))
        self.share_button.setVisible(controller.config.role in (Role.SURGEON, Role.MENTOR))
        self.share_button.clicked.connect(self.open_share_dialog)
        self.share_dialog: ShareDialog | None = None
        self._uids = UidMap()  # the same replaced UIDs for every share of this consultation
        self.help_button = QPushButton("?")
        self.help_button.setToolTip(tr("Keyboard shortcuts (F1)"))
        self.fullscreen_button.clicked.connect(self.toggle_full_screen)
        self.leave_button.clicked.connect(self.ask_to_leave)
        self.help_button.clicked.connect(self.toggle_shortcuts)
        for button, name in ((self.mute_button, "mute"), (self.swap_button, "swap"),
                             (self.fullscreen_button, "full-screen"), (self.leave_button, "leave")):
            give_icon(button, name)
        give_icon(self.help_button, "help", keep_text=False)
        self.recording = RecordingWidgets(
            controller.recording, self, note=lambda text: self.chat.note(text),
            me=lambda: controller.session.me.id if controller.session is not None else "",
        )

        self.panels_button = QPushButton(tr("Side panels"))
        self.panels_button.setToolTip(tr("Show or hide participants, link health and chat"))
        give_icon(self.panels_button, "panels")
        for button in (self.mute_button, self.ptt_button, self.swap_button,
                       self.fullscreen_button, self.panels_button, self.help_button,
                       self.leave_button):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Space is push-to-talk
        self.who.setMaximumWidth(520)  # longer names end in "…" (the whole is the tooltip)
        self.recording.indicator.setMaximumWidth(420)
        # The top row stays on one line while it can (the least-used buttons go into the
        # "⋯" menu, the name and REC line shrink), and wraps onto a second line when even
        # that is too wide: it never makes the window wider than a laptop's screen.
        self.more_button = QToolButton()
        self.more_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.top_bar = flow_row([
            self.who, self.recording.indicator, self.mic_state, self.voice_panel,
            self.recording.record_button, self.privacy_button, self.recording.chapter_button,
            self.recording.chapter_field, self.mute_button,
            self.ptt_button, self.swap_button, self.class_button, self.share_button,
            self.fullscreen_button, self.panels_button,
            self.help_button, self.more_button, self.leave_button])
        self.overflow = TopBarOverflow(
            self.top_bar, [self.help_button, self.panels_button, self.fullscreen_button,
                           self.swap_button, self.ptt_button, self.class_button,
                           self.recording.chapter_button, self.share_button],
            [self.who, self.recording.indicator], self.more_button)

        self.stage = Stage()
        self.remote = RemoteTiles(self.stage)
        self.swap_button.clicked.connect(self.stage.swap_next)
        self.participants = ParticipantsPanel()
        if controller.can_remove:
            self.participants.allow_removal(controller.may_remove)
        self.participants.remove_requested.connect(controller.remove_participant)
        self.links = LinkHealthPanel()
        self.chat = ChatPanel(controller.send_chat)
        self.side = QSplitter(Qt.Orientation.Vertical)
        for panel in (self.participants, self.links, self.chat):
            self.side.addWidget(panel)
        self.side.setSizes([220, 200, 380])
        # The video keeps most of the width; the side panels can be dragged narrower,
        # dragged shut, or hidden with "Side panels".
        self.body = body = QSplitter(Qt.Orientation.Horizontal)
        body.addWidget(self.stage)
        body.addWidget(self.side)
        body.setStretchFactor(0, 1)
        body.setCollapsible(0, False)
        body.setSizes([1120, 380])
        self.panels_button.clicked.connect(lambda: self.side.setVisible(self.side.isHidden()))

        self.drawing_toolbar = DrawingToolbar()
        self.telestration = Telestration(controller, [self.stage.main], self.stage.main,
                                         self.drawing_toolbar, self.stage)
        self.share_bar = ShareBar()
        self.shared = SharedPictures(controller, self.stage, self.telestration, self.share_bar)
        self.grant_button = QPushButton(tr("Allow to draw"))  # "Stop drawing" once allowed
        self.grant_button.setCheckable(True)
        self.grant_button.setVisible(controller.config.role == Role.MENTOR)
        self.grant_button.setEnabled(False)
        self.grant_button.clicked.connect(self._grant_clicked)
        self.participants.list.currentItemChanged.connect(lambda *_: self._selection_changed())
        self.participants.layout().addWidget(self.grant_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.top_bar)
        layout.addWidget(self.drawing_toolbar)
        layout.addWidget(self.banner)
        layout.addWidget(self.share_bar)
        layout.addWidget(self.recording.alarm)
        layout.addWidget(body, 1)
        self.shortcuts = ShortcutSheet(self)

        for source in controller.sources:
            self.stage.add(StageSource(key=f"local:{id(source)}",
                                       label=f"{source.label} ({tr('you')})", slot=source.slot,
                                       name=source.label))
        # our own sources' privacy masks, outlined where the picture is covered
        self._own = {f"local:{id(source)}": source for source in controller.sources}
        self.stage.main.overlays.append(self._paint_own_masks)
        controller.state_changed.connect(self._on_state)
        controller.stopped.connect(self._on_stopped)
        controller.participants_changed.connect(self._on_participants)
        controller.video_added.connect(self._on_video_added)
        controller.video_removed.connect(self._on_video_removed)
        controller.chat_received.connect(self.chat.add)
        controller.links_updated.connect(self.links.show_reports)
        controller.viewers_updated.connect(self.links.viewers.show_viewers)
        controller.problem.connect(self.chat.note)
        controller.peer_problem.connect(self._on_peer_problem)
        controller.privacy_changed.connect(self._on_privacy)
        controller.route_changed.connect(self._on_route)
        self._shortcuts()
        self._speaking: set[str] = set()
        self._speaking_timer = QTimer(self)
        self._speaking_timer.timeout.connect(self._refresh_speaking)
        self._speaking_timer.start(300)
        self._show_mic_state()
        self._on_state(controller.state)
        self._on_participants()
        for receiver in controller.receivers:
            self._on_video_added(receiver)

    def _fit_to_screen(self, width: int, height: int) -> None:
        """Open at ``width``×``height``, or the screen's free area when that is smaller."""
        screen = self.screen()
        if screen is not None:
            free = screen.availableGeometry()
            width, height = min(width, free.width()), min(height, free.height())
        self.resize(width, height)

    def _shortcuts(self) -> None:
        QShortcut(QKeySequence("F11"), self, activated=self.toggle_full_screen)
        QShortcut(QKeySequence("M"), self, activated=self.mute_button.click)
        QShortcut(QKeySequence("Tab"), self, activated=self.stage.swap_next)
        QShortcut(QKeySequence("Esc"), self, activated=self.escape)
        QShortcut(QKeySequence("F1"), self, activated=self.toggle_shortcuts)
        QShortcut(QKeySequence("Ctrl+Shift+P"), self, activated=self.toggle_privacy)
        QShortcut(QKeySequence("?"), self, activated=self.toggle_shortcuts)

    # -- controller events ----------------------------------------------------------------

    def _on_state(self, state: str) -> None:
        texts = {
            "connecting": tr("Connecting…"),
            "reconnecting": tr("Link to the server lost — reconnecting… Video and voice go on."),
        }
        back = state == "live" and self._was == "reconnecting"
        self._was = state
        if state in texts:
            self.banner.setText(texts[state])
            self.banner.show()
        elif back and not self.end_reason:
            self.banner.setText(tr("Reconnected to the server."))
            self.banner.show()
            QTimer.singleShot(RECONNECTED_MS, self._hide_reconnected)
        elif not self.end_reason:  # why the session ended stays up until the window closes
            self.banner.hide()
        if state == "reconnecting":
            self.chat.note(tr("Link to the server lost; reconnecting"))
        elif back:
            self.chat.note(tr("Reconnected to the server"))

    def _hide_reconnected(self) -> None:
        if self.banner.text() == tr("Reconnected to the server.") and not self.end_reason:
            self.banner.hide()

    def _on_stopped(self, text: str) -> None:
        """Removed from the room, or no longer admitted: say why and leave (no retries)."""
        self.end_reason = text
        self.banner.setText(text)
        self.banner.show()
        self.chat.note(text)
        self.leave()

    def _on_participants(self) -> None:
        session = self.controller.session
        if session is None:
            return
        sending = {r.participant for r in session.receivers}
        if self.controller.sources:
            sending.add(session.me.id)
        self.participants.show_participants(session.me, list(session.participants.values()),
                                            sending, self._speaking)
        self.links.problems.keep(session.participants)
        sharer = may_share(session.me)
        if self.share_button.isHidden() == sharer and self.share_button not in (
                self.overflow.overflowed):
            self.share_button.setVisible(sharer)
        if not sharer and self.share_dialog is not None and self.share_dialog.isVisible():
            self.share_dialog.reject()  # a mentor stopped our drawing while we prepared one
            self.chat.note(tr("A mentor stopped your drawing: the picture you were preparing "
                              "was not shared."))
        if hasattr(self, "grant_button"):
            self._selection_changed()

    def _paint_own_masks(self, painter: QPainter, target: QRectF) -> None:
        source = self._own.get(self.stage.main_key() or "")
        guard = guard_of(source) if source is not None else None
        if guard is not None and guard.masks:
            paint_masks(painter, target, guard.masks, fill=False)

    def toggle_privacy(self) -> None:
        """Pause our video for privacy, or resume it (button, Ctrl+Shift+P)."""
        if self.controller.sources:
            self._show_privacy(self.controller.toggle_privacy(self.controller.config.name))

    def _show_privacy(self, paused: bool) -> None:
        button = self.privacy_button
        button.setChecked(paused)
        button.setText(tr("Resume video") if paused else tr("Privacy pause"))
        button.setToolTip(tr("Every viewer and the recording see \"video paused for "
                             "privacy\" instead of your video (Ctrl+Shift+P)"))
        button.setObjectName("danger" if paused else "")
        button.style().unpolish(button)
        button.style().polish(button)

    def _on_privacy(self, notice: PrivacyNotice) -> None:
        text = (tr("{name} paused the video for privacy", name=notice.name) if notice.paused
                else tr("{name} resumed the video", name=notice.name))
        self.chat.note(text)

    def _class_clicked(self, checked: bool) -> None:
        """Ask; the button shows class mode only once the server has moved the room."""
        self.controller.set_class_mode(checked)
        self.class_button.setChecked(not checked)

    def _on_route(self, mode: str, why: str) -> None:
        self.class_button.setChecked(mode == "class")
        if mode == "class":
            self.chat.note(tr("The video now goes through the hospital's media server"))
        elif why:
            self.chat.note(tr("The video goes directly between computers: {why}",
                              why=route_reason_text(why)))

    def _on_peer_problem(self, participant: ParticipantInfo, text: str) -> None:
        """No connection to someone (said in the link panel, and once in the chat)."""
        self.links.problems.show_problem(participant, text)
        if text:
            self.chat.note(text)

    def _selected_trainee(self) -> ParticipantInfo | None:
        session = self.controller.session
        item = self.participants.list.currentItem()
        if session is None or item is None:
            return None
        info = session.participants.get(item.data(Qt.ItemDataRole.UserRole))
        return info if info is not None and info.role == Role.TRAINEE else None

    def _selection_changed(self) -> None:
        trainee = self._selected_trainee()
        allowed = bool(trainee and trainee.can_draw)
        self.grant_button.setEnabled(trainee is not None)
        self.grant_button.setChecked(allowed)
        # the button says what a click does now, not only its colour
        self.grant_button.setText(tr("Stop drawing") if allowed else tr("Allow to draw"))
        self.grant_button.setToolTip(
            "" if trainee is None else
            tr("{name} may draw now; click to stop it", name=trainee.name) if allowed else
            tr("Let {name} draw on the video", name=trainee.name))

    def _grant_clicked(self, allowed: bool) -> None:
        trainee = self._selected_trainee()
        if trainee is not None:
            self.controller.grant_draw(trainee.id, allowed)

    def _refresh_speaking(self) -> None:
        speaking = self.controller.speaking()
        if speaking != self._speaking:
            self._speaking = speaking
            self._on_participants()
        self._show_mic_state()

    def _show_mic_state(self) -> None:
        c = self.controller
        if c.microphone is None:
            text = tr("No microphone") if c.speak else ""
        elif c.transmitting:
            text = "● " + tr("Mic on")
        elif c.push_to_talk and not c.muted:
            text = tr("Hold {key} to talk", key=self.voice_panel.key_name)
        else:
            text = tr("Muted")
        self.mic_state.setText(text)
        self.ptt_button.setText(tr("Push-to-talk (hold {key})", key=self.voice_panel.key_name))
        self.mute_button.setEnabled(c.microphone is not None)
        self.ptt_button.setEnabled(c.microphone is not None)

    def _on_mute(self, muted: bool) -> None:
        self.controller.set_muted(muted)
        self._show_mic_state()

    def _on_push_to_talk(self, enabled: bool) -> None:
        self.controller.set_push_to_talk(enabled)
        self._show_mic_state()

    def _on_video_added(self, receiver: VideoReceiver) -> None:
        self.remote.add(receiver)  # one tile per source, on whichever path brings it
        self._on_participants()

    def _on_video_removed(self, receiver: VideoReceiver) -> None:
        self.remote.remove(receiver)
        self._on_participants()

    # -- actions --------------------------------------------------------------------------

    def toggle_full_screen(self) -> None:
        """F11: only the video, full screen (every panel hidden); again or Esc returns."""
        self.set_video_only(not self.video_only)

    def set_video_only(self, on: bool) -> None:
        self.video_only = on
        # what must stay in sight stays: why we are reconnecting, a recording that failed
        for widget in (self.top_bar, self.drawing_toolbar, self.side):
            widget.setVisible(not on)
        self.stage.show_thumbnails(not on)
        if on:
            self.showFullScreen()
        else:
            self.showNormal()
            self.side.show()

    def escape(self) -> None:
        """Esc: close the shortcut list; else back to live from a frozen picture; else
        out of video-only full screen."""
        if self.shortcuts.isVisible():
            self.shortcuts.hide()
        elif self.telestration.return_to_live():
            pass
        elif self.shared.back_to_video():
            pass
        elif self.video_only or self.isFullScreen():
            self.set_video_only(False)

    def open_share_dialog(self) -> None:
        """Share image…: choose, check and mask a picture; on Share, the room sees it."""
        session = self.controller.session
        if session is not None and not may_share(session.me):
            self.chat.note(tr("Ask a mentor to let you draw, then you can share a picture"))
            return
        if self.class_button.isChecked():  # no peer-to-peer channel to send it on
            self.chat.note(tr("Pictures cannot be shared in class mode yet: leave class mode "
                              "to share one"))
            return
        if self.share_dialog is not None and self.share_dialog.isVisible():
            self.share_dialog.raise_()
            return
        dialog = ShareDialog(self, uids=self._uids)
        self.share_dialog = dialog

        def done(result: int) -> None:
            if result == ShareDialog.DialogCode.Accepted and dialog.outgoing is not None:
                self.controller.share_picture(dialog.outgoing)

        dialog.finished.connect(done)
        dialog.open()

    def toggle_shortcuts(self) -> None:
        """F1 or ?: the keys of this window, over it; any key closes the list."""
        if self.shortcuts.isVisible():
            self.shortcuts.hide()
            return
        role = self.controller.config.role
        self.shortcuts.show_rows(shortcut_rows(
            can_draw=self.controller.can_draw,
            can_freeze=role in (Role.SURGEON, Role.MENTOR),
            can_record=self.controller.recording.can_record))

    def resizeEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        super().resizeEvent(event)
        if hasattr(self, "shortcuts"):
            self.shortcuts.setGeometry(self.rect())

    def ask_to_leave(self) -> bool:
        """Leave, asking first when that would end something for others (the recording,
        our video, a picture we froze). True if leaving began now."""
        if self._left:
            return False
        ended = what_ends(self.controller)
        if not ended:
            self.leave()
            return True
        if self.leave_question is not None and self.leave_question.box.isVisible():
            self.leave_question.box.raise_()
            return False
        self.leave_question = LeaveQuestion(self, self.controller.config.room, ended)
        self.leave_question.open(self.leave)
        return False

    def leave(self) -> None:
        """Leave now, without asking (Leave confirmed, removed from the room, app quit)."""
        if self._left:
            return
        self._left = True
        self.recording.leave()  # a Record now would start against a closing session
        self._leave_task = asyncio.ensure_future(self._leave())

    async def _leave(self) -> None:
        """Leave the room; the window closes whatever failed on the way (it was logged)."""
        try:
            await self.controller.leave()
        except Exception:
            logger.exception("leaving the room failed")
        finally:
            self.remote.stop()
            for view in [self.stage.main, *self.stage.thumbnails]:
                view.stop()
            self.closed.emit()
            self.close()

    def closeEvent(self, event: QCloseEvent | None) -> None:
        """A close (the title bar's ×, Alt+F4) is a Leave: it asks first when the case
        would end, and the window stays open unless Leave is chosen."""
        if not self._left and not self.ask_to_leave():
            if event is not None:
                event.ignore()
            return
        super().closeEvent(event)
