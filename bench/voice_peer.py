"""One headless client of the voice benchmark, in its own process: the real session,
microphone, speaker, echo cancellation, jitter buffers and device watch.

    python -m bench.voice_peer --server ws://127.0.0.1:PORT --room R --name A \\
        --microphone a_mic --speaker a_speaker [--loss 0.03] [--push-to-talk] ...

Prints one JSON object a line on stdout (``ready``, ``voice`` device events, ``talk``,
``stats``); reads commands a line on stdin: ``talk``, ``quiet``, ``stats``, ``quit``.
Times are ``time.monotonic()``, the same clock in every process of the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import sys
import time
from typing import Any

from aiortc.contrib.media import MediaRelay
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtp import is_rtcp

from surgery_teach.audio.processing import EchoReference
from surgery_teach.audio.voice import Voice
from surgery_teach.protocol.messages import ParticipantInfo, Role
from surgery_teach.rtc.session import LiveSession, SessionConfig


def say(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, "at": time.monotonic(), **fields}), flush=True)


def drop_rtp(loss: float, seed: int) -> None:
    """Lose ``loss`` of the RTP packets this process sends (RTCP passes), in the
    transport: this kernel has no netem."""
    send = RTCDtlsTransport._send_rtp
    chance = random.Random(seed)

    async def lossy(transport: RTCDtlsTransport, data: bytes) -> None:
        if not is_rtcp(data) and chance.random() < loss:
            return
        await send(transport, data)

    RTCDtlsTransport._send_rtp = lossy  # type: ignore[method-assign]


class OnsetWatch(EchoReference):
    """What the speaker plays, watched for sound starting after a silence: each onset is
    told (``onset``) at the time it leaves the device (now + the stream's latency)."""

    def __init__(self, voice: Voice) -> None:
        super().__init__()
        self.voice = voice
        self._quiet_since: float | None = time.monotonic()

    def played(self, samples: Any) -> None:
        super().played(samples)
        now = time.monotonic()
        loud = samples.size and int(abs(samples.astype("int32")).max()) > 330  # -40 dBFS
        if not loud:
            if self._quiet_since is None:
                self._quiet_since = now
            return
        if self._quiet_since is not None and now - self._quiet_since > 0.2:
            sink = self.voice.speaker.sink if self.voice.speaker is not None else None
            latency = float(getattr(sink, "latency", 0.0) or 0.0)
            say("onset", out_at=now + latency)
        self._quiet_since = None


def voice_stats(voice: Voice, session: LiveSession | None) -> dict[str, Any]:
    players = {}
    for pid, player in voice.players.items():
        buffer = player.buffer
        players[pid] = {
            "frames": player.frames_received,
            **({"jitter_ms": round(buffer.jitter * 1000, 1),
                "late_p50_ms": round(buffer.lateness(50) * 1000, 1),
                "late_p95_ms": round(buffer.lateness(95) * 1000, 1),
                "margin_ms": round(buffer.margin * 1000, 1),
                "underruns": buffer.underruns, "concealed_ms": round(buffer.concealed / 48, 1),
                "bridged_ms": round(buffer.bridged / 48, 1),
                "dropped_ms": round(buffer.dropped / 48, 1)} if buffer is not None else {}),
        }
    receivers = {}
    if session is not None:
        for pid, peer in session.peers.items():
            for transceiver in peer.pc.getTransceivers():
                buffer = getattr(transceiver.receiver, "_RTCRtpReceiver__jitter_buffer", None)
                if transceiver.kind == "audio" and hasattr(buffer, "recovered"):
                    receivers[pid] = {"released": buffer.released, "recovered": buffer.recovered,
                                      "lost": buffer.lost, "late": buffer.late,
                                      "resend_ms": round(buffer.resend_time * 1000, 1)}
    video = [r.stats.summary() for r in session.receivers] if session is not None else []
    mic = voice.microphone
    speaker = voice.speaker
    devices = {
        "speaker_beats": speaker.health.beats if speaker is not None else None,
        "speaker_lost": speaker.lost if speaker is not None else None,
        "mic_beats": getattr(getattr(mic, "health", None), "beats", None),
        "mic_lost": getattr(mic, "lost", None),
        "mic_priority": getattr(getattr(mic, "priority", None), "granted", None),
        "speaker_priority": speaker.priority.granted if speaker is not None else None,
    }
    return {"players": players, "receivers": receivers, "video": video, "devices": devices,
            "processing_blocks": voice.processing.blocks,
            "processing_failures": voice.processing.failures,
            "mic_dropped_frames": getattr(mic, "dropped_frames", 0)}


async def run(args: argparse.Namespace) -> None:
    if args.loss:
        drop_rtp(args.loss, args.seed)
    voice = Voice(microphone=args.microphone, speaker=args.speaker, speak=True,
                  echo_cancellation=not args.no_echo_cancellation,
                  noise_suppression=not args.no_noise_suppression,
                  on_event=lambda e: say("voice", device=e.device, change=e.change,
                                         name=e.name, text=e.text))
    voice.reference = voice.processing.reference = OnsetWatch(voice)
    for event in voice.open():
        say("voice", device=event.device, change=event.change, text=event.text)
    voice.start()
    mic = voice.microphone
    if mic is not None and args.push_to_talk:
        mic.mute()
    encoders = []
    if args.video:
        from surgery_teach.capture import SyntheticSource
        from surgery_teach.media.encoder import EncoderSettings, SharedEncoder

        source = SyntheticSource(640, 360, 30, label="Laparoscope")
        source.start()
        encoders.append(SharedEncoder(source, EncoderSettings(bitrate=800_000)))
    config = SessionConfig(server=args.server, room=args.room, name=args.name,
                           role=Role(args.role), stock=args.stock)
    session = await LiveSession.start(config, encoders, mic, MediaRelay())

    def on_audio(track: Any, info: ParticipantInfo) -> None:
        voice.play(track, info.id)
        say("hearing", participant=info.name)

    session.on("audio", on_audio)
    say("ready", name=args.name)
    if args.trace:
        async def trace() -> None:
            while True:
                await asyncio.sleep(1.0)
                stats = voice_stats(voice, session)
                buffers = [(p.get("margin_ms"), p.get("underruns"), p.get("dropped_ms"),
                            p.get("concealed_ms"), p.get("late_p95_ms"))
                           for p in stats["players"].values()]
                print(time.monotonic(), stats["devices"], buffers,
                      [p.buffer.buffered for p in voice.players.values() if p.buffer],
                      file=sys.stderr, flush=True)

        tracer = asyncio.ensure_future(trace())
        tracer.add_done_callback(lambda _t: None)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while True:
            line = (await reader.readline()).decode().strip()
            if line in ("", "quit"):
                break
            if line in ("talk", "quiet") and mic is not None:
                if line == "talk":
                    mic.unmute()
                else:
                    mic.mute()
                say("talk", held=line == "talk")
            elif line == "stats":
                say("stats", **voice_stats(voice, session))
    finally:
        await session.close()
        await voice.close()
        for encoder in encoders:
            encoder.stop()
            encoder.source.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", required=True)
    parser.add_argument("--room", default="voice")
    parser.add_argument("--name", required=True)
    parser.add_argument("--role", default="surgeon", choices=[r.value for r in Role])
    parser.add_argument("--microphone")
    parser.add_argument("--speaker")
    parser.add_argument("--loss", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--stock", action="store_true", help="stock aiortc receive path")
    parser.add_argument("--no-echo-cancellation", action="store_true")
    parser.add_argument("--no-noise-suppression", action="store_true")
    parser.add_argument("--push-to-talk", action="store_true", help="start muted")
    parser.add_argument("--video", action="store_true", help="also send a stamped video")
    parser.add_argument("--trace", action="store_true", help="device and buffer state on "
                        "stderr every second")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())

