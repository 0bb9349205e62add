"""``surgery_teach --bundle-check``: the packaged app's native media stack works.

``--self-test`` opens the window and draws synthetic video, but alone in a room it never
encodes, encrypts or decodes anything. This check connects two aiortc peers inside the
process over loopback and sends H.264 and VP8 video, Opus audio and a data-channel message
between them, so a bundle that lacks a codec (PyAV's libraries), DTLS (cryptography,
pyOpenSSL), SRTP (pylibsrtp) or SCTP's checksum (google-crc32c) fails here instead of in a
surgeon's first session. It also runs OpenCV and reports whether PortAudio loads; without
PortAudio the app only loses its audio devices, so that is reported, not failed.

Prints one line per part and ``bundle-check ok``; exits 1 and names the part that failed.
It runs from source too: ``PYTHONPATH=. python packaging/surgery_teach_app.py --bundle-check``.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

TIMEOUT = 30.0  # seconds for the peers to connect and deliver; ~2 s is usual


def check_opencv() -> str:
    import cv2
    import numpy as np

    grey = cv2.cvtColor(np.full((16, 16, 3), 200, np.uint8), cv2.COLOR_BGR2GRAY)
    ok, png = cv2.imencode(".png", grey)
    if not ok or not np.array_equal(cv2.imdecode(png, cv2.IMREAD_GRAYSCALE), grey):
        raise RuntimeError("a PNG round trip changed the picture")
    return f"OpenCV {cv2.__version__}"


def check_portaudio() -> str:
    from surgery_teach.audio.devices import load_sounddevice

    sounddevice, problem = load_sounddevice()
    if sounddevice is None:
        return f"not available, audio devices will be off ({problem})"
    return f"{sounddevice.get_portaudio_version()[1]} ({sounddevice._libname})"


async def check_peers() -> str:
    """Two in-process peers: H.264 and VP8 video, Opus audio and SCTP data over loopback."""
    from aiortc import (
        AudioStreamTrack,
        RTCPeerConnection,
        RTCRtpSender,
        VideoStreamTrack,
    )

    from surgery_teach.rtc.aiortc_tuning import use_loopback_ice

    use_loopback_ice(True)  # needs no network interface besides loopback
    loop = asyncio.get_running_loop()
    sender, receiver = RTCPeerConnection(), RTCPeerConnection()
    received: dict[str, asyncio.Future[str]] = {}
    message: asyncio.Future[str] = loop.create_future()
    readers: list[asyncio.Task[None]] = []

    def first_frame(mid: str) -> asyncio.Future[str]:
        return received.setdefault(mid, loop.create_future())

    @receiver.on("track")
    def on_track(track) -> None:  # type: ignore[no-untyped-def]
        mid = next(t.mid for t in receiver.getTransceivers() if t.receiver.track is track)

        async def read() -> None:
            frame = await track.recv()  # decoded: the codec worked end to end
            first_frame(str(mid)).set_result(type(frame).__name__)

        readers.append(asyncio.ensure_future(read()))

    @receiver.on("datachannel")
    def on_datachannel(channel) -> None:  # type: ignore[no-untyped-def]
        channel.on("message", lambda text: message.done() or message.set_result(text))

    try:
        codecs = {}
        for mime in ("video/H264", "video/VP8"):
            transceiver = sender.addTransceiver(VideoStreamTrack(), direction="sendonly")
            transceiver.setCodecPreferences([
                c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == mime
            ])
            codecs[transceiver] = mime
        audio = sender.addTransceiver(AudioStreamTrack(), direction="sendonly")
        codecs[audio] = "audio/opus"
        channel = sender.createDataChannel("bundle-check")
        channel.on("open", lambda: channel.send("ping"))

        await sender.setLocalDescription(await sender.createOffer())
        await receiver.setRemoteDescription(sender.localDescription)
        await receiver.setLocalDescription(await receiver.createAnswer())
        await sender.setRemoteDescription(receiver.localDescription)

        waits = {codecs[t]: first_frame(str(t.mid)) for t in codecs}
        waits["data channel"] = message
        await asyncio.wait(waits.values(), timeout=TIMEOUT)
        late = [name for name, future in waits.items() if not future.done()]
        if late:
            raise RuntimeError(f"nothing arrived over {', '.join(late)} in {TIMEOUT:.0f} s "
                               f"(ICE state {sender.iceConnectionState})")
        return ", ".join(waits)
    finally:
        for task in readers:
            task.cancel()
        await sender.close()
        await receiver.close()
        use_loopback_ice(False)


async def run() -> int:
    checks: list[tuple[str, Callable[[], Awaitable[str] | str], bool]] = [
        ("opencv", check_opencv, True),
        ("portaudio", check_portaudio, False),
        ("media over loopback peers", check_peers, True),
    ]
    failed = []
    for name, check, required in checks:
        try:
            result = check()
            if isinstance(result, Awaitable):
                result = await result
        except Exception as exc:
            if not required:
                print(f"{name}: not available ({type(exc).__name__}: {exc})")
                continue
            failed.append(name)
            print(f"{name}: FAILED ({type(exc).__name__}: {exc})", file=sys.stderr)
        else:
            print(f"{name}: {result}")
    if failed:
        print(f"bundle-check failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print("bundle-check ok")
    return 0


def main() -> int:
    return asyncio.run(run())
