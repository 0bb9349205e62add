"""The programs of a class room through Janus, each run in a lab namespace (bench tool).

``python -m bench.janus_class_peers MODE ...``, one JSON line at the end (on SIGTERM):

* ``admit --config-dir DIR --count N``: where Janus runs, creates the class room and
  admits ``surgeon`` and ``viewer1..N`` (:class:`ClassRooms`, as the signaling server
  will); prints ``{"room_id": ..., "tokens": {...}}`` (tokens: a bench tool only).
* ``surgeon``: a synthetic stamped source published through :class:`ClassMedia` (every
  layer once); with ``--direct-port`` it also serves one direct peer-to-peer copy of the
  top layer to whoever connects (to compare delay with Janus in the same run).
* ``viewer``: one full client (:class:`ClassMedia`: decodes, chooses its layer).
* ``light``: ``--count`` light receivers of the top layer that count RTP packets and
  frames from the SRTP packets' clear-text headers, decrypting and decoding nothing (the
  many viewers of a class, :class:`LightReceiver`), plus ``--decoders`` full
  viewers and, with ``--direct HOST:PORT``, one direct peer-to-peer decoder.

Tokens come in the environment (``JANUS_TOKENS``: comma-separated, one per client).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription

from bench.rtp_count import RtpCounter
from surgery_teach.capture import SyntheticSource
from surgery_teach.janus.participant import ClassParticipant
from surgery_teach.janus.videoroom import StreamChoice
from surgery_teach.media.encoder import EncoderSettings, SharedEncoder
from surgery_teach.media.receive import VideoReceiver
from surgery_teach.rtc import aiortc_tuning
from surgery_teach.rtc.class_media import ClassGrant, ClassMedia, ClassOptions
from surgery_teach.rtc.class_streams import read_feed
from surgery_teach.rtc.peer import prefer_h264

WARMUP = 4.0
"""Seconds before frame rates are counted (ICE, DTLS, the first keyframe)."""


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop


async def _until(stop: asyncio.Event, seconds: float | None) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def _tokens() -> list[str]:
    return [t for t in os.environ.get("JANUS_TOKENS", "").split(",") if t]


# -- admit ------------------------------------------------------------------------------

async def admit(config_dir: Path, count: int) -> dict[str, Any]:
    from signaling_server.media_server.config_dir import read_access
    from signaling_server.media_server.room_control import MediaServerControl
    from signaling_server.media_server.rooms import ClassRooms

    rooms = ClassRooms(bitrate=3_000_000, publishers=3)
    tokens = {}
    room_id = 0
    async with await MediaServerControl.connect(read_access(config_dir)) as control:
        for name in ["surgeon", *(f"viewer{n}" for n in range(1, count + 1))]:
            grant, commands = rooms.admit("bench", name)
            await control.carry_out(commands)
            tokens[name], room_id = grant.token, grant.room_id
    return {"room_id": room_id, "tokens": tokens}


# -- surgeon ----------------------------------------------------------------------------

async def surgeon(url: str, room_id: int, size: tuple[int, int], layers: int | None,
                  direct_port: int | None, seconds: float | None,
                  bitrate: int | None = None) -> dict[str, Any]:
    stop = _stop_event()
    source = SyntheticSource(*size, 30, label="Laparoscope")
    source.start()
    top = SharedEncoder(source, EncoderSettings(bitrate=bitrate))
    top.start()
    media = await ClassMedia.start(ClassGrant(url, room_id, _tokens()[0]), display="surgeon",
                                   encoders=[top], options=ClassOptions(publish_layers=layers))
    server = None
    if direct_port:
        server = await asyncio.start_server(
            lambda r, w: _serve_direct(r, w, top), "0.0.0.0", direct_port)
    assert media.publisher is not None
    began = time.monotonic()
    print(json.dumps({"published": [p.stream.describe() for p in media.publisher.layers]}),
          flush=True)
    await _until(stop, seconds)
    result = {"layers": [{
        "layer": p.stream.layer, "size": f"{p.stream.width}x{p.stream.height}",
        "frames": p.encoder.stats.frames, "keyframes": p.encoder.stats.keyframes,
        "kbit_per_s": round(p.encoder.stats.bytes * 8 / 1000
                            / max(1e-9, time.monotonic() - began), 1),
        "keyframe_requests": p.keyframe_requests} for p in media.publisher.layers]}
    if server is not None:
        server.close()
    await media.stop()
    top.stop()
    source.stop()
    return result


async def _serve_direct(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        encoder: SharedEncoder) -> None:
    """One direct peer connection carrying the top layer: offer in, answer out."""
    offer = json.loads(await reader.readline())
    pc = RTCPeerConnection()
    await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
    transceiver = pc.getTransceivers()[0]
    track = encoder.subscribe()
    transceiver.sender.replaceTrack(track)
    transceiver.direction = "sendonly"
    aiortc_tuning.forward_keyframe_requests(transceiver.sender, track.request_keyframe)
    await pc.setLocalDescription(await pc.createAnswer())
    writer.write((json.dumps({"sdp": pc.localDescription.sdp}) + "\n").encode())
    await writer.drain()
    await reader.read()  # until the viewer hangs up
    track.stop()
    await pc.close()


# -- receivers --------------------------------------------------------------------------

class LightReceiver:
    """One subscription's RTP packets and frames, counted from the SRTP packets' clear-text
    headers as they come off the socket: nothing is decrypted, parsed or decoded.

    The peer connection is a real aiortc one (ICE with its consent checks, DTLS), so Janus
    keeps sending as to any viewer; only the media datagrams are taken as they come off
    the socket, before ICE and DTLS see them (:func:`count_media_before_dtls`).
    Incoming RTCP (Janus's sender reports) is dropped.
    """

    def __init__(self) -> None:
        self.counter = RtpCounter()
        self.participant: ClassParticipant | None = None
        self.pc: RTCPeerConnection | None = None

    @property
    def frames(self) -> int:
        return self.counter.frames

    async def start(self, url: str, room_id: int, token: str, name: str,
                    timeout: float) -> None:
        self.participant = participant = await ClassParticipant.join(url, token, room_id, name)
        feed = read_feed(await participant.wait_for_publisher(timeout))
        subscription = await participant.subscribe(
            [StreamChoice(feed.feed_id, feed.sources[0].mid(0))])
        self.pc = pc = RTCPeerConnection()
        await pc.setRemoteDescription(RTCSessionDescription(subscription.offer_sdp, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        count_media_before_dtls(pc, self.counter)
        await subscription.start(pc.localDescription.sdp)

    def summary(self, since: float, until: float) -> dict[str, Any]:
        return self.counter.summary(since, until)

    async def close(self) -> None:
        if self.pc is not None:
            await self.pc.close()
        if self.participant is not None:
            await self.participant.leave()


def count_media_before_dtls(pc: RTCPeerConnection, counter: RtpCounter) -> None:
    """Count ``pc``'s incoming SRTP/SRTCP datagrams as they come off its sockets, and drop
    them (call after ``setLocalDescription``, which opens the sockets).

    aiortc's ICE connection (aioice) first tries each datagram as STUN, then queues it for
    the DTLS transport, which unprotects SRTP and parses RTP/RTCP in Python, one task
    wake-up per packet. Here datagrams that start with 128..191 (RTP and RTCP, RFC 7983)
    are taken before all that: media packets are counted from their clear-text header,
    RTCP is ignored. STUN (connectivity and consent checks, so Janus keeps sending) and
    DTLS records go their usual way.
    """
    for transceiver in pc.getTransceivers():
        connection = transceiver.receiver.transport.transport._connection
        for protocol in connection._protocols:
            if getattr(protocol, "counted_by_header", False):
                continue  # one bundled transport for every m-line
            pass_on = protocol.datagram_received

            def _received(data: bytes, addr: Any, pass_on: Any = pass_on) -> None:
                if 128 <= data[0] <= 191:
                    counter.count(data)
                else:
                    pass_on(data, addr)

            protocol.datagram_received = _received
            protocol.counted_by_header = True


async def _direct(address: str) -> tuple[RTCPeerConnection, list[VideoReceiver],
                                           asyncio.StreamWriter]:
    host, port = address.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    pc = RTCPeerConnection()
    receivers: list[VideoReceiver] = []
    tasks: list[asyncio.Future[None]] = []
    prefer_h264(pc.addTransceiver("video", direction="recvonly"))

    @pc.on("track")
    def _on_track(track: Any) -> None:
        receiver = next(t.receiver for t in pc.getTransceivers() if t.receiver.track is track)
        aiortc_tuning.tune_receiver(receiver, track)
        video = VideoReceiver(track, label="direct", stamped=True)
        receivers.append(video)
        tasks.append(asyncio.ensure_future(video.run()))

    await pc.setLocalDescription(await pc.createOffer())
    writer.write((json.dumps({"sdp": pc.localDescription.sdp}) + "\n").encode())
    await writer.drain()
    answer = json.loads(await reader.readline())
    await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
    return pc, receivers, writer


async def _tick(lights: list[LightReceiver]) -> None:
    """Each light receiver's frames so far, a line a second (``--progress``)."""
    while True:
        await asyncio.sleep(1.0)
        print(json.dumps({"counts": [light.frames for light in lights]}), flush=True)


async def receivers(url: str, room_id: int, count: int, decoders: int, direct: str | None,
                    start_layer: int | None, seconds: float | None,
                    timeout: float, progress: bool = False) -> dict[str, Any]:
    """``count`` light receivers, ``decoders`` full viewers, maybe one direct decoder."""
    stop = _stop_event()
    tokens = _tokens()
    lights = [LightReceiver() for _ in range(count)]
    full: list[tuple[ClassMedia, list[VideoReceiver]]] = []
    for index in range(decoders):
        got: list[VideoReceiver] = []
        media = await ClassMedia.start(
            ClassGrant(url, room_id, tokens[count + index]), display=f"decoder{index}",
            options=ClassOptions(start_layer=start_layer, audio=False), on_video=got.append)
        full.append((media, got))
    for index, light in enumerate(lights):
        await light.start(url, room_id, tokens[index], f"light{index}", timeout)
    link = await _direct(direct) if direct else None
    print(json.dumps({"receiving": count + decoders}), flush=True)
    began = time.monotonic()
    ticker = asyncio.ensure_future(_tick(lights)) if progress else None
    await _until(stop, seconds)
    if ticker is not None:
        ticker.cancel()
    ended = time.monotonic()
    since = began + WARMUP if ended - began > 2 * WARMUP else began
    now = time.time()
    result: dict[str, Any] = {
        "light": [light.summary(since, ended) for light in lights],
        "decoders": [{"stats": r.stats.summary(now), "layers": [vars(w) for w in m.layers()]}
                     for m, got in full for r in got],
    }
    if link is not None:
        result["direct"] = [r.stats.summary(now) for r in link[1]]
        link[2].close()
        await link[0].close()
    for media, _ in full:
        await media.stop()
    for light in lights:
        await light.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("admit", "surgeon", "viewer", "light"))
    parser.add_argument("--config-dir")
    parser.add_argument("--api-url", default="")
    parser.add_argument("--room-id", type=int, default=0)
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--decoders", type=int, default=0)
    parser.add_argument("--direct", default=None, help="HOST:PORT of a surgeon's direct copy")
    parser.add_argument("--direct-port", type=int, default=None)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--layers", type=int, default=None)
    parser.add_argument("--bitrate", type=int, default=None, help="top layer, bit/s")
    parser.add_argument("--start-layer", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--progress", action="store_true",
                        help="print the light receivers' frame counts every second")
    args = parser.parse_args()
    if args.mode == "admit":
        result = asyncio.run(admit(Path(args.config_dir), args.count))
    elif args.mode == "surgeon":
        width, height = (int(v) for v in args.size.split("x"))
        result = asyncio.run(surgeon(args.api_url, args.room_id, (width, height), args.layers,
                                     args.direct_port, args.seconds, args.bitrate))
    else:
        decoders = 1 if args.mode == "viewer" else args.decoders
        count = 0 if args.mode == "viewer" else args.count
        result = asyncio.run(receivers(args.api_url, args.room_id, count, decoders,
                                       args.direct, args.start_layer, args.seconds,
                                       args.timeout, args.progress))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
