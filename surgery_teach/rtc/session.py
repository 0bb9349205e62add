"""A participant's live session: signaling, one peer connection per peer, media in and out.

For each other participant there is at most one connection, made by the pair's offerer
(:func:`~surgery_teach.rtc.peer.offerer`: whoever publishes; the first id if both do). The
offer carries this side's video (from the shared encoders) and voice, plus receive-only
sections for what the other side announced; the answerer fills those with its own media.
Each received video track becomes a :class:`VideoReceiver` (the peer connections are
:mod:`.peer_media`). Listeners hear about participants, videos, voices and chat through
plain callbacks, so a Qt window and the headless command line use the same class.

When the signaling link drops, the session rejoins by itself (jittered backoff) with the
client key it made at the start, so the server gives it back its participant id; the peer
connections stay up meanwhile and media keeps flowing. After the rejoin only what
changed is renegotiated, and chat and drawing sent meanwhile go out once (:mod:`.outbox`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from aiortc import RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack
from aiortc.sdp import candidate_from_sdp

from surgery_teach.annotations import Board, Op
from surgery_teach.errors import SignalingError
from surgery_teach.media.encoder import SharedEncoder
from surgery_teach.media.layers import LayeredSource
from surgery_teach.media.receive import VideoReceiver
from surgery_teach.protocol.ice import IceServer
from surgery_teach.protocol.messages import (
    Annotate,
    Annotation,
    AnnotationSnapshot,
    Answer,
    Candidate,
    ChapterMessage,
    ChapterStart,
    Chat,
    ChatHistory,
    ChatMessage,
    ClassMode,
    ErrorReply,
    GrantDraw,
    Joined,
    Left,
    MediaRoute,
    Offer,
    ParticipantInfo,
    Pong,
    PrivacyNotice,
    PrivacyPause,
    Publish,
    Publishes,
    Record,
    Relayed,
    RemoveParticipant,
    RoomRecording,
    ServerMessage,
    Updated,
    Welcome,
)
from surgery_teach.rtc import aiortc_tuning
from surgery_teach.rtc.adaptation import Adaptation
from surgery_teach.rtc.class_route import ClassRoute
from surgery_teach.rtc.freeze import FreezeFrames
from surgery_teach.rtc.layer_note import LayerNote
from surgery_teach.rtc.outbox import Outbox
from surgery_teach.rtc.peer import ALIVE, describe, is_loopback_url, offerer
from surgery_teach.rtc.peer_media import PeerMedia
from surgery_teach.rtc.peer_watch import PeerWatch
from surgery_teach.rtc.server_shares import SERVER_SHARE_MESSAGES
from surgery_teach.rtc.session_config import Peer, SessionConfig, new_client_key
from surgery_teach.rtc.share_route import ShareRoute
from surgery_teach.rtc.signaling_client import SignalingClient
from surgery_teach.rtc.signaling_link import SignalingLink
from surgery_teach.rtc.stills import FrameHistory, Still
from surgery_teach.wire.fields import ErrorCode

__all__ = ["LiveSession", "Peer", "SessionConfig", "new_client_key"]

SHARE_STOP_GRACE = 0.05  # s for the "stop sharing" messages to leave before the links close

logger = logging.getLogger(__name__)

Listener = Callable[..., None]


class LiveSession(PeerMedia, ClassRoute, ShareRoute):
    """One participant in one room. Use ``await LiveSession.start(config, encoders)``."""

    def __init__(self, config: SessionConfig, encoders: list[SharedEncoder],
                 client: SignalingClient, microphone: MediaStreamTrack | None = None,
                 relay: MediaRelay | None = None, client_key: str | None = None) -> None:
        self.config = config
        self.encoders = encoders
        self.microphone = microphone
        self._relay = relay or MediaRelay()
        self._me = client.welcome.you
        self.board = Board()  # the room's marks, as the server orders them
        self.freeze = FreezeFrames(encoders, lambda source: self._emit("still", source))
        # per-viewer layers, unless comparing with stock aiortc or asked not to
        self.adaptation: Adaptation | None = None
        if config.layers and not config.stock and aiortc_tuning.tuning_supported():
            ladders = list(config.ladders) + [None] * len(encoders)
            self.adaptation = Adaptation([LayeredSource(e, ladder)
                                          for e, ladder in zip(encoders, ladders, strict=False)],
                                         on_switched=self._tell_layer)
        # (participant id, source label) -> the layer that participant sends us, and why
        self.layer_notes: dict[tuple[str, str], LayerNote] = {}
        self.client_key = client_key or new_client_key()
        self._link = SignalingLink(
            client, lambda: _join(config, self._me.publishes, self.client_key),
            reconnect=config.reconnect)
        self.connections_made = 0  # peer connections created (a rejoin should add none)
        self._outbox = Outbox()
        self._chats_seen: set[tuple[int, str, float]] = set()
        self._catching_up = False  # after a rejoin, until the room's state has arrived
        self.participants: dict[str, ParticipantInfo] = {}
        self.peers: dict[str, Peer] = {}
        self.receivers: list[VideoReceiver] = []
        self.recording = RoomRecording(())  # who records the room (the server says)
        self.voices: dict[str, MediaStreamTrack] = {}  # participant id -> received voice
        self._voice_relay = MediaRelay()  # a voice has several listeners (speaker, recorder)
        self.ended = asyncio.Event()
        self.removed = ""  # the server's words when someone removed us from the room
        self.privacy: dict[str, PrivacyNotice] = {}  # whose video is paused for privacy now
        self._class_receivers: list[VideoReceiver] = []  # videos through the media server
        self._privacy_paused = False  # ours, as we last told the room
        self._listeners: dict[str, list[Listener]] = {}
        self._make_shares()  # shared pictures (section 8.s): ours, and each sharer's held
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self._welcome_ice = client.welcome.ice_servers  # fresh credentials at each rejoin
        self.watch = PeerWatch(
            servers=lambda: self.ice_servers,
            on_problem=lambda info, text: self._emit("peer-problem", info, text),
            give_up=lambda info: self._drop_peer(info.id), retry=self._offer_again,
            link_up=lambda: self.link == "live")

    @property
    def ice_servers(self) -> tuple[IceServer, ...]:
        """The STUN/TURN servers new peer connections use: the configured ones, else the
        server's (with this participant's TURN credentials)."""
        return self.config.ice_servers or self._welcome_ice

    @property
    def me(self) -> ParticipantInfo:
        """This participant as the server last described it (``publishes`` included)."""
        return self._me

    @property
    def stills(self) -> dict[str, Still]:
        """Frozen sources -> their full-quality picture."""
        return self.freeze.stills

    @property
    def _histories(self) -> dict[str, FrameHistory]:
        return self.freeze.histories

    @property
    def client(self) -> SignalingClient:
        """The signaling connection now (a new one after each rejoin)."""
        return self._link.client

    @property
    def link(self) -> str:
        """``live``, ``reconnecting`` (media goes on meanwhile) or ``ended``."""
        return self._link.state

    @property
    def rtt_ms(self) -> float | None:
        """The signaling round trip, the best estimate a pure viewer has."""
        return self._link.rtt_ms

    @property
    def not_admitted(self) -> str:
        """Why the server will not have us back (a removal, a token it refuses), or ""."""
        return self._link.refusal

    @property
    def not_admitted_error(self) -> SignalingError | None:
        """:attr:`not_admitted` as the error the rejoin met (its ``code``, its HTTP
        ``status``), for a window to say in the user's language; None if none."""
        return self._link.refusal_error

    @property
    def waiting(self) -> int:
        """Chat messages and drawing ops the server has not confirmed yet."""
        return len(self._outbox)

    @classmethod
    async def start(cls, config: SessionConfig, encoders: list[SharedEncoder] | None = None,
                    microphone: MediaStreamTrack | None = None,
                    relay: MediaRelay | None = None) -> LiveSession:
        """Join the room and begin exchanging media; raises :class:`SignalingError`.

        ``encoders`` are this participant's video sources, ``microphone`` its voice (any
        audio track); what they are is announced to the room so peers know who offers.
        ``relay`` fans the microphone out to the peers: pass the same one to every session
        that uses the same microphone (a rejoin), since a relay reads its source until the
        source ends.
        """
        aiortc_tuning.use_loopback_ice(is_loopback_url(config.server))
        encoders = list(encoders or [])
        key = new_client_key()
        publishes = Publishes(video=len(encoders), audio=microphone is not None)
        client = await _join(config, publishes, key)
        session = cls(config, encoders, client, microphone, relay, key)
        if not config.stock:
            for encoder in session.encoders:
                encoder.start()
        session.freeze.start()
        session._spawn(session._link.run(session))
        await session._on_welcome(client.welcome)
        return session

    # -- events ---------------------------------------------------------------------------

    def on(self, event: str, listener: Listener) -> None:
        """Listen to ``participants`` (), ``video`` (receiver), ``video-ended`` (receiver),
        ``audio`` (track, participant: a copy of their voice for one listener; more
        listeners call :meth:`voice_copy`), ``chat`` (ChatMessage), ``marks`` () when
        ``board`` changed, ``op`` (Op) for each op applied in order, ``accepted`` (ref)
        when the server took an op sent with a ref,
        ``still`` (source) when a frozen picture arrived or went,
        ``share`` (participant id) when someone's shared picture arrived whole or went
        (ours too: look in ``shares.mine``, others' in ``shares.viewing``),
        ``share-progress`` (participant id, bytes held, bytes in all) as one arrives,
        ``share-stopped`` ("no-right") when ours stopped, or did not start, for want of the right,
        ``refused`` (ErrorReply: the server turned a request down),
        ``joined`` (participant), ``left`` (participant, reason),
        ``recording`` (RoomRecording) when who records may have changed,
        ``chapter`` (ChapterMessage) for each chapter of the room,
        ``privacy`` (PrivacyNotice) when someone paused their video for privacy or resumed,
        ``route`` (mode, reason) when media moved to the media server (``class``) or back
        to peer to peer (``peer``), or stayed peer to peer for ``reason``,
        ``link`` ("reconnecting" or "live") when the signaling link dropped or is back
        (the peer connections stay up meanwhile),
        ``peer-problem`` (participant, text) when the connection with someone is not up
        15 s after its offer, saying why in plain words ("" once it is up after all),
        ``ended`` (reason: str) when the session is over for good (removed, refused)."""
        self._listeners.setdefault(event, []).append(listener)

    def off(self, event: str, listener: Listener) -> None:
        """Stop calling ``listener`` for ``event`` (no error if it was not listening)."""
        with contextlib.suppress(ValueError):
            self._listeners.get(event, []).remove(listener)

    def _emit(self, event: str, *args: object) -> None:
        for listener in list(self._listeners.get(event, [])):  # a listener may go off
            try:
                listener(*args)
            except Exception:
                logger.exception("a %s listener failed", event)

    def _spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- signaling (the SignalingLink's listener) ------------------------------------------

    async def on_message(self, message: ServerMessage) -> None:
        await self._handle(message)

    async def on_rejoined(self, welcome: Welcome) -> None:
        """Back after a drop: keep what still works, send again what is unconfirmed."""
        self._catching_up = True
        self.privacy.clear()  # the room's notices of who is paused follow the welcome
        await self._on_welcome(welcome, rejoin=True)
        if self._privacy_paused:  # the server forgot our pause when the link dropped
            await self._link.send(PrivacyPause(paused=True))
        await self.server_shares.announce()  # the server asks for what it lacks of ours
        while batch := self._outbox.to_send():  # the server takes each id once
            for message in batch:
                await self._link.send(message)

    def on_state(self, state: str, reason: str) -> None:
        if state == "reconnecting":
            self._outbox.link_lost()
        if state == "ended":
            logger.warning("session ended: %s", reason)
            self._emit("ended", reason)
            self.ended.set()
        else:
            self._emit("link", state)

    async def _handle(self, message: object) -> None:
        if isinstance(message, Pong):
            if self._catching_up:  # the room's state is in, and it had no marks
                await self._replace_board(Board())
        elif isinstance(message, Joined):
            before = self.participants.get(message.participant.id)
            self.participants[message.participant.id] = message.participant
            self._emit("participants")
            self._emit("joined", message.participant)
            self.watch.news(message.participant)
            if not self._still_connected(message.participant, before, self._me):
                await self._connect(message.participant)
        elif isinstance(message, Updated):
            await self._on_updated(message.participant)
        elif isinstance(message, Left):
            self.participants.pop(message.participant.id, None)
            self.privacy.pop(message.participant.id, None)
            self._emit("participants")
            self._emit("left", message.participant, message.reason)
            self.shares.forget(message.participant.id)  # their picture goes with them
            self.server_shares.forget(message.participant.id)
            await self._drop_peer(message.participant.id)
        elif isinstance(message, Relayed):
            await self._on_signal(message)
        elif isinstance(message, Annotation):
            self._confirmed(message.ref)
            if self._catching_up:  # the room had no marks when we rejoined
                self._catching_up = False
                self.board = Board()
            if message.op.seq > self.board.last_seq:  # exactly once, in server order
                self.board.apply(message.op)
                self._emit("op", message.op)
                self._emit("marks")
                await self._freezes_changed()
        elif isinstance(message, AnnotationSnapshot):
            self._confirmed(message.ref)
            await self._replace_board(Board.from_snapshot(message.ops, last_seq=message.seq))
        elif isinstance(message, ChatMessage):
            self._confirmed(message.ref)
            self._chat(message)
        elif isinstance(message, ChatHistory):
            for chat in message.messages:
                self._chat(chat)
        elif isinstance(message, RoomRecording):
            self.recording = message
            self._emit("recording", message)
        elif isinstance(message, ChapterMessage):
            self._emit("chapter", message)
        elif isinstance(message, MediaRoute):
            await self._on_route(message)
        elif isinstance(message, SERVER_SHARE_MESSAGES):
            await self.server_shares.take(message)
        elif isinstance(message, PrivacyNotice):
            self._confirmed(message.ref)
            if message.paused:
                self.privacy[message.sender] = message
            else:
                self.privacy.pop(message.sender, None)
            self._emit("privacy", message)
        elif isinstance(message, ErrorReply) and message.code == ErrorCode.UNKNOWN_SHARE:
            logger.info("share gone meanwhile: %s", message.message)  # a race, not news
        elif isinstance(message, ErrorReply):
            logger.warning("server reported %s", message.code)
            if message.code == ErrorCode.REMOVED:  # the server closes the link next
                self.removed = message.message
            self._outbox.settle(message.ref)  # refused: sending it again would not help
            self._emit("refused", message)

    async def set_class_mode(self, on: bool) -> None:
        """Ask for class mode (media through the media server) or give it up; the server
        answers with a ``media-route`` (``route`` event) or a refusal."""
        await self.client.send(ClassMode(on=on))

    async def announce_privacy(self, paused: bool) -> None:
        """Tell the room our video is paused for privacy (or resumed); said again after a
        rejoin. Raises :class:`SignalingError` while the link is down."""
        self._privacy_paused = paused
        await self.client.send(PrivacyPause(paused=paused))

    def _confirmed(self, ref: object) -> None:
        if ref is not None:
            self._outbox.settle(ref)
            self._emit("accepted", ref)

    def _chat(self, message: ChatMessage) -> None:
        """Pass on a chat message once, however often it comes (history after a rejoin)."""
        key = (message.seq, message.sender, message.time)
        if key not in self._chats_seen:
            self._chats_seen.add(key)
            self._emit("chat", message)

    async def _replace_board(self, board: Board) -> None:
        self._catching_up = False
        self.board = board
        self._emit("board", board)  # a recorder logs the new state (undo/redo, rejoin)
        self._emit("marks")
        await self._freezes_changed()

    async def _on_welcome(self, welcome: Welcome, *, rejoin: bool = False) -> None:
        """Meet the room; after a rejoin keep the peer connections that still carry media."""
        me_before, self._me = self._me, welcome.you
        self._welcome_ice = welcome.ice_servers
        known = self.participants
        self.participants = {p.id: p for p in welcome.participants}
        if rejoin:
            same_id = me_before.id == welcome.you.id
            if not same_id:  # the server forgot us: everyone is new to everyone
                self._outbox.rebase(me_before.id, welcome.you.id)
            for participant_id in list(self.peers):
                if not same_id or participant_id not in self.participants:
                    await self._drop_peer(participant_id)  # gone while we were away
        self._emit("participants")
        self._shares_follow_rights()  # a right may have gone while the link was down
        for participant in welcome.participants:
            if rejoin and self._still_connected(participant, known.get(participant.id),
                                                me_before):
                self.peers[participant.id].info = participant
                continue
            await self._connect(participant)

    def _still_connected(self, other: ParticipantInfo, before: ParticipantInfo | None,
                         me_before: ParticipantInfo) -> bool:
        """Whether our connection with ``other`` can go on as it is: it is up, and neither
        side changed what it publishes since it was made."""
        peer = self.peers.get(other.id)
        return (peer is not None and before is not None
                and before.publishes == other.publishes
                and me_before.publishes == self._me.publishes
                and peer.pc.connectionState in ALIVE and peer.pc.signalingState == "stable")

    async def _on_updated(self, participant: ParticipantInfo) -> None:
        if participant.id == self.me.id:
            changed = participant.publishes != self._me.publishes
            self._me = participant
            self._emit("participants")
            self._shares_follow_rights()
            if changed:  # a grant of drawing rights, say, needs no new connections
                for other in list(self.participants.values()):
                    await self._connect(other)
            return
        before = self.participants.get(participant.id)
        self.participants[participant.id] = participant
        self._emit("participants")
        self._shares_follow_rights()
        if before is None or before.publishes != participant.publishes:
            self.watch.news(participant)
            await self._connect(participant)

    async def _connect(self, other: ParticipantInfo) -> None:
        """Make (or remake) the connection with ``other`` if this side is its offerer."""
        if self.in_class:  # media goes through the media server
            return
        if offerer(self.me, other) == self.me.id:
            await self._offer_to(other)
        elif offerer(self.me, other) is None:
            await self._drop_peer(other.id)

    async def _on_signal(self, message: Relayed) -> None:
        data = message.data
        sender = self.participants.get(message.sender)
        if sender is None:
            logger.warning("signal from unknown participant %s ignored", message.sender)
            return
        if isinstance(data, Offer):
            if self.in_class:
                logger.info("offer from %s ignored: media goes through the media server",
                            describe(sender))
                return
            if offerer(self.me, sender) != sender.id:
                logger.info("stale offer from %s ignored", describe(sender))
                return
            await self._answer(sender, data)
        elif isinstance(data, Answer):
            peer = self.peers.get(sender.id)
            if peer is not None and peer.pc.signalingState == "have-local-offer":
                peer.labels.update({t.track_id: t for t in data.tracks})
                await peer.pc.setRemoteDescription(RTCSessionDescription(data.sdp, "answer"))
        elif isinstance(data, Candidate):
            peer = self.peers.get(sender.id)
            if peer is not None and data.candidate:
                candidate = candidate_from_sdp(data.candidate.removeprefix("candidate:"))
                candidate.sdpMid = data.sdp_mid
                candidate.sdpMLineIndex = data.sdp_mline_index
                await peer.pc.addIceCandidate(candidate)

    # -- sending --------------------------------------------------------------------------

    async def send_chat(self, text: str) -> None:
        """Send a chat message; it comes back as a ``chat`` event once the server has it.
        While the link is down it waits, and goes out once after the rejoin."""
        await self._send_once(self._outbox.chat(text))

    async def annotate(self, op: Op, ref: str | None = None) -> None:
        """Send a drawing op; the board changes when the server sends it back, numbered.
        An ``accepted`` (ref) event follows once the server has it. While the link is down
        it waits, and goes out once after the rejoin."""
        await self._send_once(self._outbox.annotate(op, ref))

    async def _send_once(self, message: Chat | Annotate | None) -> None:
        if message is None or self.link != "live":
            return  # it waits in the outbox
        with contextlib.suppress(SignalingError):  # dropped: it goes out after the rejoin
            for waiting in self._outbox.to_send():  # in order, this one among them
                await self.client.send(waiting)

    async def grant_draw(self, participant_id: str, allowed: bool) -> None:
        """Let a trainee draw, or stop them (mentors only; the server enforces it)."""
        await self.client.send(GrantDraw(to=participant_id, allowed=allowed))

    async def remove(self, participant_id: str) -> None:
        """Send a participant out of the room (the server decides who may: section 4.9)."""
        await self.client.send(RemoveParticipant(participant=participant_id))

    async def record(self, on: bool, ref: str | None = None) -> None:
        """Tell the room this participant starts (or stops) recording; a ``recording``
        event that lists us (or no longer does) confirms it, a ``refused`` one with
        ``ref`` says no (only surgeons and mentors record)."""
        await self.client.send(Record(on=on, id=ref))

    async def start_chapter(self, title: str, at: float | None = None) -> None:
        """Start a chapter in every recording of the room, from ``at`` (default now)."""
        await self.client.send(ChapterStart(title=title, time=time.time() if at is None else at))

    def voice_copy(self, participant_id: str) -> MediaStreamTrack | None:
        """A track of ``participant_id``'s voice for one more listener (a recorder), or
        None if we do not hear them. Our own id gives our microphone."""
        if participant_id == self.me.id:
            return None if self.microphone is None else self._relay.subscribe(self.microphone)
        voice = self.voices.get(participant_id)
        return None if voice is None else self._voice_relay.subscribe(voice)

    async def set_publishes(self, publishes: Publishes) -> None:
        """Announce a change of what this participant sends (e.g. starting a camera)."""
        await self.client.send(Publish(publishes=publishes))

    # -- freeze frame ---------------------------------------------------------------------

    async def _freezes_changed(self) -> None:
        await self.freeze.board_changed(self.board, [p.channel for p in self.peers.values()])

    # -- shutdown -------------------------------------------------------------------------

    async def close(self) -> None:
        """Leave the room and close every peer connection (the encoders' owner stops them)."""
        if self._closing:
            return
        self._closing = True
        self.watch.stop()
        if self.shares.mine is not None:
            # the viewers drop our picture now, not only when the room says we left
            # (a connection that just drops is kept for a while in case it comes back)
            self.shares.stop()
            await asyncio.sleep(SHARE_STOP_GRACE)
        await self._stop_class()
        with contextlib.suppress(SignalingError):
            await self._link.close()
        for participant_id in list(self.peers):
            await self._drop_peer(participant_id)
        self.freeze.stop()
        self.shares.close()
        self.server_shares.close()
        if self.adaptation is not None:
            self.adaptation.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.ended.set()


async def _join(config: SessionConfig, publishes: Publishes, client_key: str) -> SignalingClient:
    return await SignalingClient.join(
        config.server, room=config.room, name=config.name, role=config.role,
        publishes=publishes, token=config.token, ca_file=config.ca_file, client_key=client_key,
    )
