"""A surgeon and a viewer in a class room through Janus, as aiortc peers (test tool).

``python -m tests.signaling_server.media_server.class_peers media --api-url URL --room-id N``
(tokens in the environment: ``JANUS_SURGEON_TOKEN``, ``JANUS_VIEWER_TOKEN``,
``JANUS_OUTSIDER_TOKEN``) publishes one peer connection with two H.264 video m-lines --
the top layer 640x360 drawn red, the lower 320x180 drawn blue -- and subscribes from a
second peer to the top layer, then ``switch``es that same m-line to the lower layer. It
prints one JSON line with what the viewer decoded before and after, and how Janus
answered a bogus token and a token not allowed in this room.

``... refused --api-url URL --room-id N`` only tries to join with ``JANUS_VIEWER_TOKEN``
and prints how Janus answered (after the signaling server withdrew it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

import av
import numpy as np
from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription, VideoStreamTrack
from aiortc.mediastreams import MediaStreamError

from surgery_teach.errors import MediaServerError, MediaServerRefusedError
from surgery_teach.janus.participant import ClassParticipant
from surgery_teach.janus.videoroom import StreamChoice, StreamDescription

TOP = (640, 360, (220, 30, 30))
LOWER = (320, 180, (30, 30, 220))
FRAMES_PER_PHASE = 90
"""3 s of video per layer; the rate is measured on the last 60 (the first come in a burst)."""
STEADY_FRAMES = 60


class ColourTrack(VideoStreamTrack):
    """Frames of one size and colour, with a white bar that moves (so frames differ)."""

    def __init__(self, width: int, height: int, rgb: tuple[int, int, int]) -> None:
        super().__init__()
        self._image = np.empty((height, width, 3), np.uint8)
        self._image[:] = rgb
        self._count = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        image = self._image.copy()
        column = (self._count * 4) % (image.shape[1] - 8)
        image[:, column:column + 8] = 255
        self._count += 1
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


@dataclass
class Seen:
    """What the viewer decoded: per frame its arrival, size and mean colour."""

    frames: list[tuple[float, int, int, tuple[float, float, float]]] = field(
        default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def matching(self, size: tuple[int, int], dominant: int, since: float) -> list[float]:
        """Arrival times of frames since ``since`` of ``size`` whose channel ``dominant``
        (0 red, 2 blue) outweighs the others by far (the bar is white, so less matters)."""
        times = []
        for at, width, height, mean in self.frames:
            others = [value for index, value in enumerate(mean) if index != dominant]
            if at >= since and (width, height) == size and mean[dominant] > 2 * max(others):
                times.append(at)
        return times


async def _read(track: Any, seen: Seen) -> None:
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        image = frame.to_ndarray(format="rgb24")
        # Every 4th pixel is plenty for a mean colour and keeps the 2 cores free.
        mean = image[::4, ::4].reshape(-1, 3).mean(axis=0)
        seen.frames.append((time.monotonic(), frame.width, frame.height,
                            (float(mean[0]), float(mean[1]), float(mean[2]))))
        seen.changed.set()


async def _wait_for(seen: Seen, size: tuple[int, int], dominant: int, since: float,
                    timeout: float) -> list[float]:
    deadline = time.monotonic() + timeout
    while True:
        times = seen.matching(size, dominant, since)
        if len(times) >= FRAMES_PER_PHASE or time.monotonic() > deadline:
            return times
        seen.changed.clear()
        try:
            await asyncio.wait_for(seen.changed.wait(), max(0.01, deadline - time.monotonic()))
        except TimeoutError:
            pass


def _h264_only(pc: RTCPeerConnection) -> None:
    codecs = [c for c in RTCRtpSender.getCapabilities("video").codecs
              if c.mimeType in ("video/H264", "video/rtx")]
    for transceiver in pc.getTransceivers():
        transceiver.setCodecPreferences(codecs)


async def _refusal(url: str, token: str, room_id: int) -> dict[str, Any]:
    try:
        participant = await ClassParticipant.join(url, token, room_id, "outsider")
    except MediaServerRefusedError as exc:
        return {"refused": True, "code": exc.code, "message": str(exc)}
    except MediaServerError as exc:
        return {"refused": True, "code": None, "message": str(exc)}
    await participant.leave()
    return {"refused": False}


async def media(url: str, room_id: int, timeout: float) -> dict[str, Any]:
    surgeon = await ClassParticipant.join(url, os.environ["JANUS_SURGEON_TOKEN"], room_id,
                                          "surgeon")
    viewer = await ClassParticipant.join(url, os.environ["JANUS_VIEWER_TOKEN"], room_id,
                                         "viewer")
    publisher_pc, viewer_pc = RTCPeerConnection(), RTCPeerConnection()
    seen = Seen()
    readers: list[asyncio.Task[None]] = []
    try:
        for width, height, rgb in (TOP, LOWER):
            publisher_pc.addTransceiver(ColourTrack(width, height, rgb), direction="sendonly")
        _h264_only(publisher_pc)
        await publisher_pc.setLocalDescription(await publisher_pc.createOffer())
        answer = await surgeon.publish(publisher_pc.localDescription.sdp, [
            StreamDescription(t.mid or str(i), f"{w}x{h}") for i, (t, (w, h, _)) in
            enumerate(zip(publisher_pc.getTransceivers(), (TOP, LOWER), strict=True))])
        await publisher_pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))

        feed = await viewer.wait_for_publisher(timeout)
        mids = {stream.description: stream.mid for stream in feed.streams}
        subscription = await viewer.subscribe([StreamChoice(feed.feed_id, mids["640x360"])])
        viewer_pc.on("track", lambda track: readers.append(
            asyncio.create_task(_read(track, seen))))
        await viewer_pc.setRemoteDescription(
            RTCSessionDescription(subscription.offer_sdp, "offer"))
        await viewer_pc.setLocalDescription(await viewer_pc.createAnswer())
        await subscription.start(viewer_pc.localDescription.sdp)

        subscribed = time.monotonic()
        top = await _wait_for(seen, TOP[:2], 0, subscribed, timeout)
        sub_mid = str(subscription.streams[0]["mid"])
        switched = time.monotonic()
        await subscription.switch([StreamChoice(feed.feed_id, mids["320x180"], sub_mid)])
        lower = await _wait_for(seen, LOWER[:2], 2, switched, timeout)
        top_after_switch = [at for at in seen.matching(TOP[:2], 0, switched)
                            if lower and at > lower[0]]
        return {
            "feed_streams": {d: m for d, m in mids.items()},
            "top": _phase(top, subscribed),
            "lower": _phase(lower, switched),
            "top_frames_after_lower_began": len(top_after_switch),
            "viewer_m_lines": len(viewer_pc.getTransceivers()),
            "viewer_signaling_state": viewer_pc.signalingState,
            "bogus_token": await _refusal(url, "not-a-token-anyone-was-given", room_id),
            "outsider_token": await _refusal(url, os.environ["JANUS_OUTSIDER_TOKEN"],
                                             room_id),
        }
    finally:
        for task in readers:
            task.cancel()
        await viewer_pc.close()
        await publisher_pc.close()
        await viewer.leave()
        await surgeon.leave()


def _phase(times: list[float], since: float) -> dict[str, Any]:
    steady = times[-STEADY_FRAMES:]
    fps = (len(steady) - 1) / (steady[-1] - steady[0]) if len(steady) > 1 else 0.0
    return {"frames": len(times), "first_after_s": round(times[0] - since, 3) if times else None,
            "fps": round(fps, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("media", "refused"))
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--room-id", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    if args.mode == "media":
        result = asyncio.run(media(args.api_url, args.room_id, args.timeout))
    else:
        result = asyncio.run(_refusal(args.api_url, os.environ["JANUS_VIEWER_TOKEN"],
                                      args.room_id))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
