"""Encode each video source once and hand the same H.264 packets to every viewer.

Stock aiortc makes one x264 encoder per peer connection; on two cores that is one 1080p
viewer. Here one :class:`SharedEncoder` per source runs on its own thread and fans its
packets out to :class:`EncodedTrack`s, one per viewer, which aiortc only packetises.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.video.reformatter import Interpolation, VideoReformatter

from surgery_teach.capture.base import CapturedFrame, VideoSource
from surgery_teach.capture.frame_sei import with_frame_sei
from surgery_teach.errors import ConfigError, MediaError
from surgery_teach.media.keyframes import KeyframePolicy

logger = logging.getLogger(__name__)

VIDEO_CLOCK = 90_000
TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK)

# Frames a viewer may have waiting before it is considered too slow; it then skips to the
# next keyframe instead of drifting behind live.
MAX_QUEUED_FRAMES = 6


VBV_SECONDS = 1 / 8
VBV_FLOOR_KBIT = 300
VBV_MAX_SECONDS = 1 / 2


def vbv_buffer_kbit(kbit: int) -> int:
    """x264's VBV buffer for a layer of ``kbit`` kbit/s: an eighth of a second of it, but
    never under 300 kbit (nor over half a second). It caps a keyframe: a 720p keyframe at
    2.5 Mbit/s is ~40 kB instead of the ~150 kB a half-second buffer let through, which
    overflowed a 4 Mbit/s upload's 100 ms queue and cost the mentor keyframe after
    keyframe; the floor keeps a small layer's keyframe (180p at 150 kbit/s) readable."""
    return int(min(kbit * VBV_MAX_SECONDS, max(kbit * VBV_SECONDS, VBV_FLOOR_KBIT)))


def default_bitrate(width: int, height: int) -> int:
    """A sensible H.264 bitrate for a surgical picture of this size (bit/s)."""
    pixels = width * height
    if pixels >= 1920 * 1080:
        return 5_000_000
    if pixels >= 1280 * 720:
        return 2_500_000
    return 1_000_000


# How a smaller picture is made from the captured frame (a lower layer's): area averaging,
# on the encoder's own thread. Against an ideal (Lanczos-3) downscale of the synthetic
# scene it is closer than swscale's default bilinear at 720p (luma PSNR 49.9 vs 46.3 dB)
# and as close at 360p (44.2 vs 44.5 dB), for less CPU (1.3 vs 1.5 ms and 0.7 vs 0.9 ms a
# 1080p frame). swscale's own threads (PyAV asks for one per core) cost more CPU in waking
# and waiting than they save, with every layer's encoder thread busy already.
SCALING = Interpolation.AREA


@dataclass(frozen=True, kw_only=True)
class EncoderSettings:
    """How one source is encoded.

    ``width``/``height`` default to the source's size; ``bitrate`` (bit/s) to
    :func:`default_bitrate`. ``preset`` is x264's; ``superfast`` gives ``medium``-like
    quality for a third of its cost. Keyframes come on request (new viewer, PLI/FIR), at
    most every ``min_keyframe_gap`` s (one a second: a viewer in trouble must not make
    keyframes for everyone), and at least every ``keyframe_interval`` s.
    ``frame_divisor`` encodes every n-th captured frame only (a lower frame rate for a
    viewer whose link cannot carry the smallest picture at the full rate). ``threads`` is
    x264's: 0 lets it choose (on two cores two slice threads and two lookahead threads
    beside the encoder's own), 1 encodes on the encoder's thread alone. ``deblock`` keeps
    x264's deblocking filter on even at the ``ultrafast`` preset, which turns it off: it
    costs little and keeps blocks out of a picture short of bits. How the lower layers
    use these: :mod:`.layer_settings`.
    """

    width: int | None = None
    height: int | None = None
    bitrate: int | None = None
    preset: str = "superfast"
    keyframe_interval: float = 4.0
    min_keyframe_gap: float = 1.0
    frame_divisor: int = 1
    threads: int = 0
    deblock: bool = True

    def __post_init__(self) -> None:
        if (self.width is None) != (self.height is None):
            raise ConfigError("give both width and height, or neither")
        for name in ("width", "height"):
            value = getattr(self, name)
            if value is not None and (value < 16 or value % 2):
                raise ConfigError(f"{name} must be an even number of pixels >= 16, got {value}")
        if self.bitrate is not None and not 30_000 <= self.bitrate <= 50_000_000:
            raise ConfigError(f"bitrate must be 0.03 to 50 Mbit/s, got {self.bitrate} bit/s")
        if self.frame_divisor < 1:
            raise ConfigError(f"frame_divisor must be 1 or more, got {self.frame_divisor}")
        if self.threads < 0:
            raise ConfigError(f"threads must be 0 (x264 chooses) or more, got {self.threads}")


@dataclass
class EncodedFrame:
    """One encoded picture, shared read-only by every viewer."""

    packet: av.Packet
    keyframe: bool
    seq: int
    captured_at: float


def _named(packet: av.Packet, seq: int, captured_at: float) -> av.Packet:
    """``packet`` with the SEI naming its captured frame (:mod:`.frame_sei`)."""
    named = av.Packet(with_frame_sei(bytes(packet), seq, captured_at))
    named.pts, named.dts, named.time_base = packet.pts, packet.dts, packet.time_base
    named.is_keyframe = packet.is_keyframe
    return named


class PtsClock:
    """The capture time that is media time 0, shared by every layer of one source.

    Layers of a source go to a viewer over one RTP stream; with one origin a switch from
    one layer to another keeps the timestamps going forward.
    """

    def __init__(self) -> None:
        self._origin: float | None = None
        self._lock = threading.Lock()

    def origin(self, captured_at: float) -> float:
        """The origin, fixed by the first capture time asked about."""
        with self._lock:
            if self._origin is None:
                self._origin = captured_at
            return self._origin


@dataclass
class EncoderStats:
    frames: int = 0
    keyframes: int = 0
    bytes: int = 0
    encode_seconds: float = 0.0
    skipped_without_viewers: int = 0
    errors: int = 0
    sizes: tuple[int, int] = (0, 0)


class SharedEncoder:
    """One libx264 encoder for one source, feeding any number of viewers.

    Call :meth:`start` and :meth:`subscribe` from the asyncio loop. The encoder only
    works while someone is subscribed; each new subscriber gets a keyframe promptly.
    """

    def __init__(self, source: VideoSource, settings: EncoderSettings | None = None, *,
                 clock: PtsClock | None = None) -> None:
        self.source = source
        self.settings = settings or EncoderSettings()
        self.clock = clock or PtsClock()
        self.stats = EncoderStats()
        self._policy = KeyframePolicy(
            min_gap=self.settings.min_keyframe_gap, interval=self.settings.keyframe_interval
        )
        self._policy_lock = threading.Lock()
        self._tracks: set[EncodedTrack] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._codec: av.VideoCodecContext | None = None
        self._reformatter = VideoReformatter()
        self._last_pts = -1
        # a forced keyframe is being encoded and not yet handed out (see keyframe_due)
        self._forcing = False

    @property
    def label(self) -> str:
        return self.source.label

    def start(self) -> None:
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(
            target=self._run, name=f"encoder-{self.source.label}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop encoding and end every viewer's track."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        for track in list(self._tracks):
            track.stop()
        self._tracks.clear()

    def subscribe(self, track: EncodedTrack | None = None) -> EncodedTrack:
        """A new track for one viewer (or ``track``, a subclass made for this encoder, such
        as a recorder's tap); it starts at the keyframe it asks for when first read."""
        track = track or EncodedTrack(self)
        self._tracks.add(track)
        return track

    def unsubscribe(self, track: EncodedTrack) -> None:
        self._tracks.discard(track)

    @property
    def viewer_count(self) -> int:
        return len(self._tracks)

    def request_keyframe(self, *, urgent: bool = False) -> None:
        """Ask for a keyframe soon (thread-safe); bursts collapse into one. ``urgent``: a
        viewer switches to this layer (see :class:`KeyframePolicy`)."""
        with self._policy_lock:
            self._policy.request(urgent=urgent)

    def keyframe_due(self) -> bool:
        """True when the next picture handed out will be a keyframe: one is being encoded,
        or the next frame encoded will be forced (loop thread)."""
        if self._forcing:
            return True
        with self._policy_lock:
            return self._policy.pending and self._policy.should_force(time.monotonic())

    # -- encoder thread ----------------------------------------------------------------

    def _run(self) -> None:
        last_seq = 0
        while not self._stop.is_set():
            frame = self.source.slot.wait_after(last_seq, timeout=0.2)
            if frame is None:
                if self.source.slot.closed:
                    break
                continue
            last_seq = frame.seq
            if frame.seq % self.settings.frame_divisor:
                continue
            if not self._tracks:
                self.stats.skipped_without_viewers += 1
                continue
            try:
                encoded = self._encode(frame)
            except (av.FFmpegError, ValueError) as exc:
                self._forcing = False
                self.stats.errors += 1
                logger.warning("encoder for %s failed on a frame: %s", self.source.label, exc)
                self._codec = None
                continue
            if encoded and self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._deliver, encoded)
        self._codec = None

    def _open_codec(self, width: int, height: int) -> av.VideoCodecContext:
        bitrate = self.settings.bitrate or default_bitrate(width, height)
        kbit = bitrate // 1000
        codec = av.CodecContext.create("libx264", "w")
        codec.width = width
        codec.height = height
        codec.pix_fmt = "yuv420p"
        codec.time_base = TIME_BASE
        fps = self.source.fps / self.settings.frame_divisor
        codec.framerate = fractions.Fraction(round(fps * 1000), 1000)
        codec.bit_rate = bitrate
        codec.gop_size = 1 << 30  # keyframes only when KeyframePolicy says so
        codec.thread_count = self.settings.threads
        codec.options = {
            "preset": self.settings.preset,
            "tune": "zerolatency",
            "profile": "baseline",
            # SPS/PPS before every IDR so a viewer can start at any keyframe; the VBV
            # keeps the bitrate honest on constrained links and a keyframe small enough
            # for a shaped upload's queue (:func:`vbv_buffer_kbit`).
            "x264-params": (
                f"scenecut=0:keyint=infinite:repeat-headers=1:"
                f"vbv-maxrate={kbit}:vbv-bufsize={vbv_buffer_kbit(kbit)}"
                + (":deblock=0,0" if self.settings.deblock else "")
            ),
        }
        self.stats.sizes = (width, height)
        logger.info(
            "encoder for %s: %dx%d H.264 %s, %.1f Mbit/s",
            self.source.label, width, height, self.settings.preset, bitrate / 1e6,
        )
        return codec

    def _encode(self, frame: CapturedFrame) -> list[EncodedFrame]:
        width = self.settings.width or frame.image.width
        height = self.settings.height or frame.image.height
        image = frame.image
        if image.width != width or image.height != height or image.format.name != "yuv420p":
            # our own reformatter: the frame's built-in one is shared with every other
            # thread that converts this same frame (views, stills), which crashes swscale
            image = self._reformatter.reformat(
                image, width, height, "yuv420p", interpolation=SCALING, threads=1)
        if self._codec is None or (self._codec.width, self._codec.height) != (width, height):
            self._codec = self._open_codec(width, height)
            with self._policy_lock:
                self._policy.request()

        origin = self.clock.origin(frame.captured_at)
        pts = max(round((frame.captured_at - origin) * VIDEO_CLOCK), self._last_pts + 1)
        self._last_pts = pts
        image.pts = pts
        image.time_base = TIME_BASE

        now = time.monotonic()
        with self._policy_lock:
            force = self._policy.should_force(now)
        image.pict_type = (
            av.video.frame.PictureType.I if force else av.video.frame.PictureType.NONE
        )
        if force:
            self._forcing = True
        started = time.perf_counter()
        packets = self._codec.encode(image)
        self.stats.encode_seconds += time.perf_counter() - started

        out = []
        for packet in packets:
            packet.time_base = TIME_BASE
            keyframe = bool(packet.is_keyframe)
            with self._policy_lock:
                self._policy.encoded(now, keyframe=keyframe)
            self.stats.frames += 1
            self.stats.keyframes += keyframe
            packet = _named(packet, frame.seq, frame.captured_at)
            self.stats.bytes += packet.size
            out.append(EncodedFrame(packet, keyframe, frame.seq, frame.captured_at))
        return out

    # -- asyncio loop --------------------------------------------------------------------

    def _deliver(self, frames: list[EncodedFrame]) -> None:
        if any(f.keyframe for f in frames):
            self._forcing = False
        for track in list(self._tracks):
            for encoded in frames:
                track._offer(encoded)


class EncodedTrack(MediaStreamTrack):
    """One viewer's view of a :class:`SharedEncoder`: ``recv()`` returns H.264 packets.

    It starts at a keyframe, which it asks for when it is first read: a connection that
    never starts sending (a peer that never answers) makes no keyframes for anyone. A
    viewer that falls :data:`MAX_QUEUED_FRAMES` behind drops its backlog and resumes at
    the next keyframe, which it again asks for only once it is read, so it shows live
    video rather than drifting behind. ``ready``, when given, is set whenever a frame
    waits (one event for several tracks, see :class:`~.layers.LayeredTrack`).
    """

    kind = "video"

    def __init__(self, encoder: SharedEncoder, ready: asyncio.Event | None = None) -> None:
        super().__init__()
        self._encoder = encoder
        self._queue: deque[EncodedFrame] = deque()
        self._ready = ready or asyncio.Event()
        self._need_keyframe = True
        self._asked = False
        self.dropped = 0

    @property
    def label(self) -> str:
        return self._encoder.label

    @property
    def encoder(self) -> SharedEncoder:
        return self._encoder

    def request_keyframe(self) -> None:
        """Called when this viewer reports picture loss (PLI/FIR)."""
        self._encoder.request_keyframe()

    def _offer(self, encoded: EncodedFrame) -> None:
        if self.readyState != "live":
            return
        if self._need_keyframe:
            if not encoded.keyframe:
                self.dropped += 1
                return
            self._need_keyframe = False
        elif len(self._queue) >= MAX_QUEUED_FRAMES:
            self.dropped += len(self._queue)
            self._queue.clear()
            if not encoded.keyframe:
                self.dropped += 1
                self._need_keyframe = True
                self._asked = False
                return
        self._queue.append(encoded)
        self._ready.set()

    def peek(self) -> EncodedFrame | None:
        """The next frame waiting, without taking it (asks for a keyframe if needed)."""
        if not self._queue and self._need_keyframe and not self._asked:
            self._asked = True
            self._encoder.request_keyframe()
        return self._queue[0] if self._queue else None

    def take(self) -> EncodedFrame | None:
        """The next frame waiting, or ``None``."""
        frame = self.peek()
        if frame is not None:
            self._queue.popleft()
        return frame

    async def recv(self) -> av.Packet:
        while True:
            frame = self.take()
            if frame is not None:
                return frame.packet
            if self.readyState != "live":
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()

    def stop(self) -> None:
        super().stop()
        self._encoder.unsubscribe(self)
        self._ready.set()


def check_encoder_available() -> None:
    """Raise :class:`MediaError` with the fix when PyAV lacks libx264."""
    try:
        av.codec.Codec("libx264", "w")
    except Exception as exc:  # av raises several kinds for a missing codec
        raise MediaError(
            "this PyAV build has no libx264 encoder; reinstall with "
            "'pip install --force-reinstall av' from PyPI (its wheels include x264)"
        ) from exc
