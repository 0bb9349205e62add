"""The media half of a live session: one peer connection per other participant.

:class:`PeerMedia` makes and drops the connections, offers this side's video layers and
voice, answers offers, and turns each received video track into a :class:`VideoReceiver`.
:class:`~surgery_teach.rtc.session.LiveSession` mixes it in; the attributes it reads are
the session's, declared below.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiortc import RTCDataChannel, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcrtptransceiver import RTCRtpTransceiver

from surgery_teach.annotations import Board
from surgery_teach.errors import MediaError, SignalingError
from surgery_teach.media.encoder import EncodedTrack, SharedEncoder
from surgery_teach.media.frame_tap import ReceivedFrameTap
from surgery_teach.media.layers import LayeredTrack
from surgery_teach.media.raw_track import RawVideoTrack
from surgery_teach.media.receive import VideoReceiver
from surgery_teach.protocol.ice import IceServer
from surgery_teach.protocol.messages import Answer, Offer, ParticipantInfo, Signal, TrackInfo
from surgery_teach.protocol.messages.classes import PEER
from surgery_teach.rtc import aiortc_tuning
from surgery_teach.rtc.adaptation import Adaptation, ViewerFeed
from surgery_teach.rtc.freeze import FreezeFrames
from surgery_teach.rtc.layer_note import LayerNote, parse_note
from surgery_teach.rtc.peer import (
    audio_direction,
    describe,
    new_peer_connection,
    offerer,
    prefer_h264,
    remote_directions,
)
from surgery_teach.rtc.peer_watch import PeerWatch
from surgery_teach.rtc.session_config import Peer, SessionConfig
from surgery_teach.rtc.shares import CHANNEL as SHARES_CHANNEL
from surgery_teach.rtc.shares import SessionShares
from surgery_teach.rtc.stills import CHANNEL as STILLS_CHANNEL

if TYPE_CHECKING:
    from surgery_teach.rtc.signaling_client import SignalingClient

logger = logging.getLogger(__name__)


class PeerMedia:
    """Peer connections and the media on them, for :class:`LiveSession`."""

    config: SessionConfig
    encoders: list[SharedEncoder]
    microphone: MediaStreamTrack | None
    adaptation: Adaptation | None
    freeze: FreezeFrames
    shares: SessionShares
    board: Board
    watch: PeerWatch
    participants: dict[str, ParticipantInfo]
    peers: dict[str, Peer]
    receivers: list[VideoReceiver]
    voices: dict[str, MediaStreamTrack]
    layer_notes: dict[tuple[str, str], LayerNote]
    connections_made: int
    _relay: MediaRelay
    _voice_relay: MediaRelay
    _me: ParticipantInfo
    _emit: Callable[..., None]
    _spawn: Callable[[object], None]

    # the session's properties
    ice_servers: tuple[IceServer, ...]
    client: SignalingClient
    link: str
    in_class: bool

    def _wire_channel(self, peer: Peer, channel: RTCDataChannel) -> None:
        peer.channel = channel
        self.freeze.wire(channel, lambda: self.board, describe(peer.info))

        @channel.on("message")
        def _on_note(message: str | bytes) -> None:
            if not isinstance(message, str):
                return
            try:
                note = parse_note(message)
            except MediaError as exc:
                logger.warning("message from %s ignored: %s", describe(peer.info), exc)
                return
            except Exception:  # an error here would close the whole connection (SCTP)
                logger.exception("message from %s ignored", describe(peer.info))
                return
            if note is not None:
                self.layer_notes[(peer.info.id, note.source)] = note
                self._emit("layer", peer.info, note)

    def _tell_layer(self, feed: ViewerFeed) -> None:
        """Tell a viewer which layer it now gets (publisher side, after a switch)."""
        peer = self.peers.get(feed.participant.id)
        if self.adaptation is not None and peer is not None and peer.channel is not None \
                and peer.channel.readyState == "open":
            peer.channel.send(self.adaptation.note(feed).to_json())

    # -- peers ----------------------------------------------------------------------------

    def _new_peer(self, info: ParticipantInfo) -> Peer:
        pc = new_peer_connection(self.ice_servers, relay_only=self.config.relay_only)
        peer = Peer(info=info, pc=pc)
        self.peers[info.id] = peer
        self.connections_made += 1

        @pc.on("track")
        def _on_track(track: MediaStreamTrack) -> None:
            tap = None
            if track.kind == "audio":
                if not self.config.stock:  # no 80 ms prefetch; lost voice packets resent
                    aiortc_tuning.tune_audio_receiver(pc, track)
                self.voices[info.id] = track
                self._emit("audio", self._voice_relay.subscribe(track), info)
                return
            if not self.config.stock:
                receiver = next(
                    (t.receiver for t in pc.getTransceivers() if t.receiver.track is track), None
                )
                if receiver is not None and aiortc_tuning.tune_receiver(receiver, track):
                    tap = aiortc_tuning.frame_tap(receiver)
            self._spawn(self._receive(peer, track, tap))

        @pc.on("datachannel")
        def _on_datachannel(channel: RTCDataChannel) -> None:
            if channel.label == STILLS_CHANNEL:
                self._wire_channel(peer, channel)
            elif channel.label == SHARES_CHANNEL:  # (what a viewer held survives a drop)
                self.shares.wire(channel, info.id)

        @pc.on("connectionstatechange")
        async def _on_state() -> None:
            logger.info("peer %s: %s", describe(info), pc.connectionState)
            if pc.connectionState == "failed" and self.peers.get(info.id) is peer:
                await self._drop_peer(info.id)
                other = self.participants.get(info.id)  # still here: start over
                if other is not None and self.link == "live" and not self.in_class and (
                        offerer(self._me, other) == self._me.id):
                    with contextlib.suppress(SignalingError):
                        await self._offer_to(other)

        return peer

    def _video_track(self, peer: Peer, index: int) -> tuple[MediaStreamTrack, TrackInfo]:
        encoder = self.encoders[index]
        track: MediaStreamTrack
        if self.config.stock:
            track = RawVideoTrack(encoder.source)
        elif self.adaptation is not None:
            pc = peer.pc
            track = self.adaptation.track_for(
                peer.info, index, established=lambda: pc.connectionState == "connected")
        else:
            track = encoder.subscribe()
        peer.tracks.append(track)
        return track, TrackInfo(track_id=track.id, label=encoder.label, source=encoder.source.spec)

    def _wire_sender(self, transceiver: RTCRtpTransceiver, track: MediaStreamTrack) -> None:
        prefer_h264(transceiver)
        if isinstance(track, LayeredTrack) and self.adaptation is not None:
            self.adaptation.watch(track, transceiver.sender)
        elif isinstance(track, EncodedTrack):
            aiortc_tuning.forward_keyframe_requests(transceiver.sender, track.request_keyframe)

    def _microphone_copy(self, peer: Peer) -> MediaStreamTrack | None:
        if self.microphone is None:
            return None
        track = (self._relay.subscribe(self.microphone, buffered=False) if self.config.stock
                 else aiortc_tuning.voice_copy(self._relay, self.microphone))  # no 20 ms holes
        peer.tracks.append(track)
        return track

    async def _offer_to(self, info: ParticipantInfo) -> None:
        await self._drop_peer(info.id)
        peer = self._new_peer(info)
        infos = []
        for index in range(len(self.encoders)):
            track, track_info = self._video_track(peer, index)
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
        self.shares.wire(peer.pc.createDataChannel(SHARES_CHANNEL), info.id)
        await peer.pc.setLocalDescription(await peer.pc.createOffer())
        await self.client.send(Signal(
            to=info.id, data=Offer(sdp=peer.pc.localDescription.sdp, tracks=tuple(infos))
        ))
        logger.info("offered %d video track(s) to %s", len(infos), describe(info))
        self.watch.started(info, peer.pc, offered=True)

    async def _offer_again(self, participant_id: str) -> None:
        """Offer once more to someone whose computer did not answer (if still sensible)."""
        other = self.participants.get(participant_id)
        if (other is not None and participant_id not in self.peers and self.link == "live"
                and not self.in_class
                and offerer(self._me, other) == self._me.id):
            with contextlib.suppress(SignalingError):
                await self._offer_to(other)

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
        for transceiver, index in zip(open_video, range(len(self.encoders)), strict=False):
            track, track_info = self._video_track(peer, index)
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
        self.watch.started(sender, peer.pc, offered=False)

    async def _receive(self, peer: Peer, track: MediaStreamTrack,
                       tap: ReceivedFrameTap | None = None) -> None:
        info = peer.labels.get(track.id)
        label = info.label if info else f"{peer.info.name} video"
        stamped = bool(info and info.source.startswith("synthetic"))
        receiver = VideoReceiver(track, label=label, participant=peer.info.id, stamped=stamped,
                                 encoded=tap, route=PEER)
        self.receivers.append(receiver)
        self._emit("video", receiver)
        try:
            await receiver.run()
        finally:
            if receiver in self.receivers:
                self.receivers.remove(receiver)
            self._emit("video-ended", receiver)

    async def _drop_peer(self, participant_id: str) -> None:
        self.watch.forget(participant_id)
        peer = self.peers.pop(participant_id, None)
        self.voices.pop(participant_id, None)
        for key in [k for k in self.layer_notes if k[0] == participant_id]:
            del self.layer_notes[key]
        if peer is None:
            return
        if self.adaptation is not None:
            self.adaptation.drop(participant_id)
        for track in peer.tracks:
            track.stop()
        await peer.pc.close()
