"""Publishing to a class room on Janus: every layer of every source once, plus the voice.

Peer to peer, the surgeon's computer sends each viewer its own copy. In a class room it
sends one peer connection to Janus, which forwards to every viewer: one sendonly video
m-line per layer and source (H.264 packets of the shared encoders, only packetised here:
no encoding per viewer, nor per m-line beyond the layer's own encoder) and one audio
m-line with the microphone. Each m-line's description says what it carries
(:mod:`.class_streams`).

Keyframes: Janus asks the publisher for one (PLI/FIR) on the m-line concerned when a
viewer subscribes, switches to that layer or loses a picture. Each m-line's keyframe
requests go to its own layer's shared encoder, whose policy makes at most one forced
keyframe a second however many viewers ask; the other layers are untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack

from surgery_teach.janus.participant import ClassParticipant
from surgery_teach.janus.videoroom import StreamDescription
from surgery_teach.media.encoder import EncodedTrack, SharedEncoder
from surgery_teach.media.ladder import Layer
from surgery_teach.media.layers import LayeredSource
from surgery_teach.protocol.ice import IceServer
from surgery_teach.rtc import aiortc_tuning
from surgery_teach.rtc.class_streams import LayerStream, describe_voice
from surgery_teach.rtc.peer import new_peer_connection, prefer_h264

logger = logging.getLogger(__name__)


@dataclass
class PublishedLayer:
    """One published m-line of video: which layer, its track and its encoder."""

    stream: LayerStream
    track: EncodedTrack
    mid: str = ""
    keyframe_requests: int = 0

    @property
    def encoder(self) -> SharedEncoder:
        return self.track.encoder


@dataclass
class ClassPublisher:
    """This participant's media on Janus: one peer connection, sent once for everyone."""

    pc: RTCPeerConnection
    sources: list[LayeredSource]
    layers: list[PublishedLayer] = field(default_factory=list)
    voice: MediaStreamTrack | None = None

    @classmethod
    async def publish(cls, participant: ClassParticipant, encoders: Sequence[SharedEncoder],
                      microphone: MediaStreamTrack | None, *, relay: MediaRelay,
                      ladders: Sequence[tuple[Layer, ...] | None] = (),
                      layers: int | None = None, bitrate: int | None = None,
                      ice_servers: Sequence[IceServer] = ()) -> ClassPublisher:
        """Publish ``encoders``' layers (their ladders, or ``ladders[i]`` when given; at
        most ``layers`` of each) and the ``microphone`` in ``participant``'s room."""
        padded = list(ladders) + [None] * len(encoders)
        sources = [LayeredSource(encoder, ladder)
                   for encoder, ladder in zip(encoders, padded, strict=False)]
        publisher = cls(new_peer_connection(ice_servers), sources)
        try:
            await publisher._negotiate(participant, microphone, relay, layers, bitrate)
        except BaseException:
            await publisher.close()
            raise
        return publisher

    async def _negotiate(self, participant: ClassParticipant,
                         microphone: MediaStreamTrack | None, relay: MediaRelay,
                         most: int | None, bitrate: int | None) -> None:
        transceivers = []
        for index, source in enumerate(self.sources):
            stamped = source.top.source.spec.startswith("synthetic")
            ladder = source.ladder if most is None else source.ladder[:max(1, most)]
            for number, layer in enumerate(ladder):
                encoder = source.encoder((number, 1))
                track = encoder.subscribe()
                published = PublishedLayer(
                    LayerStream(source=index, layer=number, label=source.label,
                                width=layer.width, height=layer.height,
                                bitrate=layer.bitrate, fps=layer.fps, stamped=stamped),
                    track)
                transceiver = self.pc.addTransceiver(track, direction="sendonly")
                prefer_h264(transceiver)
                aiortc_tuning.forward_keyframe_requests(
                    transceiver.sender, lambda p=published: self._keyframe_request(p))
                self.layers.append(published)
                transceivers.append((transceiver, published.stream.describe()))
        if microphone is not None:
            self.voice = aiortc_tuning.voice_copy(relay, microphone)
            transceivers.append((self.pc.addTransceiver(self.voice, direction="sendonly"),
                                 describe_voice()))
        await self.pc.setLocalDescription(await self.pc.createOffer())
        for published, (transceiver, _) in zip(self.layers, transceivers, strict=False):
            published.mid = transceiver.mid or ""
        descriptions = [StreamDescription(t.mid or "", text) for t, text in transceivers]
        answer = await participant.publish(self.pc.localDescription.sdp, descriptions,
                                           bitrate=bitrate)
        await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        logger.info("published %d layer(s) of %d source(s)%s to the media server",
                    len(self.layers), len(self.sources),
                    " and the voice" if self.voice is not None else "")

    def _keyframe_request(self, layer: PublishedLayer) -> None:
        layer.keyframe_requests += 1
        layer.track.request_keyframe()

    @property
    def connection_state(self) -> str:
        return str(self.pc.connectionState)

    async def close(self) -> None:
        """Stop sending: the lower layers' encoders stop, the callers' top encoders not."""
        for layer in self.layers:
            layer.track.stop()
        if self.voice is not None:
            self.voice.stop()
        await self.pc.close()
        for source in self.sources:
            source.stop()
