"""Runs one participant's session for the window: sources, joining, reconnecting.

The window subscribes to the Qt signals here; the work is done by the Qt-free core
(:class:`LiveSession`, the capture sources, the shared encoders).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import uuid
from collections.abc import Awaitable

from aiortc.contrib.media import MediaRelay
from PyQt6.QtCore import QObject, pyqtSignal

from surgery_teach.annotations import Op
from surgery_teach.annotations.offline import OfflineQueue
from surgery_teach.audio import AudioPlayer, LocalAudioTrack, MicrophoneTrack
from surgery_teach.capture import open_source
from surgery_teach.capture.base import VideoSource
from surgery_teach.errors import AudioDeviceError, SurgeryTeachError
from surgery_teach.media.encoder import EncoderSettings, SharedEncoder
from surgery_teach.media.receive import VideoReceiver
from surgery_teach.protocol.messages import ParticipantInfo, Role
from surgery_teach.rtc.backoff import backoff_delays
from surgery_teach.rtc.link import LinkMonitor
from surgery_teach.rtc.session import LiveSession, SessionConfig
from ui.i18n import tr

logger = logging.getLogger(__name__)

SPEAKING_DBFS = -45.0


def tr_text(device: str, detail: str) -> str:
    if device == "microphone":
        return tr("No microphone: the session goes on without your voice. ({detail})",
                  detail=detail)
    return tr("No speaker: the session goes on without sound. ({detail})", detail=detail)


class SessionController(QObject):
    """State: ``connecting`` → ``live`` ⇄ ``reconnecting`` → ``left``."""

    state_changed = pyqtSignal(str)
    participants_changed = pyqtSignal()
    video_added = pyqtSignal(object)  # VideoReceiver
    video_removed = pyqtSignal(object)
    chat_received = pyqtSignal(object)  # ChatMessage
    links_updated = pyqtSignal(list)  # list[LinkReport]
    marks_changed = pyqtSignal()
    still_changed = pyqtSignal(str)  # a source was frozen (its picture arrived) or plays again
    problem = pyqtSignal(str)

    def __init__(self, config: SessionConfig, sources: list[VideoSource],
                 settings: list[EncoderSettings] | None = None, *,
                 microphone: str | None = None, speaker: str = "",
                 speak: bool | None = None, voice: LocalAudioTrack | None = None) -> None:
        """``speak``: open the microphone (default: surgeons and mentors do);
        ``microphone``/``speaker``: device names, empty for the system default;
        ``voice``: an audio track to send instead of a microphone (a test tone)."""
        super().__init__()
        self.config = config
        self.sources = sources
        self.speak = config.role in (Role.SURGEON, Role.MENTOR) if speak is None else speak
        self.microphone_device = microphone or None
        self.speaker_device = speaker or None
        self.microphone: LocalAudioTrack | None = voice
        self._relay = MediaRelay()  # one for the microphone's life, across rejoins
        self._offline = OfflineQueue()
        self._unacked: dict[str, Op] = {}  # sent, not yet confirmed by the server
        self._refs = itertools.count(1)
        self._client_id = uuid.uuid4().hex[:12]
        self.players: dict[str, AudioPlayer] = {}
        self.audio_problem = ""
        self.push_to_talk = False
        self._talk_held = False
        self.muted = False
        self.encoders = [
            SharedEncoder(source, s)
            for source, s in zip(sources, settings or [EncoderSettings()] * len(sources),
                                 strict=True)
        ]
        self.session: LiveSession | None = None
        self.state = "connecting"
        self._monitor = LinkMonitor()
        self._tasks: set[asyncio.Task[None]] = set()
        self._leaving = False

    @classmethod
    def from_specs(cls, config: SessionConfig, specs: list[str], *, microphone: str = "",
                   speaker: str = "") -> SessionController:
        """Open the sources named by ``specs`` (raises :class:`SurgeryTeachError`)."""
        return cls(config, [open_source(spec) for spec in specs], microphone=microphone,
                   speaker=speaker)

    async def start(self) -> None:
        """Start the sources and join; raises :class:`SurgeryTeachError` if the first
        join fails (the lobby shows it). Later drops reconnect by themselves."""
        for source in self.sources:
            if not getattr(source, "running", False):
                source.start()
        if self.speak and self.microphone is None:
            self._open_microphone()
        await self._join()
        self._spawn(self._link_loop())

    async def _join(self) -> None:
        previous = self.session.me.id if self.session is not None else None
        session = await LiveSession.start(self.config, self.encoders, self.microphone,
                                          self._relay)
        self.session = session
        if previous is not None:
            for ref, op in self._offline.release(previous, session.me.id):
                self._unacked[ref] = op
                await session.annotate(op, ref)
        session.on("audio", self._on_audio)
        session.on("participants", lambda: self.participants_changed.emit())
        session.on("video", lambda r: self.video_added.emit(r))
        session.on("video-ended", lambda r: self.video_removed.emit(r))
        session.on("chat", lambda m: self.chat_received.emit(m))
        session.on("marks", lambda: self.marks_changed.emit())
        session.on("still", lambda source: self.still_changed.emit(source))
        session.on("accepted", lambda ref: self._unacked.pop(ref, None))
        session.on("refused", lambda reply: self.problem.emit(reply.message))
        session.on("ended", self._on_ended)
        self._set_state("live")
        self.participants_changed.emit()

    # -- audio ----------------------------------------------------------------------------

    def _open_microphone(self) -> None:
        try:
            self.microphone = MicrophoneTrack(self.microphone_device)
        except AudioDeviceError as exc:
            self._audio_trouble(tr_text("microphone", str(exc)))

    def _audio_trouble(self, text: str) -> None:
        if text != self.audio_problem:
            self.audio_problem = text
            self.problem.emit(text)

    def _on_audio(self, track: object, sender: ParticipantInfo) -> None:
        old = self.players.pop(sender.id, None)
        if old is not None:
            self._spawn(old.stop())
        player = AudioPlayer(track, self.speaker_device, required=False)  # type: ignore[arg-type]
        player.start()
        self.players[sender.id] = player
        if player.problem:
            self._audio_trouble(tr_text("speaker", player.problem))

    def speaking(self) -> set[str]:
        """Participants whose voice is audible now (for the participant list)."""
        ids = {pid for pid, p in self.players.items() if p.level > SPEAKING_DBFS}
        mic = self.microphone
        if mic is not None and not mic.muted and mic.level > SPEAKING_DBFS and self.session:
            ids.add(self.session.me.id)
        return ids

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
        if self.microphone is not None:
            if self.transmitting:
                self.microphone.unmute()
            else:
                self.microphone.mute()

    def _on_ended(self, reason: str) -> None:
        if self._leaving:
            return
        logger.warning("link lost: %s", reason)
        # ops the server never confirmed go out again after the rejoin, before newer ones
        waiting = list(self._unacked.items())
        self._unacked.clear()
        for ref, op in waiting:
            self._offline.add(ref, op)
        self._set_state("reconnecting")
        self._spawn(self._reconnect())

    async def _reconnect(self) -> None:
        old = self.session
        if old is not None:
            for receiver in list(old.receivers):
                self.video_removed.emit(receiver)
            await old.close()
        for delay in backoff_delays():
            if self._leaving:
                return
            await asyncio.sleep(delay)
            try:
                await self._join()
                return
            except SurgeryTeachError as exc:
                logger.info("rejoin failed: %s", exc)

    async def _link_loop(self) -> None:
        while not self._leaving:
            await asyncio.sleep(1.0)
            session = self.session
            if session is None or self.state != "live":
                continue
            with contextlib.suppress(Exception):
                pcs = {pid: peer.pc for pid, peer in session.peers.items()}
                reports = await self._monitor.sample(pcs, session.receivers, session.rtt_ms)
                self.links_updated.emit(reports)

    @property
    def can_draw(self) -> bool:
        return bool(self.session and self.state in ("live", "reconnecting")
                    and self.session.me.can_draw)

    def annotate(self, op: Op) -> None:
        """Send a drawing op (marks appear when the server sends them back, in order).

        While reconnecting, ops wait and go out once, under the rejoined identity."""
        ref = f"{self._client_id}-{next(self._refs)}"  # unique across rejoins and clients
        if self.session is not None and self.state == "live":
            self._unacked[ref] = op
            self._spawn(self._send(self.session.annotate(op, ref)))
        elif self.state == "reconnecting":
            self._offline.add(ref, op)

    def grant_draw(self, participant_id: str, allowed: bool) -> None:
        if self.session is not None and self.state == "live":
            self._spawn(self._send(self.session.grant_draw(participant_id, allowed)))

    async def _send(self, coro: Awaitable[None]) -> None:
        try:
            await coro
        except SurgeryTeachError as exc:
            self.problem.emit(str(exc))

    def send_chat(self, text: str) -> None:
        if self.session is not None and self.state == "live":
            self._spawn(self._send_chat(text))
        else:
            self.problem.emit("not connected")

    async def _send_chat(self, text: str) -> None:
        try:
            await self.session.send_chat(text)  # type: ignore[union-attr]
        except SurgeryTeachError as exc:
            self.problem.emit(str(exc))

    @property
    def receivers(self) -> list[VideoReceiver]:
        return list(self.session.receivers) if self.session else []

    async def leave(self) -> None:
        """Leave the room and stop everything this controller started."""
        self._leaving = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.session is not None:
            await self.session.close()
        for player in self.players.values():
            await player.stop()
        self.players.clear()
        if self.microphone is not None:
            self.microphone.stop()  # ends the relay's reader too
        for encoder in self.encoders:
            encoder.stop()
        for source in self.sources:
            source.stop()
        self._set_state("left")

    def _set_state(self, state: str) -> None:
        self.state = state
        self.state_changed.emit(state)

    def _spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
