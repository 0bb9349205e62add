"""Runs one participant's session for the window: sources, joining, reconnecting.

The window subscribes to the Qt signals here; the work is done by the Qt-free core
(:class:`LiveSession`, the capture sources, the shared encoders) on a media thread of its
own (:class:`LoopThread`), so painting and input never delay RTP packets, nor packets the
painting. Each method belongs to one thread:

- **GUI thread**: the public API (``start``, ``leave``, ``annotate``, ``send_chat``, …)
  and all the window reads: ``state``, ``session`` (a frozen :class:`SessionView`),
  ``players``, ``receivers``. Calls go over to the media loop, in order.
- **media thread** (marked so): the live session and its listeners. What they change
  reaches the GUI thread through :class:`GuiCalls`, in order: the snapshot is updated
  first, then the signal is emitted there, so a slot reads the state its event left.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from types import MappingProxyType

from aiortc.contrib.media import MediaRelay
from PyQt6.QtCore import QObject, pyqtSignal

from surgery_teach.annotations import Op
from surgery_teach.audio import AudioPlayer, LocalAudioTrack
from surgery_teach.audio.voice import Voice, VoiceEvent
from surgery_teach.capture import open_source
from surgery_teach.capture.base import VideoSource
from surgery_teach.errors import (
    AudioDeviceError,
    LoopStoppedError,
    SurgeryTeachError,
)
from surgery_teach.media.encoder import EncoderSettings, SharedEncoder
from surgery_teach.media.receive import VideoReceiver
from surgery_teach.privacy import MaskStore, PrivacyCurtain, PrivacyProblem, device_key, protect
from surgery_teach.protocol.messages import ErrorReply, ParticipantInfo, Role
from surgery_teach.protocol.roles import removal_refusal
from surgery_teach.rtc.link import LinkMonitor, receiving_connections
from surgery_teach.rtc.loop_thread import LoopThread
from surgery_teach.rtc.received_sources import one_per_source
from surgery_teach.rtc.session import LiveSession, SessionConfig
from surgery_teach.rtc.session_view import SessionView
from surgery_teach.rtc.tracking_link import AnchoredMarks, follow_anchored_marks
from surgery_teach.sharing import OutgoingShare
from surgery_teach.wire.fields import ErrorCode
from ui.common.explain import explain_join_error
from ui.common.media_thread import GuiCalls
from ui.common.server_words import refusal_text
from ui.i18n import tr
from ui.recording.control import RecordingControl
from ui.session.share_feed import ShareFeed

logger = logging.getLogger(__name__)

SPEAKING_DBFS = -45.0
# The server's `removed` error: "mentor 'Dr Li' removed you from room 'chole-0425'; ..."
_REMOVED_BY = re.compile(r"^\w+ (?P<q>['\"])(?P<name>.+?)(?P=q) removed you from room")


def tr_text(device: str, detail: str) -> str:
    if device == "microphone":
        return tr("No microphone: the session goes on without your voice. ({detail})",
                  detail=detail)
    return tr("No speaker: the session goes on without sound. ({detail})", detail=detail)


async def _released(what: str, stop: Callable[[], object]) -> None:
    """Call ``stop`` (awaiting what it returns); log, never raise, if it fails."""
    try:
        result = stop()
        if inspect.isawaitable(result):
            await result
    except Exception:
        logger.exception("leaving: stopping %s failed", what)


def removal_text(server_message: str, room: str) -> str:
    """What to tell someone the server removed from ``room``, in their language."""
    found = _REMOVED_BY.match(server_message)
    if found:
        return tr("{name} removed you from room {room}.", name=found["name"], room=room)
    if server_message.startswith("you were removed from room"):  # refused at the door
        return tr("You were removed from room {room} and cannot join it again while your "
                  "room token lasts.", room=room)
    return tr("You were removed from room {room}: {reason}", room=room,
              reason=server_message)


class SessionController(QObject):
    """State: ``connecting`` → ``live`` ⇄ ``reconnecting`` → ``left``, or ``stopped``
    (removed from the room, or the server no longer admits us: no more retries) → ``left``.

    Make it on the GUI thread; its signals are always emitted there.
    """

    state_changed = pyqtSignal(str)
    participants_changed = pyqtSignal()
    video_added = pyqtSignal(object)  # VideoReceiver
    video_removed = pyqtSignal(object)
    chat_received = pyqtSignal(object)  # ChatMessage
    links_updated = pyqtSignal(list)  # list[LinkReport]
    viewers_updated = pyqtSignal(list, bool)  # list[ViewerState], the upload limits the class
    marks_changed = pyqtSignal()
    still_changed = pyqtSignal(str)  # a source was frozen (its picture arrived) or plays again
    problem = pyqtSignal(str)
    peer_problem = pyqtSignal(object, str)  # ParticipantInfo, why no connection ("": up now)
    stopped = pyqtSignal(str)  # the session ended for good; the text says why
    voice_changed = pyqtSignal(object)  # VoiceEvent: a microphone or speaker lost, back, changed
    privacy_changed = pyqtSignal(object)  # PrivacyNotice: someone paused for privacy, resumed
    route_changed = pyqtSignal(str, str)  # "class" (the media server) or "peer", and why

    def __init__(self, config: SessionConfig, sources: list[VideoSource],
                 settings: list[EncoderSettings] | None = None, *,
                 microphone: str | None = None, speaker: str = "",
                 speak: bool | None = None, voice: LocalAudioTrack | None = None,
                 recordings: Path | None = None) -> None:
        """``speak``: open the microphone (default: surgeons and mentors do);
        ``microphone``/``speaker``: device names, empty for the system default;
        ``voice``: an audio track to send instead of a microphone (a test tone);
        ``recordings``: where recorded cases go (default: the settings' folder)."""
        super().__init__()
        self.config = config
        self.sources = sources
        self.speak = config.role in (Role.SURGEON, Role.MENTOR) if speak is None else speak
        self.microphone_device = microphone or None
        self.speaker_device = speaker or None
        # set once, on the media thread before start() returns; mute() is thread-safe
        self.microphone: LocalAudioTrack | None = voice
        # the microphone, the one speaker every voice plays on, and their watch (media thread)
        self.voice = Voice(microphone=self.microphone_device, speaker=self.speaker_device,
                           speak=self.speak, track=voice, on_event=self._on_voice_event)
        # Patient privacy: each source's remembered masks (per device) and the curtain, in
        # force before any frame is captured, for every consumer (encoders, stills, recording)
        self.curtain = PrivacyCurtain()
        masks = MaskStore.load()
        self.guards = [
            protect(source, masks.masks_for(device_key(source.spec)), curtain=self.curtain,
                    on_problem=self._on_mask_problem)
            for source in sources if not getattr(source, "running", False)
        ]
        self.encoders = [
            SharedEncoder(source, s)
            for source, s in zip(sources, settings or [EncoderSettings()] * len(sources),
                                 strict=True)
        ]
        self.media = LoopThread(f"media-{config.room}")  # the session's loop
        self._gui = GuiCalls()  # the media thread's way back to the GUI thread
        # -- what the window reads: GUI thread only
        self.state = "connecting"
        self.session: SessionView | None = None
        self.players: Mapping[str, AudioPlayer] = MappingProxyType({})
        self.audio_problem = ""
        self.stopped_reason = ""
        self.roles_before_me: tuple[Role, ...] | None = None  # set by the first join
        self.push_to_talk = False
        self._talk_held = False
        self.muted = False
        self._left: asyncio.Future[None] | None = None
        # -- the media thread's own
        self._live: LiveSession | None = None
        self._view: SessionView | None = None  # the last snapshot handed over
        self.tracking: AnchoredMarks | None = None  # our sources' anchored marks, followed
        self._state = "connecting"
        self._relay = MediaRelay()  # one for the microphone's life, across rejoins
        self._refs = itertools.count(1)
        self._client_id = uuid.uuid4().hex[:12]
        self._monitor = LinkMonitor()
        self._tasks: set[asyncio.Task[None]] = set()
        self._leaving = False
        self.recording = RecordingControl(self.encoders, recordings, config.role,
                                          title=config.room, media=self.media, gui=self._gui)
        # shared pictures, decoded off the GUI thread (``shares.changed``, ``.progress``)
        self.shares = ShareFeed(self._gui, lambda text: self.problem.emit(text))

    @classmethod
    def from_specs(cls, config: SessionConfig, specs: list[str], *, microphone: str = "",
                   speaker: str = "") -> SessionController:
        """Open the sources named by ``specs`` (raises :class:`SurgeryTeachError`)."""
        return cls(config, [open_source(spec) for spec in specs], microphone=microphone,
                   speaker=speaker)

    async def start(self) -> None:
        """Start the sources and join, on the media thread; raises
        :class:`SurgeryTeachError` if the first join fails (the lobby shows it; call
        :meth:`leave` then). Later drops reconnect by themselves."""
        self.media.start()
        try:
            await self.media.run(self._start())
        finally:
            await self._gui.drain()  # what the join changed has reached the window

    async def leave(self) -> None:
        """Leave the room, stop everything this controller started and end the media
        thread. Safe to call twice (the second call waits for the first)."""
        if self._left is None:
            self._left = asyncio.ensure_future(self._leave_all())
        await asyncio.shield(self._left)

    async def _leave_all(self) -> None:
        self.media.start()  # never started: its sources still stop on the media thread
        try:
            await self.media.run(self._leave())
        finally:
            await asyncio.to_thread(self.media.stop)  # joins the thread, off the GUI thread
            await self._gui.drain()

    # -- media thread: joining and the session's events ------------------------------------

    async def _start(self) -> None:
        for source in self.sources:
            if not getattr(source, "running", False):
                source.start()
        self._open_microphone()
        await self._join()
        self._spawn(self._link_loop())

    async def _join(self) -> None:
        session = await LiveSession.start(self.config, self.encoders, self.microphone,
                                          self._relay)
        self._live = session
        if self.roles_before_me is None:  # who was here first (our default mark colour)
            self.roles_before_me = tuple(p.role for p in session.participants.values())
        session.on("audio", self._on_audio)
        session.on("participants", lambda: self._show("participants_changed"))
        session.on("video", lambda r: self._show("video_added", r))
        session.on("video-ended", lambda r: self._show("video_removed", r))
        session.on("chat", lambda m: self._emit("chat_received", m))
        session.on("marks", lambda: self._show("marks_changed", marks=True))
        session.on("still", lambda source: self._show("still_changed", source))
        session.on("recording", lambda _state: self._show())
        session.on("refused", self._on_refused)
        session.on("ended", self._on_ended)
        session.on("link", self._on_link)
        session.on("peer-problem", lambda info, text: self._emit("peer_problem", info, text))
        session.on("privacy", lambda notice: self._emit("privacy_changed", notice))
        session.on("route", lambda mode, why: self._emit("route_changed", mode, why))
        if self.curtain.closed:  # still paused from before a restart of the session
            self._spawn(self._announce_privacy(True))
        self.recording.bind(session)
        self.shares.bind(session)
        if self.tracking is not None:
            self.tracking.stop()
        self.tracking = follow_anchored_marks(session)  # we publish: we track our marks
        self._view = SessionView.of(session)
        self._set_state("live")
        self._show("participants_changed")

    def _show(self, signal: str | None = None, *args: object, marks: bool = False) -> None:
        """Snapshot the session and hand it to the GUI thread, then emit ``signal`` there."""
        session = self._live
        if session is not None:
            self._view = (self._view.updated(session, marks=marks) if self._view is not None
                          else SessionView.of(session))
        self._gui.post(self._shown, self._view, None, signal, args)

    def _emit(self, signal: str, *args: object) -> None:
        """Emit ``signal`` on the GUI thread (after what was handed over before)."""
        self._gui.post(self._shown, None, None, signal, args)

    def _set_state(self, state: str) -> None:
        self._state = state
        self._gui.post(self._shown, self._view, state, None, ())

    def _on_link(self, state: str) -> None:
        """The session lost its signaling link (media goes on) or rejoined by itself."""
        if not self._leaving and self._state in ("live", "reconnecting"):
            self._set_state(state)
            self._show("participants_changed")

    def _on_refused(self, reply: ErrorReply) -> None:
        # A removal is told once, translated (_stop); Undo with nothing to undo does nothing.
        if reply.code not in (ErrorCode.REMOVED, ErrorCode.NOTHING_TO_UNDO):
            self._emit("problem", refusal_text(reply.code, reply.message,
                                               room=self.config.room))

    def _open_microphone(self) -> None:
        """Open the microphone and the speaker (what is missing is said) and watch them."""
        for event in self.voice.open():
            self._gui.post(self._audio_trouble, tr_text(event.device, event.detail))
        self.microphone = self.voice.microphone
        self.voice.start()

    def _on_voice_event(self, event: VoiceEvent) -> None:
        self._emit("voice_changed", event)

    def _switch_device(self, device: str, name: str | None) -> None:
        self._spawn(self._switched(device, name))

    async def _switched(self, device: str, name: str | None) -> None:
        try:
            if device == "microphone":
                await self.voice.switch_microphone(name)
            else:
                await self.voice.switch_speaker(name)
        except AudioDeviceError as exc:
            self._emit("problem", tr_text(device, str(exc)))

    def _on_audio(self, track: object, sender: ParticipantInfo) -> None:
        self.voice.play(track, sender.id)  # type: ignore[arg-type]
        self._gui.post(self._show_players, MappingProxyType(dict(self.voice.players)))

    def _on_ended(self, reason: str) -> None:
        if self._leaving:
            return
        removed = self._live.removed if self._live is not None else ""
        if removed:  # coming back would only be refused (403): stop here
            logger.warning("removed from the room")
            self._spawn(self._stop(removal_text(removed, self.config.room)))
            return
        # The session rejoins by itself (same identity, unsent chat and marks kept); it
        # ends only when the server will not take us back (a token, a removal).
        error = self._live.not_admitted_error if self._live is not None else None
        if error is not None:  # said by its code or HTTP status, in the user's language
            self._spawn(self._stop(explain_join_error(error, server=self.config.server,
                                                      room=self.config.room)))
            return
        refused = (self._live.not_admitted if self._live is not None else "") or reason
        self._spawn(self._stop(tr("The server no longer lets you into the room: {reason}",
                                  reason=refused)))

    async def _stop(self, text: str) -> None:
        """End the session for good, without retrying; the window leaves and says why."""
        session = self._live
        if session is not None:
            for receiver in list(session.receivers):
                self._emit("video_removed", receiver)
            await session.close()  # the media to and from the room stops now
        self._state = "stopped"
        self._gui.post(self._stopped, text)

    async def _link_loop(self) -> None:
        while not self._leaving:
            await asyncio.sleep(1.0)
            session = self._live
            if session is None or self._state not in ("live", "reconnecting"):
                continue  # (media goes on while the signaling link is down)
            with contextlib.suppress(Exception):
                media = session.class_media
                pcs = receiving_connections(session.peers, () if media is None else [
                    (feed.feed.display, feed.pc) for feed in media.feeds.values()])
                # one line per source, also while it comes on two paths (a room moving)
                reports = await self._monitor.sample(pcs, one_per_source(session.receivers),
                                                     session.rtt_ms, dict(session.layer_notes))
                self._emit("links_updated", reports)
                if session.adaptation is not None:
                    self._emit("viewers_updated", session.adaptation.viewers(),
                               session.adaptation.uplink_limited)

    async def _leave(self) -> None:
        """Each step on its own: whatever fails (a recording disk unplugged, a session
        that will not close) is logged, and everything else is still released (the
        camera above all)."""
        self._leaving = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # the files and manifest finished before we go
        await _released("the recording", self.recording.close)
        self.shares.close()
        if self.tracking is not None:
            self.tracking.stop()
        live = self._live
        if live is not None:
            await _released("the session", live.close)
        # the speaker, and the microphone (which ends the relay's reader too)
        await _released("the sound", self.voice.close)
        self._gui.post(self._show_players, MappingProxyType({}))
        for encoder in self.encoders:
            await _released(f"the encoder of {encoder.label}", encoder.stop)
        for source in self.sources:
            await _released(f"the source {source.label}", source.stop)
        self._set_state("left")

    def _spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- media thread: what the window asked for -----------------------------------------

    def _annotate(self, op: Op) -> None:
        ref = f"{self._client_id}-{next(self._refs)}"  # unique across rejoins and clients
        if self._live is not None and self._state in ("live", "reconnecting"):
            # the session keeps it until the server confirms it, across rejoins
            self._spawn(self._send(self._live.annotate(op, ref)))

    def _request(self, send: Callable[[LiveSession], Awaitable[None]]) -> None:
        if self._live is not None and self._state == "live":
            self._spawn(self._send(send(self._live)))

    def _chat(self, text: str) -> None:
        if self._live is not None and self._state in ("live", "reconnecting"):
            self._spawn(self._send(self._live.send_chat(text)))
        else:
            self._emit("problem", "not connected")

    async def _send(self, coro: Awaitable[None]) -> None:
        try:
            await coro
        except SurgeryTeachError as exc:
            self._emit("problem", str(exc))

    # -- GUI thread: news from the media thread ------------------------------------------

    def _shown(self, view: SessionView | None, state: str | None, signal: str | None,
               args: tuple[object, ...]) -> None:
        if view is not None:
            self.session = view
        if state is not None:
            self.state = state
            self.state_changed.emit(state)
        if signal is not None:
            getattr(self, signal).emit(*args)

    def _stopped(self, text: str) -> None:
        self.stopped_reason = text
        self._shown(None, "stopped", "stopped", (text,))

    def _show_players(self, players: Mapping[str, AudioPlayer]) -> None:
        self.players = players

    def _audio_trouble(self, text: str) -> None:
        if text != self.audio_problem:
            self.audio_problem = text
            self.problem.emit(text)

    def _on_mask_problem(self, problem: PrivacyProblem | None) -> None:
        """A capture thread could not mask a frame (it was withheld), or masks work again."""
        if problem is not None:
            self._gui.post(self.problem.emit, tr(
                "A picture could not be masked, so it was not sent: viewers see a privacy "
                "card. Check the source's masks."))

    async def _announce_privacy(self, paused: bool) -> None:
        live = self._live
        if live is None:
            return
        with contextlib.suppress(SurgeryTeachError):  # link down: said again at the rejoin
            await live.announce_privacy(paused)

    def _note_privacy(self, paused: bool, by: str, since: float) -> None:
        recording = self.recording.recording
        if recording is not None:
            recording.note_privacy(paused, by, t=since)
        self._spawn(self._announce_privacy(paused))

    # -- GUI thread: the window's API -------------------------------------------------------

    def toggle_privacy(self, by: str) -> bool:
        """Pause every source of ours for privacy (the card from the next frame), or
        resume; the room is told and the recording notes it. Returns whether paused."""
        if not self.sources:
            return False
        state = self.curtain.toggle(by)
        self._to_media(self._note_privacy, state.closed, by, state.since)
        return state.closed

    def _to_media(self, function: Callable[..., object], *args: object) -> bool:
        """Hand ``function(*args)`` to the media thread, in order; False once it has ended."""
        try:
            self.media.call(function, *args)
        except LoopStoppedError:
            return False
        return True

    def speaking(self) -> set[str]:
        """Participants whose voice is audible now (for the participant list)."""
        ids = {pid for pid, p in self.players.items() if p.level > SPEAKING_DBFS}
        mic, session = self.microphone, self.session
        if mic is not None and not mic.muted and mic.level > SPEAKING_DBFS and session:
            ids.add(session.me.id)
        return ids

    def switch_device(self, device: str, name: str) -> None:
        """Use another ``"microphone"`` or ``"speaker"`` (``""``: the system default)
        from now on; a device that cannot be opened is said (``problem``)."""
        self._to_media(self._switch_device, device, name or None)

    def set_processing(self, *, echo_cancellation: bool | None = None,
                       noise_suppression: bool | None = None) -> None:
        """Turn echo cancellation or noise suppression on or off (takes effect at once)."""
        self.voice.set_processing(echo_cancellation=echo_cancellation,
                                  noise_suppression=noise_suppression)

    def set_muted(self, muted: bool) -> None:
        self.muted = muted
        self._apply_mute()

    def set_push_to_talk(self, enabled: bool) -> None:
        self.push_to_talk = enabled
        self._apply_mute()

    def talk(self, held: bool) -> None:
        """Push-to-talk key pressed or released."""
        self._talk_held = held
        self._apply_mute()

    @property
    def transmitting(self) -> bool:
        if self.microphone is None or self.muted:
            return False
        return self._talk_held or not self.push_to_talk

    def _apply_mute(self) -> None:
        if self.microphone is not None:  # (mute and unmute are safe from any thread)
            if self.transmitting:
                self.microphone.unmute()
            else:
                self.microphone.mute()

    @property
    def can_draw(self) -> bool:
        return bool(self.session and self.state in ("live", "reconnecting")
                    and self.session.me.can_draw)

    def annotate(self, op: Op) -> None:
        """Send a drawing op (marks appear when the server sends them back, in order).

        While reconnecting, ops wait and go out once, under the rejoined identity."""
        self._to_media(self._annotate, op)

    @property
    def can_remove(self) -> bool:
        """Whether this participant's role may remove anyone (the server's rule)."""
        return removal_refusal(self.config.role) is None

    def may_remove(self, participant: ParticipantInfo) -> bool:
        """Whether the server lets this participant remove ``participant`` (its rule)."""
        return (self.session is not None and participant.id != self.session.me.id
                and removal_refusal(self.config.role, participant.role) is None)

    def remove_participant(self, participant_id: str) -> None:
        """Send someone out of the room; they vanish from the list when the server confirms."""
        self._to_media(self._request, lambda session: session.remove(participant_id))

    def set_class_mode(self, on: bool) -> None:
        """Surgeon or mentor: media through the media server for everyone, or not."""
        self._to_media(self._request, lambda session: session.set_class_mode(on))

    def grant_draw(self, participant_id: str, allowed: bool) -> None:
        self._to_media(self._request,
                       lambda session: session.grant_draw(participant_id, allowed))

    def share_picture(self, outgoing: OutgoingShare) -> None:
        """Share a picture with the room (replacing ours); everyone sees it large."""
        self._to_media(lambda: self._live is not None and self._live.share_picture(outgoing))

    def stop_sharing(self) -> None:
        """Stop sharing our picture: everyone goes back to what they watched."""
        self._to_media(lambda: self._live is not None and self._live.stop_sharing())

    def send_chat(self, text: str) -> None:
        """Send a chat message; while reconnecting it waits and goes out once after."""
        if not self._to_media(self._chat, text):
            self.problem.emit("not connected")

    @property
    def receivers(self) -> list[VideoReceiver]:
        return list(self.session.receivers) if self.session else []
