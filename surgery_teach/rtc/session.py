"""A participant's live session: signaling, one peer connection per peer, media in and out.

For each other participant there is at most one connection, made by the pair's offerer
(:func:`~surgery_teach.rtc.peer.offerer`: whoever publishes; the first id if both do). The
offer carries this side's video (from the shared encoders) and voice, plus receive-only
sections for what the other side announced; the answerer fills those with its own media.
Each received video track becomes a :class:`VideoReceiver`. Listeners hear about
participants, videos, voices and chat through plain callbacks, so a Qt window and the
headless command line use the same class.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcrtptransceiver import RTCRtpTransceiver
from aiortc.sdp import candidate_from_sdp

from surgery_teach.annotations import Board, Op
from surgery_teach.errors import MediaError, SignalingError
from surgery_teach.media.encoder import EncodedTrack, SharedEncoder
from surgery_teach.media.raw_track import RawVideoTrack
from surgery_teach.media.receive import VideoReceiver
from surgery_teach.protocol.messages import (
    Annotate,
    Annotation,
    AnnotationSnapshot,
    Answer,
    Candidate,
    Chat,
    ChatHistory,
    ChatMessage,
    ErrorReply,
    GrantDraw,
    Joined,
    Left,
    Offer,
    ParticipantInfo,
    Ping,
    Pong,
    Publish,
    Publishes,
    Relayed,
    Role,
    Signal,
    TrackInfo,
    Updated,
    Welcome,
)
from surgery_teach.rtc import aiortc_tuning
from surgery_teach.rtc.peer import (
    audio_direction,
    describe,
    is_loopback_url,
    new_peer_connection,
    offerer,
    prefer_h264,
    remote_directions,
)
from surgery_teach.rtc.signaling_client import SignalingClient
from surgery_teach.rtc.stills import CHANNEL as STILLS_CHANNEL
from surgery_teach.rtc.stills import FrameHistory, Still, StillReceiver, encode_jpeg

logger = logging.getLogger(__name__)

# The session pings the server this often and calls the link dead after hearing nothing
# for DEAD_AFTER seconds (TCP alone may take minutes to notice a dead path).
HEARTBEAT_INTERVAL = 1.0
DEAD_AFTER = 4.0


@dataclass(kw_only=True)
class SessionConfig:
    """Who joins where. ``ice_servers`` are STUN/TURN URLs (none by default)."""

    server: str
    room: str
    name: str
    role: Role
    ice_servers: list[str] = field(default_factory=list)
    token: str = field(default="", repr=False)  # room token, for a secured server
    # Stock aiortc media path, for comparisons: one aiortc encoder per viewer and the
    # stock receive path (jitter buffer one frame late, unbounded queue).
    stock: bool = False


@dataclass
class Peer:
    info: ParticipantInfo
    pc: RTCPeerConnection
    tracks: list[MediaStreamTrack] = field(default_factory=list)
    labels: dict[str, TrackInfo] = field(default_factory=dict)
    channel: RTCDataChannel | None = None  # carries stills (freeze frame)
    stills_in: StillReceiver = field(default_factory=StillReceiver)


Listener = Callable[..., None]


class LiveSession:
    """One participant in one room. Use ``await LiveSession.start(config, encoders)``."""

    def __init__(self, config: SessionConfig, encoders: list[SharedEncoder],
                 client: SignalingClient, microphone: MediaStreamTrack | None = None,
                 relay: MediaRelay | None = None) -> None:
        self.config = config
        self.encoders = encoders
        self.microphone = microphone
        self._relay = relay or MediaRelay()
        self._me = client.welcome.you
        self.board = Board()  # the room's marks, as the server orders them
        self.stills: dict[str, Still] = {}  # frozen sources → their full-quality picture
        self._histories = {e.label: FrameHistory(e.source) for e in encoders}
        self.client = client
        self.participants: dict[str, ParticipantInfo] = {}
        self.peers: dict[str, Peer] = {}
        self.receivers: list[VideoReceiver] = []
        self.ended = asyncio.Event()
        self._listeners: dict[str, list[Listener]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self.rtt_ms: float | None = None
        loop = asyncio.get_event_loop()
        self._last_heard = loop.time()
        self._ping_sent: float | None = None

    @property
    def me(self) -> ParticipantInfo:
        """This participant as the server last described it (``publishes`` included)."""
        return self._me

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
        client = await SignalingClient.join(
            config.server, room=config.room, name=config.name, role=config.role,
            publishes=Publishes(video=len(encoders), audio=microphone is not None),
            token=config.token,
        )
        session = cls(config, encoders, client, microphone, relay)
        if not config.stock:
            for encoder in session.encoders:
                encoder.start()
        for history in session._histories.values():
            history.start()
        session._spawn(session._read_signaling())
        session._spawn(session._heartbeat())
        await session._on_welcome(client.welcome)
        return session

    # -- events ---------------------------------------------------------------------------

    def on(self, event: str, listener: Listener) -> None:
        """Listen to ``participants`` (), ``video`` (receiver), ``video-ended`` (receiver),
        ``audio`` (track, participant), ``chat`` (ChatMessage), ``marks`` () when
        ``board`` changed, ``op`` (Op) for each op applied in order, ``accepted`` (ref)
        when the server took an op sent with a ref,
        ``still`` (source) when a frozen picture arrived or went,
        ``refused`` (ErrorReply: the server turned a request down),
        ``ended`` (reason: str)."""
        self._listeners.setdefault(event, []).append(listener)

    def _emit(self, event: str, *args: object) -> None:
        for listener in self._listeners.get(event, []):
            try:
                listener(*args)
            except Exception:
                logger.exception("a %s listener failed", event)

    def _spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- signaling ------------------------------------------------------------------------

    async def _read_signaling(self) -> None:
        reason = "the signaling server closed the connection"
        try:
            async for message in self.client.messages():
                await self._handle(message)
        except SignalingError as exc:
            reason = str(exc)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("signaling handler failed")
            reason = "internal error while handling a signaling message"
        if not self._closing:
            logger.warning("session ended: %s", reason)
            self._emit("ended", reason)
            self.ended.set()

    async def _heartbeat(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._closing:
            await asyncio.sleep(HEARTBEAT_INTERVAL)
            if loop.time() - self._last_heard > DEAD_AFTER:
                logger.warning("signaling server silent for %.0f s: link lost", DEAD_AFTER)
                self.client.abort()
                return
            try:
                self._ping_sent = loop.time()
                await self.client.send(Ping())
            except SignalingError:
                return

    async def _handle(self, message: object) -> None:
        loop = asyncio.get_running_loop()
        self._last_heard = loop.time()
        if isinstance(message, Pong):
            if self._ping_sent is not None:
                self.rtt_ms = (loop.time() - self._ping_sent) * 1000
        elif isinstance(message, Joined):
            self.participants[message.participant.id] = message.participant
            self._emit("participants")
            await self._connect(message.participant)
        elif isinstance(message, Updated):
            await self._on_updated(message.participant)
        elif isinstance(message, Left):
            self.participants.pop(message.participant.id, None)
            self._emit("participants")
            await self._drop_peer(message.participant.id)
        elif isinstance(message, Relayed):
            await self._on_signal(message)
        elif isinstance(message, Annotation):
            if message.ref is not None:
                self._emit("accepted", message.ref)
            if message.op.seq > self.board.last_seq:  # exactly once, in server order
                self.board.apply(message.op)
                self._emit("op", message.op)
                self._emit("marks")
                await self._freezes_changed()
        elif isinstance(message, AnnotationSnapshot):
            if message.ref is not None:
                self._emit("accepted", message.ref)
            self.board = Board.from_snapshot(message.ops, last_seq=message.seq)
            self._emit("marks")
            await self._freezes_changed()
        elif isinstance(message, ChatMessage):
            self._emit("chat", message)
        elif isinstance(message, ChatHistory):
            for chat in message.messages:
                self._emit("chat", chat)
        elif isinstance(message, ErrorReply):
            logger.warning("server reported %s", message.code)
            self._emit("refused", message)

    async def _on_welcome(self, welcome: Welcome) -> None:
        for participant in welcome.participants:
            self.participants[participant.id] = participant
        self._emit("participants")
        for participant in welcome.participants:
            await self._connect(participant)

    async def _on_updated(self, participant: ParticipantInfo) -> None:
        if participant.id == self.me.id:
            changed = participant.publishes != self._me.publishes
            self._me = participant
            self._emit("participants")
            if changed:  # a grant of drawing rights, say, needs no new connections
                for other in list(self.participants.values()):
                    await self._connect(other)
            return
        before = self.participants.get(participant.id)
        self.participants[participant.id] = participant
        self._emit("participants")
        if before is None or before.publishes != participant.publishes:
            await self._connect(participant)

    async def _connect(self, other: ParticipantInfo) -> None:
        """Make (or remake) the connection with ``other`` if this side is its offerer."""
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
        """Send a chat message; it comes back as a ``chat`` event once the server has it."""
        await self.client.send(Chat(text=text))

    async def annotate(self, op: Op, ref: str | None = None) -> None:
        """Send a drawing op; the board changes when the server sends it back, numbered.
        With ``ref``, an ``accepted`` (ref) event follows once the server has it."""
        await self.client.send(Annotate(op=op, id=ref))

    async def grant_draw(self, participant_id: str, allowed: bool) -> None:
        """Let a trainee draw, or stop them (mentors only; the server enforces it)."""
        await self.client.send(GrantDraw(to=participant_id, allowed=allowed))

    async def set_publishes(self, publishes: Publishes) -> None:
        """Announce a change of what this participant sends (e.g. starting a camera)."""
        await self.client.send(Publish(publishes=publishes))

    # -- freeze frame ---------------------------------------------------------------------

    async def _freezes_changed(self) -> None:
        """Send our own sources' frozen pictures; forget stills of sources that play again."""
        for source in list(self.stills):
            if self.board.frozen(source) != self.stills[source].frame_time:
                del self.stills[source]
                self._emit("still", source)
        for label, history in self._histories.items():
            frame_time = self.board.frozen(label)
            if frame_time is None or label in self.stills:
                continue
            frame = history.nearest(frame_time)
            if frame is None:
                continue
            jpeg = await asyncio.get_running_loop().run_in_executor(
                None, encode_jpeg, frame.image)
            still = Still(label, frame_time, jpeg)
            self.stills[label] = still
            self._emit("still", label)
            for peer in list(self.peers.values()):
                self._send_still(peer, still)

    def _send_still(self, peer: Peer, still: Still) -> None:
        channel = peer.channel
        if channel is not None and channel.readyState == "open":
            channel.send(still.header())
            channel.send(still.jpeg)

    def _wire_channel(self, peer: Peer, channel: RTCDataChannel) -> None:
        peer.channel = channel

        @channel.on("open")
        def _on_open() -> None:
            for still in self.stills.values():
                if still.source in self._histories:
                    self._send_still(peer, still)

        @channel.on("message")
        def _on_message(message: str | bytes) -> None:
            try:
                still = peer.stills_in.feed(message)
            except MediaError as exc:
                logger.warning("still from %s ignored: %s", describe(peer.info), exc)
                return
            if still is not None and self.board.frozen(still.source) == still.frame_time:
                self.stills[still.source] = still
                self._emit("still", still.source)

        if channel.readyState == "open":
            _on_open()

    # -- peers ----------------------------------------------------------------------------

    def _new_peer(self, info: ParticipantInfo) -> Peer:
        pc = new_peer_connection(self.config.ice_servers)
        peer = Peer(info=info, pc=pc)
        self.peers[info.id] = peer

        @pc.on("track")
        def _on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio":
                self._emit("audio", track, info)
                return
            if not self.config.stock:
                receiver = next(
                    (t.receiver for t in pc.getTransceivers() if t.receiver.track is track), None
                )
                if receiver is not None:
                    aiortc_tuning.tune_receiver(receiver, track)
            self._spawn(self._receive(peer, track))

        @pc.on("datachannel")
        def _on_datachannel(channel: RTCDataChannel) -> None:
            if channel.label == STILLS_CHANNEL:
                self._wire_channel(peer, channel)

        @pc.on("connectionstatechange")
        async def _on_state() -> None:
            logger.info("peer %s: %s", describe(info), pc.connectionState)
            if pc.connectionState == "failed" and self.peers.get(info.id) is peer:
                await self._drop_peer(info.id)

        return peer

    def _video_track(self, peer: Peer,
                     encoder: SharedEncoder) -> tuple[MediaStreamTrack, TrackInfo]:
        track: MediaStreamTrack
        if self.config.stock:
            track = RawVideoTrack(encoder.source)
        else:
            track = encoder.subscribe()
        peer.tracks.append(track)
        return track, TrackInfo(track_id=track.id, label=encoder.label, source=encoder.source.spec)

    def _wire_sender(self, transceiver: RTCRtpTransceiver, track: MediaStreamTrack) -> None:
        prefer_h264(transceiver)
        if isinstance(track, EncodedTrack):
            aiortc_tuning.forward_keyframe_requests(transceiver.sender, track.request_keyframe)

    def _microphone_copy(self, peer: Peer) -> MediaStreamTrack | None:
        if self.microphone is None:
            return None
        track = self._relay.subscribe(self.microphone, buffered=False)
        peer.tracks.append(track)
        return track

    async def _offer_to(self, info: ParticipantInfo) -> None:
        await self._drop_peer(info.id)
        peer = self._new_peer(info)
        infos = []
        for encoder in self.encoders:
            track, track_info = self._video_track(peer, encoder)
            self._wire_sender(peer.pc.addTransceiver(track, direction="sendonly"), track)
            infos.append(track_info)
        for _ in range(info.publishes.video):
            prefer_h264(peer.pc.addTransceiver("video", direction="recvonly"))
        direction = audio_direction(send=self.microphone is not None,
                                    receive=info.publishes.audio)
        if direction is not None:
            mic = self._microphone_copy(peer) if direction != "recvonly" else None
            peer.pc.addTransceiver(mic or "audio", direction=direction)
        self._wire_channel(peer, peer.pc.createDataChannel(STILLS_CHANNEL))
        await peer.pc.setLocalDescription(await peer.pc.createOffer())
        await self.client.send(Signal(
            to=info.id, data=Offer(sdp=peer.pc.localDescription.sdp, tracks=tuple(infos))
        ))
        logger.info("offered %d video track(s) to %s", len(infos), describe(info))

    async def _answer(self, sender: ParticipantInfo, offer: Offer) -> None:
        await self._drop_peer(sender.id)
        peer = self._new_peer(sender)
        peer.labels = {t.track_id: t for t in offer.tracks}
        await peer.pc.setRemoteDescription(RTCSessionDescription(offer.sdp, "offer"))
        # Send back on the sections the offerer left for us to fill (it receives there).
        directions = remote_directions(offer.sdp)
        open_video = [t for t in peer.pc.getTransceivers()
                      if t.kind == "video" and directions.get(t.mid or "") == "recvonly"]
        infos = []
        for transceiver, encoder in zip(open_video, self.encoders, strict=False):
            track, track_info = self._video_track(peer, encoder)
            transceiver.sender.replaceTrack(track)
            transceiver.direction = "sendonly"
            self._wire_sender(transceiver, track)
            infos.append(track_info)
        for transceiver in peer.pc.getTransceivers():
            if transceiver.kind == "audio" and directions.get(transceiver.mid or "") in (
                    "recvonly", "sendrecv"):
                mic = self._microphone_copy(peer)
                if mic is not None:
                    transceiver.sender.replaceTrack(mic)
                    transceiver.direction = "sendrecv"
        await peer.pc.setLocalDescription(await peer.pc.createAnswer())
        await self.client.send(Signal(
            to=sender.id, data=Answer(sdp=peer.pc.localDescription.sdp, tracks=tuple(infos))))

    async def _receive(self, peer: Peer, track: MediaStreamTrack) -> None:
        info = peer.labels.get(track.id)
        label = info.label if info else f"{peer.info.name} video"
        stamped = bool(info and info.source.startswith("synthetic"))
        receiver = VideoReceiver(track, label=label, participant=peer.info.id, stamped=stamped)
        self.receivers.append(receiver)
        self._emit("video", receiver)
        try:
            await receiver.run()
        finally:
            if receiver in self.receivers:
                self.receivers.remove(receiver)
            self._emit("video-ended", receiver)

    async def _drop_peer(self, participant_id: str) -> None:
        peer = self.peers.pop(participant_id, None)
        if peer is None:
            return
        for track in peer.tracks:
            track.stop()
        await peer.pc.close()

    # -- shutdown -------------------------------------------------------------------------

    async def close(self) -> None:
        """Leave the room and close every peer connection (the encoders' owner stops them)."""
        if self._closing:
            return
        self._closing = True
        with contextlib.suppress(SignalingError):
            await self.client.close()
        for participant_id in list(self.peers):
            await self._drop_peer(participant_id)
        for history in self._histories.values():
            history.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.ended.set()
